"""Patient pages: the list, a patient's body map and timeline, and the record forms.

Every read and write goes through :mod:`openect.registry.services` (or the scoped
querysets of :func:`openect.registry.access.readable` for the aggregate queries of the
list), so that scope, validation and audit are the registry's. Response categories are
never typed in: they are derived by :mod:`openect.response` from the measurements, live
while an assessment is typed (:func:`response_preview`, used by
``static/web/patients-followup.js``) and again after it is saved.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, Literal

import pandas as pd
from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, F, Min
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods
from pydantic import ValidationError

from openect.data.dataset import Dataset
from openect.data.enums import IMMUNOTHERAPY_CLASSES, BodySite, PrimaryTumour
from openect.data.field_errors import error_message
from openect.data.models import (
    DOSE_UNIT,
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
)
from openect.data.schema import column_index, columns
from openect.data.summary import CONCURRENT_WINDOW_DAYS
from openect.errors import AccessDeniedError, NotFoundError
from openect.registry import pseudonym as pseudonyms
from openect.registry import services
from openect.registry.access import Actor, readable
from openect.registry.models import Role
from openect.registry.records import column_names, to_row_values
from openect.response import ResponseEvaluation, load_criteria
from openect.web.pages.bodymap import BodyMap, LesionMark, body_map
from openect.web.pages.common import with_actor
from openect.web.pages.forms import add_errors, cleaned_values, record_form_class

#: Patients per page of the list.
PAGE_SIZE = 25
#: Response criteria offered on the patient and lesion pages (``?criteria=``).
CRITERIA = ("recist", "who")
#: Label of each response category (the badge text is the category itself).
CATEGORY_LABELS: dict[str, str] = {
    "CR": "complete response",
    "PR": "partial response",
    "SD": "stable disease",
    "PD": "progressive disease",
    "NE": "not evaluable or not yet assessed",
}
#: Reason shown in place of an override reason hidden from analysts, so that the
#: override still counts (the response code honours an override only with a reason).
HIDDEN_REASON = "(hidden)"


def _label(value: Any) -> str:
    """Human text of an enum value or identifier-like word (``lower_limb_left``)."""
    if value is None:
        return ""
    if isinstance(value, Enum):
        value = value.value
    return str(value).replace("_", " ")


def _number(value: float | None, unit: str = "") -> str:
    """``12``, ``12.5`` or ``25 500`` (thin grouping), with the unit; empty when unknown."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    text = f"{value:,.1f}".rstrip("0").rstrip(".").replace(",", "\u202f")
    return f"{text} {unit}".strip()


def _criteria_name(request: HttpRequest) -> str:
    name = str(request.GET.get("criteria", "recist")).lower()
    return name if name in CRITERIA else "recist"


def _optional(value: Any) -> Any:
    """A pandas cell as a Python value (NaN/NaT as None)."""
    if value is None:
        return None
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        return value
    return value


# ------------------------------------------------------------------------- responses
@dataclass(frozen=True)
class AssessmentResponse:
    """The derived response of one assessment."""

    course: int
    derived: str | None
    category: str | None
    change_from_reference_pct: float | None
    change_from_nadir_pct: float | None

    @property
    def overridden(self) -> bool:
        """True when an override replaced the derived category."""
        return self.category is not None and self.category != self.derived

    @property
    def css(self) -> str:
        """Badge class: the category, or NE when there is none (pre-treatment)."""
        return self.category or "NE"


@dataclass(frozen=True)
class LesionResponse:
    """Response of one lesion: current (latest assessment), best, landmark, progression."""

    treated: bool
    first_treatment_date: dt.date | None = None
    current: str | None = None
    current_date: dt.date | None = None
    best: str = "NE"
    landmark: str = "NE"
    local_progression: bool = False
    local_progression_date: dt.date | None = None

    @property
    def current_css(self) -> str:
        """Colour class of the current response (NE when not assessed yet)."""
        return self.current or "NE"

    @property
    def current_text(self) -> str:
        """The current category, or why there is none."""
        if self.current is not None:
            return self.current
        return "not yet assessed" if self.treated else "not treated yet"


def _rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of ``frame`` as dicts keyed by column name."""
    return [{str(k): v for k, v in row.items()} for row in frame.to_dict("records")]


def for_evaluation(dataset: Dataset) -> Dataset:
    """``dataset`` with overrides whose reason was hidden (analysts) kept effective."""
    if all(a.override_response is None or a.override_reason for a in dataset.assessments):
        return dataset
    copy = Dataset(**{name: getattr(dataset, name) for name in dataset.__dataclass_fields__})
    copy.assessments = [
        a.model_copy(update={"override_reason": HIDDEN_REASON})
        if a.override_response is not None and not a.override_reason
        else a
        for a in dataset.assessments
    ]
    return copy


def evaluate(
    dataset: Dataset, criteria: str = "recist"
) -> tuple[dict[str, LesionResponse], dict[str, AssessmentResponse]]:
    """Response of every lesion and assessment of ``dataset`` under ``criteria``."""
    evaluation = ResponseEvaluation(criteria).fit(for_evaluation(dataset))
    by_assessment: dict[str, AssessmentResponse] = {}
    latest: dict[str, tuple[dt.date, str | None]] = {}
    for row in _rows(evaluation.assessments_):
        category = _optional(row["category"])
        by_assessment[str(row["assessment_id"])] = AssessmentResponse(
            course=int(row["course"]),
            derived=_optional(row["derived"]),
            category=category,
            change_from_reference_pct=_optional(row["change_from_reference_pct"]),
            change_from_nadir_pct=_optional(row["change_from_nadir_pct"]),
        )
        date: dt.date = row["assessment_date"]
        known = latest.get(str(row["lesion_id"]))
        if known is None or date >= known[0]:
            latest[str(row["lesion_id"])] = (date, category)
    by_lesion: dict[str, LesionResponse] = {}
    for row in _rows(evaluation.lesions_):
        lesion_id = str(row["lesion_id"])
        current_date, current = latest.get(lesion_id, (None, None))
        by_lesion[lesion_id] = LesionResponse(
            treated=True,
            first_treatment_date=_optional(row["first_treatment_date"]),
            current=current,
            current_date=current_date,
            best=str(row["best_response"]),
            landmark=str(row["landmark_response"]),
            local_progression=bool(row["local_progression"]),
            local_progression_date=_optional(row["local_progression_date"]),
        )
    for lesion in dataset.lesions:
        by_lesion.setdefault(lesion.lesion_id, LesionResponse(treated=False))
    return by_lesion, by_assessment


# ------------------------------------------------------------------------- list
class PatientFilter(forms.Form):
    """Search and filters of the patient list (a GET form)."""

    q = forms.CharField(required=False, max_length=64, label="Patient id contains")
    centre = forms.ChoiceField(required=False, label="Centre")
    tumour = forms.ChoiceField(
        required=False,
        label="Primary tumour",
        choices=[("", "any")] + [(t.value, _label(t)) for t in PrimaryTumour],
    )
    status = forms.ChoiceField(
        required=False,
        label="Vital status",
        choices=[("", "any"), ("alive", "alive"), ("deceased", "deceased")],
    )
    immunotherapy = forms.ChoiceField(
        required=False,
        label="Concurrent immunotherapy",
        choices=[("", "any"), ("yes", "yes"), ("no", "no")],
        help_text=(
            "An immune checkpoint inhibitor overlapping the first ECT session "
            f"± {CONCURRENT_WINDOW_DAYS} days"
        ),
    )
    sort = forms.ChoiceField(
        required=False,
        label="Order",
        choices=[("id", "patient id"), ("recent", "last contact, newest first")],
    )

    def __init__(self, *args: Any, centres: Iterable[str] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["centre"].choices = [("", "all")] + [(c, c) for c in centres]

    def value(self, name: str) -> str:
        """The cleaned value of ``name``; empty when absent or invalid."""
        data = getattr(self, "cleaned_data", {})
        return str(data.get(name) or "")


def concurrent_immunotherapy_ids(actor: Actor) -> set[str]:
    """Patients (in scope) with an immune checkpoint inhibitor overlapping their first session.

    Same rule as :func:`openect.data.summary.concurrent_immunotherapy`, on two aggregate
    queries instead of the whole dataset.
    """
    first = dict(
        readable(actor, Session)
        .order_by()
        .values("patient_id")
        .annotate(first=Min("session_date"))
        .values_list("patient_id", "first")
    )
    window = dt.timedelta(days=CONCURRENT_WINDOW_DAYS)
    out: set[str] = set()
    therapies = (
        readable(actor, SystemicTherapy)
        .filter(agent_class__in=[c.value for c in IMMUNOTHERAPY_CLASSES])
        .values_list("patient_id", "start_date", "end_date")
    )
    for patient_id, start, end in therapies:
        session_date = first.get(patient_id)
        if session_date is None:
            continue
        if start <= session_date + window and (end is None or end >= session_date - window):
            out.add(patient_id)
    return out


def _counts(actor: Actor, record: type[Record], path: str, ids: list[str]) -> dict[str, int]:
    """Rows of ``record`` per patient for the patients ``ids`` (one aggregate query)."""
    rows = (
        readable(actor, record)
        .filter(**{f"{path}__in": ids})
        .order_by()
        .values(path)
        .annotate(n=Count("pk"))
        .values_list(path, "n")
    )
    return {str(key): int(n) for key, n in rows}


def _constructed(record: type[Record], rows: Any) -> list[Any]:
    """Records of registry rows without re-validation (they were validated when written)."""
    names = column_names(record)
    return [record.model_construct(**row) for row in rows.values(*names)]


def page_dataset(actor: Actor, ids: list[str]) -> Dataset:
    """The records the response needs for the patients ``ids`` (bulk loads, no loop).

    Built without re-validating every row (the registry validated them on the way in),
    so that a page of the patient list stays fast.
    """
    dataset = Dataset()
    dataset.patients = _constructed(Patient, readable(actor, Patient).filter(pk__in=ids))
    dataset.lesions = _constructed(Lesion, readable(actor, Lesion).filter(patient_id__in=ids))
    dataset.sessions = _constructed(Session, readable(actor, Session).filter(patient_id__in=ids))
    dataset.applications = _constructed(
        Application, readable(actor, Application).filter(session__patient_id__in=ids)
    )
    dataset.assessments = _constructed(
        Assessment, readable(actor, Assessment).filter(lesion__patient_id__in=ids)
    )
    return dataset


def best_responses(actor: Actor, ids: list[str]) -> dict[str, str]:
    """Per-patient response (best lesion responses, ESOPE/InspECT convention) of ``ids``."""
    if not ids:
        return {}
    evaluation = ResponseEvaluation("recist", patient_basis="best")
    evaluation.fit(for_evaluation(page_dataset(actor, ids)))
    return {
        str(row.patient_id): str(row.response)
        for row in evaluation.patients_.itertuples(index=False)
    }


@require_GET
@with_actor
def patient_list(request: HttpRequest, *, actor: Actor) -> HttpResponse:
    """The patients in the user's scope: search, filters, pages of :data:`PAGE_SIZE`."""
    centres = (
        list(readable(actor, Centre).order_by("centre_id").values_list("centre_id", flat=True))
        if actor.pooled
        else []
    )
    search = PatientFilter(request.GET or None, centres=centres)
    if search.is_bound:
        search.is_valid()
    rows = readable(actor, Patient)
    if search.value("q"):
        rows = rows.filter(patient_id__icontains=search.value("q"))
    if actor.pooled and search.value("centre"):
        rows = rows.filter(centre_id=search.value("centre"))
    if search.value("tumour"):
        rows = rows.filter(primary_tumour=search.value("tumour"))
    if search.value("status") == "alive":
        rows = rows.filter(death_date__isnull=True)
    elif search.value("status") == "deceased":
        rows = rows.filter(death_date__isnull=False)
    if search.value("immunotherapy") in ("yes", "no"):
        treated = concurrent_immunotherapy_ids(actor)
        rows = (
            rows.filter(pk__in=treated)
            if search.value("immunotherapy") == "yes"
            else rows.exclude(pk__in=treated)
        )
    if search.value("sort") == "recent":
        rows = rows.order_by(F("last_contact_date").desc(nulls_last=True), "patient_id")
    else:
        rows = rows.order_by("patient_id")
    values = rows.values(
        "patient_id",
        "centre_id",
        "sex",
        "birth_year",
        "primary_tumour",
        "stage",
        "last_contact_date",
        "death_date",
    )
    page = Paginator(values, PAGE_SIZE).get_page(request.GET.get("page"))
    ids = [str(row["patient_id"]) for row in page.object_list]
    lesions = _counts(actor, Lesion, "patient_id", ids)
    sessions = _counts(actor, Session, "patient_id", ids)
    responses = best_responses(actor, ids)
    patients = [
        {
            **row,
            "primary_tumour": _label(row["primary_tumour"]),
            "lesions": lesions.get(str(row["patient_id"]), 0),
            "sessions": sessions.get(str(row["patient_id"]), 0),
            "response": responses.get(str(row["patient_id"])),
        }
        for row in page.object_list
    ]
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "search": search,
        "page": page,
        "patients": patients,
        "query": query.urlencode(),
        "filtered": any(
            search.value(n) for n in ("q", "centre", "tumour", "status", "immunotherapy")
        ),
        "may_create": actor.role is not Role.ANALYST,
        "labels": CATEGORY_LABELS,
    }
    return render(request, "web/patients/list.html", context)


# ------------------------------------------------------------------------- patient page
@dataclass(frozen=True)
class Event:
    """One entry of the patient's timeline."""

    date: dt.date
    rank: int
    kind: str
    title: str
    detail: str
    category: str | None = None
    category_note: str = ""
    href: str | None = None
    edit: str | None = None
    end: dt.date | None = None


def optional_url(name: str, *args: str) -> str | None:
    """``reverse(name, args)``, or None while that page (another team's) does not exist."""
    try:
        return str(reverse(name, args=args))
    except NoReverseMatch:
        return None


def _site(site: BodySite | str) -> str:
    return _label(site)


def _size(longest: float | None, perpendicular: float | None) -> str:
    if longest is None:
        return ""
    if perpendicular is None:
        return _number(longest, "mm")
    return f"{_number(longest)} × {_number(perpendicular, 'mm')}"


def _patient_dataset(actor: Actor, patient_id: str) -> tuple[Patient, Dataset]:
    dataset = services.patient_records(actor, patient_id)
    patient = next(p for p in dataset.patients if p.patient_id == patient_id)
    return patient, dataset


def timeline(
    patient_id: str,
    dataset: Dataset,
    assessments: Mapping[str, AssessmentResponse],
    writable: bool,
) -> list[Event]:
    """Sessions, assessments, therapies, adverse events and reports, newest first."""
    events: list[Event] = []
    lesion_href = {
        lesion.lesion_id: reverse("lesion-detail", args=[patient_id, lesion.lesion_id])
        for lesion in dataset.lesions
    }

    def edit(name: str, record_id: str) -> str | None:
        return reverse(name, args=[patient_id, record_id]) if writable else None

    for s in dataset.sessions:
        dose = ""
        if s.dose is not None:
            dose = _number(s.dose, DOSE_UNIT[s.drug])
            if s.dose_per_m2 is not None:
                dose += f" ({_number(s.dose_per_m2, 'IU/m²')})"
        events.append(
            Event(
                s.session_date,
                1,
                "session",
                f"ECT session {s.session_number}",
                ", ".join(x for x in (_label(s.drug), _label(s.route), dose) if x),
                href=optional_url("session-record", s.session_id),
            )
        )
    for a in dataset.assessments:
        response = assessments.get(a.assessment_id)
        note = ""
        category = None
        if response is not None and response.category is not None:
            category = response.category
            if response.overridden:
                note = f"override; derived {response.derived}"
        elif response is not None:
            note = "before treatment"
        else:
            note = "lesion not treated"
        method = f" ({_label(a.method)})" if a.method is not None else ""
        events.append(
            Event(
                a.assessment_date,
                3,
                "assessment",
                f"Assessment of {a.lesion_id}",
                _size(a.longest_diameter_mm, a.perpendicular_diameter_mm) + method,
                category,
                note,
                href=lesion_href.get(a.lesion_id),
                edit=edit("assessment-edit", a.assessment_id),
            )
        )
    for t in dataset.systemic_therapies:
        agent = f" ({t.agent})" if t.agent else ""
        until = t.end_date.isoformat() if t.end_date else "ongoing"
        events.append(
            Event(
                t.start_date,
                0,
                "therapy",
                f"Systemic therapy: {_label(t.agent_class)}{agent}",
                f"{t.start_date.isoformat()} to {until}",
                edit=edit("therapy-edit", t.therapy_id),
                end=t.end_date,
            )
        )
    for e in dataset.adverse_events:
        serious = ", serious" if e.serious else ""
        events.append(
            Event(
                e.onset_date,
                2,
                "adverse-event",
                f"Adverse event: {e.term}",
                f"CTCAE grade {e.grade}{serious}"
                + (f"; after session {e.session_id}" if e.session_id else ""),
                edit=edit("adverse-event-edit", e.event_id),
            )
        )
    for r in dataset.patient_reported:
        parts = []
        if r.pain_nrs is not None:
            parts.append(f"pain NRS {r.pain_nrs}/10")
        if r.eq_vas is not None:
            parts.append(f"EQ-VAS {r.eq_vas}/100")
        dimensions = [
            r.eq5d_mobility,
            r.eq5d_selfcare,
            r.eq5d_activity,
            r.eq5d_pain,
            r.eq5d_anxiety,
        ]
        if any(d is not None for d in dimensions):
            parts.append("EQ-5D-3L " + "".join("?" if d is None else str(d) for d in dimensions))
        events.append(
            Event(
                r.report_date,
                4,
                "report",
                "Patient-reported outcome",
                ", ".join(parts) or "no scores recorded",
                edit=edit("patient-reported-edit", r.report_id),
            )
        )
    events.sort(key=lambda e: (e.date, -e.rank), reverse=True)
    return events


def lesion_rows(
    patient_id: str, dataset: Dataset, responses: Mapping[str, LesionResponse]
) -> list[dict[str, Any]]:
    """One row per lesion (registry order) for the map and its table."""
    rows = []
    for lesion in dataset.lesions:
        response = responses[lesion.lesion_id]
        rows.append(
            {
                "lesion": lesion,
                "site": _site(lesion.body_site),
                "layer": _label(lesion.layer),
                "size": _size(lesion.longest_diameter_mm, lesion.perpendicular_diameter_mm),
                "response": response,
                "href": reverse("lesion-detail", args=[patient_id, lesion.lesion_id]),
            }
        )
    return rows


def patient_map(rows: list[dict[str, Any]]) -> BodyMap:
    """The body map of the lesion ``rows`` (from :func:`lesion_rows`)."""
    marks = [
        LesionMark(
            lesion_id=row["lesion"].lesion_id,
            body_site=row["lesion"].body_site,
            longest_diameter_mm=row["lesion"].longest_diameter_mm,
            category=row["response"].current_css,
            label=(
                f"{row['lesion'].lesion_id}, {row['site']}, {row['size']}: "
                f"{row['response'].current_text}"
            ),
            href=row["href"],
        )
        for row in rows
    ]
    return body_map(marks)


@require_GET
@with_actor
def patient_detail(request: HttpRequest, patient_id: str, *, actor: Actor) -> HttpResponse:
    """A patient: summary, body map with the lesions' current response, timeline."""
    patient, dataset = _patient_dataset(actor, patient_id)
    criteria = _criteria_name(request)
    lesion_responses, assessment_responses = evaluate(dataset, criteria)
    writable = actor.may_write(patient.centre_id)
    rows = lesion_rows(patient_id, dataset, lesion_responses)
    counts = Counter(row["response"].current_css for row in rows)
    context = {
        "patient": patient,
        "facts": _patient_facts(patient),
        "criteria": criteria,
        "criteria_title": load_criteria(criteria).title,
        "criteria_options": [(name, load_criteria(name).title) for name in CRITERIA],
        "lesions": rows,
        "map": patient_map(rows),
        "legend": [(c, CATEGORY_LABELS[c], counts.get(c, 0)) for c in CATEGORY_LABELS],
        "events": timeline(patient_id, dataset, assessment_responses, writable),
        "writable": writable,
        "labels": CATEGORY_LABELS,
    }
    return render(request, "web/patients/detail.html", context)


def _patient_facts(patient: Patient) -> list[tuple[str, str]]:
    def yes_no(value: bool | None) -> str:
        return "unknown" if value is None else ("yes" if value else "no")

    facts = [
        ("Centre", patient.centre_id),
        ("Sex", patient.sex.value),
        ("Birth year", str(patient.birth_year)),
        ("Primary tumour", _label(patient.primary_tumour)),
        ("Stage", patient.stage or "unknown"),
        ("BRAF", _label(patient.braf_status) or "unknown"),
        ("ECOG", "unknown" if patient.ecog is None else str(patient.ecog)),
        ("Visceral metastases", yes_no(patient.visceral_metastases)),
        (
            "Last contact",
            patient.last_contact_date.isoformat() if patient.last_contact_date else "unknown",
        ),
    ]
    if patient.death_date is not None:
        cause = f" ({_label(patient.death_cause)})" if patient.death_cause else ""
        facts.append(("Died", patient.death_date.isoformat() + cause))
    return facts


def _lesion_of(actor: Actor, patient_id: str, lesion_id: str) -> Lesion:
    lesion = services.get(actor, Lesion, lesion_id)
    assert isinstance(lesion, Lesion)
    if lesion.patient_id != patient_id:
        raise NotFoundError(f"lesions: no lesion_id={lesion_id!r} of patient {patient_id!r}")
    return lesion


@require_GET
@with_actor
def lesion_detail(
    request: HttpRequest, patient_id: str, lesion_id: str, *, actor: Actor
) -> HttpResponse:
    """One lesion: baseline, treatments, every assessment with its derived response."""
    _lesion_of(actor, patient_id, lesion_id)
    patient, dataset = _patient_dataset(actor, patient_id)
    lesion = next(x for x in dataset.lesions if x.lesion_id == lesion_id)
    criteria = _criteria_name(request)
    lesion_responses, assessment_responses = evaluate(dataset, criteria)
    other = "who" if criteria == "recist" else "recist"
    _, other_responses = evaluate(dataset, other)
    sessions = {s.session_id: s for s in dataset.sessions}
    treatments = [
        (sessions[a.session_id], a) for a in dataset.applications if a.lesion_id == lesion_id
    ]
    treatments.sort(key=lambda pair: (pair[0].session_date, pair[1].time or dt.time(0)))
    writable = actor.may_write(patient.centre_id)
    visits = sorted(
        (a for a in dataset.assessments if a.lesion_id == lesion_id),
        key=lambda a: a.assessment_date,
    )
    context = {
        "patient": patient,
        "lesion": lesion,
        "site": _site(lesion.body_site),
        "layer": _label(lesion.layer),
        "size": _size(lesion.longest_diameter_mm, lesion.perpendicular_diameter_mm),
        "symptoms": ", ".join(s.value for s in lesion.symptoms),
        "response": lesion_responses[lesion_id],
        "criteria": criteria,
        "criteria_title": load_criteria(criteria).title,
        "other": other,
        "other_title": load_criteria(other).title,
        "criteria_options": [(name, load_criteria(name).title) for name in CRITERIA],
        "treatments": treatments,
        "assessments": [
            {
                "assessment": a,
                "size": _size(a.longest_diameter_mm, a.perpendicular_diameter_mm),
                "response": assessment_responses.get(a.assessment_id),
                "other": other_responses.get(a.assessment_id),
                "edit": (
                    reverse("assessment-edit", args=[patient_id, a.assessment_id])
                    if writable
                    else None
                ),
            }
            for a in visits
        ],
        "writable": writable,
        "labels": CATEGORY_LABELS,
    }
    return render(request, "web/patients/lesion.html", context)


# ------------------------------------------------------------------------- forms
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


def _record_values(record: type[Record], values: Mapping[str, Any]) -> dict[str, Any]:
    """Form values as record field values (list items as their enum)."""
    out = dict(values)
    for column in columns(record):
        value = out.get(column.name)
        if column.kind == "list" and column.enum is not None:
            out[column.name] = [column.enum(v) for v in value or []]
    return out


def _unsaved(record: type[Record], values: Mapping[str, Any]) -> Record:
    """An unvalidated record of ``values``: :func:`services.create` validates it."""
    return record.model_construct(**_record_values(record, values))


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


def _centre_choices(actor: Actor) -> list[tuple[str, str]]:
    rows = readable(actor, Centre).order_by("centre_id").values_list("centre_id", "name")
    return [("", "—")] + [(str(c), f"{c} · {n}") for c, n in rows]


def _require_writer(actor: Actor, centre_id: str | None) -> None:
    if not actor.may_write(centre_id):
        raise AccessDeniedError(
            f"user {actor.username!r} ({actor.role.value}) may not change records of "
            f"{'centre ' + centre_id if centre_id else 'this registry'}"
        )


def _pseudonym_key() -> bytes | None:
    """The centre's pseudonymisation key, or None when none is configured."""
    try:
        return pseudonyms.load_key()
    except pseudonyms.PseudonymKeyError:
        return None


class _NeverShown(forms.TextInput):
    """A text input that never writes its value back into the page."""

    def format_value(self, value: Any) -> None:
        return None


def _patient_form(
    actor: Actor, mode: Literal["pseudonym", "manual", "edit"], data: Any = None, **kwargs: Any
) -> forms.Form:
    exclude = ("patient_id",) if mode == "pseudonym" else ()
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
            widget=_NeverShown(attrs={"autocomplete": "off", "spellcheck": "false"}),
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
        form.fields["reason"] = _reason_field()
    elif mode == "manual":
        form.fields["patient_id"].help_text = (
            "A pseudonym agreed with the centre (letters, digits and . _ : -); "
            "never a hospital number or a name."
        )
    return form


@sensitive_post_parameters("hospital_number")
@require_http_methods(["GET", "POST"])
@with_actor
def patient_new(request: HttpRequest, *, actor: Actor) -> HttpResponse:
    """Register a patient: by hospital number (pseudonymised) or, without a key, by id."""
    if actor.role is Role.ANALYST:
        _require_writer(actor, None)
    key = _pseudonym_key()
    manual_allowed = actor.role in (Role.ADMIN, Role.DATA_MANAGER)
    context: dict[str, Any] = {"key": key is not None, "manual_allowed": manual_allowed}
    if key is None and not manual_allowed:
        return render(request, "web/patients/patient_new.html", {**context, "form": None})
    mode: Literal["pseudonym", "manual"] = "pseudonym" if key is not None else "manual"
    form = _patient_form(actor, mode, request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        values = cleaned_values(form)
        try:
            if mode == "pseudonym":
                number = str(values.pop("hospital_number"))
                try:
                    created = services.register_patient(actor, number, values, key=key)
                except ValueError as error:  # a blank hospital number
                    form.add_error("hospital_number", str(error))
                    created = None
                del number  # not kept beyond the registration
            else:
                created = services.create(actor, _unsaved(Patient, values))  # type: ignore[assignment]
        except services.RecordInvalidError as error:
            if mode == "pseudonym" and any(c == "patient_id" for c, _, _ in error.issues):
                form.add_error(
                    "hospital_number",
                    "this hospital number is already registered (same pseudonym)",
                )
                error = services.RecordInvalidError(
                    error.entity, [i for i in error.issues if i[0] != "patient_id"]
                )
            add_errors(form, error)
            created = None
        if created is not None:
            messages.success(request, f"Patient {created.id} registered.")
            return redirect("patient-detail", patient_id=created.id)
    return render(request, "web/patients/patient_new.html", {**context, "form": form, "mode": mode})


@require_http_methods(["GET", "POST"])
@with_actor
def patient_edit(request: HttpRequest, patient_id: str, *, actor: Actor) -> HttpResponse:
    """Change a patient's columns (the id cannot change); audited with the reason."""
    patient = services.get(actor, Patient, patient_id)
    assert isinstance(patient, Patient)
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
        except services.RecordInvalidError as error:
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
        },
    )


# ------------------------------------------------------------------------- child records
@dataclass(frozen=True)
class Kind:
    """A record of a patient edited by the generic forms."""

    record: type[Record]
    noun: str
    prefix: str
    """Id suggestion: patient id (or lesion id for assessments) + ``-`` + prefix + n."""


KINDS: dict[str, Kind] = {
    "lesions": Kind(Lesion, "lesion", "L"),
    "assessments": Kind(Assessment, "assessment", "V"),
    "adverse-events": Kind(AdverseEvent, "adverse event", "AE"),
    "reports": Kind(PatientReported, "patient-reported outcome", "PRO"),
    "therapies": Kind(SystemicTherapy, "systemic therapy", "T"),
}


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
    actor: Actor,
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
                (lesion.lesion_id, f"{lesion.lesion_id} · {_site(lesion.body_site)}")
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


def _assessment_message(actor: Actor, patient_id: str, assessment_id: str) -> str:
    """What the server derives for a saved assessment (RECIST and WHO)."""
    _, dataset = _patient_dataset(actor, patient_id)
    parts = []
    for name in CRITERIA:
        _, responses = evaluate(dataset, name)
        response = responses.get(assessment_id)
        title = "RECIST" if name == "recist" else "WHO"
        if response is None:
            parts.append(f"{title}: no category (lesion not treated yet)")
        elif response.category is None:
            parts.append(f"{title}: no category (before the first treatment)")
        elif response.overridden:
            parts.append(f"{title}: {response.category} (override; derived {response.derived})")
        else:
            parts.append(f"{title}: {response.category}")
    return f"Assessment {assessment_id} saved. Response " + "; ".join(parts) + "."


def _owned(actor: Actor, kind: Kind, patient_id: str, record_id: str, dataset: Dataset) -> Record:
    """The record ``record_id`` of ``kind`` if it belongs to the patient; else NotFoundError."""
    item = services.get(actor, kind.record, record_id)
    if isinstance(item, Assessment):
        owner_ok = any(lesion.lesion_id == item.lesion_id for lesion in dataset.lesions)
    else:
        owner_ok = getattr(item, "patient_id", None) == patient_id
    if not owner_ok:
        raise NotFoundError(
            f"{kind.record.table}: no {kind.record.id_field}={record_id!r} of patient "
            f"{patient_id!r}"
        )
    return item


@require_http_methods(["GET", "POST"])
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
    patient, dataset = _patient_dataset(actor, patient_id)
    _require_writer(actor, patient.centre_id)
    editing = record_id is not None
    next_ids: dict[str, str] = {}
    if record_id is not None:
        current = _owned(actor, spec, patient_id, record_id, dataset)
        initial = _initial(current)
    else:
        next_ids = _next_ids(actor, spec, patient_id, dataset)
        initial = {"patient_id": patient_id}
        if record is Assessment:
            chosen = request.GET.get("lesion", "")
            if chosen not in next_ids:
                chosen = dataset.lesions[0].lesion_id if len(dataset.lesions) == 1 else ""
            initial["lesion_id"] = chosen
            initial[record.id_field] = next_ids.get(chosen, "")
            initial["assessment_date"] = dt.date.today().isoformat()
        else:
            initial[record.id_field] = next_ids[""]
    form = _record_form(
        actor,
        spec,
        patient_id,
        dataset,
        request.POST if request.method == "POST" else None,
        initial,
        editing,
    )
    if request.method == "POST" and form.is_valid():
        values = cleaned_values(form)
        reason = values.pop("reason", None)
        try:
            if record_id is None:
                saved = services.create(actor, _unsaved(record, values))
            else:
                values.pop(record.id_field, None)
                saved = services.update(actor, record, record_id, values, reason=reason)
        except services.RecordInvalidError as error:
            add_errors(form, error)
        else:
            return _saved(request, actor, spec, patient_id, saved, editing)
    lesion_id = initial.get("lesion_id") if record is Assessment else None
    noun = spec.noun
    context = {
        "form": form,
        "patient": patient,
        "kind": kind,
        "title": f"Edit {noun} {record_id}" if editing else f"New {noun}",
        "submit": f"Save {noun}",
        "cancel": (
            reverse("lesion-detail", args=[patient_id, lesion_id])
            if lesion_id
            else reverse("patient-detail", args=[patient_id])
        ),
        "next_ids": next_ids,
        "editing_id": record_id or "",
        "preview_url": (
            reverse("response-preview", args=[patient_id, "__lesion__"])
            if record is Assessment
            else None
        ),
    }
    return render(request, "web/patients/form.html", context)


def _saved(
    request: HttpRequest, actor: Actor, kind: Kind, patient_id: str, saved: Record, editing: bool
) -> HttpResponse:
    if isinstance(saved, Assessment):
        messages.success(request, _assessment_message(actor, patient_id, saved.assessment_id))
        return redirect("lesion-detail", patient_id=patient_id, lesion_id=saved.lesion_id)
    verb = "saved" if editing else "added"
    messages.success(request, f"{kind.noun.capitalize()} {saved.id} {verb}.")
    if isinstance(saved, Lesion):
        return redirect("lesion-detail", patient_id=patient_id, lesion_id=saved.lesion_id)
    return redirect("patient-detail", patient_id=patient_id)


# ------------------------------------------------------------------------- live response
PREVIEW_ID = "preview"


def _preview_errors(error: ValidationError, values: Mapping[str, Any]) -> dict[str, str]:
    index = column_index(Assessment)
    out: dict[str, str] = {}
    for detail in error.errors(include_url=False):
        name = str(detail["loc"][0]) if detail["loc"] else "__all__"
        out.setdefault(name, error_message(detail, index.get(name)))
    return out


@require_GET
@with_actor
def response_preview(
    request: HttpRequest, patient_id: str, lesion_id: str, *, actor: Actor
) -> JsonResponse:
    """JSON: the RECIST and WHO category of a candidate measurement, without saving it.

    Query: ``longest_diameter_mm``, ``perpendicular_diameter_mm`` (optional),
    ``assessment_date``, and ``assessment_id`` when an existing assessment is being
    changed (it is replaced, not added). 400 with ``errors`` (the data model's messages)
    when the values are not valid.
    """
    _lesion_of(actor, patient_id, lesion_id)
    _, dataset = _patient_dataset(actor, patient_id)
    editing = str(request.GET.get("assessment_id", "")).strip()
    values: dict[str, Any] = {
        "assessment_id": editing or PREVIEW_ID,
        "lesion_id": lesion_id,
        "assessment_date": request.GET.get("assessment_date") or None,
        "longest_diameter_mm": request.GET.get("longest_diameter_mm") or None,
        "perpendicular_diameter_mm": request.GET.get("perpendicular_diameter_mm") or None,
    }
    try:
        candidate = Assessment.model_validate(values)
    except ValidationError as error:
        return JsonResponse({"errors": _preview_errors(error, values)}, status=400)
    if editing and not any(a.assessment_id == editing for a in dataset.assessments):
        return JsonResponse(
            {"errors": {"assessment_id": f"no assessment {editing!r} of this patient"}},
            status=400,
        )
    dataset.assessments = [
        a for a in dataset.assessments if a.assessment_id != candidate.assessment_id
    ] + [candidate]
    body: dict[str, Any] = {
        "lesion_id": lesion_id,
        "assessment_date": candidate.assessment_date.isoformat(),
        "criteria": {},
    }
    status = "categorised"
    for name in CRITERIA:
        criteria = load_criteria(name)
        evaluation = ResponseEvaluation(criteria).fit(for_evaluation(dataset))
        frame = evaluation.assessments_
        rows = frame[frame["assessment_id"] == candidate.assessment_id]
        result: dict[str, Any] = {"title": criteria.title, "unit": criteria.unit}
        if rows.empty:
            status = "untreated"
            result["category"] = None
        else:
            row = rows.iloc[-1]
            derived = _optional(row["derived"])
            if derived is None:
                status = "pre_treatment"
            result.update(
                {
                    "category": derived,
                    "course": int(row["course"]),
                    "measure": _optional(row["measure"]),
                    "reference": _optional(row["reference"]),
                    "nadir": _optional(row["nadir"]),
                    "change_from_reference_pct": _round(row["change_from_reference_pct"]),
                    "change_from_nadir_pct": _round(row["change_from_nadir_pct"]),
                }
            )
        body["criteria"][name] = result
    body["status"] = status
    body["category"] = body["criteria"]["recist"]["category"]
    body["message"] = {
        "categorised": "Derived from this measurement; not saved yet.",
        "pre_treatment": (
            "On or before the first ECT session of this lesion: a baseline measurement, "
            "no response category."
        ),
        "untreated": (
            "This lesion has not been treated yet: a response is derived from the first "
            "ECT session that treated it."
        ),
    }[status]
    return JsonResponse(body)


def _round(value: Any) -> float | None:
    value = _optional(value)
    return None if value is None else round(float(value), 1)
