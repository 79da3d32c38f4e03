"""Recording a session: the pulse window of a recorded session, where each application
lies against it, the pulse-train defaults of the rule set, and the ids of new records.

No Django and no request: the session pages (:mod:`openect.web.pages.sessions`) call
these functions, and so can a notebook or the command line.

Times of day are those of the ward: the bolus end time and the application times are
clock times (:class:`datetime.time`) compared with each other, never with a computer's
clock. An application time more than :data:`MIDNIGHT_HOURS` hours before the bolus end
is taken as the next day (a session that runs past midnight).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import ValidationError

from openect.data.enums import Drug, Route
from openect.data.models import Application, Lesion, Patient, Session, SystemicTherapy
from openect.errors import RuleError
from openect.formatting import clock, number
from openect.protocol.inputs import PlanOptions, WindowVariant, session_request
from openect.protocol.rules import (
    DEFAULT_RULE_SET,
    RuleSet,
    RuleStatus,
    load_rule_set,
    shipped_rule_sets,
)
from openect.protocol.session_plan import LesionPlan, plan_session
from openect.protocol.window import PulseWindow, pulse_window

#: Label shown next to every rule whose value was not read in its cited source.
TO_VERIFY = "to verify locally"
#: An application time more than this many hours (h) before the bolus end is taken as
#: the next day (a session that runs past midnight).
MIDNIGHT_HOURS = 12
#: The rule of the pulse train (pulses per train, pulse duration, repetition frequency).
PULSE_TRAIN_RULE = "pulses.train"

WindowState = Literal["inside", "before", "after", "unknown"]


# ----------------------------------------------------------------------------- rule sets
def shipped() -> dict[str, RuleSet]:
    """The rule sets shipped with OpenECT, by id."""
    return {name: load_rule_set(name) for name in shipped_rule_sets()}


def session_rules(
    name: str | None, rule_sets: Mapping[str, RuleSet] | None = None
) -> tuple[RuleSet, list[str]]:
    """The rule set a session names, among ``rule_sets`` (default: those shipped), with
    notes; a session naming none, or one not among them, gets :data:`DEFAULT_RULE_SET`
    and a note that says so."""
    available = shipped() if rule_sets is None else rule_sets
    if name and name in available:
        return available[name], []
    fallback = available.get(DEFAULT_RULE_SET) or load_rule_set(DEFAULT_RULE_SET)
    if name:
        note = (
            f"rule set {name!r} is not available here ({', '.join(sorted(available))}); "
            f"the window of {fallback.id} is shown: check it against your local protocol"
        )
    else:
        note = f"the session names no rule set; the window of {fallback.id} is shown"
    return fallback, [note]


# ----------------------------------------------------------------------------- pulse train
@dataclass(frozen=True)
class PulseTrain:
    """The pulse train of a rule set: what an application delivers unless the planned
    electrode says otherwise (e.g. one train per needle pair)."""

    pulses: int
    pulse_duration_us: float
    frequency_hz: float
    rule_id: str = PULSE_TRAIN_RULE


def pulse_train(rules: RuleSet) -> PulseTrain:
    """The pulse train of ``rules`` (rule ``pulses.train``): pulses per train, pulse
    duration (µs) and repetition frequency (Hz)."""
    pulses = rules.number(PULSE_TRAIN_RULE, "pulses")
    if pulses < 1 or pulses != int(pulses):
        raise RuleError(f"rule {PULSE_TRAIN_RULE}.pulses={pulses:g}: must be a whole number >= 1")
    return PulseTrain(
        pulses=int(pulses),
        pulse_duration_us=rules.number(PULSE_TRAIN_RULE, "pulse_duration_us"),
        frequency_hz=rules.number(PULSE_TRAIN_RULE, "frequency_hz"),
    )


# ----------------------------------------------------------------------------- window
def span(start_min: float, end_min: float) -> str:
    """A window as text: ``8–28 min``."""
    return f"{number(start_min)}–{number(end_min)}\u00a0min"


@dataclass(frozen=True)
class SessionWindow:
    """The pulse window of a recorded session, in minutes after the end of the bolus
    (IV) or of the injection (IT), with the rule behind it."""

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
        """E.g. ``8–28 min``."""
        return span(self.start_min, self.end_min)

    def opens_at(self, bolus_end: dt.time) -> dt.time:
        """Clock time the window opens for a bolus that ended at ``bolus_end``."""
        return clock_after(bolus_end, self.start_min)

    def closes_at(self, bolus_end: dt.time) -> dt.time:
        """Clock time the window closes for a bolus that ended at ``bolus_end``."""
        return clock_after(bolus_end, self.end_min)


def age_at(session: Session, patient: Patient) -> int:
    """The patient's age in years at the session (year of the session minus year of birth)."""
    return session.session_date.year - patient.birth_year


def session_window(
    session: Session,
    patient: Patient,
    variant: WindowVariant = WindowVariant.STANDARD,
    rule_sets: Mapping[str, RuleSet] | None = None,
) -> SessionWindow:
    """The pulse window of ``session`` under its rule set (among ``rule_sets``, default
    those shipped), its route and, for the ``pk`` variant, the age of the patient."""
    rules, notes = session_rules(session.rule_set, rule_sets)
    window = pulse_window(rules, session.route, age_at(session, patient), variant)
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


def window_choices(
    rules: RuleSet, route: Route | None = None, age_years: int | None = None
) -> list[tuple[WindowVariant, str]]:
    """The window variants with the windows ``rules`` give them, as choice labels.

    With a ``route`` (a recorded session): the window each variant gives this patient,
    e.g. ``pharmacokinetic by age (71 years): 8–40 min (rule window.iv_pk_over_65)``.
    Without (a session being planned): the windows of the rules, e.g. ``standard: IV
    8–28 min, IT 0–10 min``.
    """
    if route is not None:
        standard = pulse_window(rules, route, age_years, WindowVariant.STANDARD)
        pk = pulse_window(rules, route, age_years, WindowVariant.PK)
        age = f" ({age_years} years)" if age_years is not None else ""
        return [
            (WindowVariant.STANDARD, f"standard: {_window_text(standard)}"),
            (WindowVariant.PK, f"pharmacokinetic by age{age}: {_window_text(pk)}"),
        ]

    def rule_span(rule_id: str) -> str:
        return span(rules.number(rule_id, "start_min"), rules.number(rule_id, "end_min"))

    over = "window.iv_pk_over_65"
    under = "window.iv_pk_under_65"
    return [
        (
            WindowVariant.STANDARD,
            f"standard: IV {rule_span('window.iv')}, IT {rule_span('window.it')}",
        ),
        (
            WindowVariant.PK,
            f"pharmacokinetic by age (IV): {rule_span(over)} over "
            f"{number(rules.number(over, 'age_above_years'))} years, {rule_span(under)} under "
            f"{number(rules.number(under, 'age_below_years'))}",
        ),
    ]


def _window_text(window: PulseWindow) -> str:
    return f"{span(window.start_min, window.end_min)} (rule {window.rule_id})"


def clock_after(start: dt.time, minutes: float) -> dt.time:
    """The clock time ``minutes`` after clock time ``start`` (past midnight: the next day's)."""
    moment = dt.datetime.combine(dt.date(2000, 1, 1), start) + dt.timedelta(minutes=minutes)
    return moment.time().replace(microsecond=0)


def minutes_after(start: dt.time, at: dt.time) -> float:
    """Minutes from clock time ``start`` to clock time ``at`` (across midnight when ``at``
    is more than :data:`MIDNIGHT_HOURS` hours before ``start``)."""
    seconds = (at.hour * 3600 + at.minute * 60 + at.second) - (
        start.hour * 3600 + start.minute * 60 + start.second
    )
    if seconds < -MIDNIGHT_HOURS * 3600:
        seconds += 24 * 3600
    return seconds / 60.0


@dataclass(frozen=True)
class WindowCheck:
    """Where an application time lies against the window: ``inside``, ``before``,
    ``after`` or ``unknown`` (no bolus end time or no application time); ``minutes``
    after the end of the bolus (min)."""

    state: WindowState
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
    """Is an application at clock time ``at`` inside the pulse window after ``bolus_end``?"""
    if bolus_end is None or at is None:
        missing = "bolus end time" if bolus_end is None else "application time"
        return WindowCheck("unknown", None, f"not checked: no {missing}", "not checked")
    minutes = minutes_after(bolus_end, at)
    rule = f"rule {window.rule_id}" + ("" if window.verified else f", {TO_VERIFY}")
    where = f"{minutes:.1f} min after the end of the bolus ({clock(bolus_end)})"
    state: WindowState
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
        f"{clock(at)} is {where}: OUTSIDE the pulse window {window.label} ({rule})",
        f"{minutes:.1f} min: {state} the window {window.label}",
    )


@dataclass(frozen=True)
class ApplicationCheck:
    """A recorded application and where its time lies against the window."""

    application: Application
    check: WindowCheck


def checked_applications(
    session_id: str,
    applications: Iterable[Application],
    window: SessionWindow,
    bolus_end: dt.time | None,
) -> list[ApplicationCheck]:
    """The applications of the session in time order (untimed last), each checked
    against the window after its own injection (an intratumoural application's
    ``injection_end_time``), else after ``bolus_end``."""
    own = [a for a in applications if a.session_id == session_id]
    own.sort(key=lambda a: (a.time is None, a.time or dt.time()))
    return [
        ApplicationCheck(a, check_window(window, a.injection_end_time or bolus_end, a.time))
        for a in own
    ]


def lesion_injections(session_id: str, applications: Iterable[Application]) -> dict[str, dt.time]:
    """Each lesion's injection end in an intratumoural session: the one recorded with its
    latest application that has one (lesion id -> clock time)."""
    out: dict[str, dt.time] = {}
    own = [a for a in applications if a.session_id == session_id and a.injection_end_time]
    own.sort(key=lambda a: (a.time or dt.time(), a.application_id))
    for application in own:
        assert application.injection_end_time is not None
        out[application.lesion_id] = application.injection_end_time
    return out


@dataclass(frozen=True)
class LesionProgress:
    """A lesion during its session: the planner's settings (None when it could not
    plan), the applications recorded and how many of them were aborted."""

    lesion: Lesion
    planned: LesionPlan | None
    recorded: int
    aborted: int


def lesion_progress(
    session_id: str,
    lesions: Iterable[Lesion],
    applications: Iterable[Application],
    planned: Mapping[str, LesionPlan],
) -> list[LesionProgress]:
    """Each lesion's recorded (and aborted) applications of the session, with its plan."""
    own = [a for a in applications if a.session_id == session_id]
    return [
        LesionProgress(
            lesion,
            planned.get(lesion.lesion_id),
            sum(1 for a in own if a.lesion_id == lesion.lesion_id),
            sum(1 for a in own if a.lesion_id == lesion.lesion_id and a.complete is False),
        )
        for lesion in lesions
    ]


# ----------------------------------------------------------------------------- the plan
def planned_lesions(
    session: Session, patient: Patient, lesions: Sequence[Lesion], rules: RuleSet
) -> dict[str, LesionPlan]:
    """The planner's electrode settings per lesion for a recorded session (by lesion id);
    empty when it cannot plan: no height or weight, no lesion, or rules it cannot apply."""
    if session.height_cm is None or session.weight_kg is None or not lesions:
        return {}
    try:
        request = session_request(
            patient,
            lesions,
            session_date=session.session_date,
            height_cm=session.height_cm,
            weight_kg=session.weight_kg,
            options=PlanOptions(rules=rules.id, drug=session.drug, route=session.route),
        )
        plan = plan_session(request, rules)
    except (ValidationError, RuleError, ValueError):
        return {}
    return {lesion.lesion_id: lesion for lesion in plan.lesions}


# ----------------------------------------------------------------------------- records
def prior_bleomycin_iu(
    sessions: Iterable[Session],
    before: dt.date | None = None,
    therapies: Iterable[SystemicTherapy] = (),
) -> float:
    """Bleomycin (IU) given in ``sessions`` and in other ``therapies`` (chemotherapy such
    as ABVD or BEP, ECT at another centre: their ``bleomycin_iu``), those before
    ``before`` if given: the lifetime dose the planner checks against its cumulative
    limits."""
    in_sessions = sum(
        s.dose or 0.0
        for s in sessions
        if s.drug is Drug.BLEOMYCIN and (before is None or s.session_date < before)
    )
    elsewhere = sum(
        t.bleomycin_iu or 0.0 for t in therapies if before is None or t.start_date < before
    )
    return float(in_sessions + elsewhere)


def free_id(base: str, taken: Iterable[str]) -> str:
    """``base``, or ``base-2``, ``base-3``, ... whichever is not in ``taken``."""
    used = set(taken)
    if base not in used:
        return base
    n = 2
    while f"{base}-{n}" in used:
        n += 1
    return f"{base}-{n}"


def next_session(patient_id: str, sessions: Sequence[Session]) -> tuple[str, int]:
    """A new session id (``<patient>-S<n>``, free among ``sessions``, the patient's) and
    the next session number (one more than the highest)."""
    n = max((s.session_number for s in sessions), default=0) + 1
    return free_id(f"{patient_id}-S{n}", (s.session_id for s in sessions)), n


def treatment_history(
    sessions: Sequence[Session], applications: Sequence[Application], before: dt.date
) -> dict[str, tuple[dt.date, int]]:
    """Per lesion treated before ``before``: the date of its last session and how many
    sessions treated it (those with an application on it)."""
    dates = {s.session_id: s.session_date for s in sessions if s.session_date < before}
    treated: dict[str, set[str]] = {}
    for application in applications:
        if application.session_id in dates:
            treated.setdefault(application.lesion_id, set()).add(application.session_id)
    return {lesion_id: (max(dates[s] for s in ids), len(ids)) for lesion_id, ids in treated.items()}
