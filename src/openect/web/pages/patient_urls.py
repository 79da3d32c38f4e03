"""URLs of the patient pages (list, patient, lesion, record forms, live response).

| URL | name |
|---|---|
| ``/`` and ``/patients/`` | ``patient-list`` (``patient-index`` for the second) |
| ``/patients/new/`` | ``patient-new`` |
| ``/patients/<patient_id>/`` | ``patient-detail`` |
| ``/patients/<patient_id>/edit/`` | ``patient-edit`` |
| ``/patients/<patient_id>/lesions/new/`` | ``lesion-new`` |
| ``/patients/<patient_id>/lesions/<lesion_id>/`` | ``lesion-detail`` |
| ``/patients/<patient_id>/lesions/<lesion_id>/edit/`` | ``lesion-edit`` |
| ``/patients/<patient_id>/lesions/<lesion_id>/response-preview`` | ``response-preview`` |
| ``/patients/<patient_id>/assessments/new/[?lesion=ID]`` | ``assessment-new`` |
| ``/patients/<patient_id>/assessments/<assessment_id>/edit/`` | ``assessment-edit`` |
| ``/patients/<patient_id>/adverse-events/new/``, ``.../<event_id>/edit/`` | ``adverse-event-new``, ``adverse-event-edit`` |
| ``/patients/<patient_id>/reports/new/``, ``.../<report_id>/edit/`` | ``patient-reported-new``, ``patient-reported-edit`` |
| ``/patients/<patient_id>/therapies/new/``, ``.../<therapy_id>/edit/`` | ``therapy-new``, ``therapy-edit`` |
"""  # noqa: E501

from __future__ import annotations

from django.urls import URLPattern, path

from openect.web.pages import patients

P = "patients/<str:patient_id>"


def _record(segment: str, name: str, kind: str) -> list[URLPattern]:
    """The new and edit URLs of one kind of a patient's records."""
    return [
        path(f"{P}/{segment}/new/", patients.record_form, {"kind": kind}, name=f"{name}-new"),
        path(
            f"{P}/{segment}/<str:record_id>/edit/",
            patients.record_form,
            {"kind": kind},
            name=f"{name}-edit",
        ),
    ]


urlpatterns: list[URLPattern] = [
    path("", patients.patient_list, name="patient-list"),
    path("patients/", patients.patient_list, name="patient-index"),
    path("patients/new/", patients.patient_new, name="patient-new"),
    path(f"{P}/", patients.patient_detail, name="patient-detail"),
    path(f"{P}/edit/", patients.patient_edit, name="patient-edit"),
    path(f"{P}/lesions/new/", patients.record_form, {"kind": "lesions"}, name="lesion-new"),
    path(f"{P}/lesions/<str:lesion_id>/", patients.lesion_detail, name="lesion-detail"),
    path(
        f"{P}/lesions/<str:record_id>/edit/",
        patients.record_form,
        {"kind": "lesions"},
        name="lesion-edit",
    ),
    path(
        f"{P}/lesions/<str:lesion_id>/response-preview",
        patients.response_preview,
        name="response-preview",
    ),
    *_record("assessments", "assessment", "assessments"),
    *_record("adverse-events", "adverse-event", "adverse-events"),
    *_record("reports", "patient-reported", "reports"),
    *_record("therapies", "therapy", "therapies"),
]
