"""One follow-up visit: every treated lesion of a patient measured on one form.

``/patients/<patient_id>/visits/new/`` (:func:`visit_new`) shows one date, method and
assessor for the visit and, per treated lesion, a row with its short number (``L1``),
its baseline and last measured sizes (with dates), the new longest and perpendicular
diameters (mm), a note and "new lesion in the treated field". A row left blank is a
lesion not measured at this visit.

* **Check** (``action=check``) derives each measured lesion's RECIST 1.1 and WHO category
  without saving (:func:`openect.response.preview`), with one sentence where the two
  differ (:func:`openect.response.explain.explain_preview`); the same categories appear
  while typing (``static/web/patients-visit.js``, the response-preview API).
* **Save** writes the visit's assessments with :func:`openect.registry.services.create_numbered`
  in ONE transaction: every row or none. Every problem is listed at the top, each linked
  to its field and naming the lesion; the values are kept (HTTP 422).

The note is the assessment's ``note`` and "new lesion in the treated field" its
``new_lesion_in_field`` (dataset schema 1.3). A new lesion in the treated field is also
the override PD with the reason "New lesion in the treated field" (progression in that
field, whatever this lesion's size); the page then offers to add the new lesion.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from openect.data.dataset import Dataset
from openect.data.models import Assessment, Lesion, Patient, registry_today
from openect.data.schema import Column, column_index
from openect.errors import AccessDeniedError, InputError, RecordInvalidError
from openect.formatting import diameters
from openect.registry import services
from openect.registry.access import Actor
from openect.registry.retry import retry_write
from openect.response import ResponsePreview, preview
from openect.response.explain import explain_preview
from openect.response.summary import saved_summary
from openect.web.pages.common import allow, with_actor
from openect.web.pages.forms import add_errors, form_field, in_words
from openect.web.pages.patient_pages import patient_dataset
from openect.web.pages.patient_timeline import short_label

#: Why an assessment overrides its derived category when a new lesion appeared in the
#: treated field (progression in that field; the override needs a reason).
NEW_LESION_REASON = "New lesion in the treated field"
#: Longest note kept (characters), as the data model's free-text columns.
NOTE_MAX = 500
#: Longest bad value echoed back in a message (characters).
ECHO = 40

_COLUMNS = column_index(Assessment)


def _echo(value: object) -> str:
    text = str(value)
    return repr(text if len(text) <= ECHO else text[:ECHO] + "…")


class DiameterField(forms.FloatField):
    """A diameter in mm, optional; a value that is no finite number (``1e309``, text) is
    refused naming the value and the range of the data model."""

    def __init__(self, column: Column, **kwargs: Any) -> None:
        self.column = column
        low = column.ge if column.ge is not None else column.gt
        self.allowed = f"allowed {low:g} to {column.le:g} mm"
        attrs = {"step": "any", "inputmode": "decimal", "min": f"{low:g}", "max": f"{column.le:g}"}
        super().__init__(required=False, widget=forms.NumberInput(attrs=attrs), **kwargs)

    def to_python(self, value: Any) -> float | None:
        """The number, or None when empty; ValidationError naming value and range."""
        if value in self.empty_values:
            return None
        text = str(value).strip()
        try:
            number = float(text)
        except ValueError:
            raise forms.ValidationError(
                f"{_echo(text)} is not a number; {self.allowed}", code="invalid"
            ) from None
        if number != number or number in (float("inf"), float("-inf")):
            raise forms.ValidationError(
                f"{_echo(text)} is not a finite number; {self.allowed}", code="invalid"
            )
        return number

    def validate(self, value: Any) -> None:
        """Nothing more here: the range is the registry's (its message names it)."""


class VisitForm(forms.Form):
    """What the visit shares: its date, the method and the assessor (data-model fields)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        date = form_field(_COLUMNS["assessment_date"])
        date.label = "Visit date"
        date.widget.attrs["max"] = registry_today().date.isoformat()
        method = form_field(_COLUMNS["method"])
        method.label = "Method"
        assessor = form_field(_COLUMNS["assessor"])
        assessor.label = "Assessor"
        assessor.help_text = "Pseudonymous assessor code (letters, digits and . _ : -)"
        self.fields.update(assessment_date=date, method=method, assessor=assessor)
        self.required_css_class = "required"
        #: Registry problems of the visit's fields: (field, message) -> lesions (short).
        self.shared_problems: dict[tuple[str, str], list[str]] = {}


class LesionRowForm(forms.Form):
    """One lesion's row: new diameters (mm), note, new lesion in the treated field."""

    def __init__(self, *args: Any, short: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.short = short
        longest = DiameterField(_COLUMNS["longest_diameter_mm"], label="Longest diameter (mm)")
        longest.help_text = "0 = no residual lesion"
        perpendicular = DiameterField(
            _COLUMNS["perpendicular_diameter_mm"], label="Perpendicular diameter (mm)"
        )
        perpendicular.help_text = "At right angles to the longest, not longer"
        note = forms.CharField(
            required=False,
            max_length=NOTE_MAX,
            label="Note",
            help_text="e.g. crust, necrosis, scar; kept in the audit trail",
            widget=forms.TextInput(attrs={"autocomplete": "off"}),
        )
        note.error_messages["max_length"] = (
            f"at most {NOTE_MAX} characters (this note has %(show_value)d)"
        )
        new_lesion = forms.BooleanField(required=False, label="New lesion in the treated field")
        self.fields.update(
            longest_diameter_mm=longest,
            perpendicular_diameter_mm=perpendicular,
            note=note,
            new_lesion=new_lesion,
        )

    def clean(self) -> dict[str, Any]:
        """A note, a perpendicular diameter or a new lesion needs the longest diameter."""
        data = super().clean() or {}
        if data.get("longest_diameter_mm") is None and not self.has_error("longest_diameter_mm"):
            given = [
                label
                for name, label in (
                    ("perpendicular_diameter_mm", "a perpendicular diameter"),
                    ("note", "a note"),
                    ("new_lesion", "a new lesion in the treated field"),
                )
                if data.get(name)
            ]
            if given:
                self.add_error(
                    "longest_diameter_mm",
                    f"required with {' and '.join(given)}; or leave the whole row empty "
                    "(lesion not measured at this visit)",
                )
        return data

    @property
    def blank(self) -> bool:
        """True when nothing was entered in the row (the lesion was not measured)."""
        if not self.is_bound:
            return True
        return not any(
            str(self.data.get(self.add_prefix(name), "")).strip()
            for name in ("longest_diameter_mm", "perpendicular_diameter_mm", "note", "new_lesion")
        )


@dataclass
class VisitRow:
    """One treated lesion on the visit form, with what it measured before."""

    lesion: Lesion
    short: str
    form: LesionRowForm
    last: Assessment | None
    href: str
    preview: ResponsePreview | None = None
    explanation: str | None = None
    saved: list[str] = field(default_factory=list)

    @property
    def baseline_size(self) -> str:
        """Baseline size, e.g. ``12 × 9.5 mm``."""
        return diameters(self.lesion.longest_diameter_mm, self.lesion.perpendicular_diameter_mm)

    @property
    def last_size(self) -> str:
        """Size at the last assessment, or empty."""
        if self.last is None:
            return ""
        return diameters(self.last.longest_diameter_mm, self.last.perpendicular_diameter_mm)


def _prefix(lesion_id: str, taken: set[str]) -> str:
    """A form prefix from the lesion id (letters, digits, ``_`` and ``-``), unique."""
    base = "l-" + re.sub(r"[^A-Za-z0-9_-]", "_", lesion_id)
    out, n = base, 2
    while out in taken:
        out, n = f"{base}-{n}", n + 1
    taken.add(out)
    return out


def treated_lesions(dataset: Dataset) -> list[Lesion]:
    """The lesions of ``dataset`` that an electrode application treated (registry order)."""
    treated = {a.lesion_id for a in dataset.applications}
    return [lesion for lesion in dataset.lesions if lesion.lesion_id in treated]


def _rows(patient: Patient, dataset: Dataset, data: Any) -> list[VisitRow]:
    taken: set[str] = set()
    rows = []
    for lesion in treated_lesions(dataset):
        short = short_label(lesion.lesion_id, patient.patient_id)
        measured = [a for a in dataset.assessments if a.lesion_id == lesion.lesion_id]
        last = max(measured, key=lambda a: a.assessment_date, default=None)
        rows.append(
            VisitRow(
                lesion=lesion,
                short=short,
                form=LesionRowForm(data, prefix=_prefix(lesion.lesion_id, taken), short=short),
                last=last,
                href=reverse("lesion-detail", args=[patient.patient_id, lesion.lesion_id]),
            )
        )
    return rows


def _values(visit: dict[str, Any], row: VisitRow) -> dict[str, Any]:
    """The assessment of ``row`` at the visit (its id numbered by the registry)."""
    data = row.form.cleaned_data
    note = (data.get("note") or "").strip()
    values: dict[str, Any] = {
        "assessment_id": None,
        "lesion_id": row.lesion.lesion_id,
        "assessment_date": visit["assessment_date"],
        "longest_diameter_mm": data["longest_diameter_mm"],
        "perpendicular_diameter_mm": data.get("perpendicular_diameter_mm"),
        "method": visit.get("method") or None,
        "assessor": visit.get("assessor") or None,
        "note": note or None,
        "new_lesion_in_field": True if data.get("new_lesion") else None,
    }
    if data.get("new_lesion"):
        values["override_response"] = "PD"
        values["override_reason"] = (NEW_LESION_REASON + (f": {note}" if note else ""))[:NOTE_MAX]
    return values


def _spread(visit: VisitForm, row: VisitRow, error: RecordInvalidError) -> None:
    """Put the registry's problems of ``row`` on the row's fields, or on the visit's (date,
    method, assessor) where :func:`_shared_errors` names the lesions they concern."""
    own = [i for i in error.issues if i[0] not in visit.fields]
    shared = visit.shared_problems
    for column, value, message in error.issues:
        if column is None or column not in visit.fields:
            continue
        text = in_words(message)
        if value is not None and value not in text:
            text += f" (value: {value})"
        shared.setdefault((column, text), []).append(row.short)
    if own:
        add_errors(row.form, RecordInvalidError(error.entity, own))


def _shared_errors(visit: VisitForm) -> None:
    """The problems of the visit's own fields, each once with the lesions it concerns."""
    for (column, text), shorts in visit.shared_problems.items():
        lesions = f"lesion{'s' if len(shorts) > 1 else ''} {', '.join(shorts)}"
        visit.add_error(column, f"{text} ({lesions})")
    visit.shared_problems.clear()


class _RefusedError(Exception):
    """Raised inside the visit's transaction to undo it when a row was refused."""


@retry_write
def _save(actor: Actor, visit: VisitForm, rows: list[VisitRow]) -> list[Assessment]:
    """Create the assessment of every measured row in one transaction; on any refusal
    nothing is kept and every row's problems are on the forms."""
    shared = dict(visit.cleaned_data)  # an error put on the visit removes its value
    saved: list[Assessment] = []
    refused = False
    try:
        with transaction.atomic():
            for row in rows:
                if row.form.blank:
                    continue
                try:
                    saved.append(
                        services.create_numbered(
                            actor,
                            Assessment,
                            _values(shared, row),
                            reason="recorded on the visit form (web)",
                        )
                    )
                except RecordInvalidError as error:
                    _spread(visit, row, error)
                    refused = True
            if refused:
                _shared_errors(visit)
                raise _RefusedError
    except _RefusedError:
        return []
    return saved


def _check(dataset: Dataset, visit: VisitForm, rows: list[VisitRow]) -> None:
    """Derive each measured row's response (nothing saved) and why the criteria differ."""
    shared = dict(visit.cleaned_data)
    for row in rows:
        if row.form.blank or row.form.errors:
            continue
        values = _values(shared, row)
        values["assessment_id"] = f"{row.lesion.lesion_id}-preview"
        try:
            candidate = services.validated(Assessment, values)
            row.preview = preview(dataset, candidate)
        except RecordInvalidError as error:
            _spread(visit, row, error)
            continue
        except InputError as error:
            row.form.add_error(None, str(error))
            continue
        row.explanation = explain_preview(row.preview)
    _shared_errors(visit)


def error_list(visit: VisitForm, rows: list[VisitRow]) -> list[tuple[str, str, str]]:
    """(field id, label, message) of every problem, the row's lesion in the label."""
    out: list[tuple[str, str, str]] = []
    for name, errors in visit.errors.items():
        if name == "__all__":
            out.extend(("", "", str(e)) for e in errors)
            continue
        label = str(visit.fields[name].label or name)
        out.extend((visit[name].auto_id, label, str(e)) for e in errors)
    for row in rows:
        first = row.form["longest_diameter_mm"].auto_id
        for name, errors in row.form.errors.items():
            if name == "__all__":
                out.extend((first, f"Lesion {row.short}", str(e)) for e in errors)
                continue
            label = f"Lesion {row.short} · {row.form.fields[name].label}"
            out.extend((row.form[name].auto_id, label, str(e)) for e in errors)
    return out


def _require_writer(actor: Actor, patient: Patient) -> None:
    if not actor.may_write(patient.centre_id):
        raise AccessDeniedError(
            f"user {actor.username!r} ({actor.role.value}) may not record a visit of "
            f"centre {patient.centre_id}"
        )


@allow("GET", "POST")
@with_actor
def visit_new(request: HttpRequest, patient_id: str, *, actor: Actor) -> HttpResponse:
    """Record one follow-up visit: a measurement of each treated lesion, in one go."""
    patient, dataset = patient_dataset(actor, patient_id)
    _require_writer(actor, patient)
    posted = request.method == "POST"
    data = request.POST if posted else None
    visit = VisitForm(data, initial={"assessment_date": registry_today().date.isoformat()})
    rows = _rows(patient, dataset, data)
    status = 200
    if posted:
        action = request.POST.get("action", "save")
        # every form validated (no short-circuit), so that every problem is listed
        checks = [visit.is_valid()] + [row.form.is_valid() for row in rows]
        valid = all(checks)
        if valid and all(row.form.blank for row in rows):
            visit.add_error(
                None,
                "No lesion measured: enter the longest diameter of at least one lesion",
            )
            valid = False
        if valid and action == "check":
            _check(dataset, visit, rows)
        elif valid:
            saved = _save(actor, visit, rows)
            if saved:
                return _done(request, actor, patient, visit, rows, saved)
        if visit.errors or any(row.form.errors for row in rows):
            status = 422
    context = {
        "patient": patient,
        "visit": visit,
        "rows": rows,
        "errors": error_list(visit, rows),
        "checked": posted and status == 200,
        "preview_url": reverse("api:response-preview", kwargs={"lesion_id": "__lesion__"}),
        "today": registry_today().date,
    }
    return render(request, "web/patients/visit.html", context, status=status)


def _done(
    request: HttpRequest,
    actor: Actor,
    patient: Patient,
    visit: VisitForm,
    rows: list[VisitRow],
    saved: list[Assessment],
) -> HttpResponse:
    """The message after a saved visit and where to go next (the new lesion, if any)."""
    _, dataset = patient_dataset(actor, patient.patient_id)
    shorts = {row.lesion.lesion_id: row.short for row in rows}
    date: dt.date = visit.cleaned_data["assessment_date"]
    parts = [f"{shorts[a.lesion_id]}: {saved_summary(dataset, a.assessment_id)}" for a in saved]
    messages.success(
        request,
        f"Visit of {date.isoformat()} saved: {len(saved)} assessment"
        f"{'s' if len(saved) != 1 else ''}. " + " · ".join(parts),
    )
    new = [row.short for row in rows if not row.form.blank and row.form.cleaned_data["new_lesion"]]
    if new:
        messages.info(
            request,
            f"New lesion in the treated field of {', '.join(new)} (recorded as progression): "
            "add it here so that it is measured and treated.",
        )
        return redirect("lesion-new", patient_id=patient.patient_id)
    return redirect("patient-detail", patient_id=patient.patient_id)
