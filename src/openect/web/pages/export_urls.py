"""URL of the export (:mod:`openect.web.pages.export`).

| URL | methods | name |
|---|---|---|
| ``/export/`` | GET: what the export holds; POST: the ZIP | ``export`` |
"""

from __future__ import annotations

from django.urls import URLPattern, path

from openect.web.pages import export

urlpatterns: list[URLPattern] = [
    path("export/", export.export, name="export"),
]
