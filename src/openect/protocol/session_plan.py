"""The dose plan and the session plan, with the provenance of every number.

:func:`plan_dose` gives BSA, renal function, dose, lifetime bleomycin, eligibility and
the pulse window; :func:`plan_session` adds route and anaesthesia suggestions, the
electrode per lesion and the time budget. Every number names the rules behind it
(``provenance`` for plan-level numbers, ``rule_ids`` on each lesion) and ``rules``
lists those rules with value, source and status (verified / to_verify). Choices made
by options instead of rules appear as ``option:NAME``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from pydantic import BaseModel, Field

from openect import __version__
from openect.data.enums import Anaesthesia, Drug, Route
from openect.errors import RuleError
from openect.formatting import number
from openect.protocol.body import BsaFormula, CrclWeight, body_surface_area
from openect.protocol.dose import (
    ellipsoid_volume_cm3,
    it_bleomycin_iu,
    it_cisplatin_mg,
    it_dose_range,
    iv_dose_per_m2,
)
from openect.protocol.electrodes import plan_electrode
from openect.protocol.eligibility import (
    EligibilityStatus,
    Finding,
    Severity,
    lung_findings,
    overridable,
    overridden,
    patient_findings,
    status_of,
)
from openect.protocol.inputs import (
    ItPolicy,
    IvPolicy,
    PatientToPlan,
    PlanOptions,
    SessionRequest,
    WindowVariant,
)
from openect.protocol.route import (
    OXYGEN_RULE,
    SITES_RULE,
    oxygen_advice,
    suggest_anaesthesia,
    suggest_route,
)
from openect.protocol.rules import RuleSet, RuleStatus, load_rule_set
from openect.protocol.time_budget import TimeBudget, priority, time_budget
from openect.protocol.window import pulse_window


class Eligibility(BaseModel):
    """Overall status and every finding behind it."""

    status: EligibilityStatus
    findings: list[Finding]


class LesionDose(BaseModel):
    """Intratumoural dose of one lesion (by its ellipsoid volume)."""

    volume_cm3: float
    dose_iu: float | None = Field(None, description="Bleomycin (IU)")
    dose_mg: float | None = Field(None, description="Cisplatin (mg)")
    dose_ml: float | None = Field(None, description="Calcium chloride 220 mM (mL)")
    rule_id: str | None = None
    dose_if_1mm_smaller: float | None = Field(
        None,
        description="The dose (IU or mg, as the dose) had both diameters measured 1 mm "
        "smaller: how much a measurement error moves it",
    )
    dose_if_1mm_larger: float | None = Field(
        None, description="The dose (IU or mg) had both diameters measured 1 mm larger"
    )


class DosePlan(BaseModel):
    """Dose, window and eligibility for one patient (``openect plan dose``)."""

    rule_set: str
    rule_set_chain: list[str]
    rule_set_title: str
    patient_id: str | None
    age_years: int | None
    bsa_m2: float
    bsa_formula: BsaFormula
    creatinine_clearance_ml_min: float | None
    drug: Drug
    route: Route
    dose_iu: float | None
    dose_mg: float | None
    dose_ml: float | None = Field(
        None, description="Calcium chloride 220 mM (mL), calcium electroporation"
    )
    dose_per_m2_iu: float | None
    standard_dose_per_m2_iu: float | None
    dose_policy: str
    dose_reduction: list[str]
    creatinine_clearance_method: str | None = Field(
        None, description="How the clearance was found: as given, or Cockcroft-Gault and the weight"
    )
    dose_rule: str | None = Field(
        None, description="The rule that gave the dose per m2 when reduced (the lowest wins)"
    )
    specialist_override: str | None = Field(
        None, description="A specialist's decision to treat past a stop, as given"
    )
    lesion_doses: list[LesionDose]
    cumulative_bleomycin_iu: float | None
    pulse_window_min: tuple[float, float] | None
    eligibility: Eligibility
    warnings: list[str]
    provenance: dict[str, list[str]]
    rules: list[dict[str, Any]]
    software: dict[str, str]


class LesionPlan(BaseModel):
    """Electrode, pulses and applications for one lesion."""

    lesion_id: str
    longest_diameter_mm: float
    perpendicular_diameter_mm: float | None
    thickness_mm: float | None
    volume_cm3: float
    electrode: str
    needle_length_mm: float | None
    voltage_v: float
    pulses: int
    pulse_duration_us: float
    frequency_hz: float
    applications: int
    target_area_cm2: float
    footprint_cm2: float = Field(
        0.0, description="Area per application the count was estimated with (cm2)"
    )
    footprint_source: str = Field(
        "", description="Where that area came from (coverage-planner table or rule)"
    )
    dose_iu: float | None = Field(None, description="Intratumoural bleomycin for this lesion")
    dose_mg: float | None = Field(None, description="Intratumoural cisplatin for this lesion")
    dose_ml: float | None = Field(
        None, description="Intratumoural calcium chloride 220 mM for this lesion (mL)"
    )
    dose_if_1mm_smaller: float | None = Field(
        None, description="Its dose (IU or mg) had both diameters measured 1 mm smaller"
    )
    dose_if_1mm_larger: float | None = Field(
        None, description="Its dose (IU or mg) had both diameters measured 1 mm larger"
    )
    priority: int
    course_number: int = Field(
        1, description="1 for the lesion's first ECT, 2 for its first re-treatment, ..."
    )
    days_since_last_session: int | None = Field(
        None, description="Days since the lesion's last ECT session (re-treatment)"
    )
    rule_ids: list[str]
    notes: list[str]


class SessionPlan(DosePlan):
    """A planned ECT session (``openect plan session``; see ``docs/protocol.md``)."""

    route_reason: str
    anaesthesia: Anaesthesia
    anaesthesia_reason: str
    lesions: list[LesionPlan]
    time_budget: TimeBudget


def _finding(rules: RuleSet, rule_id: str, severity: Severity, message: str) -> Finding:
    return Finding(
        rule_id=rule_id, severity=severity, message=message, source=rules.rule(rule_id).source
    )


def plan_dose(
    patient: PatientToPlan,
    options: PlanOptions,
    route: Route,
    diameters_mm: Sequence[tuple[float, float | None]] = (),
    rules: RuleSet | None = None,
) -> DosePlan:
    """Dose of the drug by ``route``: IV per m2 of BSA, IT per lesion by the ellipsoid
    volume of its (longest, perpendicular) diameters (mm)."""
    rules = rules if rules is not None else load_rule_set(options.rules)
    volumes_cm3 = [ellipsoid_volume_cm3(a, b) for a, b in diameters_mm]
    provenance: dict[str, list[str]] = {}
    warnings: list[str] = []
    if options.drug is Drug.CISPLATIN and route is Route.INTRAVENOUS:
        raise ValueError("drug=cisplatin: ECT gives cisplatin intratumourally only; use route it")
    if options.drug is Drug.CALCIUM_CHLORIDE and route is Route.INTRAVENOUS:
        raise ValueError(
            "drug=calcium_chloride: calcium electroporation injects calcium chloride into "
            "the tumour only; use route it"
        )
    if route is Route.INTRATUMOURAL and not volumes_cm3:
        raise ValueError("route=intratumoural: give the lesion diameters (the dose is by volume)")

    if options.bsa_formula is not None:
        formula = options.bsa_formula
        provenance["bsa_m2"] = ["option:bsa_formula"]
    else:
        formula = BsaFormula(rules.text("dose.bsa_formula", tuple(BsaFormula)))
        provenance["bsa_m2"] = ["dose.bsa_formula"]
    bsa = round(body_surface_area(patient.height_cm, patient.weight_kg, formula), 2)
    crcl, crcl_method = patient.clearance(
        _crcl_weight(rules), rules.number("dose.crcl_weight", "bmi_at_least")
    )
    if crcl is None:
        warnings.append("creatinine clearance unknown: renal function not assessed")
    else:
        provenance["creatinine_clearance_ml_min"] = ["dose.crcl_weight"]
    override = options.specialist_override
    findings = patient_findings(rules, patient, override, crcl, options.drug)

    dose_iu: float | None = None
    dose_mg: float | None = None
    dose_ml: float | None = None
    per_m2: float | None = None
    standard: float | None = None
    reduction: list[str] = []
    deciding: str | None = None
    lesion_doses: list[LesionDose] = []
    if route is Route.INTRAVENOUS:
        policy = options.iv_policy or IvPolicy(rules.text("dose.iv_policy", tuple(IvPolicy)))
        iv = iv_dose_per_m2(rules, policy, patient.age, crcl)
        standard, per_m2, reduction = iv.standard_per_m2_iu, iv.per_m2_iu, iv.reasons
        warnings.extend(iv.unassessed)
        dose_policy = policy.value
        provenance["dose_per_m2_iu"] = iv.rule_ids + (
            ["option:iv_policy"] if options.iv_policy else []
        )
        if iv.refusal is not None:
            findings.append(
                _finding(rules, "dose.label_renal_table", Severity.CONTRAINDICATION, iv.refusal)
            )
        stop = _renal_stop(rules, patient.dialysis, crcl, override)
        if stop is not None:
            findings.append(stop)
            provenance["dose_per_m2_iu"].append("dose.iv_renal_stop")
        if options.drug is Drug.BLEOMYCIN:
            findings.extend(lung_findings(rules, patient))
        deciding = iv.deciding_rule
        if per_m2 is not None:
            dose_iu = float(round(per_m2 * bsa))
            provenance["dose_iu"] = [*provenance["dose_per_m2_iu"], *provenance["bsa_m2"]]
    elif options.drug is Drug.BLEOMYCIN:
        it_policy = options.it_policy or ItPolicy(rules.text("dose.it_policy", tuple(ItPolicy)))
        dose_policy = f"intratumoural-{it_policy.value}"
        for volume, (a, b) in zip(volumes_cm3, diameters_mm, strict=True):
            iu, rule_id = it_bleomycin_iu(rules, it_policy, volume)
            low, high = it_dose_range(lambda v: it_bleomycin_iu(rules, it_policy, v)[0], a, b)
            lesion_doses.append(
                LesionDose(
                    volume_cm3=round(volume, 3),
                    dose_iu=round(iu),
                    rule_id=rule_id,
                    dose_if_1mm_smaller=round(low),
                    dose_if_1mm_larger=round(high),
                )
            )
        dose_iu = float(sum(d.dose_iu or 0 for d in lesion_doses))
        policy_source = "option:it_policy" if options.it_policy else "dose.it_policy"
        used = sorted({d.rule_id for d in lesion_doses if d.rule_id})
        provenance["dose_iu"] = [*used, policy_source]
    elif options.drug is Drug.CALCIUM_CHLORIDE:
        dose_policy = "intratumoural-calcium"
        per_cm3 = rules.number(CALCIUM_RULE, "ml_per_cm3")
        for volume, (a, b) in zip(volumes_cm3, diameters_mm, strict=True):
            low, high = it_dose_range(lambda v: per_cm3 * v, a, b)
            lesion_doses.append(
                LesionDose(
                    volume_cm3=round(volume, 3),
                    dose_ml=round(per_cm3 * volume, 2),
                    rule_id=CALCIUM_RULE,
                    dose_if_1mm_smaller=round(low, 2),
                    dose_if_1mm_larger=round(high, 2),
                )
            )
        dose_ml = round(sum(d.dose_ml or 0.0 for d in lesion_doses), 2)
        provenance["dose_ml"] = [CALCIUM_RULE]
    else:
        dose_policy = "intratumoural-step"
        for volume, (a, b) in zip(volumes_cm3, diameters_mm, strict=True):
            mg, rule_id = it_cisplatin_mg(rules, volume)
            low, high = it_dose_range(lambda v: it_cisplatin_mg(rules, v)[0], a, b)
            lesion_doses.append(
                LesionDose(
                    volume_cm3=round(volume, 3),
                    dose_mg=round(mg, 2),
                    rule_id=rule_id,
                    dose_if_1mm_smaller=round(low, 2),
                    dose_if_1mm_larger=round(high, 2),
                )
            )
        dose_mg = round(sum(d.dose_mg or 0.0 for d in lesion_doses), 2)
        provenance["dose_mg"] = ["dose.it_cisplatin"]

    cumulative: float | None = None
    if options.drug is Drug.BLEOMYCIN:
        cumulative = patient.prior_bleomycin_iu + (dose_iu or 0.0)
        limit = rules.number("dose.cumulative_bleomycin_limit")
        warning = rules.number("dose.cumulative_bleomycin_warning")
        provenance["cumulative_bleomycin_iu"] = [
            "dose.cumulative_bleomycin_warning",
            "dose.cumulative_bleomycin_limit",
        ]
        if cumulative > limit:
            left = max(0.0, limit - patient.prior_bleomycin_iu)
            findings.append(
                _finding(
                    rules,
                    "dose.cumulative_bleomycin_limit",
                    Severity.CONTRAINDICATION,
                    f"lifetime bleomycin would reach {number(cumulative, 'IU', digits=0)}, "
                    f"above the {number(limit, 'IU', digits=0)} limit "
                    f"({number(left, 'IU', digits=0)} left)",
                )
            )
        elif cumulative > warning:
            findings.append(
                _finding(
                    rules,
                    "dose.cumulative_bleomycin_warning",
                    Severity.CAUTION,
                    f"lifetime bleomycin would reach {number(cumulative, 'IU', digits=0)}, "
                    f"above {number(warning, 'IU', digits=0)}: pulmonary toxicity rises",
                )
            )

    window = pulse_window(rules, route, patient.age, options.window)
    provenance["pulse_window_min"] = [window.rule_id] + (
        ["option:window"] if options.window is not WindowVariant.STANDARD else []
    )
    if options.window is WindowVariant.PK and patient.age is None:
        warnings.append("age unknown: standard pulse window instead of the PK variant")

    status = status_of(findings)
    plan_window: tuple[float, float] | None = (window.start_min, window.end_min)
    if status is EligibilityStatus.CONTRAINDICATED:
        dose_iu = dose_mg = dose_ml = per_m2 = None
        deciding = None
        plan_window = None
        lesion_doses = [LesionDose(volume_cm3=d.volume_cm3) for d in lesion_doses]
        for key in ("dose_iu", "dose_mg", "dose_ml", "pulse_window_min"):
            provenance.pop(key, None)
        warnings.append("contraindicated: no dose is given")

    return DosePlan(
        rule_set=rules.id,
        rule_set_chain=rules.chain,
        rule_set_title=rules.title,
        patient_id=patient.patient_id,
        age_years=patient.age,
        bsa_m2=bsa,
        bsa_formula=formula,
        creatinine_clearance_ml_min=round(crcl, 1) if crcl is not None else None,
        creatinine_clearance_method=crcl_method,
        drug=options.drug,
        route=route,
        dose_iu=dose_iu,
        dose_mg=dose_mg,
        dose_ml=dose_ml,
        dose_per_m2_iu=per_m2,
        standard_dose_per_m2_iu=standard,
        dose_policy=dose_policy,
        dose_reduction=reduction,
        dose_rule=deciding,
        specialist_override=override,
        lesion_doses=lesion_doses,
        cumulative_bleomycin_iu=cumulative,
        pulse_window_min=plan_window,
        eligibility=Eligibility(status=status, findings=findings),
        warnings=warnings,
        provenance=provenance,
        rules=[],
        software={"openect": __version__},
    )


#: The words of the one warning that lists the plan's rules to verify locally.
TO_VERIFY_NOTE = "rule(s) behind this plan are to verify locally"
#: The rule of the calcium electroporation dose.
CALCIUM_RULE = "dose.it_calcium"


def _crcl_weight(rules: RuleSet) -> CrclWeight:
    """The weight Cockcroft-Gault uses by the rule ``dose.crcl_weight``."""
    value = rules.table("dose.crcl_weight").get("weight")
    allowed = tuple(w.value for w in CrclWeight)
    if value not in allowed:
        raise RuleError(
            f"rule dose.crcl_weight of rule set {rules.id!r}: weight is {value!r}; "
            f"allowed: {', '.join(allowed)}"
        )
    return CrclWeight(value)


def _renal_stop(
    rules: RuleSet, dialysis: bool, crcl: float | None, override: str | None
) -> Finding | None:
    """The stop of intravenous bleomycin below ``dose.iv_renal_stop`` or on dialysis: a
    contraindication, or with a specialist's recorded decision a caution quoting it."""
    threshold = rules.number("dose.iv_renal_stop")
    reasons = (["on dialysis"] if dialysis else []) + (
        [f"creatinine clearance {number(crcl, 'mL/min')} < {number(threshold, 'mL/min')}"]
        if crcl is not None and crcl < threshold
        else []
    )
    if not reasons:
        return None
    why = " and ".join(reasons)
    if override and "dose.iv_renal_stop" in overridable(rules):
        message = overridden(f"{why}: intravenous bleomycin", override)
        return _finding(rules, "dose.iv_renal_stop", Severity.CAUTION, message)
    return _finding(
        rules,
        "dose.iv_renal_stop",
        Severity.CONTRAINDICATION,
        f"{why}: no intravenous bleomycin without a specialist's recorded decision "
        "(specialist_override); bleomycin is cleared by the kidneys",
    )


def _cite(plan: DosePlan, rules: RuleSet, extra: set[str]) -> None:
    """Fill ``plan.rules`` with every rule behind the plan; warn about unverified ones."""
    used = {rule_id for ids in plan.provenance.values() for rule_id in ids}
    used |= {finding.rule_id for finding in plan.eligibility.findings} | extra
    used = {rule_id for rule_id in used if not rule_id.startswith("option:")}
    unverified = sorted(r for r in used if rules.rule(r).status is RuleStatus.TO_VERIFY)
    if unverified:
        plan.warnings.append(f"{len(unverified)} {TO_VERIFY_NOTE}: " + ", ".join(unverified))
    plan.rules = rules.describe(sorted(used))


def dose_plan(
    patient: PatientToPlan,
    options: PlanOptions,
    lesion_diameters_mm: Sequence[tuple[float, float]] = (),
) -> DosePlan:
    """``openect plan dose``: route from the options (default intravenous) and, for the
    intratumoural route, one (longest, perpendicular) diameter pair (mm) per lesion."""
    rules = load_rule_set(options.rules)
    plan = plan_dose(
        patient, options, options.route or Route.INTRAVENOUS, lesion_diameters_mm, rules
    )
    _cite(plan, rules, set())
    return plan


def plan_session(
    request: SessionRequest,
    rules: RuleSet | None = None,
    applications: Mapping[str, int] | None = None,
) -> SessionPlan:
    """Plan one ECT session for ``request`` under ``rules`` (default: ``options.rules``).

    ``applications`` (lesion id -> count) replaces the rules' estimate of the electrode
    applications of those lesions, e.g. by the counts of the lesion coverage planner;
    the time budget then uses them.
    """
    options, patient, lesions = request.options, request.patient, request.lesions
    rules = rules if rules is not None else load_rule_set(options.rules)

    suggested, why = suggest_route(rules, lesions)
    if options.route is None and options.drug is Drug.CISPLATIN:
        route, route_reason = Route.INTRATUMOURAL, "cisplatin is given intratumourally only"
        route_rules = ["option:drug"]
    elif options.route is None and options.drug is Drug.CALCIUM_CHLORIDE:
        route = Route.INTRATUMOURAL
        route_reason = "calcium chloride is injected into the tumour only"
        route_rules = ["option:drug"]
    elif options.route is None:
        route, route_reason, route_rules = suggested, why, ["route.choice"]
    else:
        route = options.route
        route_reason = f"chosen (suggested: {suggested.value}, {why})"
        route_rules = ["option:route"]
    diameters = [(les.longest_diameter_mm, les.perpendicular_diameter_mm) for les in lesions]
    dose = plan_dose(patient, options, route, diameters, rules)
    anaesthesia, anaesthesia_reason = suggest_anaesthesia(rules, lesions)
    oxygen = oxygen_advice(rules, anaesthesia, options.drug)

    margin, margin_rule = rules.number_or_option("margin_mm", options.margin_mm, "coverage.margin")
    electrodes = [plan_electrode(rules, lesion, margin, margin_rule) for lesion in lesions]
    on = patient.session_date or dt.date.today()
    min_interval = rules.number("retreatment.min_interval_days")
    for index, lesion in enumerate(lesions):
        if lesion.last_treated_date is None:
            continue
        days = (on - lesion.last_treated_date).days
        if days < min_interval:
            estimate = electrodes[index]
            electrodes[index] = replace(
                estimate,
                notes=[
                    *estimate.notes,
                    f"re-treated {days} days after its last session (< {min_interval:g}): "
                    "the response to that session cannot be judged yet "
                    "(retreatment.min_interval_days)",
                ],
                rule_ids=[*estimate.rule_ids, "retreatment.min_interval_days"],
            )
    for index, lesion in enumerate(lesions):
        if applications is not None and lesion.lesion_id in applications:
            count = int(applications[lesion.lesion_id])
            if count < 1:
                raise ValueError(f"applications[{lesion.lesion_id!r}]={count}: must be >= 1")
            estimate = electrodes[index]
            electrodes[index] = replace(
                estimate,
                applications=count,
                rule_ids=[*estimate.rule_ids, "option:applications"],
                footprint_source="coverage planner placement of this lesion",
            )

    window = pulse_window(rules, route, patient.age, options.window)
    per_application, time_rule = rules.number_or_option(
        "minutes_per_application", options.minutes_per_application, "time.per_application"
    )
    time_rules = [time_rule]
    budget = time_budget(
        lesions,
        [e.applications for e in electrodes],
        per_application,
        window.minutes,
        route,
        [*time_rules, window.rule_id],
    )
    warnings = list(dose.warnings)
    if not budget.fits:
        warnings.append(budget.note)

    lesion_doses = dose.lesion_doses or [
        LesionDose(volume_cm3=round(ellipsoid_volume_cm3(a, b), 3)) for a, b in diameters
    ]
    lesion_plans: list[LesionPlan] = []
    for lesion, electrode, lesion_dose in zip(lesions, electrodes, lesion_doses, strict=True):
        warnings.extend(f"{lesion.lesion_id}: {note}" for note in electrode.notes)
        lesion_plans.append(
            LesionPlan(
                lesion_id=lesion.lesion_id,
                longest_diameter_mm=lesion.longest_diameter_mm,
                perpendicular_diameter_mm=lesion.perpendicular_diameter_mm,
                thickness_mm=lesion.thickness_mm,
                volume_cm3=lesion_dose.volume_cm3,
                electrode=electrode.electrode.value,
                needle_length_mm=electrode.needle_length_mm,
                voltage_v=electrode.voltage_v,
                pulses=electrode.pulses,
                pulse_duration_us=electrode.pulse_duration_us,
                frequency_hz=electrode.frequency_hz,
                applications=electrode.applications,
                target_area_cm2=electrode.target_area_cm2,
                footprint_cm2=electrode.footprint_cm2,
                footprint_source=electrode.footprint_source,
                dose_iu=lesion_dose.dose_iu,
                dose_mg=lesion_dose.dose_mg,
                dose_ml=lesion_dose.dose_ml,
                dose_if_1mm_smaller=lesion_dose.dose_if_1mm_smaller,
                dose_if_1mm_larger=lesion_dose.dose_if_1mm_larger,
                priority=priority(lesion),
                course_number=lesion.courses_before + 1,
                days_since_last_session=(on - lesion.last_treated_date).days
                if lesion.last_treated_date is not None
                else None,
                rule_ids=electrode.rule_ids
                + ([lesion_dose.rule_id] if lesion_dose.rule_id else []),
                notes=electrode.notes,
            )
        )
    if oxygen is not None:
        warnings.insert(0, oxygen)  # it changes what the anaesthetist does: first
    anaesthesia_rules = ["anaesthesia.choice", SITES_RULE] + (
        [OXYGEN_RULE] if oxygen is not None else []
    )
    provenance = {**dose.provenance, "route": route_rules, "anaesthesia": anaesthesia_rules}
    plan = SessionPlan(
        **{**dose.model_dump(), "warnings": warnings, "provenance": provenance},
        route_reason=route_reason,
        anaesthesia=anaesthesia,
        anaesthesia_reason=anaesthesia_reason,
        lesions=lesion_plans,
        time_budget=budget,
    )
    extra = {r for lp in lesion_plans for r in lp.rule_ids} | set(budget.rule_ids)
    _cite(plan, rules, extra)
    return plan
