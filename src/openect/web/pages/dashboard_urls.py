"""URL of the dashboard (:mod:`openect.web.pages.dashboard`).

| URL | methods | name |
|---|---|---|
| ``/dashboard/`` | GET | ``dashboard`` |
"""

from __future__ import annotations

from django.urls import URLPattern, path

from openect.web.pages import dashboard

urlpatterns: list[URLPattern] = [
    path("dashboard/", dashboard.dashboard, name="dashboard"),
]
