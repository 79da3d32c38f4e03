"""URLs of the printable documents (:mod:`openect.web.pages.documents`).

| URL | methods | name |
|---|---|---|
| ``/sessions/<session_id>/print/[?window=pk]`` | GET: session record to print | ``session-print`` |
| ``/sessions/<session_id>/record.pdf`` | GET: the session record as a PDF | ``session-pdf`` |
| ``/patients/<patient_id>/letter/`` | GET: treatment summary letter to print | ``patient-letter`` |
| ``/patients/<patient_id>/letter.pdf`` | GET: the letter as a PDF | ``patient-letter-pdf`` |
"""

from __future__ import annotations

from django.urls import URLPattern, path

from openect.web.pages import documents

urlpatterns: list[URLPattern] = [
    path("sessions/<str:session_id>/print/", documents.session_print, name="session-print"),
    path("sessions/<str:session_id>/record.pdf", documents.session_pdf, name="session-pdf"),
    path("patients/<str:patient_id>/letter/", documents.patient_letter, name="patient-letter"),
    path(
        "patients/<str:patient_id>/letter.pdf",
        documents.patient_letter_pdf,
        name="patient-letter-pdf",
    ),
]
