"""Void and restore a patient's records from the web pages, and undo the last
application on the recording page.

A record entered in error (a session recorded for the wrong patient, an application
typed twice, an assessment of the wrong lesion) is voided with a reason: it leaves
every page, export and analysis, and stays in the audit trail; the records that depend
on it go with it (a session's applications, a lesion's assessments). The patient's
"voided records" page lists them and restores them as they were
(:func:`openect.registry.services.void`, :func:`~openect.registry.services.unvoid`).

| URL | methods | name |
|---|---|---|
| ``/patients/<patient_id>/void/<table>/<record_id>/`` | GET: what goes; POST: void | ``record-void`` |
| ``/patients/<patient_id>/voided/`` | GET: the patient's voided records | ``patient-voided`` |
| ``/patients/<patient_id>/voided/<table>/<record_id>/restore/`` | POST: restore | ``record-unvoid`` |
| ``/sessions/<session_id>/applications/undo/`` | POST: void your last application | ``application-undo`` |
"""  # noqa: E501

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse

from openect.data.dataset import Dataset
from openect.data.models import ENTITIES, Application, Centre, Patient, Record, Session
from openect.errors import AccessDeniedError, NotFoundError, RecordInvalidError
from openect.formatting import words
from openect.registry import services
from openect.registry.access import Actor
from openect.registry.models import AuditAction, AuditEntry, VoidedRecord
from openect.web.pages.common import allow, with_actor
from openect.web.pages.forms import add_errors

#: Tables whose records can be voided from the pages (every entity but centres).
VOIDABLE: dict[str, type[Record]] = {r.table: r for r in ENTITIES if r is not Centre}
#: A record of each table in words.
NOUNS = {
    "patients": "patient",
    "lesions": "lesion",
    "sessions": "session",
    "applications": "application",
    "assessments": "assessment",
    "adverse_events": "adverse event",
    "patient_reported": "patient-reported outcome",
    "systemic_therapies": "systemic therapy",
}
#: The reason kept in the audit trail for an undo on the recording page.
UNDO_REASON = "undone on the recording page (entered in error)"


class ReasonForm(forms.Form):
    """The reason for a void or a restore (required; kept in the audit trail)."""

    reason = forms.CharField(
        max_length=services.REASON_MAX,
        label="Reason",
        help_text="Required; kept in the audit trail (e.g. entered for the wrong patient).",
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )


def _kind(table: str) -> type[Record]:
    """The entity of a table name in a URL; NotFoundError for any other name."""
    kind = VOIDABLE.get(table)
    if kind is None:
        raise NotFoundError(f"{table[:40]!r}: not a table of patient records")
    return kind


def _owned(dataset: Dataset, kind: type[Record], record_id: str, patient_id: str) -> Record:
    """The live record ``record_id`` of the patient's ``dataset``; NotFoundError if not
    theirs (or not in the actor's scope: then the dataset is not read at all)."""
    for item in dataset.records(kind):
        if item.id == record_id:
            return item
    raise NotFoundError(f"{kind.table}: no {kind.id_field}={record_id!r} of patient {patient_id!r}")


def describe(kind: type[Record], item: Record | dict[str, Any]) -> str:
    """A record in a few clinical words, e.g. ``session of 2024-02-01``."""
    values = item if isinstance(item, dict) else item.model_dump(mode="json")
    noun = NOUNS.get(kind.table, words(kind.table))
    for column in (
        "session_date",
        "assessment_date",
        "onset_date",
        "report_date",
        "start_date",
        "baseline_date",
        "time",
    ):
        if values.get(column):
            return f"{noun} of {values[column]}"
    return noun


def _back(kind: type[Record], item: Record, patient_id: str) -> str:
    """Where a person goes after voiding ``item``: the session page for an application,
    the patient's page otherwise (the patient list when the patient is voided)."""
    if isinstance(item, Application):
        return str(reverse("session-record", args=[item.session_id]))
    if isinstance(item, Patient):
        return str(reverse("patient-list"))
    return str(reverse("patient-detail", args=[patient_id]))


@allow("GET", "POST")
@with_actor
def record_void(
    request: HttpRequest, patient_id: str, table: str, record_id: str, *, actor: Actor
) -> HttpResponse:
    """Confirm (GET: what goes with it) and void (POST, with a reason) one record."""
    kind = _kind(table)
    dataset = services.patient_records(actor, patient_id)
    item = _owned(dataset, kind, record_id, patient_id)
    going = services.void_preview(actor, kind, record_id)  # scope and right to change
    form = ReasonForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            done = services.void(actor, kind, record_id, form.cleaned_data["reason"])
        except RecordInvalidError as error:
            add_errors(form, error)
        else:
            others = len(done) - 1
            messages.success(
                request,
                f"Voided {describe(kind, item)} {record_id}"
                + (f" and {others} record(s) with it" if others else "")
                + ". It stays in the audit trail and can be restored from the patient's "
                "voided records.",
            )
            return HttpResponseRedirect(_back(kind, item, patient_id))
    context = {
        "patient_id": patient_id,
        "kind": kind,
        "item": item,
        "what": describe(kind, item),
        "going": [(words(t), i) for t, i in going[:-1]],
        "form": form,
        "cancel": _back(kind, item, patient_id)
        if not isinstance(item, Patient)
        else reverse("patient-detail", args=[patient_id]),
    }
    return render(request, "web/patients/void.html", context)


@allow("GET")
@with_actor
def patient_voided(request: HttpRequest, patient_id: str, *, actor: Actor) -> HttpResponse:
    """The patient's voided records, newest first, each void with a restore form."""
    rows = services.voided_records(actor, patient_id)
    groups: dict[tuple[str, Any], list[VoidedRecord]] = {}
    for row in rows:
        groups.setdefault((row.root, row.voided_at), []).append(row)
    voids = []
    for (root, _), members in groups.items():
        table, _, ident = root.partition("/")
        head = next((m for m in members if m.entity == table and m.record_id == ident), members[-1])
        voids.append(
            {
                "head": head,
                "what": describe(_kind(head.entity), head.values),
                "with": [(words(m.entity), m.record_id) for m in members if m is not head],
                "form": ReasonForm(auto_id=f"id_%s_{head.pk}"),
            }
        )
    return render(
        request,
        "web/patients/voided.html",
        {"patient_id": patient_id, "voids": voids, "patient_live": _live(actor, patient_id)},
    )


def _live(actor: Actor, patient_id: str) -> bool:
    try:
        services.get(actor, Patient, patient_id)
    except NotFoundError:
        return False
    return True


@allow("POST")
@with_actor
def record_unvoid(
    request: HttpRequest, patient_id: str, table: str, record_id: str, *, actor: Actor
) -> HttpResponse:
    """Restore a voided record of the patient (with those voided with it)."""
    kind = _kind(table)
    found = VoidedRecord.objects.filter(
        entity=kind.table, record_id=record_id, patient_id=patient_id
    ).first()
    if found is None or not actor.may_write(found.centre_id):
        raise NotFoundError(f"{kind.table}: no voided {kind.id_field}={record_id!r}")
    form = ReasonForm(request.POST)
    target = reverse("patient-voided", args=[patient_id])
    if not form.is_valid():
        messages.error(request, f"Not restored: reason: {'; '.join(form.errors['reason'])}")
        return HttpResponseRedirect(target)
    try:
        done = services.unvoid(actor, kind, record_id, form.cleaned_data["reason"])
    except RecordInvalidError as error:
        messages.error(request, f"Not restored: {error}")
        return HttpResponseRedirect(target)
    messages.success(
        request,
        f"Restored {describe(kind, found.values)} {record_id}"
        + (f" and {len(done) - 1} record(s) with it." if len(done) > 1 else "."),
    )
    return HttpResponseRedirect(reverse("patient-detail", args=[patient_id]))


def undoable(actor: Actor, session_id: str) -> str | None:
    """The id of the application the actor recorded last in this session, if it is
    still there (what "Undo" voids); None otherwise."""
    created = (
        AuditEntry.objects.filter(
            action=AuditAction.CREATE,
            entity=Application.table,
            actor=actor.username,
            after__session_id=session_id,
        )
        .order_by("-id")
        .values_list("record_id", flat=True)
    )
    for record_id in created[:5]:
        if services.count(actor, Application, application_id=record_id):
            return str(record_id)
        return None  # the last one is voided already: undo undoes one action only
    return None


@allow("POST")
@with_actor
def application_undo(request: HttpRequest, session_id: str, *, actor: Actor) -> HttpResponse:
    """Void the application the actor recorded last in this session (one tap)."""
    session = services.get(actor, Session, session_id)
    patient = services.get(actor, Patient, session.patient_id)
    if not actor.may_write(patient.centre_id):
        raise AccessDeniedError(
            f"user {actor.username!r} ({actor.role.value}) may not record sessions"
        )
    target = reverse("session-record", args=[session_id])
    window = request.POST.get("window", "")
    if window.isidentifier():
        target += f"?window={window}"
    expected = request.POST.get("application_id", "")
    last = undoable(actor, session_id)
    if last is None or (expected and expected != last):
        messages.error(
            request, "Nothing to undo: your last application of this session is already gone."
        )
        return HttpResponseRedirect(target)
    services.void(actor, Application, last, UNDO_REASON)
    messages.success(
        request,
        f"Application {last} undone (voided; it stays in the audit trail and can be "
        "restored from the patient's voided records).",
    )
    return HttpResponseRedirect(target)


__all__ = [
    "application_undo",
    "patient_voided",
    "record_unvoid",
    "record_void",
    "undoable",
]
