"""URLs of the audit pages (:mod:`openect.web.pages.audit`).

| URL | methods | name |
|---|---|---|
| ``/audit/`` | GET | ``audit`` |
| ``/audit/<table>/<record_id>/`` | GET | ``record-audit`` |
"""

from __future__ import annotations

from django.urls import URLPattern, path

from openect.web.pages import audit

urlpatterns: list[URLPattern] = [
    path("audit/", audit.audit_list, name="audit"),
    path("audit/<str:table>/<str:record_id>/", audit.record_audit, name="record-audit"),
]
