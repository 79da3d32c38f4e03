"""What the printable documents hold: the record of one ECT session and the treatment
summary letter for the referring doctor (no request, no Django, no formatting).

:func:`session_record` and :func:`treatment_letter` take a patient's records as a
:class:`~openect.data.dataset.Dataset` (read by the caller through
:func:`openect.registry.services.patient_records`, so the reader's centre scope and
redaction apply) and return typed, frozen dataclasses; the templates of
``templates/web/documents/`` format them (:mod:`openect.web.templatetags.openect_format`)
for the print page and the PDF (:mod:`openect.web.pages.documents`). The command line
may build the same documents from the same functions.

Every clinical number comes from the records or from the session's rule set, with the
rule's id and its verification status (:data:`~openect.protocol.recording.TO_VERIFY`);
the pulse window and each application's place in it from
:mod:`openect.protocol.recording`, the responses from :func:`openect.response.evaluate`,
the follow-up visits from :mod:`openect.response.follow_up`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from openect.data.dataset import Dataset
from openect.data.enums import Drug, Route
from openect.data.models import AdverseEvent, Application, Lesion, Patient, Session
from openect.errors import NotFoundError, RuleError
from openect.formatting import number
from openect.protocol.dose import ellipsoid_volume_cm3, it_bleomycin_iu, it_cisplatin_mg
from openect.protocol.dose import iv_dose_per_m2 as rule_iv_dose_per_m2
from openect.protocol.inputs import ItPolicy, IvPolicy, WindowVariant
from openect.protocol.recording import (
    TO_VERIFY,
    SessionWindow,
    age_at,
    checked_applications,
    session_rules,
    session_window,
)
from openect.protocol.rules import RuleSet, RuleStatus
from openect.response import CATEGORY_LABELS, evaluate, load_criteria
from openect.response.follow_up import FollowUpVisit, load_schedule

#: Unit of the total dose of each drug.
DOSE_UNITS: dict[Drug, str] = {
    Drug.BLEOMYCIN: "IU",
    Drug.CISPLATIN: "mg",
    Drug.CALCIUM_CHLORIDE: "mL",
}
#: The intravenous policies that reduce the dose by renal function.
RENAL_POLICIES = frozenset({IvPolicy.AGE_RENAL, IvPolicy.LABEL_RENAL, IvPolicy.AGE_LABEL})
#: The signature lines of a session record.
SESSION_SIGNATURES: tuple[str, ...] = ("Operator", "Anaesthetist")
#: The response criteria of the letter (a name of ``openect/response/criteria.toml``).
LETTER_CRITERIA = "recist"


# ----------------------------------------------------------------------------- parts
@dataclass(frozen=True)
class PatientHeading:
    """Who a document is about: the short label (``C01-0042``, None without a number),
    the pseudonym (``patient_id``) and the centre."""

    patient_id: str
    label: str | None
    centre_id: str
    centre_name: str

    @property
    def shown(self) -> str:
        """The label, or the pseudonym when the patient has no number."""
        return self.label or self.patient_id


@dataclass(frozen=True)
class DoseReason:
    """One line of why the dose is what it is; ``rule_id`` when a rule gave it,
    ``to_verify`` when that rule was not verified in its source."""

    text: str
    rule_id: str = ""
    to_verify: bool = False


@dataclass(frozen=True)
class ApplicationLine:
    """One electrode application of a session, in time order, against the pulse window.

    ``window_state`` is ``inside``, ``before``, ``after`` or ``unknown`` (no bolus end or
    no application time); ``minutes_after_bolus`` in min. Voltage in V, frequency in Hz,
    pulse duration in µs, current in A.
    """

    number: int
    application_id: str
    time: dt.time | None
    lesion_id: str
    electrode: str
    voltage_v: float | None
    pulses: int | None
    frequency_hz: float | None
    pulse_duration_us: float | None
    current_a: float | None
    complete: bool | None
    window_state: str
    minutes_after_bolus: float | None
    window_text: str

    @property
    def outside(self) -> bool:
        """True when the application was before or after the pulse window."""
        return self.window_state in ("before", "after")


@dataclass(frozen=True)
class EventLine:
    """An adverse event: CTCAE v5 term (None when hidden from the reader) and grade 1-5."""

    event_id: str
    session_id: str | None
    onset_date: dt.date
    term: str | None
    grade: int
    serious: bool | None


# ----------------------------------------------------------------------------- session
@dataclass(frozen=True)
class SessionRecord:
    """The printable record of one ECT session.

    Doses in IU (bleomycin), mg (cisplatin) or mL (calcium chloride), see
    :attr:`dose_unit`; dose per m2 in IU/m2; body-surface area in m2; height in cm;
    weight in kg; creatinine clearance in mL/min; age in years.
    """

    patient: PatientHeading
    session_id: str
    session_date: dt.date
    session_number: int
    anaesthesia: str | None
    drug: Drug
    route: Route
    dose: float | None
    dose_unit: str
    dose_per_m2: float | None
    bsa_m2: float | None
    height_cm: float | None
    weight_kg: float | None
    creatinine_clearance_ml_min: float | None
    age_years: int
    dose_reasons: tuple[DoseReason, ...]
    rule_set: str
    operator: str | None
    bolus_end_time: dt.time | None
    window: SessionWindow
    window_opens: dt.time | None
    window_closes: dt.time | None
    applications: tuple[ApplicationLine, ...]
    adverse_events: tuple[EventLine, ...]
    signatures: tuple[str, ...] = SESSION_SIGNATURES

    @property
    def dose_spec(self) -> str:
        """Unit and decimals of the dose for the ``measure`` filter (``IU,0``, ``mg,2``)."""
        return dose_spec(self.dose_unit)

    @property
    def outside(self) -> int:
        """How many applications were outside the pulse window."""
        return sum(1 for a in self.applications if a.outside)

    @property
    def aborted(self) -> int:
        """How many applications the generator aborted."""
        return sum(1 for a in self.applications if a.complete is False)

    @property
    def window_verified(self) -> bool:
        """True when the window's rule was read in its cited source."""
        return self.window.verified

    @property
    def filename(self) -> str:
        """A file name for the PDF: ``session-record-C01-0042-2021-05-01.pdf``."""
        return f"session-record-{safe_name(self.patient.shown)}-{self.session_date}.pdf"


def dose_spec(unit: str) -> str:
    """Unit and decimals of a dose in ``unit``: whole IU, mg and mL to 2 decimals."""
    return f"{unit},0" if unit == "IU" else f"{unit},2"


def safe_name(text: str) -> str:
    """``text`` with only letters, digits, ``-`` and ``_`` (others become ``-``), for a
    file name in a ``Content-Disposition`` header."""
    return "".join(c if c.isascii() and (c.isalnum() or c in "-_") else "-" for c in text)


def _heading(dataset: Dataset, patient: Patient) -> PatientHeading:
    centre = next((c for c in dataset.centres if c.centre_id == patient.centre_id), None)
    return PatientHeading(
        patient_id=patient.patient_id,
        label=patient.label,
        centre_id=patient.centre_id,
        centre_name=centre.name if centre is not None else patient.centre_id,
    )


def _patient(dataset: Dataset, patient_id: str) -> Patient:
    found = next((p for p in dataset.patients if p.patient_id == patient_id), None)
    if found is None:
        raise NotFoundError(f"patients: no patient_id={patient_id!r} in your scope")
    return found


def _events(dataset: Dataset, session_id: str | None = None) -> tuple[EventLine, ...]:
    events: list[AdverseEvent] = [
        e for e in dataset.adverse_events if session_id is None or e.session_id == session_id
    ]
    events.sort(key=lambda e: (e.onset_date, e.event_id))
    return tuple(
        EventLine(e.event_id, e.session_id, e.onset_date, e.term, e.grade, e.serious)
        for e in events
    )


def _rule_reason(rules: RuleSet, rule_id: str, text: str) -> DoseReason:
    try:
        status = rules.rule(rule_id).status
    except RuleError:
        return DoseReason(text, rule_id, True)
    return DoseReason(text, rule_id, status is not RuleStatus.VERIFIED)


def dose_reasons(
    session: Session,
    patient: Patient,
    lesions: list[Lesion],
    rules: RuleSet,
) -> tuple[DoseReason, ...]:
    """Why the recorded dose is what it is: IV, the recorded dose per m2 times the
    body-surface area and, from the session's rule set, the dose per m2 after its
    reduction policy for the age at the session and the recorded creatinine clearance;
    IT, the rule set's dose for the volume of each lesion treated. A recorded dose that
    differs from the rule set's is said so, never corrected. (The body measures
    themselves are fields of :class:`SessionRecord`.)"""
    unit = DOSE_UNITS[session.drug]
    out: list[DoseReason] = []
    if session.route is Route.INTRAVENOUS:
        if session.dose_per_m2 is not None and session.bsa_m2 is not None:
            product = session.dose_per_m2 * session.bsa_m2
            text = (
                f"{number(session.dose_per_m2, 'IU/m²', 0)} × {number(session.bsa_m2, 'm²', 2)}"
                f" = {number(product, unit, 0)}"
            )
            if session.dose is not None and abs(product - session.dose) > 0.5:
                text += f"; the dose recorded is {number(session.dose, unit, 0)}"
            out.append(DoseReason(text + "."))
        if session.drug is Drug.BLEOMYCIN:
            out.extend(_iv_rule_reasons(session, patient, rules))
    elif session.drug in (Drug.BLEOMYCIN, Drug.CISPLATIN):
        out.extend(_it_rule_reasons(session, lesions, rules))
    return tuple(out)


def _iv_rule_reasons(session: Session, patient: Patient, rules: RuleSet) -> list[DoseReason]:
    try:
        policy = IvPolicy(rules.text("dose.iv_policy", tuple(IvPolicy)))
        iv = rule_iv_dose_per_m2(
            rules, policy, age_at(session, patient), session.creatinine_clearance_ml_min
        )
    except RuleError:
        return [DoseReason(f"Rule set {rules.id} gives no intravenous dose per m².")]
    out = [
        _rule_reason(
            rules,
            "dose.iv_bleomycin_per_m2",
            f"Standard dose of rule set {rules.id}: {number(iv.standard_per_m2_iu, 'IU/m²', 0)}"
            f" (reduction policy: {policy.value.replace('_', ' ')}).",
        )
    ]
    for reason in iv.reasons:
        rule_id = reason.rsplit("(", 1)[-1].rstrip(")") if reason.endswith(")") else ""
        out.append(_rule_reason(rules, rule_id or "dose.iv_policy", f"{reason}."))
    out.extend(DoseReason(f"{text}.") for text in iv.unassessed)
    if session.creatinine_clearance_ml_min is None and policy in RENAL_POLICIES:
        out.append(DoseReason("Creatinine clearance not recorded: renal reduction not assessed."))
    if iv.refusal is not None:
        out.append(_rule_reason(rules, "dose.label_renal_table", f"{iv.refusal}."))
    elif iv.per_m2_iu is not None:
        text = f"Dose per m² by the rule set: {number(iv.per_m2_iu, 'IU/m²', 0)}"
        if session.dose_per_m2 is not None and abs(iv.per_m2_iu - session.dose_per_m2) > 0.5:
            text += f"; recorded: {number(session.dose_per_m2, 'IU/m²', 0)}"
        out.append(_rule_reason(rules, iv.deciding_rule or "dose.iv_bleomycin_per_m2", text + "."))
    return out


def _it_rule_reasons(session: Session, lesions: list[Lesion], rules: RuleSet) -> list[DoseReason]:
    out: list[DoseReason] = []
    for lesion in lesions:
        volume = ellipsoid_volume_cm3(lesion.longest_diameter_mm, lesion.perpendicular_diameter_mm)
        try:
            if session.drug is Drug.BLEOMYCIN:
                policy = ItPolicy(rules.text("dose.it_policy", tuple(ItPolicy)))
                dose, rule_id = it_bleomycin_iu(rules, policy, volume)
                shown = number(dose, "IU", 0)
            else:
                dose, rule_id = it_cisplatin_mg(rules, volume)
                shown = number(dose, "mg", 2)
        except RuleError:
            out.append(DoseReason(f"Rule set {rules.id} gives no intratumoural dose."))
            break
        out.append(
            _rule_reason(
                rules,
                rule_id,
                f"{lesion.lesion_id}: {number(volume, 'cm³', 2)} (ellipsoid of "
                f"{number(lesion.longest_diameter_mm)} × "
                f"{number(lesion.perpendicular_diameter_mm or lesion.longest_diameter_mm, 'mm')}"
                f" at baseline) gives {shown} by rule set {rules.id}.",
            )
        )
    if session.dose is not None and out:
        out.append(
            DoseReason(
                f"Total given (recorded): {number(session.dose, DOSE_UNITS[session.drug], 0)}."
            )
        )
    return out


def session_record(
    dataset: Dataset,
    session_id: str,
    rule_sets: Mapping[str, RuleSet] | None = None,
    variant: WindowVariant = WindowVariant.STANDARD,
) -> SessionRecord:
    """The record of the session ``session_id`` of ``dataset`` (one patient's records).

    ``rule_sets`` are those the centre offers (default: those shipped); the window is the
    session's rule set's ``variant``. NotFoundError when the dataset lacks the session.
    """
    session = next((s for s in dataset.sessions if s.session_id == session_id), None)
    if session is None:
        raise NotFoundError(f"sessions: no session_id={session_id!r} in your scope")
    patient = _patient(dataset, session.patient_id)
    rules, _ = session_rules(session.rule_set, rule_sets)
    window = session_window(session, patient, variant, rule_sets)
    bolus = session.bolus_end_time
    own: list[Application] = [a for a in dataset.applications if a.session_id == session_id]
    treated = {a.lesion_id for a in own}
    lesions = [lesion for lesion in dataset.lesions if lesion.lesion_id in treated]
    checked = checked_applications(session_id, own, window, bolus)
    return SessionRecord(
        patient=_heading(dataset, patient),
        session_id=session.session_id,
        session_date=session.session_date,
        session_number=session.session_number,
        anaesthesia=session.anaesthesia.value if session.anaesthesia else None,
        drug=session.drug,
        route=session.route,
        dose=session.dose,
        dose_unit=DOSE_UNITS[session.drug],
        dose_per_m2=session.dose_per_m2,
        bsa_m2=session.bsa_m2,
        height_cm=session.height_cm,
        weight_kg=session.weight_kg,
        creatinine_clearance_ml_min=session.creatinine_clearance_ml_min,
        age_years=age_at(session, patient),
        dose_reasons=dose_reasons(session, patient, lesions, rules),
        rule_set=window.rule_set,
        operator=session.operator,
        bolus_end_time=bolus,
        window=window,
        window_opens=window.opens_at(bolus) if bolus else None,
        window_closes=window.closes_at(bolus) if bolus else None,
        applications=tuple(
            ApplicationLine(
                number=n,
                application_id=c.application.application_id,
                time=c.application.time,
                lesion_id=c.application.lesion_id,
                electrode=c.application.electrode,
                voltage_v=c.application.voltage_v,
                pulses=c.application.pulses,
                frequency_hz=c.application.frequency_hz,
                pulse_duration_us=c.application.pulse_duration_us,
                current_a=c.application.current_a,
                complete=c.application.complete,
                window_state=c.check.state,
                minutes_after_bolus=c.check.minutes,
                window_text=c.check.short if c.check.state != "unknown" else c.check.message,
            )
            for n, c in enumerate(checked, start=1)
        ),
        adverse_events=_events(dataset, session_id),
    )


# ----------------------------------------------------------------------------- letter
@dataclass(frozen=True)
class SessionLine:
    """One session of the letter: drug, route, total dose (:attr:`dose_unit`), the
    lesions it treated and how many applications it delivered."""

    session_id: str
    session_date: dt.date
    session_number: int
    drug: Drug
    route: Route
    dose: float | None
    dose_unit: str
    lesions: tuple[str, ...]
    applications: int

    @property
    def dose_spec(self) -> str:
        """Unit and decimals of the dose for the ``measure`` filter."""
        return dose_spec(self.dose_unit)


@dataclass(frozen=True)
class LesionLine:
    """One lesion of the patient with its response so far (categories of
    :data:`LETTER_CRITERIA`; ``current`` None when not assessed after treatment).
    Diameters in mm."""

    lesion_id: str
    body_site: str
    longest_diameter_mm: float
    perpendicular_diameter_mm: float | None
    treated: bool
    first_treatment_date: dt.date | None
    current: str | None
    current_date: dt.date | None
    best: str
    local_progression: bool
    local_progression_date: dt.date | None

    @property
    def current_text(self) -> str:
        """The current response in words (``complete response``), or why there is none."""
        if self.current is None:
            return "not yet assessed" if self.treated else "not treated"
        return CATEGORY_LABELS.get(self.current, self.current)

    @property
    def best_text(self) -> str:
        """The best response in words."""
        return CATEGORY_LABELS.get(self.best, self.best)


@dataclass(frozen=True)
class FollowUpLine:
    """A follow-up visit after the latest session: its day and window, and its state:
    ``done`` (a lesion assessed in the window or later), ``planned`` (the window is
    still ahead), ``due`` (open now) or ``overdue`` (past)."""

    title: str
    on: dt.date
    opens: dt.date
    closes: dt.date
    state: str
    source: str
    to_verify: bool


@dataclass(frozen=True)
class TreatmentLetter:
    """The treatment summary letter for the referring doctor of one patient."""

    patient: PatientHeading
    primary_tumour: str
    stage: str | None
    sessions: tuple[SessionLine, ...]
    lesions: tuple[LesionLine, ...]
    adverse_events: tuple[EventLine, ...]
    follow_up: tuple[FollowUpLine, ...]
    criteria_title: str
    written_on: dt.date
    death_date: dt.date | None

    @property
    def treated_lesions(self) -> tuple[LesionLine, ...]:
        """The lesions at least one session treated."""
        return tuple(lesion for lesion in self.lesions if lesion.treated)

    @property
    def visits_ahead(self) -> tuple[FollowUpLine, ...]:
        """The follow-up visits not done yet (planned, due or overdue)."""
        return tuple(visit for visit in self.follow_up if visit.state != "done")

    @property
    def filename(self) -> str:
        """A file name for the PDF: ``treatment-letter-C01-0042-2021-06-01.pdf``."""
        return f"treatment-letter-{safe_name(self.patient.shown)}-{self.written_on}.pdf"


def follow_up_lines(
    latest: dt.date,
    assessed: list[dt.date],
    today: dt.date,
    schedule: tuple[FollowUpVisit, ...] | None = None,
) -> tuple[FollowUpLine, ...]:
    """The visits of the follow-up ``schedule`` (default: the bundled one) after a
    session on ``latest``, each with its state on ``today`` given the dates a lesion of
    the patient was ``assessed``."""
    visits = schedule if schedule is not None else load_schedule()
    out = []
    for visit in visits:
        opens = latest + dt.timedelta(days=visit.window_days[0])
        closes = latest + dt.timedelta(days=visit.window_days[1])
        if any(day >= opens for day in assessed):
            state = "done"
        elif today < opens:
            state = "planned"
        elif today <= closes:
            state = "due"
        else:
            state = "overdue"
        out.append(
            FollowUpLine(
                title=visit.title,
                on=latest + dt.timedelta(days=visit.days),
                opens=opens,
                closes=closes,
                state=state,
                source=visit.source,
                to_verify=visit.status != "verified",
            )
        )
    return tuple(out)


def treatment_letter(dataset: Dataset, patient_id: str, today: dt.date) -> TreatmentLetter:
    """The treatment summary letter of ``patient_id`` from their records ``dataset``,
    written on ``today`` (the registry's local date). NotFoundError when the dataset
    lacks the patient."""
    patient = _patient(dataset, patient_id)
    sessions = sorted(
        (s for s in dataset.sessions if s.patient_id == patient_id),
        key=lambda s: (s.session_date, s.session_number),
    )
    session_ids = {s.session_id for s in sessions}
    applications = [a for a in dataset.applications if a.session_id in session_ids]
    lesions = [lesion for lesion in dataset.lesions if lesion.patient_id == patient_id]
    by_lesion, _ = evaluate(dataset, LETTER_CRITERIA)
    lines = []
    for lesion in lesions:
        response = by_lesion.get(lesion.lesion_id)
        treated = response is not None and response.treated
        lines.append(
            LesionLine(
                lesion_id=lesion.lesion_id,
                body_site=lesion.body_site.value,
                longest_diameter_mm=lesion.longest_diameter_mm,
                perpendicular_diameter_mm=lesion.perpendicular_diameter_mm,
                treated=treated,
                first_treatment_date=response.first_treatment_date if response else None,
                current=response.current if response else None,
                current_date=response.current_date if response else None,
                best=response.best if response else "NE",
                local_progression=bool(response and response.local_progression),
                local_progression_date=response.local_progression_date if response else None,
            )
        )
    lesion_ids = {lesion.lesion_id for lesion in lesions}
    assessed = [a.assessment_date for a in dataset.assessments if a.lesion_id in lesion_ids]
    past = [s for s in sessions if s.session_date <= today]
    follow_up = (
        follow_up_lines(past[-1].session_date, assessed, today)
        if past and patient.death_date is None
        else ()
    )
    return TreatmentLetter(
        patient=_heading(dataset, patient),
        primary_tumour=patient.primary_tumour.value,
        stage=patient.stage,
        sessions=tuple(
            SessionLine(
                session_id=s.session_id,
                session_date=s.session_date,
                session_number=s.session_number,
                drug=s.drug,
                route=s.route,
                dose=s.dose,
                dose_unit=DOSE_UNITS[s.drug],
                lesions=tuple(
                    sorted({a.lesion_id for a in applications if a.session_id == s.session_id})
                ),
                applications=sum(1 for a in applications if a.session_id == s.session_id),
            )
            for s in sessions
        ),
        lesions=tuple(lines),
        adverse_events=_events(dataset),
        follow_up=follow_up,
        criteria_title=load_criteria(LETTER_CRITERIA).title,
        written_on=today,
        death_date=patient.death_date,
    )


__all__ = [
    "DOSE_UNITS",
    "LETTER_CRITERIA",
    "SESSION_SIGNATURES",
    "TO_VERIFY",
    "ApplicationLine",
    "DoseReason",
    "EventLine",
    "FollowUpLine",
    "LesionLine",
    "PatientHeading",
    "SessionLine",
    "SessionRecord",
    "TreatmentLetter",
    "dose_reasons",
    "dose_spec",
    "follow_up_lines",
    "safe_name",
    "session_record",
    "treatment_letter",
]
