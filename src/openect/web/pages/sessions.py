"""Session pages: plan an ECT session for a patient, record it, record its applications.

* ``/patients/<patient_id>/plan/`` (``session-plan``): the session planner
  (:mod:`openect.protocol`) on the patient's registry records with the options of the
  planner; shows dose, pulse window, electrode per lesion, anaesthesia and route,
  eligibility findings and warnings with their rule ids ("to verify locally" for rules
  not verified in their source); "Record this session" creates the Session record.
* ``/sessions/<session_id>/record/`` (``session-record``): a live countdown of the pulse
  window (``static/web/sessions-countdown.js``), the bolus end time, and a form for each
  electrode application; an application outside the window is saved with a warning.

Every write goes through :mod:`openect.registry.services` (scope, validation, audit).
Times of day are those of the ward: the bolus end time and the application times are
entered as clock times and compared with each other, never with the server's clock.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from pydantic import ValidationError

from openect.data.dataset import Dataset
from openect.data.enums import Drug, Route
from openect.data.field_errors import error_message
from openect.data.models import Application, Lesion, Patient, Record, Session
from openect.data.schema import column_index
from openect.errors import AccessDeniedError, RuleError
from openect.protocol import load_rule_set, plan_session, shipped_rule_sets
from openect.protocol.body import BsaFormula
from openect.protocol.electrodes import Electrode
from openect.protocol.inputs import (
    Contraindications,
    ItPolicy,
    IvPolicy,
    LesionToTreat,
    PatientToPlan,
    PlanOptions,
    SessionRequest,
    WindowVariant,
)
from openect.protocol.rules import DEFAULT_RULE_SET, RuleSet, RuleStatus
from openect.protocol.session_plan import LesionPlan, SessionPlan
from openect.protocol.window import pulse_window
from openect.registry import services
from openect.registry.access import Actor
from openect.registry.services import RecordInvalidError
from openect.web.pages.common import with_actor
from openect.web.pages.forms import add_errors, cleaned_values, record_form_class

#: Label shown next to every rule whose value was not read in its cited source.
TO_VERIFY = "to verify locally"
#: Date format of ``<input type="date">`` values.
ISO_DATE = "%Y-%m-%d"
#: An application time more than this many hours before the bolus end is taken as the
#: next day (a session that runs past midnight).
MIDNIGHT_HOURS = 12


# ----------------------------------------------------------------------------- helpers
def _patient(dataset: Dataset, patient_id: str) -> Patient:
    return next(p for p in dataset.patients if p.patient_id == patient_id)


def _sessions_by_date(dataset: Dataset) -> list[Session]:
    return sorted(dataset.sessions, key=lambda s: (s.session_date, s.session_number))


def _prior_bleomycin_iu(dataset: Dataset, before: dt.date | None = None) -> float:
    """Bleomycin (IU) recorded in the patient's sessions (before ``before``, if given)."""
    return float(
        sum(
            s.dose or 0.0
            for s in dataset.sessions
            if s.drug is Drug.BLEOMYCIN and (before is None or s.session_date < before)
        )
    )


def _free_id(base: str, taken: Iterable[str]) -> str:
    """``base`` or ``base-2``, ``base-3``, ... whichever is not in ``taken``."""
    used = set(taken)
    if base not in used:
        return base
    n = 2
    while f"{base}-{n}" in used:
        n += 1
    return f"{base}-{n}"


def _next_session(dataset: Dataset, patient_id: str) -> tuple[str, int]:
    """A new session id (``<patient>-S<n>``) and the next session number."""
    number = max((s.session_number for s in dataset.sessions), default=0) + 1
    return _free_id(f"{patient_id}-S{number}", (s.session_id for s in dataset.sessions)), number


def _next_application_id(session_id: str, dataset: Dataset) -> str:
    """A new application id (``<session>-A<n>``) not used by the patient's applications."""
    taken = {a.application_id for a in dataset.applications}
    n = sum(1 for a in dataset.applications if a.session_id == session_id) + 1
    while f"{session_id}-A{n}" in taken:
        n += 1
    return f"{session_id}-A{n}"


def validated_record(record: type[Record], values: Mapping[str, Any]) -> Record:
    """The record of ``values``; :class:`RecordInvalidError` names each bad column.

    The messages are those of the CSV reader and the services (``error_message``).
    """
    try:
        return record.model_validate(dict(values))
    except ValidationError as error:
        index = column_index(record)
        issues: list[tuple[str | None, str | None, str]] = []
        for detail in error.errors(include_url=False):
            name = str(detail["loc"][0]) if detail["loc"] else None
            value = values.get(name) if name else None
            message = error_message(detail, index.get(name) if name else None)
            issues.append((name, None if value is None else str(value), message))
        raise RecordInvalidError(record.table, issues) from error


def _fmt_number(value: float | None, unit: str = "", digits: int = 0) -> str:
    if value is None:
        return "—"
    text = f"{value:,.{digits}f}"
    return f"{text} {unit}".strip()


def _clock(value: dt.time | None) -> str:
    if value is None:
        return ""
    return value.strftime("%H:%M:%S") if value.second else value.strftime("%H:%M")


def _rule_value(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


# ----------------------------------------------------------------------------- window
@dataclass(frozen=True)
class SessionWindow:
    """The pulse window of a recorded session (minutes after the bolus end)."""

    start_min: float
    end_min: float
    rule_id: str
    rule_set: str
    verified: bool
    source: str
    variant: WindowVariant
    notes: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """E.g. ``8–28 min after the end of the bolus``."""
        return f"{self.start_min:g}–{self.end_min:g} min"


def session_rules(session: Session) -> tuple[RuleSet, list[str]]:
    """The rule set named by the session (a shipped one), else the default, with notes."""
    name = session.rule_set
    if name and name in shipped_rule_sets():
        return load_rule_set(name), []
    notes = []
    if name:
        notes.append(
            f"rule set {name!r} is not shipped with OpenECT; the window of "
            f"{DEFAULT_RULE_SET} is shown: check it against your local protocol"
        )
    else:
        notes.append(f"the session names no rule set; the window of {DEFAULT_RULE_SET} is shown")
    return load_rule_set(DEFAULT_RULE_SET), notes


def session_window(
    session: Session, patient: Patient, variant: WindowVariant = WindowVariant.STANDARD
) -> SessionWindow:
    """The pulse window of ``session`` under its rule set, route and the age of the patient."""
    rules, notes = session_rules(session)
    age = session.session_date.year - patient.birth_year
    window = pulse_window(rules, session.route, age, variant)
    rule = rules.rule(window.rule_id)
    if session.route is Route.INTRATUMOURAL:
        notes.append("intratumoural: the window runs from each injection")
    return SessionWindow(
        start_min=window.start_min,
        end_min=window.end_min,
        rule_id=window.rule_id,
        rule_set=rules.id,
        verified=rule.status is RuleStatus.VERIFIED,
        source=rule.source,
        variant=variant,
        notes=tuple(notes),
    )


def minutes_after(start: dt.time, at: dt.time) -> float:
    """Minutes from clock time ``start`` to clock time ``at`` (across midnight if needed)."""
    seconds = (at.hour * 3600 + at.minute * 60 + at.second) - (
        start.hour * 3600 + start.minute * 60 + start.second
    )
    if seconds < -MIDNIGHT_HOURS * 3600:
        seconds += 24 * 3600
    return seconds / 60.0


@dataclass(frozen=True)
class WindowCheck:
    """Where an application time lies against the window: ``inside``, ``before``,
    ``after`` or ``unknown`` (no bolus end time or no application time)."""

    state: str
    minutes: float | None
    message: str
    short: str = ""

    @property
    def outside(self) -> bool:
        """True when the time is before or after the window."""
        return self.state in ("before", "after")


def check_window(
    window: SessionWindow, bolus_end: dt.time | None, at: dt.time | None
) -> WindowCheck:
    """Is an application at ``at`` inside the pulse window after ``bolus_end``?"""
    if bolus_end is None or at is None:
        missing = "bolus end time" if bolus_end is None else "application time"
        return WindowCheck("unknown", None, f"not checked: no {missing}", "not checked")
    minutes = minutes_after(bolus_end, at)
    rule = f"rule {window.rule_id}" + ("" if window.verified else f", {TO_VERIFY}")
    where = f"{minutes:.1f} min after the end of the bolus ({_clock(bolus_end)})"
    if minutes < window.start_min:
        state = "before"
    elif minutes > window.end_min:
        state = "after"
    else:
        return WindowCheck(
            "inside", minutes, f"{where}: inside the window {window.label}", f"{minutes:.1f} min"
        )
    return WindowCheck(
        state,
        minutes,
        f"{_clock(at)} is {where}: OUTSIDE the pulse window {window.label} ({rule})",
        f"{minutes:.1f} min: {state} the window {window.label}",
    )


# ----------------------------------------------------------------------------- plan form
CHOICE_DEFAULT = ("", "as the rule set says")


def _choices(
    values: Iterable[str], default: tuple[str, str] | None = None
) -> list[tuple[str, str]]:
    out = [default] if default else []
    return out + [(v, v.replace("_", " ")) for v in values]


class PlanForm(forms.Form):
    """Options and patient measurements of the session planner (the patient's sex, year
    of birth and lesions come from the registry)."""

    rules = forms.ChoiceField(label="Rule set", help_text="Protocol rules behind every number")
    session_date = forms.DateField(
        label="Planned session date",
        widget=forms.DateInput(attrs={"type": "date"}, format=ISO_DATE),
    )
    drug = forms.ChoiceField(label="Drug", choices=_choices(d.value for d in Drug))
    route = forms.ChoiceField(
        label="Route",
        required=False,
        choices=_choices((r.value for r in Route), ("", "as suggested by the rules")),
        help_text="IV for many or large lesions, IT for few small ones (rule route.choice)",
    )
    iv_policy = forms.ChoiceField(
        label="IV dose policy",
        required=False,
        choices=_choices((p.value for p in IvPolicy), CHOICE_DEFAULT),
        help_text="none: full dose; age_renal / label_renal: reductions for age or renal function",
    )
    it_policy = forms.ChoiceField(
        label="IT dose policy",
        required=False,
        choices=_choices((p.value for p in ItPolicy), CHOICE_DEFAULT),
        help_text="step: by tumour volume; flat: 1,000 IU/cm3",
    )
    window = forms.ChoiceField(
        label="Pulse window",
        choices=[
            (WindowVariant.STANDARD.value, "standard (8–28 min)"),
            (WindowVariant.PK.value, "pharmacokinetic variant by age"),
        ],
    )
    bsa_formula = forms.ChoiceField(
        label="BSA formula",
        required=False,
        choices=_choices((f.value for f in BsaFormula), CHOICE_DEFAULT),
    )
    height_cm = forms.FloatField(
        label="Height (cm)", min_value=50, max_value=250, widget=forms.NumberInput({"step": "any"})
    )
    weight_kg = forms.FloatField(
        label="Weight (kg)", min_value=20, max_value=300, widget=forms.NumberInput({"step": "any"})
    )
    creatinine_mg_dl = forms.FloatField(
        label="Serum creatinine (mg/dL)",
        required=False,
        min_value=0.01,
        max_value=25,
        widget=forms.NumberInput({"step": "any"}),
        help_text="Give at most one of serum creatinine (mg/dL or µmol/L) or clearance",
    )
    creatinine_umol_l = forms.FloatField(
        label="Serum creatinine (µmol/L)",
        required=False,
        min_value=1,
        max_value=2200,
        widget=forms.NumberInput({"step": "any"}),
    )
    creatinine_clearance_ml_min = forms.FloatField(
        label="Creatinine clearance (mL/min)",
        required=False,
        min_value=0.1,
        max_value=300,
        widget=forms.NumberInput({"step": "any"}),
        help_text="Measured, or estimated (Cockcroft-Gault is computed from serum creatinine)",
    )
    prior_bleomycin_iu = forms.FloatField(
        label="Lifetime bleomycin before this session (IU)",
        min_value=0,
        max_value=2_000_000,
        widget=forms.NumberInput({"step": "any"}),
        help_text="Prefilled with the sum of the bleomycin doses in the registry",
    )
    contraindications = forms.MultipleChoiceField(
        label="Contraindications and cautions present",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        choices=[(name, name.replace("_", " ")) for name in Contraindications.model_fields],
    )
    lesions = forms.MultipleChoiceField(
        label="Lesions to treat", widget=forms.CheckboxSelectMultiple
    )
    minutes_per_application = forms.FloatField(
        label="Minutes per application",
        required=False,
        min_value=0.1,
        max_value=30,
        widget=forms.NumberInput({"step": "any"}),
    )
    margin_mm = forms.FloatField(
        label="Margin around each lesion (mm)",
        required=False,
        min_value=0,
        max_value=20,
        widget=forms.NumberInput({"step": "any"}),
    )

    def __init__(self, *args: Any, lesions: list[Lesion], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["rules"].choices = [(r, r) for r in shipped_rule_sets()]
        self.fields["lesions"].choices = [
            (
                lesion.lesion_id,
                f"{lesion.lesion_id} · {lesion.body_site.value.replace('_', ' ')} · "
                f"{lesion.longest_diameter_mm:g} mm",
            )
            for lesion in lesions
        ]

    def clean(self) -> dict[str, Any]:
        """At most one source of renal function."""
        data: dict[str, Any] = super().clean() or {}
        given = [
            name
            for name in ("creatinine_mg_dl", "creatinine_umol_l", "creatinine_clearance_ml_min")
            if data.get(name) is not None
        ]
        if len(given) > 1:
            raise forms.ValidationError(
                "Give at most one of serum creatinine (mg/dL), serum creatinine (µmol/L) "
                "and creatinine clearance."
            )
        if data.get("drug") == Drug.CISPLATIN.value and data.get("route") == Route.INTRAVENOUS:
            self.add_error("route", "cisplatin is given intratumourally only in ECT")
        return data


def plan_initial(dataset: Dataset, patient: Patient, today: dt.date) -> dict[str, Any]:
    """Plan form defaults: the latest session's height, weight and clearance, lifetime
    bleomycin from the registry, every lesion of the patient."""
    latest = _sessions_by_date(dataset)[-1] if dataset.sessions else None
    return {
        "rules": DEFAULT_RULE_SET,
        "session_date": today,
        "drug": Drug.BLEOMYCIN.value,
        "route": "",
        "window": WindowVariant.STANDARD.value,
        "height_cm": latest.height_cm if latest else None,
        "weight_kg": latest.weight_kg if latest else None,
        "creatinine_clearance_ml_min": latest.creatinine_clearance_ml_min if latest else None,
        "prior_bleomycin_iu": _prior_bleomycin_iu(dataset),
        "lesions": [lesion.lesion_id for lesion in dataset.lesions],
    }


def _as_query(values: Mapping[str, Any], prefix: str) -> QueryDict:
    """Form data (as a browser would send it) of ``values`` for a form with ``prefix``."""
    data = QueryDict(mutable=True)
    for name, value in values.items():
        if value is None:
            continue
        if isinstance(value, list):
            data.setlist(f"{prefix}-{name}", [str(v) for v in value])
        else:
            data[f"{prefix}-{name}"] = (
                value.isoformat() if isinstance(value, dt.date) else str(value)
            )
    return data


def plan_request(form: PlanForm, patient: Patient, dataset: Dataset) -> SessionRequest:
    """The planner's request from a valid plan form; ValueError (pydantic) if inconsistent."""
    data = form.cleaned_data
    chosen = set(data["lesions"])
    lesions = [
        LesionToTreat.model_validate(lesion.model_dump())
        for lesion in dataset.lesions
        if lesion.lesion_id in chosen
    ]
    flags = set(data.get("contraindications") or [])
    return SessionRequest(
        patient=PatientToPlan(
            patient_id=patient.patient_id,
            birth_year=patient.birth_year,
            session_date=data["session_date"],
            sex=patient.sex,
            height_cm=data["height_cm"],
            weight_kg=data["weight_kg"],
            creatinine_mg_dl=data.get("creatinine_mg_dl"),
            creatinine_umol_l=data.get("creatinine_umol_l"),
            creatinine_clearance_ml_min=data.get("creatinine_clearance_ml_min"),
            prior_bleomycin_iu=data["prior_bleomycin_iu"],
            contraindications=Contraindications(
                **{name: name in flags for name in Contraindications.model_fields}
            ),
        ),
        lesions=lesions,
        options=PlanOptions(
            rules=data["rules"],
            drug=Drug(data["drug"]),
            route=Route(data["route"]) if data.get("route") else None,
            bsa_formula=BsaFormula(data["bsa_formula"]) if data.get("bsa_formula") else None,
            iv_policy=IvPolicy(data["iv_policy"]) if data.get("iv_policy") else None,
            it_policy=ItPolicy(data["it_policy"]) if data.get("it_policy") else None,
            window=WindowVariant(data["window"]),
            minutes_per_application=data.get("minutes_per_application"),
            margin_mm=data.get("margin_mm"),
        ),
    )


def _pydantic_problems(error: ValidationError) -> list[str]:
    out = []
    for detail in error.errors(include_url=False):
        where = ".".join(str(part) for part in detail["loc"])
        text = str((detail.get("ctx") or {}).get("error", detail["msg"]))
        out.append(f"{where}: {text}" if where else text)
    return out


# ----------------------------------------------------------------------------- plan view
@dataclass
class PlanView:
    """What the plan page shows, formatted."""

    plan: SessionPlan
    dose: str
    dose_per_m2: str
    standard_per_m2: str
    window: str
    anaesthesia: str
    unverified: set[str]
    lesions: list[dict[str, Any]] = field(default_factory=list)
    findings: list[dict[str, Any]] = field(default_factory=list)
    rules: list[dict[str, Any]] = field(default_factory=list)


def plan_view(plan: SessionPlan) -> PlanView:
    """The plan formatted for the page; every rule id carries its verification status."""
    status = {r["id"]: r["status"] for r in plan.rules}
    unverified = {rule_id for rule_id, s in status.items() if s == RuleStatus.TO_VERIFY.value}
    if plan.dose_iu is not None:
        dose = _fmt_number(plan.dose_iu, "IU")
    elif plan.dose_mg is not None:
        dose = _fmt_number(plan.dose_mg, "mg", 2)
    else:
        dose = "no dose (see the findings)"
    window = (
        f"{plan.pulse_window_min[0]:g}–{plan.pulse_window_min[1]:g} min after the end of the "
        + ("bolus" if plan.route is Route.INTRAVENOUS else "injection of each lesion")
        if plan.pulse_window_min is not None
        else "none (contraindicated)"
    )
    view = PlanView(
        plan=plan,
        dose=dose,
        dose_per_m2=_fmt_number(plan.dose_per_m2_iu, "IU/m²"),
        standard_per_m2=_fmt_number(plan.standard_dose_per_m2_iu, "IU/m²"),
        window=window,
        anaesthesia=plan.anaesthesia.value.replace("_", " "),
        unverified=unverified,
    )
    for lesion in plan.lesions:
        view.lesions.append(
            {
                "lesion": lesion,
                "size": f"{lesion.longest_diameter_mm:g}"
                + (
                    f" × {lesion.perpendicular_diameter_mm:g}"
                    if lesion.perpendicular_diameter_mm is not None
                    else ""
                )
                + " mm",
                "rules": [(r, r in unverified) for r in lesion.rule_ids],
            }
        )
    for finding in plan.eligibility.findings:
        view.findings.append({"finding": finding, "to_verify": finding.rule_id in unverified})
    for rule in plan.rules:
        view.rules.append(rule | {"shown_value": _rule_value(rule["value"])})
    return view


def session_initial(plan: SessionPlan, dataset: Dataset, patient_id: str) -> dict[str, Any]:
    """Session form defaults from the plan (the bolus end time is entered on the day)."""
    session_id, number = _next_session(dataset, patient_id)
    intravenous = plan.route is Route.INTRAVENOUS
    return {
        "session_id": session_id,
        "session_date": None,
        "session_number": number,
        "anaesthesia": plan.anaesthesia.value,
        "drug": plan.drug.value,
        "route": plan.route.value,
        "dose": plan.dose_iu if plan.drug is Drug.BLEOMYCIN else plan.dose_mg,
        "dose_per_m2": plan.dose_per_m2_iu if intravenous else None,
        "bsa_m2": plan.bsa_m2,
        "creatinine_clearance_ml_min": plan.creatinine_clearance_ml_min,
        "rule_set": plan.rule_set,
    }


def session_form_class() -> type[forms.Form]:
    """The Session form (patient fixed by the page, rule set carried from the plan)."""
    form_class = record_form_class(Session, exclude=("patient_id",), hidden=("rule_set",))
    return form_class


def _record_session(
    actor: Actor, patient: Patient, values: dict[str, Any], request: HttpRequest
) -> Session:
    """Create the session; moves the patient's last contact date up to the session date
    (in the same transaction) when the session is later. RecordInvalidError if refused."""
    item = validated_record(Session, values | {"patient_id": patient.patient_id})
    assert isinstance(item, Session)
    last = patient.last_contact_date
    moved = patient.death_date is None and last is not None and item.session_date > last
    with transaction.atomic():
        if moved:
            services.update(
                actor,
                Patient,
                patient.patient_id,
                {"last_contact_date": item.session_date},
                reason=f"ECT session {item.session_id} recorded on the web",
            )
        services.create(actor, item, reason="recorded from the session plan (web)")
    if moved and last is not None:
        messages.info(
            request,
            f"Last contact date of {patient.patient_id} moved from {last.isoformat()} to "
            f"{item.session_date.isoformat()}.",
        )
    return item


@with_actor
def session_plan(request: HttpRequest, patient_id: str, *, actor: Actor) -> HttpResponse:
    """Plan a session for ``patient_id``; POST ``action=record`` records it."""
    dataset = services.patient_records(actor, patient_id)
    patient = _patient(dataset, patient_id)
    may_write = actor.may_write(patient.centre_id)
    today = timezone.localdate()
    session_form_type = session_form_class()
    plan_form: PlanForm
    session_form: forms.Form | None = None
    plan: SessionPlan | None = None
    problems: list[str] = []

    if request.method == "POST":
        plan_form = PlanForm(request.POST, prefix="plan", lesions=dataset.lesions)
    else:
        # With the registry's defaults complete (height and weight of an earlier session),
        # the page opens with a plan; otherwise with the empty fields to fill in.
        initial = plan_initial(dataset, patient, today)
        plan_form = PlanForm(_as_query(initial, "plan"), prefix="plan", lesions=dataset.lesions)
        if not plan_form.is_valid():
            plan_form = PlanForm(prefix="plan", lesions=dataset.lesions, initial=initial)
    if plan_form.is_bound and plan_form.is_valid():
        try:
            plan = plan_session(plan_request(plan_form, patient, dataset))
        except ValidationError as error:
            problems = _pydantic_problems(error)
        except (RuleError, ValueError) as error:
            problems = [str(error)]

    action = request.POST.get("action", "plan") if request.method == "POST" else None
    if plan is not None:
        initial = session_initial(plan, dataset, patient_id)
        initial["session_date"] = plan_form.cleaned_data["session_date"]
        initial["height_cm"] = plan_form.cleaned_data["height_cm"]
        initial["weight_kg"] = plan_form.cleaned_data["weight_kg"]
        if action == "record":
            session_form = session_form_type(request.POST, prefix="session", initial=initial)
        else:
            session_form = session_form_type(prefix="session", initial=initial)
        _time_widget(session_form, "bolus_end_time")
    if action == "record" and not may_write:
        raise AccessDeniedError(
            f"user {actor.username!r} ({actor.role.value}) may not record sessions"
        )
    if action == "record" and session_form is not None and session_form.is_valid():
        try:
            created = _record_session(actor, patient, cleaned_values(session_form), request)
        except RecordInvalidError as error:
            add_errors(session_form, error)
        else:
            messages.success(request, f"Session {created.session_id} recorded.")
            query = urlencode({"window": plan_form.cleaned_data["window"]})
            url = reverse("session-record", args=[created.session_id])
            return HttpResponseRedirect(f"{url}?{query}")

    lesions_without = not dataset.lesions
    return render(
        request,
        "web/sessions/plan.html",
        {
            "patient": patient,
            "plan_form": plan_form,
            "plan": plan_view(plan) if plan is not None else None,
            "session_form": session_form,
            "problems": problems,
            "may_write": may_write,
            "no_lesions": lesions_without,
            "sessions": _sessions_by_date(dataset),
            "to_verify": TO_VERIFY,
        },
    )


def _time_widget(form: forms.Form, name: str) -> None:
    """Clock-time input with seconds allowed; date inputs in ISO form (what
    ``<input type="date">`` needs, whatever the language's date format)."""
    if name in form.fields:
        form.fields[name].widget.attrs.update({"step": "1"})
    for form_field in form.fields.values():
        if isinstance(form_field.widget, forms.DateInput):
            form_field.widget.format = ISO_DATE


# ----------------------------------------------------------------------------- recording
class BolusForm(forms.Form):
    """The end of the IV bolus (or IT injection), as a clock time."""

    bolus_end_time = forms.TimeField(
        label="End of the bolus (clock time)",
        widget=forms.TimeInput(attrs={"type": "time", "step": "1"}),
    )


def application_form_class(lesions: list[Lesion]) -> type[forms.Form]:
    """The Application form: lesion among the patient's lesions, electrode from the catalogue."""
    base = record_form_class(Application, exclude=("application_id", "session_id"))
    lesion_field = forms.ChoiceField(
        label="Lesion",
        choices=[("", "—")]
        + [
            (
                lesion.lesion_id,
                f"{lesion.lesion_id} · {lesion.body_site.value.replace('_', ' ')} · "
                f"{lesion.longest_diameter_mm:g} mm",
            )
            for lesion in lesions
        ],
    )
    return type("ApplicationEntryForm", (base,), {"lesion_id": lesion_field})


def _application_form(
    form_class: type[forms.Form], data: Any = None, planned: Mapping[str, LesionPlan] | None = None
) -> forms.Form:
    initial = {
        "time": timezone.localtime().time().replace(microsecond=0),
        "pulses": 8,
        "frequency_hz": 5000.0,
        "pulse_duration_us": 100.0,
        "complete": "true",
    }
    form = form_class(data, initial=initial) if data is not None else form_class(initial=initial)
    form.fields["electrode"].widget.attrs.update(
        {"list": "electrode-catalogue", "autocomplete": "off"}
    )
    form.fields[
        "electrode"
    ].help_text = (
        "plate, linear, hexagonal or finger, optionally with the device code (linear:N-10-4B)"
    )
    form.fields["time"].widget.attrs.update({"step": "1"})
    if data is None:
        form.fields["time"].widget.attrs["data-default-now"] = "1"
    form.fields["time"].help_text = "Clock time the pulses were delivered (default: now)"
    form.fields["lesion_id"].widget.attrs.update({"data-suggest": "1"})
    if planned:
        form.fields["lesion_id"].widget = _LesionSelect(
            planned, choices=form.fields["lesion_id"].choices, attrs={"data-suggest": "1"}
        )
    return form


class _LesionSelect(forms.Select):
    """A select whose options carry the planned electrode settings as data attributes."""

    def __init__(self, planned: Mapping[str, LesionPlan], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.planned = planned

    def create_option(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        option: dict[str, Any] = super().create_option(*args, **kwargs)
        plan = self.planned.get(str(option["value"]))
        if plan is not None:
            option["attrs"].update(
                {
                    "data-electrode": plan.electrode,
                    "data-voltage": f"{plan.voltage_v:g}",
                    "data-pulses": str(plan.pulses),
                    "data-frequency": f"{plan.frequency_hz:g}",
                    "data-duration": f"{plan.pulse_duration_us:g}",
                    "data-summary": _planned_summary(plan),
                }
            )
        return option


def _planned_summary(plan: LesionPlan) -> str:
    needle = f", needles {plan.needle_length_mm:g} mm" if plan.needle_length_mm else ""
    return (
        f"Planned: {plan.electrode}{needle}, {plan.voltage_v:g} V, {plan.pulses} × "
        f"{plan.pulse_duration_us:g} µs at {plan.frequency_hz:g} Hz, "
        f"about {plan.applications} application(s)"
    )


def planned_lesions(session: Session, patient: Patient, dataset: Dataset) -> dict[str, LesionPlan]:
    """The planner's electrode settings per lesion for this session (empty if it cannot
    plan: no height or weight, or a rule set that does not load)."""
    if session.height_cm is None or session.weight_kg is None or not dataset.lesions:
        return {}
    rules, _ = session_rules(session)
    try:
        request = SessionRequest(
            patient=PatientToPlan(
                patient_id=patient.patient_id,
                birth_year=patient.birth_year,
                session_date=session.session_date,
                sex=patient.sex,
                height_cm=session.height_cm,
                weight_kg=session.weight_kg,
            ),
            lesions=[LesionToTreat.model_validate(x.model_dump()) for x in dataset.lesions],
            options=PlanOptions(rules=rules.id, drug=session.drug, route=session.route),
        )
        plan = plan_session(request, rules)
    except (ValidationError, RuleError, ValueError):
        return {}
    return {lesion.lesion_id: lesion for lesion in plan.lesions}


def _variant(request: HttpRequest) -> WindowVariant:
    value = request.POST.get("window") or request.GET.get("window") or ""
    try:
        return WindowVariant(value)
    except ValueError:
        return WindowVariant.STANDARD


@with_actor
def session_record(request: HttpRequest, session_id: str, *, actor: Actor) -> HttpResponse:
    """Record the applications of a session, with the pulse-window countdown."""
    session = services.get(actor, Session, session_id)
    assert isinstance(session, Session)
    dataset = services.patient_records(actor, session.patient_id)
    patient = _patient(dataset, session.patient_id)
    may_write = actor.may_write(patient.centre_id)
    variant = _variant(request)
    window = session_window(session, patient, variant)
    planned = planned_lesions(session, patient, dataset)
    form_class = application_form_class(dataset.lesions)
    form = _application_form(form_class, planned=planned)
    bolus_form = BolusForm(initial={"bolus_end_time": session.bolus_end_time})
    here = f"{reverse('session-record', args=[session_id])}?{urlencode({'window': variant})}"

    if request.method == "POST" and not may_write:
        raise AccessDeniedError(
            f"user {actor.username!r} ({actor.role.value}) may not record sessions"
        )
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "bolus":
            bolus_form = BolusForm(request.POST)
            if bolus_form.is_valid():
                try:
                    services.update(
                        actor,
                        Session,
                        session_id,
                        {"bolus_end_time": bolus_form.cleaned_data["bolus_end_time"]},
                        reason="bolus end time entered on the recording page",
                    )
                except RecordInvalidError as error:
                    add_errors(bolus_form, error)
                else:
                    messages.success(request, "Bolus end time saved; the countdown runs from it.")
                    return HttpResponseRedirect(here)
        elif action == "application":
            form = _application_form(form_class, request.POST, planned)
            if form.is_valid():
                values = cleaned_values(form) | {
                    "session_id": session_id,
                    "application_id": _next_application_id(session_id, dataset),
                }
                try:
                    item = validated_record(Application, values)
                    services.create(actor, item, reason="recorded on the session page (web)")
                except RecordInvalidError as error:
                    add_errors(form, error)
                else:
                    assert isinstance(item, Application)
                    check = check_window(window, session.bolus_end_time, item.time)
                    messages.success(
                        request,
                        f"Application {item.application_id} saved ({item.lesion_id}, "
                        f"{item.electrode}{', ' + _clock(item.time) if item.time else ''}).",
                    )
                    if check.outside:
                        messages.warning(request, f"Warning: {check.message}.")
                    return HttpResponseRedirect(here)

    applications = [a for a in dataset.applications if a.session_id == session_id]
    rows: list[dict[str, Any]] = []
    for application in sorted(applications, key=lambda a: (a.time is None, a.time or dt.time())):
        rows.append(
            {
                "application": application,
                "clock": _clock(application.time),
                "check": check_window(window, session.bolus_end_time, application.time),
            }
        )
    done: dict[str, list[Application]] = {}
    for application in applications:
        done.setdefault(application.lesion_id, []).append(application)
    lesion_rows = [
        {
            "lesion": lesion,
            "planned": planned.get(lesion.lesion_id),
            "summary": _planned_summary(planned[lesion.lesion_id])
            if lesion.lesion_id in planned
            else "",
            "recorded": len(done.get(lesion.lesion_id, [])),
            "aborted": sum(1 for a in done.get(lesion.lesion_id, []) if a.complete is False),
        }
        for lesion in dataset.lesions
    ]
    bolus = session.bolus_end_time
    opens = closes = ""
    if bolus is not None:
        start = dt.datetime.combine(session.session_date, bolus)
        opens = (start + dt.timedelta(minutes=window.start_min)).strftime("%H:%M:%S")
        closes = (start + dt.timedelta(minutes=window.end_min)).strftime("%H:%M:%S")
    return render(
        request,
        "web/sessions/record.html",
        {
            "session": session,
            "patient": patient,
            "window": window,
            "variants": [
                (WindowVariant.STANDARD.value, "standard (rule window.iv / window.it)"),
                (WindowVariant.PK.value, "pharmacokinetic, by age (Groselj 2016)"),
            ],
            "bolus": _clock(bolus),
            "bolus_iso": bolus.strftime("%H:%M:%S") if bolus else "",
            "opens": opens,
            "closes": closes,
            "form": form,
            "bolus_form": bolus_form,
            "rows": rows,
            "outside": sum(1 for r in rows if r["check"].outside),
            "lesion_rows": lesion_rows,
            "may_write": may_write,
            "electrodes": [e.value for e in Electrode],
            "to_verify": TO_VERIFY,
        },
    )
