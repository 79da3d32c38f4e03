"""Bleomycin and cisplatin doses: intravenous per m2, intratumoural by tumour volume.

Every function returns the rule ids behind its number. Doses in IU (bleomycin) or
mg (cisplatin), volumes in cm3, clearances in mL/min, ages in years.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field

from openect.errors import RuleError
from openect.formatting import number, percent
from openect.protocol.inputs import ItPolicy, IvPolicy
from openect.protocol.rules import RuleSet


@dataclass(frozen=True)
class IvDose:
    """Intravenous bleomycin dose per m2 after the rule set's reduction policy."""

    standard_per_m2_iu: float
    per_m2_iu: float | None
    policy: IvPolicy
    reasons: list[str] = field(default_factory=list)
    rule_ids: list[str] = field(default_factory=list)
    #: Set when the policy gives no dose (e.g. clearance below the label table).
    refusal: str | None = None
    #: What the policy could not assess (unknown age or renal function).
    unassessed: list[str] = field(default_factory=list)
    #: The rule that gave the dose when a reduction applies (the lowest dose wins).
    deciding_rule: str | None = None


def ellipsoid_volume_cm3(longest_mm: float, perpendicular_mm: float | None) -> float:
    """Tumour volume V = pi/6 * a * b^2 (cm3), a longest and b perpendicular diameter (mm).

    Without a perpendicular diameter the lesion is taken as round (b = a).
    """
    b = longest_mm if perpendicular_mm is None else perpendicular_mm
    return math.pi / 6.0 * longest_mm * b * b / 1000.0


#: The policies that apply the age reduction (``dose.iv_age_reduction``).
AGE_POLICIES = frozenset({IvPolicy.AGE_RENAL, IvPolicy.AGE_LABEL})
#: The policies that apply the label's renal table (``dose.label_renal_table``).
LABEL_POLICIES = frozenset({IvPolicy.LABEL_RENAL, IvPolicy.AGE_LABEL})


def iv_dose_per_m2(
    rules: RuleSet, policy: IvPolicy, age_years: int | None, crcl_ml_min: float | None
) -> IvDose:
    """IV bleomycin IU/m2: the standard dose, reduced by age and/or renal function.

    Every reduction the policy names is computed and the lowest dose wins
    (``deciding_rule`` says which rule gave it):

    * ``age_label``: the age reduction and the label's renal table (fraction of the
      standard dose for the creatinine clearance);
    * ``label_renal``: the label's renal table only;
    * ``age_renal``: the age reduction and the reduced doses of the InspECT series for
      renal dysfunction (``dose.iv_renal_reduction``), a centre option;
    * ``none``: the standard dose.
    """
    standard = rules.number("dose.iv_bleomycin_per_m2")
    ids = ["dose.iv_bleomycin_per_m2", "dose.iv_policy"]
    if policy is IvPolicy.NONE:
        return IvDose(standard, standard, policy, [], ids)
    reasons: list[str] = []
    unassessed: list[str] = []
    candidates: list[tuple[float, str]] = []  # (dose per m2, rule id)
    if policy in AGE_POLICIES:
        age_rule = rules.table("dose.iv_age_reduction")
        ids.append("dose.iv_age_reduction")
        if age_years is None:
            unassessed.append("age unknown: age dose reduction not assessed")
        elif age_years > _number(age_rule, "age_above_years", "dose.iv_age_reduction"):
            reduced = _number(age_rule, "dose_per_m2", "dose.iv_age_reduction")
            candidates.append((reduced, "dose.iv_age_reduction"))
            reasons.append(
                f"age {age_years} > {age_rule['age_above_years']} years: "
                f"{number(reduced, 'IU/m²', digits=0)} (dose.iv_age_reduction)"
            )
    if policy is IvPolicy.AGE_RENAL and crcl_ml_min is not None:
        ids.append("dose.iv_renal_reduction")
        _check_ascending(rules, "dose.iv_renal_reduction", "crcl_below_ml_min")
        for row in rules.rows("dose.iv_renal_reduction"):
            if crcl_ml_min < _number(row, "crcl_below_ml_min", "dose.iv_renal_reduction"):
                reduced = _number(row, "dose_per_m2", "dose.iv_renal_reduction")
                candidates.append((reduced, "dose.iv_renal_reduction"))
                reasons.append(
                    f"creatinine clearance {number(crcl_ml_min)} < "
                    f"{number(row['crcl_below_ml_min'], 'mL/min')}: "
                    f"{number(reduced, 'IU/m²', digits=0)} (dose.iv_renal_reduction)"
                )
                break
    if policy in LABEL_POLICIES:
        ids.append("dose.label_renal_table")
        if crcl_ml_min is not None:
            fraction = label_fraction(rules, crcl_ml_min)
            if fraction is None:
                return IvDose(
                    standard,
                    None,
                    policy,
                    reasons,
                    ids,
                    refusal=(
                        f"creatinine clearance {number(crcl_ml_min, 'mL/min')} is below the "
                        "label's table: no intravenous bleomycin dose"
                    ),
                    unassessed=unassessed,
                    deciding_rule="dose.label_renal_table",
                )
            if fraction < 1.0:
                candidates.append((standard * fraction, "dose.label_renal_table"))
                reasons.append(
                    f"creatinine clearance {number(crcl_ml_min, 'mL/min')}: "
                    f"{percent(fraction, digits=0)} of dose = "
                    f"{number(standard * fraction, 'IU/m²', digits=0)} (dose.label_renal_table)"
                )
    lowest = min(candidates, default=None, key=lambda candidate: candidate[0])
    if lowest is None or lowest[0] >= standard:
        return IvDose(standard, standard, policy, reasons, ids, None, unassessed)
    return IvDose(standard, lowest[0], policy, reasons, ids, None, unassessed, lowest[1])


def label_fraction(rules: RuleSet, crcl_ml_min: float) -> float | None:
    """Fraction of the standard dose for a clearance (mL/min) by the label table.

    Rows are read top-down: ``crcl_above_ml_min`` is a strict bound, ``crcl_from_ml_min``
    includes its value. None when the clearance is below every row.
    """
    bounds = [
        _number(
            row,
            "crcl_above_ml_min" if "crcl_above_ml_min" in row else "crcl_from_ml_min",
            "dose.label_renal_table",
        )
        for row in rules.rows("dose.label_renal_table")
    ]
    if bounds != sorted(bounds, reverse=True) or len(set(bounds)) != len(bounds):
        raise RuleError(
            "rule dose.label_renal_table: rows must go from the highest clearance to the lowest"
        )
    for row in rules.rows("dose.label_renal_table"):
        fraction = _number(row, "fraction", "dose.label_renal_table")
        if not 0 < fraction <= 1:
            raise RuleError(f"rule dose.label_renal_table: fraction {fraction} not in (0, 1]")
        if "crcl_above_ml_min" in row:
            if crcl_ml_min > _number(row, "crcl_above_ml_min", "dose.label_renal_table"):
                return fraction
        elif crcl_ml_min >= _number(row, "crcl_from_ml_min", "dose.label_renal_table"):
            return fraction
    return None


def concentration_by_volume(rules: RuleSet, rule_id: str, key: str, volume_cm3: float) -> float:
    """Dose per cm3 from a volume step table (rows with ``volume_below_cm3``,
    ``volume_up_to_cm3`` or ``volume_above_cm3`` bounds, read top-down)."""
    for row in rules.rows(rule_id):
        if "volume_below_cm3" in row and volume_cm3 < _number(row, "volume_below_cm3", rule_id):
            return _number(row, key, rule_id)
        if "volume_up_to_cm3" in row and volume_cm3 <= _number(row, "volume_up_to_cm3", rule_id):
            return _number(row, key, rule_id)
        if "volume_above_cm3" in row and volume_cm3 > _number(row, "volume_above_cm3", rule_id):
            return _number(row, key, rule_id)
    raise RuleError(f"rule {rule_id}: no row for a volume of {volume_cm3:.3f} cm3")


def total_by_volume(rules: RuleSet, rule_id: str, key: str, volume_cm3: float) -> float:
    """Total dose for one tumour volume (cm3) from a volume step table, never less than
    the total of any smaller volume.

    A step table read literally (concentration x volume) gives less drug just above a
    step than just below it: the ESOPE bleomycin table halves the concentration at
    0.5 cm3, so 0.499 cm3 gets 499 IU and 0.5 cm3 250 IU. Here the total carries the
    largest total reached below each step (1,000 x 0.5 = 500 IU) until the band's own
    concentration overtakes it (250 IU/cm3 x 2 cm3), so the dose never falls as the
    tumour grows and a 1 mm difference in a measurement never halves it.
    """
    total = concentration_by_volume(rules, rule_id, key, volume_cm3) * volume_cm3
    for row in rules.rows(rule_id):
        for bound in ("volume_below_cm3", "volume_up_to_cm3"):
            if bound in row and _number(row, bound, rule_id) <= volume_cm3:
                edge = _number(row, bound, rule_id)
                total = max(total, _number(row, key, rule_id) * edge)
    return total


def it_bleomycin_iu(rules: RuleSet, policy: ItPolicy, volume_cm3: float) -> tuple[float, str]:
    """Intratumoural bleomycin (IU) for one tumour volume (cm3), and the rule id used
    (the step table's total never falls as the volume grows: :func:`total_by_volume`)."""
    if policy is ItPolicy.FLAT:
        return rules.number("dose.it_bleomycin_flat") * volume_cm3, "dose.it_bleomycin_flat"
    return total_by_volume(rules, "dose.it_bleomycin", "iu_per_cm3", volume_cm3), (
        "dose.it_bleomycin"
    )


def it_cisplatin_mg(rules: RuleSet, volume_cm3: float) -> tuple[float, str]:
    """Intratumoural cisplatin (mg) for one tumour volume (cm3), and the rule id used
    (the total never falls as the volume grows: :func:`total_by_volume`)."""
    return total_by_volume(rules, "dose.it_cisplatin", "mg_per_cm3", volume_cm3), (
        "dose.it_cisplatin"
    )


def it_dose_range(
    dose: Callable[[float], float],
    longest_mm: float,
    perpendicular_mm: float | None,
    error_mm: float = 1.0,
) -> tuple[float, float]:
    """The intratumoural dose for diameters ``error_mm`` smaller and larger (both
    diameters), as (low, high): how much a measurement error moves the dose.

    ``dose`` maps a volume (cm3) to a dose; diameters are floored at 0.1 mm.
    """
    b = longest_mm if perpendicular_mm is None else perpendicular_mm
    low = ellipsoid_volume_cm3(max(0.1, longest_mm - error_mm), max(0.1, b - error_mm))
    high = ellipsoid_volume_cm3(longest_mm + error_mm, b + error_mm)
    return dose(low), dose(high)


def _check_ascending(rules: RuleSet, rule_id: str, key: str) -> None:
    """Rows read top-down must have strictly increasing ``key`` bounds (the most severe
    band first), or a reordered centre table would silently give a higher dose."""
    bounds = [_number(row, key, rule_id) for row in rules.rows(rule_id)]
    if any(b <= a for a, b in itertools.pairwise(bounds)):
        raise RuleError(f"rule {rule_id}: rows must be in increasing {key} order")


def _number(row: dict[str, object], key: str, rule_id: str) -> float:
    value = row.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RuleError(f"rule {rule_id}: {key} is not a number: {value!r}")
    return float(value)
