"""URLs of the pages: patients and records, sessions, dashboard, audit, export."""

from __future__ import annotations

from django.urls import include, path

urlpatterns = [
    path("", include("openect.web.pages.patient_urls")),
    path("", include("openect.web.pages.session_urls")),
]
