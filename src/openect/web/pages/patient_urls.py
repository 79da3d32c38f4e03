"""URLs of the patient pages (list, patient, lesion, record forms).

| URL | name | methods |
|---|---|---|
| ``/patients/`` | ``patient-list`` (also ``patient-index``) | GET |
| ``/patients/new/`` | ``patient-new`` | GET, POST |
| ``/patients/find/`` | ``patient-find`` (by hospital number, posted) | GET, POST |
| ``/patients/<patient_id>/`` | ``patient-detail`` | GET |
| ``/patients/<patient_id>/edit/`` | ``patient-edit`` | GET, POST |
| ``/patients/<patient_id>/lesions/new/`` | ``lesion-new`` | GET, POST |
| ``/patients/<patient_id>/lesions/<lesion_id>/`` | ``lesion-detail`` | GET |
| ``/patients/<patient_id>/lesions/<lesion_id>/edit/`` | ``lesion-edit`` | GET, POST |
| ``/patients/<patient_id>/assessments/new/[?lesion=ID]`` | ``assessment-new`` | GET, POST |
| ``/patients/<patient_id>/assessments/<assessment_id>/edit/`` | ``assessment-edit`` | GET, POST |
| ``/patients/<patient_id>/adverse-events/new/``, ``.../<event_id>/edit/`` | ``adverse-event-new``, ``adverse-event-edit`` | GET, POST |
| ``/patients/<patient_id>/reports/new/``, ``.../<report_id>/edit/`` | ``patient-reported-new``, ``patient-reported-edit`` | GET, POST |
| ``/patients/<patient_id>/therapies/new/``, ``.../<therapy_id>/edit/`` | ``therapy-new``, ``therapy-edit`` | GET, POST |
| ``/patients/<patient_id>/sessions/<session_id>/edit/`` | ``session-edit`` | GET, POST |
| ``/patients/<patient_id>/applications/<application_id>/edit/`` | ``application-edit`` | GET, POST |
| ``/patients/<patient_id>/void/<table>/<record_id>/`` | ``record-void`` | GET, POST |
| ``/patients/<patient_id>/voided/``, ``.../<table>/<record_id>/restore/`` | ``patient-voided``, ``record-unvoid`` | GET; POST |

``/`` is the home page (:mod:`openect.web.pages.worklist_urls`): the worklist for
clinicians, the patient list for the other roles. Every GET also answers HEAD; other
methods get 405. The live response of the follow-up form is an API route
(``GET /api/lesions/<lesion_id>/response-preview``, :mod:`openect.web.api.response`).
"""  # noqa: E501

from __future__ import annotations

from django.urls import URLPattern, path

from openect.web.pages import patient_find, patient_list, patient_pages, record_forms, voiding

P = "patients/<str:patient_id>"


def _record(segment: str, name: str, kind: str) -> list[URLPattern]:
    """The new and edit URLs of one kind of a patient's records."""
    return [
        path(f"{P}/{segment}/new/", record_forms.record_form, {"kind": kind}, name=f"{name}-new"),
        path(
            f"{P}/{segment}/<str:record_id>/edit/",
            record_forms.record_form,
            {"kind": kind},
            name=f"{name}-edit",
        ),
    ]


urlpatterns: list[URLPattern] = [
    path("patients/", patient_list.patient_list, name="patient-list"),
    path("patients/", patient_list.patient_list, name="patient-index"),
    path("patients/new/", record_forms.patient_new, name="patient-new"),
    path("patients/find/", patient_find.patient_find, name="patient-find"),
    path(f"{P}/", patient_pages.patient_detail, name="patient-detail"),
    path(f"{P}/edit/", record_forms.patient_edit, name="patient-edit"),
    path(f"{P}/lesions/new/", record_forms.record_form, {"kind": "lesions"}, name="lesion-new"),
    path(f"{P}/lesions/<str:lesion_id>/", patient_pages.lesion_detail, name="lesion-detail"),
    path(
        f"{P}/lesions/<str:record_id>/edit/",
        record_forms.record_form,
        {"kind": "lesions"},
        name="lesion-edit",
    ),
    *_record("assessments", "assessment", "assessments"),
    *_record("adverse-events", "adverse-event", "adverse-events"),
    *_record("reports", "patient-reported", "reports"),
    *_record("therapies", "therapy", "therapies"),
    path(
        f"{P}/sessions/<str:record_id>/edit/",
        record_forms.record_form,
        {"kind": "sessions"},
        name="session-edit",
    ),
    path(
        f"{P}/applications/<str:record_id>/edit/",
        record_forms.record_form,
        {"kind": "applications"},
        name="application-edit",
    ),
    path(f"{P}/void/<str:table>/<str:record_id>/", voiding.record_void, name="record-void"),
    path(f"{P}/voided/", voiding.patient_voided, name="patient-voided"),
    path(
        f"{P}/voided/<str:table>/<str:record_id>/restore/",
        voiding.record_unvoid,
        name="record-unvoid",
    ),
]
