"""URLs of the pages: home and worklist, patients and records, sessions, dashboard, audit,
export, access log, follow-up visits, printable documents, administration (one URL module
per page module; see each for its table of URLs, methods and names)."""

from __future__ import annotations

from django.urls import include, path

urlpatterns = [
    path("", include("openect.web.pages.worklist_urls")),
    path("", include("openect.web.pages.patient_urls")),
    path("", include("openect.web.pages.session_urls")),
    path("", include("openect.web.pages.dashboard_urls")),
    path("", include("openect.web.pages.audit_urls")),
    path("", include("openect.web.pages.export_urls")),
    path("", include("openect.web.pages.access_log_urls")),
    path("", include("openect.web.pages.visit_urls")),
    path("", include("openect.web.pages.documents_urls")),
    path("", include("openect.web.pages.admin_urls")),
]
