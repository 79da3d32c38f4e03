"""Eligibility: hard stops and cautions, each with its rule id, message and source."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from openect.data.enums import Drug
from openect.errors import RuleError
from openect.protocol.inputs import Contraindications, PatientToPlan
from openect.protocol.rules import RuleSet


class Severity(StrEnum):
    """How much a finding weighs: a hard stop, or a caution to weigh."""

    CONTRAINDICATION = "contraindication"
    CAUTION = "caution"


class EligibilityStatus(StrEnum):
    """Overall eligibility: the most severe finding."""

    ELIGIBLE = "eligible"
    CAUTION = "caution"
    CONTRAINDICATED = "contraindicated"


class Finding(BaseModel):
    """One eligibility finding."""

    model_config = ConfigDict(frozen=True)

    rule_id: str
    severity: Severity
    message: str
    source: str


def _label(flag: str) -> str:
    return flag.replace("_", " ")


def overridable(rules: RuleSet) -> frozenset[str]:
    """The stops a specialist's recorded decision may turn into a caution
    (``eligibility.overridable``: hard-stop flags and rule ids)."""
    return frozenset(rules.words("eligibility.overridable"))


def overridden(message: str, override: str) -> str:
    """The message of a stop a specialist decided to go past."""
    return f"{message}; treated by a specialist's decision: {override}"


def patient_findings(
    rules: RuleSet,
    patient: PatientToPlan,
    override: str | None = None,
    crcl: float | None = None,
    drug: Drug = Drug.BLEOMYCIN,
) -> list[Finding]:
    """Findings from the patient's flags, age and renal function.

    ``override`` (a specialist's recorded decision) turns the hard stops listed in
    ``eligibility.overridable`` into cautions that quote it; the others stay stops.
    ``crcl`` is the creatinine clearance (mL/min) the plan uses (default: the patient's,
    by Cockcroft-Gault with the actual weight). Flags about bleomycin (``bleomycin_*``)
    count only when the ``drug`` is bleomycin.
    """
    flags = patient.contraindications
    known = set(Contraindications.model_fields)
    may_override = overridable(rules)
    findings: list[Finding] = []
    for rule_id, severity in (
        ("eligibility.hard_stops", Severity.CONTRAINDICATION),
        ("eligibility.cautions", Severity.CAUTION),
    ):
        rule = rules.rule(rule_id)
        for flag in rules.words(rule_id):
            if flag not in known:
                raise RuleError(
                    f"rule {rule_id}: unknown finding {flag!r}; known: {', '.join(sorted(known))}"
                )
            if flag.startswith("bleomycin_") and drug is not Drug.BLEOMYCIN:
                continue
            if getattr(flags, flag):
                message, weight = _label(flag), severity
                if severity is Severity.CONTRAINDICATION and flag in may_override:
                    if override:
                        message, weight = overridden(message, override), Severity.CAUTION
                    else:
                        message += (
                            ": no treatment without a specialist's recorded decision "
                            "(specialist_override)"
                        )
                findings.append(
                    Finding(rule_id=rule_id, severity=weight, message=message, source=rule.source)
                )
    crcl = crcl if crcl is not None else patient.creatinine_clearance
    renal = rules.number("eligibility.renal_caution")
    if crcl is not None and crcl < renal:
        findings.append(
            Finding(
                rule_id="eligibility.renal_caution",
                severity=Severity.CAUTION,
                message=f"creatinine clearance {round(crcl, 1):g} mL/min < {renal:g} mL/min: "
                "reduce the dose per the rule set's policy",
                source=rules.rule("eligibility.renal_caution").source,
            )
        )
    age_limit = rules.number("eligibility.age_caution")
    if patient.age is not None and patient.age > age_limit:
        findings.append(
            Finding(
                rule_id="eligibility.age_caution",
                severity=Severity.CAUTION,
                message=f"age {patient.age} > {age_limit:g} years: higher risk of lung toxicity",
                source=rules.rule("eligibility.age_caution").source,
            )
        )
    return findings


def status_of(findings: list[Finding]) -> EligibilityStatus:
    """The overall status: contraindicated > caution > eligible."""
    severities = {finding.severity for finding in findings}
    if Severity.CONTRAINDICATION in severities:
        return EligibilityStatus.CONTRAINDICATED
    if Severity.CAUTION in severities:
        return EligibilityStatus.CAUTION
    return EligibilityStatus.ELIGIBLE


#: The rule on lung function before intravenous bleomycin.
LUNG_RULE = "eligibility.lung_function"


def lung_findings(rules: RuleSet, patient: PatientToPlan) -> list[Finding]:
    """Findings on lung function before intravenous bleomycin (rule
    ``eligibility.lung_function``): a DLCO below ``stop_below_percent`` of predicted is a
    stop; a DLCO or chest imaging that is missing, or older than ``max_age_days`` on the
    session date (default today), is a caution."""
    rule = rules.rule(LUNG_RULE)
    stop_below = rules.number(LUNG_RULE, "stop_below_percent")
    max_age = rules.number(LUNG_RULE, "max_age_days")
    on = patient.session_date or dt.date.today()
    findings: list[Finding] = []

    def add(severity: Severity, message: str) -> None:
        findings.append(
            Finding(rule_id=LUNG_RULE, severity=severity, message=message, source=rule.source)
        )

    dlco = patient.dlco_percent_predicted
    if dlco is not None and dlco < stop_below:
        add(
            Severity.CONTRAINDICATION,
            f"DLCO {dlco:g} % of predicted < {stop_below:g} %: no intravenous bleomycin "
            "(pulmonary toxicity)",
        )
    for label, value, when in (
        ("DLCO", dlco, patient.dlco_date),
        ("chest imaging", True, patient.chest_imaging_date),
    ):
        if value is None or when is None:
            add(Severity.CAUTION, f"{label} before bleomycin not recorded: check the lungs")
        elif (on - when).days > max_age:
            add(
                Severity.CAUTION,
                f"{label} of {when.isoformat()} is {(on - when).days} days old "
                f"(> {max_age:g}): check the lungs again",
            )
    return findings
