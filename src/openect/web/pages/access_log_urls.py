"""URL of the access log page (:mod:`openect.web.pages.access_log`).

| URL | methods | name |
|---|---|---|
| ``/access-log/`` (``?format=csv``: the download) | GET | ``access-log`` |
"""

from __future__ import annotations

from django.urls import URLPattern, path

from openect.web.pages import access_log

urlpatterns: list[URLPattern] = [
    path("access-log/", access_log.access_log_page, name="access-log"),
]
