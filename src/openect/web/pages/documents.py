"""Printable documents: the record of one ECT session and the treatment summary letter
for the referring doctor, each as a page to print and as a PDF (WeasyPrint).

* ``GET /sessions/<session_id>/print/[?window=pk]`` (``session-print``) and
  ``GET /sessions/<session_id>/record.pdf`` (``session-pdf``): the session record.
* ``GET /patients/<patient_id>/letter/`` (``patient-letter``) and
  ``GET /patients/<patient_id>/letter.pdf`` (``patient-letter-pdf``): the letter.

Who may read them: whoever may read the session or the patient (the records are read
through :func:`openect.registry.services.patient_records` with the signed-in actor:
another centre's session or patient, or an unknown id, is a 404 page; analysts read
every centre with free text blanked, as on the session pages). Every document read is
logged in the access log (the page as ``view``, the PDF as ``export``) before it is
answered. What a document holds is built by :mod:`openect.web.pages.document_views`
(no request); the page and the PDF render the same template body
(``templates/web/documents/``) with ``static/web/documents.css``, whose ``@media print``
rules give A4 pages without navigation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils import timezone

from openect.data.models import Patient, Session
from openect.errors import NotFoundError
from openect.registry import services
from openect.registry.access import Actor
from openect.registry.access_log import AccessAction, Read
from openect.web.access_log import log_read
from openect.web.pages.common import allow, with_actor
from openect.web.pages.document_views import (
    TO_VERIFY,
    SessionRecord,
    TreatmentLetter,
    session_record,
    treatment_letter,
)
from openect.web.pages.sessions import rule_sets
from openect.web.pages.sessions.record import variant_of

#: The stylesheet of the documents (screen, print and PDF).
STYLESHEET = Path(__file__).resolve().parents[1] / "static" / "web" / "documents.css"
#: The ``query`` of the access-log entry of each document and format.
LOGGED = {
    ("session", "html"): "document=session record",
    ("session", "pdf"): "document=session record; format=pdf",
    ("letter", "html"): "document=treatment letter",
    ("letter", "pdf"): "document=treatment letter; format=pdf",
}


# ----------------------------------------------------------------------------- loading
def load_session_record(request: HttpRequest, actor: Actor, session_id: str) -> SessionRecord:
    """The record of ``session_id`` as ``actor`` may read it (NotFoundError otherwise)."""
    session = services.get(actor, Session, session_id)  # scope: 404 for other centres
    dataset = services.patient_records(actor, session.patient_id)
    return session_record(dataset, session.session_id, rule_sets.offered(), variant_of(request))


def load_letter(actor: Actor, patient_id: str) -> TreatmentLetter:
    """The letter of ``patient_id`` as ``actor`` may read it (NotFoundError otherwise)."""
    patient = services.get(actor, Patient, patient_id)  # scope: 404 for other centres
    dataset = services.patient_records(actor, patient.patient_id)
    return treatment_letter(dataset, patient.patient_id, timezone.localdate())


# ----------------------------------------------------------------------------- PDF
def _no_fetch(url: str, *args: Any, **kwargs: Any) -> Any:
    """WeasyPrint's URL fetcher: a document fetches nothing (no file, no network)."""
    raise ValueError(f"{url[:80]!r}: a document loads no external resource")


def pdf_bytes(html: str) -> bytes:
    """The PDF (A4, ``documents.css``) of a document's standalone HTML."""
    import weasyprint  # imported on first use: a PDF is rare, the import is slow

    stylesheet = weasyprint.CSS(filename=str(STYLESHEET), url_fetcher=_no_fetch)
    document = weasyprint.HTML(string=html, base_url=None, url_fetcher=_no_fetch)
    return bytes(document.write_pdf(stylesheets=[stylesheet]))


def pdf_response(html: str, filename: str) -> HttpResponse:
    """An inline PDF answer named ``filename``, never stored by a cache."""
    response = HttpResponse(pdf_bytes(html), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


def _log(request: HttpRequest, actor: Actor, entity: str, record_id: str, key: str,
         centre_id: str) -> None:  # fmt: skip
    action = AccessAction.EXPORT if key.endswith("pdf") else AccessAction.VIEW
    kind = "session" if entity == "sessions" else "letter"
    query = LOGGED[(kind, "pdf" if key.endswith("pdf") else "html")]
    log_read(request, actor, Read(action, entity, record_id, query, centre_id))


# ----------------------------------------------------------------------------- views
@allow("GET")
@with_actor
def session_print(request: HttpRequest, session_id: str, *, actor: Actor) -> HttpResponse:
    """The session record as a page to print (A4 by ``@media print``)."""
    record = load_session_record(request, actor, session_id)
    _log(request, actor, "sessions", record.session_id, "html", record.patient.centre_id)
    context = {"doc": record, "to_verify": TO_VERIFY, "window": record.window.variant.value}
    return render(request, "web/documents/session_page.html", context)


@allow("GET")
@with_actor
def session_pdf(request: HttpRequest, session_id: str, *, actor: Actor) -> HttpResponse:
    """The session record as a PDF."""
    record = load_session_record(request, actor, session_id)
    _log(request, actor, "sessions", record.session_id, "pdf", record.patient.centre_id)
    html = render_to_string(
        "web/documents/session_pdf.html", {"doc": record, "to_verify": TO_VERIFY}
    )
    return pdf_response(html, record.filename)


@allow("GET")
@with_actor
def patient_letter(request: HttpRequest, patient_id: str, *, actor: Actor) -> HttpResponse:
    """The treatment summary letter as a page to print."""
    letter = load_letter(actor, patient_id)
    _log(request, actor, "patients", letter.patient.patient_id, "html", letter.patient.centre_id)
    return render(request, "web/documents/letter_page.html", {"doc": letter})


@allow("GET")
@with_actor
def patient_letter_pdf(request: HttpRequest, patient_id: str, *, actor: Actor) -> HttpResponse:
    """The treatment summary letter as a PDF."""
    letter = load_letter(actor, patient_id)
    _log(request, actor, "patients", letter.patient.patient_id, "pdf", letter.patient.centre_id)
    html = render_to_string("web/documents/letter_pdf.html", {"doc": letter})
    return pdf_response(html, letter.filename)


__all__ = [
    "NotFoundError",
    "load_letter",
    "load_session_record",
    "patient_letter",
    "patient_letter_pdf",
    "pdf_bytes",
    "pdf_response",
    "session_pdf",
    "session_print",
]
