"""URLs of the home page and the worklist (:mod:`openect.web.pages.worklist`).

| URL | name | methods |
|---|---|---|
| ``/`` | ``home`` (the worklist for clinicians, the patient list for the other roles) | GET |
| ``/worklist/`` | ``worklist`` (403 for analysts) | GET |
"""

from __future__ import annotations

from django.urls import URLPattern, path

from openect.web.pages import worklist

urlpatterns: list[URLPattern] = [
    path("", worklist.home, name="home"),
    path("worklist/", worklist.worklist, name="worklist"),
]
