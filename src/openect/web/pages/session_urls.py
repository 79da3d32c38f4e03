"""URLs of the session, dashboard, audit and export pages.

| URL | name |
|---|---|
| ``/patients/<patient_id>/plan/`` | ``session-plan`` |
| ``/sessions/<session_id>/record/`` | ``session-record`` |
| ``/dashboard/`` | ``dashboard`` |
| ``/audit/`` | ``audit`` |
| ``/audit/<table>/<record_id>/`` | ``record-audit`` |
| ``/export/`` | ``export`` (GET: the page; POST: the ZIP) |
"""

from __future__ import annotations

from django.urls import URLPattern, path

from openect.web.pages import audit, dashboard, export, sessions

urlpatterns: list[URLPattern] = [
    path("patients/<str:patient_id>/plan/", sessions.session_plan, name="session-plan"),
    path("sessions/<str:session_id>/record/", sessions.session_record, name="session-record"),
    path("dashboard/", dashboard.dashboard, name="dashboard"),
    path("audit/", audit.audit_list, name="audit"),
    path("audit/<str:table>/<str:record_id>/", audit.record_audit, name="record-audit"),
    path("export/", export.export, name="export"),
]
