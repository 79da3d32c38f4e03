"""URLs of the session pages (:mod:`openect.web.pages.sessions`).

| URL | methods | name |
|---|---|---|
| ``/patients/<patient_id>/plan/`` | GET: form (and plan); POST: plan | ``session-plan`` |
| ``/patients/<patient_id>/sessions/new/`` | POST: record the session | ``session-new`` |
| ``/sessions/<session_id>/record/`` | GET: countdown, applications | ``session-record`` |
| ``/sessions/<session_id>/bolus/`` | POST: bolus end time | ``session-bolus`` |
| ``/sessions/<session_id>/applications/new/`` | POST: one application | ``application-new`` |
| ``/sessions/<session_id>/applications/undo/`` | POST: void your last one | ``application-undo`` |
"""

from __future__ import annotations

from django.urls import URLPattern, path

from openect.web.pages import voiding
from openect.web.pages.sessions import plan, record

urlpatterns: list[URLPattern] = [
    path("patients/<str:patient_id>/plan/", plan.session_plan, name="session-plan"),
    path("patients/<str:patient_id>/sessions/new/", plan.session_new, name="session-new"),
    path("sessions/<str:session_id>/record/", record.session_record, name="session-record"),
    path("sessions/<str:session_id>/bolus/", record.session_bolus, name="session-bolus"),
    path(
        "sessions/<str:session_id>/applications/new/",
        record.application_new,
        name="application-new",
    ),
    path(
        "sessions/<str:session_id>/applications/undo/",
        voiding.application_undo,
        name="application-undo",
    ),
]
