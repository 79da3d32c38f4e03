"""URLs of the visit pages.

| URL | name | methods |
|---|---|---|
| ``/patients/<patient_id>/visits/new/`` | ``visit-new`` | GET, POST |

``visit-new`` records one follow-up visit: a measurement of every treated lesion.

Every GET also answers HEAD; other methods get 405.
"""

from __future__ import annotations

from django.urls import URLPattern, path

from openect.web.pages import visit

urlpatterns: list[URLPattern] = [
    path("patients/<str:patient_id>/visits/new/", visit.visit_new, name="visit-new"),
]
