"""The forms of the patient pages: register or change a patient, add or change a lesion,
assessment (follow-up), adverse event, patient-reported outcome or systemic therapy.

Fields come from the data model (:func:`openect.web.pages.forms.record_form_class`);
every write goes through :mod:`openect.registry.services`, so validation messages and
the audit trail are the registry's. Response categories are never typed in: the
follow-up form shows them live from the API (``GET /api/lesions/{id}/response-preview``,
``static/web/patients-followup.js``) and the server derives them again after saving.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, cast

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.debug import sensitive_post_parameters

from openect.data.dataset import Dataset
from openect.data.models import (
    AdverseEvent,
    Application,
    Assessment,
    Centre,
    Lesion,
    Patient,
    PatientReported,
    Record,
    Session,
    SystemicTherapy,
    registry_today,
)
from openect.data.schema import column_index, columns
from openect.errors import AccessDeniedError, NotFoundError, RecordInvalidError
from openect.formatting import words
from openect.registry import pseudonym as pseudonyms
from openect.registry import services
from openect.registry.access import Actor, readable
from openect.registry.access_log import AccessAction, Read
from openect.registry.models import Role
from openect.registry.records import to_row_values
from openect.response.summary import saved_summary
from openect.web.access_log import log_read
from openect.web.pages import bodymap
from openect.web.pages.common import allow, with_actor
from openect.web.pages.forms import add_errors, cleaned_values, record_form_class
from openect.web.pages.patient_find import NeverShown, pseudonym_key
from openect.web.pages.patient_pages import patient_dataset

R = TypeVar("R", bound=Record)


# ------------------------------------------------------------------------- shared
def _initial(record: Record) -> dict[str, Any]:
    """Form initial values of ``record`` (booleans as the select's values, ISO dates)."""
    out: dict[str, Any] = {}
    index = column_index(type(record))
    for name, value in to_row_values(record).items():
        column = index[name]
        if column.kind == "bool":
            out[name] = "unknown" if value is None else ("true" if value else "false")
        elif column.kind == "list":
            out[name] = [part for part in (value or "").split(";") if part]
        elif isinstance(value, dt.date | dt.time):
            out[name] = value.isoformat()
        elif value is not None:
            out[name] = value
    return out


def _unsaved(record: type[R], values: Mapping[str, Any]) -> R:
    """An unvalidated record of form ``values`` (list items as their enum):
    :func:`services.create` validates it."""
    out = dict(values)
    for column in columns(record):
        if column.kind == "list" and column.enum is not None:
            out[column.name] = [column.enum(v) for v in out.get(column.name) or []]
    # model_construct returns the class it is called on (mypy sees the bound, Record)
    return cast(R, record.model_construct(**out))


def _lock(form: forms.Form, name: str, value: Any) -> None:
    """Make ``name`` a disabled field whose value is ``value`` whatever is posted."""
    field = form.fields[name]
    field.disabled = True
    field.initial = value
    form.initial[name] = value


def _reason_field() -> forms.CharField:
    return forms.CharField(
        required=False,
        max_length=500,
        label="Reason for the change",
        help_text="Optional; kept in the audit trail with the change.",
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )


def _require_writer(actor: Actor, centre_id: str | None) -> None:
    if not actor.may_write(centre_id):
        raise AccessDeniedError(
            f"user {actor.username!r} ({actor.role.value}) may not change records of "
            f"{'centre ' + centre_id if centre_id else 'this registry'}"
        )


def _refused_status(request: HttpRequest) -> int:
    """The status of a form page: 422 when it answers a POST (the form again, with what
    was refused), 200 when it is asked for."""
    return 422 if request.method == "POST" else 200


# ------------------------------------------------------------------------- patients
def _centre_choices(actor: Actor) -> list[tuple[str, str]]:
    rows = readable(actor, Centre).order_by("centre_id").values_list("centre_id", "name")
    return [("", "—")] + [(str(c), f"{c} · {n}") for c, n in rows]


def _patient_form(
    actor: Actor, mode: Literal["pseudonym", "manual", "edit"], data: Any = None, **kwargs: Any
) -> forms.Form:
    # the number within the centre (the label C01-0042) is the registry's to give
    exclude: tuple[str, ...] = ("patient_number",)
    if mode == "pseudonym":
        exclude = ("patient_id", "patient_number")
    elif mode == "edit":
        exclude = ()
    form_class = record_form_class(Patient, exclude=exclude)
    form: forms.Form = form_class(data, **kwargs)
    form.required_css_class = "required"
    if mode == "pseudonym":
        hospital = forms.CharField(
            max_length=64,
            label="Hospital number",
            help_text=(
                "Turned into the patient's pseudonym with the centre key, then forgotten: "
                "it is never stored, shown or logged. If the form shows errors, type it again."
            ),
            widget=NeverShown(attrs={"autocomplete": "off", "spellcheck": "false"}),
        )
        form.fields = {"hospital_number": hospital, **form.fields}
    centre = forms.ChoiceField(
        choices=_centre_choices(actor), label="Centre", help_text="Treating centre"
    )
    form.fields["centre_id"] = centre
    if actor.role is not Role.ADMIN:
        _lock(form, "centre_id", actor.centre_id)
    if mode == "edit":
        _lock(form, "patient_id", form.initial.get("patient_id"))
        _lock(form, "patient_number", form.initial.get("patient_number"))
        form.fields[
            "patient_number"
        ].help_text = "Given by the registry: with the centre it makes the patient's label"
        form.fields["reason"] = _reason_field()
    elif mode == "manual":
        form.fields["patient_id"].required = False
        form.fields["patient_id"].help_text = (
            "Leave empty and the registry numbers the patient (<centre>-P1, -P2, ...). "
            "An id you type is a pseudonym agreed with the centre (letters, digits and "
            ". _ : -) that begins with the centre's id and '-', never a hospital number "
            "or a name."
        )
    return form


@dataclass
class _Registration:
    """What registering gave: the patient, or the patient already registered under the
    hospital number when the user may see them (else None)."""

    created: Patient | None = None
    existing: Patient | None = None


def _by_hospital_number(
    actor: Actor, form: forms.Form, values: dict[str, Any], key: bytes | None
) -> _Registration:
    """Register the patient under the pseudonym of the form's hospital number (kept in
    this call only); the error on the field for a blank or already registered number,
    with the patient already registered when ``actor`` may read them."""
    number = str(values.pop("hospital_number"))
    try:
        return _Registration(created=services.register_patient(actor, number, values, key=key))
    except RecordInvalidError as error:
        if not any(c == "patient_id" for c, _, _ in error.issues):
            raise
        form.add_error(
            "hospital_number", "this hospital number is already registered (same pseudonym)"
        )
        others = [i for i in error.issues if i[0] != "patient_id"]
        if others:
            add_errors(form, RecordInvalidError(error.entity, others))
        return _Registration(existing=_registered(actor, number, values, key))
    except ValueError as error:  # a blank hospital number
        form.add_error("hospital_number", str(error))
        return _Registration()


def _registered(
    actor: Actor, number: str, values: dict[str, Any], key: bytes | None
) -> Patient | None:
    """The patient registered under ``number`` at the form's centre, when ``actor`` may
    read them (never another centre's)."""
    patient_id = pseudonyms.pseudonym(number, str(values.get("centre_id") or ""), key)
    try:
        return services.get(actor, Patient, patient_id)
    except NotFoundError:
        return None


def _register(
    actor: Actor, form: forms.Form, mode: Literal["pseudonym", "manual"], key: bytes | None
) -> _Registration:
    """Create the patient of the valid ``form``; no patient (errors on the form) when
    refused."""
    values = cleaned_values(form)
    try:
        if mode == "manual":
            return _Registration(created=services.create_numbered(actor, Patient, values))
        return _by_hospital_number(actor, form, values, key)
    except RecordInvalidError as error:
        add_errors(form, error)
        return _Registration()


@sensitive_post_parameters("hospital_number")
@allow("GET", "POST")
@with_actor
def patient_new(request: HttpRequest, *, actor: Actor) -> HttpResponse:
    """Register a patient: by hospital number (pseudonymised) or, without a key, by id."""
    if actor.role is Role.ANALYST:
        _require_writer(actor, None)
    key = pseudonym_key()
    manual_allowed = actor.role in (Role.ADMIN, Role.DATA_MANAGER)
    context: dict[str, Any] = {"key": key is not None, "manual_allowed": manual_allowed}
    if key is None and not manual_allowed:
        return render(request, "web/patients/patient_new.html", {**context, "form": None})
    mode: Literal["pseudonym", "manual"] = "pseudonym" if key is not None else "manual"
    form = _patient_form(actor, mode, request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        done = _register(actor, form, mode, key)
        if done.created is not None:
            created = done.created
            messages.success(
                request, f"Patient {created.label or created.id} registered ({created.id})."
            )
            return redirect("patient-detail", patient_id=created.id)
        if done.existing is not None:
            existing = done.existing
            log_read(
                request,
                actor,
                Read(AccessAction.VIEW, "patients", existing.patient_id, "", existing.centre_id),
            )
            context["existing"] = existing
    return render(
        request,
        "web/patients/patient_new.html",
        {**context, "form": form, "mode": mode},
        status=_refused_status(request),
    )


@allow("GET", "POST")
@with_actor
def patient_edit(request: HttpRequest, patient_id: str, *, actor: Actor) -> HttpResponse:
    """Change a patient's columns (the id cannot change); audited with the reason."""
    patient = services.get(actor, Patient, patient_id)
    _require_writer(actor, patient.centre_id)
    form = _patient_form(
        actor,
        "edit",
        request.POST if request.method == "POST" else None,
        initial=_initial(patient),
    )
    if request.method == "POST" and form.is_valid():
        values = cleaned_values(form)
        reason = values.pop("reason", None)
        values.pop("patient_id", None)
        try:
            services.update(actor, Patient, patient_id, values, reason=reason)
        except RecordInvalidError as error:
            add_errors(form, error)
        else:
            messages.success(request, f"Patient {patient_id} saved.")
            return redirect("patient-detail", patient_id=patient_id)
    return render(
        request,
        "web/patients/form.html",
        {
            "form": form,
            "patient": patient,
            "title": f"Edit patient {patient_id}",
            "submit": "Save patient",
            "cancel": reverse("patient-detail", args=[patient_id]),
            "void_url": reverse("record-void", args=[patient_id, "patients", patient_id]),
        },
        status=_refused_status(request),
    )


# ------------------------------------------------------------------------- child records
@dataclass(frozen=True)
class Kind:
    """A record of a patient edited by the generic forms."""

    record: type[Record]
    noun: str

    @property
    def prefix(self) -> str:
        """Id suggestion: parent id (the patient's, or the lesion's for assessments) +
        ``-`` + this prefix + n, as the registry numbers records (``Record.id_prefix``)."""
        return self.record.id_prefix


KINDS: dict[str, Kind] = {
    "lesions": Kind(Lesion, "lesion"),
    "assessments": Kind(Assessment, "assessment"),
    "adverse-events": Kind(AdverseEvent, "adverse event"),
    "reports": Kind(PatientReported, "patient-reported outcome"),
    "therapies": Kind(SystemicTherapy, "systemic therapy"),
    # edited here, created on the session pages (plan, recording)
    "sessions": Kind(Session, "session"),
    "applications": Kind(Application, "application"),
}
#: Kinds the generic form only edits.
EDIT_ONLY = frozenset({"sessions", "applications"})


def suggest_id(stem: str, prefix: str, taken: Iterable[str], start: int) -> str:
    """``{stem}-{prefix}{n}`` with the first free n >= ``start``."""
    used = set(taken)
    n = max(1, start)
    while f"{stem}-{prefix}{n}" in used:
        n += 1
    return f"{stem}-{prefix}{n}"


def _next_ids(actor: Actor, kind: Kind, patient_id: str, dataset: Dataset) -> dict[str, str]:
    """Suggested new id: per lesion for assessments (key = lesion id), else under ``""``.

    Numbered after the patient's records; one query checks that no other record in the
    actor's scope already has the suggestion.
    """
    record = kind.record
    stems: dict[str, list[str]] = {}
    if record is Assessment:
        for lesion in dataset.lesions:
            stems[lesion.lesion_id] = [
                a.assessment_id for a in dataset.assessments if a.lesion_id == lesion.lesion_id
            ]
    else:
        stems[""] = [r.id for r in dataset.records(record)]
    suggested = {
        key: suggest_id(key or patient_id, kind.prefix, ids, len(ids) + 1)
        for key, ids in stems.items()
    }
    clash = set(
        readable(actor, record).filter(pk__in=list(suggested.values())).values_list("pk", flat=True)
    )
    return {
        key: _free(actor, record, key or patient_id, kind.prefix) if value in clash else value
        for key, value in suggested.items()
    }


def _free(actor: Actor, record: type[Record], stem: str, prefix: str) -> str:
    """The first ``{stem}-{prefix}{n}`` not used by a record in the actor's scope."""
    rows = readable(actor, record).filter(**{f"{record.id_field}__startswith": f"{stem}-{prefix}"})
    return suggest_id(stem, prefix, rows.values_list("pk", flat=True), 1)


def _record_form(
    kind: Kind,
    patient_id: str,
    dataset: Dataset,
    data: Any,
    initial: dict[str, Any],
    editing: bool,
) -> forms.Form:
    record = kind.record
    hidden = ("patient_id",) if "patient_id" in column_index(record) else ()
    form: forms.Form = record_form_class(record, hidden=hidden)(data, initial=initial)
    form.required_css_class = "required"
    if hidden:
        _lock(form, "patient_id", patient_id)
    if record is Assessment:
        form.fields["lesion_id"] = forms.ChoiceField(
            label="Lesion",
            choices=[("", "—")]
            + [
                (lesion.lesion_id, f"{lesion.lesion_id} · {words(lesion.body_site)}")
                for lesion in dataset.lesions
            ],
        )
        form.fields["override_response"].help_text = (
            "Only to replace the derived category (e.g. a new lesion in the treated field "
            "is PD); needs the reason below."
        )
    if record is AdverseEvent:
        form.fields["session_id"] = forms.ChoiceField(
            label="Session",
            required=False,
            help_text="The ECT session the event is attributed to, if any",
            choices=[("", "—")]
            + [
                (s.session_id, f"{s.session_id} · {s.session_date.isoformat()}")
                for s in sorted(dataset.sessions, key=lambda s: s.session_date)
            ],
        )
    if editing:
        _lock(form, record.id_field, initial.get(record.id_field))
        form.fields["reason"] = _reason_field()
    else:
        form.fields[
            record.id_field
        ].help_text = (
            "A suggestion; any identifier (letters, digits and . _ : -) unique in the registry"
        )
    return form


def _owned(actor: Actor, kind: Kind, patient_id: str, record_id: str, dataset: Dataset) -> Record:
    """The record ``record_id`` of ``kind`` if it belongs to the patient; else NotFoundError."""
    item = services.get(actor, kind.record, record_id)
    if isinstance(item, Assessment):
        owner_ok = any(lesion.lesion_id == item.lesion_id for lesion in dataset.lesions)
    elif isinstance(item, Application):
        owner_ok = any(s.session_id == item.session_id for s in dataset.sessions)
    else:
        owner_ok = getattr(item, "patient_id", None) == patient_id
    if not owner_ok:
        raise NotFoundError(
            f"{kind.record.table}: no {kind.record.id_field}={record_id!r} of patient "
            f"{patient_id!r}"
        )
    return item


def _new_initial(
    request: HttpRequest, kind: Kind, patient_id: str, dataset: Dataset, next_ids: dict[str, str]
) -> dict[str, Any]:
    """Initial values of a new record: the patient, the suggested id (of the lesion chosen
    with ``?lesion=`` for an assessment, or the only lesion) and today for a follow-up."""
    record = kind.record
    initial: dict[str, Any] = {"patient_id": patient_id}
    if record is Assessment:
        chosen = request.GET.get("lesion", "")
        if chosen not in next_ids:
            chosen = dataset.lesions[0].lesion_id if len(dataset.lesions) == 1 else ""
        initial["lesion_id"] = chosen
        initial[record.id_field] = next_ids.get(chosen, "")
        initial["assessment_date"] = registry_today().date.isoformat()
    else:
        initial[record.id_field] = next_ids[""]
    return initial


@allow("GET", "POST")
@with_actor
def record_form(
    request: HttpRequest,
    patient_id: str,
    *,
    kind: str,
    record_id: str | None = None,
    actor: Actor,
) -> HttpResponse:
    """Create (``record_id`` None) or change a lesion, assessment, event, report or therapy."""
    spec = KINDS[kind]
    record = spec.record
    if record_id is None and kind in EDIT_ONLY:
        raise NotFoundError(f"{record.table}: created on the session pages, not here")
    patient, dataset = patient_dataset(actor, patient_id)
    _require_writer(actor, patient.centre_id)
    next_ids: dict[str, str] = {}
    if record_id is not None:
        initial = _initial(_owned(actor, spec, patient_id, record_id, dataset))
    else:
        next_ids = _next_ids(actor, spec, patient_id, dataset)
        initial = _new_initial(request, spec, patient_id, dataset, next_ids)
    data = request.POST if request.method == "POST" else None
    form = _record_form(spec, patient_id, dataset, data, initial, record_id is not None)
    if request.method == "POST" and form.is_valid():
        values = cleaned_values(form)
        reason = values.pop("reason", None)
        try:
            if record_id is None:
                saved = services.create(actor, _unsaved(record, values))
            else:
                values.pop(record.id_field, None)
                saved = services.update(actor, record, record_id, values, reason=reason)
        except RecordInvalidError as error:
            add_errors(form, error)
        else:
            return _saved(request, actor, spec, patient_id, saved, record_id is not None)
    lesion_id = initial.get("lesion_id") if record is Assessment else None
    context = {
        "form": form,
        "patient": patient,
        "kind": kind,
        "title": f"Edit {spec.noun} {record_id}" if record_id else f"New {spec.noun}",
        "submit": f"Save {spec.noun}",
        "cancel": (
            reverse("lesion-detail", args=[patient_id, lesion_id])
            if lesion_id
            else _session_page(initial) or reverse("patient-detail", args=[patient_id])
        ),
        "next_ids": next_ids,
        "editing_id": record_id or "",
        "void_url": reverse("record-void", args=[patient_id, record.table, record_id])
        if record_id
        else None,
        "preview_url": (
            reverse("api:response-preview", kwargs={"lesion_id": "__lesion__"})
            if record is Assessment
            else None
        ),
        # a lesion's body site can be chosen on the body map
        "picker": bodymap.body_map([]) if record is Lesion else None,
        "areas": bodymap.pick_areas() if record is Lesion else (),
    }
    return render(request, "web/patients/form.html", context, status=_refused_status(request))


def _session_page(initial: Mapping[str, Any]) -> str | None:
    """The recording page of the session a session or application form is about."""
    session_id = initial.get("session_id")
    if session_id and ("application_id" in initial or "session_date" in initial):
        return str(reverse("session-record", args=[session_id]))
    return None


def _saved(
    request: HttpRequest, actor: Actor, kind: Kind, patient_id: str, saved: Record, editing: bool
) -> HttpResponse:
    """The message and redirect after a save (the derived response of an assessment)."""
    if isinstance(saved, Assessment):
        _, dataset = patient_dataset(actor, patient_id)
        summary = saved_summary(dataset, saved.assessment_id)
        messages.success(request, f"Assessment {saved.assessment_id} saved. Response {summary}.")
        return redirect("lesion-detail", patient_id=patient_id, lesion_id=saved.lesion_id)
    verb = "saved" if editing else "added"
    messages.success(request, f"{kind.noun.capitalize()} {saved.id} {verb}.")
    if isinstance(saved, Application | Session):
        return redirect("session-record", session_id=saved.session_id)
    if isinstance(saved, Lesion):
        return redirect("lesion-detail", patient_id=patient_id, lesion_id=saved.lesion_id)
    return redirect("patient-detail", patient_id=patient_id)
