"""Body-surface area, renal function, bleomycin/cisplatin doses, lifetime dose and pulse window.

Every expected value is computed by hand in the test (arithmetic in the comment) from the
published protocol figures (docs/protocol.md) and the shipped rule sets, not read back
from the code under test.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openect.data.enums import Drug, Route, Sex
from openect.protocol.body import (
    BsaFormula,
    adjusted_body_weight,
    body_surface_area,
    cockcroft_gault,
    creatinine_mg_dl,
    ideal_body_weight,
)
from openect.protocol.dose import (
    concentration_by_volume,
    ellipsoid_volume_cm3,
    it_bleomycin_iu,
    it_cisplatin_mg,
    iv_dose_per_m2,
    label_fraction,
)
from openect.protocol.eligibility import EligibilityStatus
from openect.protocol.inputs import ItPolicy, IvPolicy, PatientToPlan, PlanOptions, WindowVariant
from openect.protocol.rules import RuleSet, load_rule_set
from openect.protocol.session_plan import DosePlan, dose_plan
from openect.protocol.window import pulse_window

ESOPE = load_rule_set("esope-2006")
SOP = load_rule_set("sop-2018")


#: Lung function checked today (DLCO 90 % of predicted, chest imaging): no lung finding.
LUNGS_CHECKED: dict[str, object] = {
    "dlco_percent_predicted": 90,
    "dlco_date": dt.date.today(),
    "chest_imaging_date": dt.date.today(),
}


def patient(**fields: object) -> PatientToPlan:
    """A 40-year-old man of 180 cm and 80 kg (Mosteller 2.00 m2) whose lungs were checked
    today, changed by ``fields``."""
    values: dict[str, object] = {
        "age_years": 40,
        "sex": "M",
        "height_cm": 180,
        "weight_kg": 80,
        **LUNGS_CHECKED,
    }
    values.update(fields)
    return PatientToPlan.model_validate(values)


def iv_plan(rules: str = "esope-2006", **fields: object) -> DosePlan:
    names = ("iv_policy", "bsa_formula", "window", "specialist_override")
    options = {k: fields.pop(k) for k in names if k in fields}
    return dose_plan(patient(**fields), PlanOptions.model_validate({"rules": rules, **options}))


def finding_ids(plan: DosePlan) -> list[str]:
    return [finding.rule_id for finding in plan.eligibility.findings]


# ---- body-surface area -----------------------------------------------------------------


def test_mosteller_bsa_of_180_cm_80_kg_is_2_m2() -> None:
    # sqrt(180 * 80 / 3600) = sqrt(14,400 / 3,600) = sqrt(4) = 2.00 m2
    assert body_surface_area(180, 80, BsaFormula.MOSTELLER) == pytest.approx(2.0)


def test_dubois_bsa_of_180_cm_80_kg() -> None:
    # 0.007184 * 80^0.425 * 180^0.725 = 0.007184 * 6.43892 * 43.15912 = 1.99642 m2
    assert body_surface_area(180, 80, BsaFormula.DUBOIS) == pytest.approx(1.99642, abs=1e-5)


def test_mosteller_and_dubois_differ_for_a_short_heavy_patient() -> None:
    # Mosteller: sqrt(160 * 100 / 3600) = sqrt(4.4444) = 2.10819 m2
    # DuBois: 0.007184 * 100^0.425 * 160^0.725 = 0.007184 * 7.07946 * 39.62698 = 2.01536 m2
    assert body_surface_area(160, 100, BsaFormula.MOSTELLER) == pytest.approx(2.10819, abs=1e-5)
    assert body_surface_area(160, 100, BsaFormula.DUBOIS) == pytest.approx(2.01536, abs=1e-5)


@pytest.mark.parametrize(("height", "weight"), [(0, 70), (170, 0), (-1, 70)])
def test_bsa_needs_positive_height_and_weight(height: float, weight: float) -> None:
    with pytest.raises(ValueError, match="must be > 0"):
        body_surface_area(height, weight, BsaFormula.MOSTELLER)


# ---- creatinine clearance --------------------------------------------------------------


def test_cockcroft_gault_man_70_years_70_kg_creatinine_1_mg_dl() -> None:
    # (140 - 70) * 70 / (72 * 1.0) = 4,900 / 72 = 68.06 mL/min
    assert cockcroft_gault(70, 70, Sex.M, 1.0) == pytest.approx(68.0556, abs=1e-4)


def test_cockcroft_gault_woman_is_0_85_of_the_man() -> None:
    # 68.0556 * 0.85 = 57.85 mL/min
    assert cockcroft_gault(70, 70, Sex.F, 1.0) == pytest.approx(57.8472, abs=1e-4)


def test_cockcroft_gault_sex_x_takes_the_cautious_female_factor() -> None:
    assert cockcroft_gault(70, 70, Sex.X, 1.0) == pytest.approx(57.8472, abs=1e-4)


def test_cockcroft_gault_needs_positive_creatinine() -> None:
    with pytest.raises(ValueError, match="must be > 0"):
        cockcroft_gault(70, 70, Sex.M, 0.0)


def test_88_42_umol_per_l_is_1_mg_dl() -> None:
    # 88.42 / 88.42 = 1.0 mg/dL; 176.84 / 88.42 = 2.0 mg/dL
    assert creatinine_mg_dl(88.42) == pytest.approx(1.0)
    assert creatinine_mg_dl(176.84) == pytest.approx(2.0)


def test_patient_clearance_from_mg_dl_umol_l_or_measured() -> None:
    # 70 y, 70 kg, man, 1.0 mg/dL = 88.42 umol/L -> 4,900 / 72 = 68.06 mL/min
    by_mg = patient(age_years=70, weight_kg=70, creatinine_mg_dl=1.0)
    by_umol = patient(age_years=70, weight_kg=70, creatinine_umol_l=88.42)
    measured = patient(creatinine_clearance_ml_min=42.0)
    assert by_mg.creatinine_clearance == pytest.approx(68.0556, abs=1e-4)
    assert by_umol.creatinine_clearance == pytest.approx(68.0556, abs=1e-4)
    assert measured.creatinine_clearance == 42.0
    assert patient().creatinine_clearance is None


def test_devine_ideal_and_adjusted_body_weight() -> None:
    # 170 cm = 66.93 in: woman 45.5 + 2.3 * 6.93 = 61.44 kg; man 50 + 15.94 = 65.94 kg
    assert ideal_body_weight(170, Sex.F) == pytest.approx(61.437, abs=1e-3)
    assert ideal_body_weight(170, Sex.M) == pytest.approx(65.937, abs=1e-3)
    assert ideal_body_weight(170, Sex.X) == ideal_body_weight(170, Sex.F)  # the lower
    # 110 kg: 61.437 + 0.4 * (110 - 61.437) = 80.862 kg; below the ideal: the actual
    assert adjusted_body_weight(170, 110, Sex.F) == pytest.approx(80.862, abs=1e-3)
    assert adjusted_body_weight(170, 55, Sex.F) == 55


def test_with_a_bmi_of_30_or_more_cockcroft_gault_takes_the_adjusted_weight() -> None:
    # woman, 64 y, 170 cm, 110 kg (BMI 38.1), 1.4 mg/dL:
    # actual weight:   (140 - 64) * 110 / (72 * 1.4) * 0.85 = 70.50 mL/min -> full dose
    # adjusted weight: (140 - 64) * 80.862 / 100.8 * 0.85 = 51.82 mL/min
    obese = {"age_years": 64, "sex": "F", "height_cm": 170, "weight_kg": 110}
    plan = iv_plan("sop-2018", creatinine_mg_dl=1.4, **obese)
    assert plan.creatinine_clearance_ml_min == 51.8
    assert plan.creatinine_clearance_method == (
        "Cockcroft-Gault with the adjusted body weight 80.9 kg (BMI 38.1 >= 30; "
        "actual weight 110 kg)"
    )
    assert patient(creatinine_mg_dl=1.4, **obese).creatinine_clearance == pytest.approx(
        70.496, abs=1e-3
    )
    # BMI under 30: the actual weight (80 kg, 180 cm: BMI 24.7)
    lean = iv_plan("sop-2018", creatinine_mg_dl=1.0)
    assert lean.creatinine_clearance_method == "Cockcroft-Gault with the actual weight 80 kg"
    # a measured clearance is used as given
    given = iv_plan("sop-2018", creatinine_clearance_ml_min=45, **obese)
    assert given.creatinine_clearance_method == "as given"


def test_a_birth_date_gives_the_exact_age_at_the_threshold() -> None:
    # born 1959-12-20; on 2025-06-01 the year says 66 (> 65: reduced dose), but the
    # patient is 65 (not over 65: full dose) until 2025-12-20
    by_year = iv_plan("sop-2018", age_years=None, birth_year=1959, session_date="2025-06-01")
    exact = iv_plan("sop-2018", age_years=None, birth_date="1959-12-20", session_date="2025-06-01")
    later = iv_plan("sop-2018", age_years=None, birth_date="1959-12-20", session_date="2025-12-20")
    assert (by_year.age_years, by_year.dose_per_m2_iu) == (66, 10_000)
    assert (exact.age_years, exact.dose_per_m2_iu) == (65, 15_000)
    assert (later.age_years, later.dose_per_m2_iu) == (66, 10_000)
    with pytest.raises(ValueError, match="birth_date 1959-12-20 is not in birth_year 1960"):
        patient(age_years=None, birth_date="1959-12-20", birth_year=1960)
    with pytest.raises(ValueError, match="after the session date"):
        patient(age_years=None, birth_date="2026-01-02", session_date="2026-01-01")


def test_plan_reports_the_clearance_rounded_to_0_1_ml_min() -> None:
    # woman, 70 y, 70 kg, 1.0 mg/dL: 68.0556 * 0.85 = 57.847 -> 57.8 mL/min
    plan = iv_plan(sex="F", age_years=70, weight_kg=70, creatinine_mg_dl=1.0)
    assert plan.creatinine_clearance_ml_min == 57.8


# ---- intravenous bleomycin -------------------------------------------------------------


def test_esope_iv_dose_mosteller_2_m2_is_30000_iu() -> None:
    # 15,000 IU/m2 * sqrt(180 * 80 / 3600) m2 = 15,000 * 2.00 = 30,000 IU
    plan = iv_plan()
    assert plan.route is Route.INTRAVENOUS
    assert plan.bsa_m2 == 2.0
    assert plan.bsa_formula is BsaFormula.MOSTELLER
    assert plan.dose_per_m2_iu == 15_000
    assert plan.dose_iu == 30_000
    assert plan.dose_policy == "none"


def test_esope_iv_dose_dubois_same_patient() -> None:
    # DuBois 1.99642 m2 -> 2.00 m2 (rounded to 0.01) -> 15,000 * 2.00 = 30,000 IU
    plan = iv_plan(bsa_formula="dubois")
    assert plan.bsa_formula is BsaFormula.DUBOIS
    assert plan.bsa_m2 == 2.0
    assert plan.dose_iu == 30_000
    assert plan.provenance["bsa_m2"] == ["option:bsa_formula"]


def test_bsa_formula_changes_the_dose_of_a_short_heavy_patient() -> None:
    # Mosteller 2.10819 -> 2.11 m2 -> 15,000 * 2.11 = 31,650 IU
    # DuBois 2.01536 -> 2.02 m2 -> 15,000 * 2.02 = 30,300 IU
    mosteller = iv_plan(height_cm=160, weight_kg=100)
    dubois = iv_plan(height_cm=160, weight_kg=100, bsa_formula="dubois")
    assert (mosteller.bsa_m2, mosteller.dose_iu) == (2.11, 31_650)
    assert (dubois.bsa_m2, dubois.dose_iu) == (2.02, 30_300)


def test_esope_gives_the_full_dose_to_an_old_patient_with_poor_kidneys() -> None:
    # esope-2006 policy "none": 80 y, CrCl 25 mL/min -> still 15,000 IU/m2 * 2.00 = 30,000 IU
    plan = iv_plan(age_years=80, creatinine_clearance_ml_min=25)
    assert plan.dose_iu == 30_000
    assert plan.dose_reduction == []
    # ... but the renal and age cautions are raised
    assert "eligibility.renal_caution" in finding_ids(plan)
    assert "eligibility.age_caution" in finding_ids(plan)


@pytest.mark.parametrize(
    ("age", "per_m2"),
    [
        (64, 15_000),
        (65, 15_000),  # not "over 65"
        (66, 10_000),  # 66 > 65 -> 10,000 IU/m2
        (90, 10_000),
    ],
)
def test_sop_2018_reduces_the_dose_over_65(age: int, per_m2: float) -> None:
    plan = iv_plan("sop-2018", age_years=age)
    assert plan.dose_policy == "age_label"
    assert plan.standard_dose_per_m2_iu == 15_000
    assert plan.dose_per_m2_iu == per_m2
    assert plan.dose_iu == per_m2 * 2.0  # BSA 2.00 m2


@pytest.mark.parametrize(
    ("crcl", "per_m2"),
    [
        (29.9, 7_500),  # < 30
        (30.0, 10_000),  # not < 30, but < 50
        (49.9, 10_000),
        (50.0, 13_500),  # not < 50, but < 60
        (59.9, 13_500),
        (60.0, 15_000),  # no renal row applies
        (120.0, 15_000),
    ],
)
def test_sop_2018_renal_rows(crcl: float, per_m2: float) -> None:
    dose = iv_dose_per_m2(SOP, IvPolicy.AGE_RENAL, 40, crcl)
    assert dose.per_m2_iu == per_m2
    assert "dose.iv_renal_reduction" in dose.rule_ids


def test_the_inspect_option_takes_the_lower_of_age_and_renal_reductions() -> None:
    # age 70 -> 10,000; CrCl 25 -> 7,500: min = 7,500 IU/m2 -> 7,500 * 2.00 = 15,000 IU
    plan = iv_plan("sop-2018", age_years=70, creatinine_clearance_ml_min=25, iv_policy="age_renal")
    assert plan.dose_per_m2_iu == 7_500
    assert plan.dose_iu == 15_000
    assert len(plan.dose_reduction) == 2
    assert plan.dose_rule == "dose.iv_renal_reduction"
    # age 70 -> 10,000; CrCl 55 -> 13,500: min = 10,000
    dose = iv_dose_per_m2(SOP, IvPolicy.AGE_RENAL, 70, 55)
    assert (dose.per_m2_iu, dose.deciding_rule) == (10_000, "dose.iv_age_reduction")


@pytest.mark.parametrize(
    ("crcl", "per_m2", "rule", "status"),
    [
        # the label's table: > 50 full, 40-50 70 %, 30-40 60 %, 20-30 55 %, 10-20 45 %,
        # 5-10 40 %; below 10 mL/min (dose.iv_renal_stop) no IV plan without a specialist
        (55, 15_000, None, "eligible"),
        (35, 9_000, "dose.label_renal_table", "caution"),  # 60 % of 15,000
        (15, 6_750, "dose.label_renal_table", "caution"),  # 45 %
        (8, None, None, "contraindicated"),  # stop: 40 % only by a specialist's decision
        (3, None, None, "contraindicated"),  # below the label's table as well
    ],
)
def test_sop_2018_follows_the_label_and_stops_below_10_ml_min(
    crcl: float, per_m2: float | None, rule: str | None, status: str
) -> None:
    plan = iv_plan("sop-2018", age_years=50, creatinine_clearance_ml_min=crcl)
    assert plan.dose_policy == "age_label"
    assert plan.dose_per_m2_iu == per_m2
    assert plan.dose_rule == rule
    assert plan.eligibility.status.value == status
    assert ("dose.iv_renal_stop" in finding_ids(plan)) is (crcl < 10)


def test_a_specialists_recorded_decision_lifts_the_renal_stop_not_the_label() -> None:
    decision = "Dr A. Novak (nephrology), 2026-12-01: benefit outweighs the risk"
    plan = iv_plan(
        "sop-2018", age_years=50, creatinine_clearance_ml_min=8, specialist_override=decision
    )
    assert plan.eligibility.status.value == "caution"
    assert plan.dose_per_m2_iu == 6_000  # the label's 40 % at 5-10 mL/min
    assert plan.specialist_override == decision
    stop = next(f for f in plan.eligibility.findings if f.rule_id == "dose.iv_renal_stop")
    assert stop.severity.value == "caution"
    assert decision in stop.message
    # below the label's table no decision gives a dose
    lower = iv_plan(
        "sop-2018", age_years=50, creatinine_clearance_ml_min=3, specialist_override=decision
    )
    assert lower.eligibility.status.value == "contraindicated"
    assert lower.dose_iu is None


def test_a_dlco_below_35_percent_stops_intravenous_bleomycin() -> None:
    plan = iv_plan("sop-2018", dlco_percent_predicted=30)
    assert plan.eligibility.status.value == "contraindicated"
    (stop,) = plan.eligibility.findings
    assert (stop.rule_id, stop.severity.value) == ("eligibility.lung_function", "contraindication")
    assert stop.message == (
        "DLCO 30 % of predicted < 35 %: no intravenous bleomycin (pulmonary toxicity)"
    )
    assert plan.dose_iu is None
    assert iv_plan("sop-2018", dlco_percent_predicted=35).eligibility.status.value == "eligible"


def test_missing_or_old_lung_checks_are_cautions() -> None:
    missing = iv_plan("sop-2018", dlco_percent_predicted=None, chest_imaging_date=None)
    assert missing.eligibility.status.value == "caution"
    assert [f.message for f in missing.eligibility.findings] == [
        "DLCO before bleomycin not recorded: check the lungs",
        "chest imaging before bleomycin not recorded: check the lungs",
    ]
    old = iv_plan(
        "sop-2018",
        session_date="2026-12-01",
        dlco_date="2026-05-01",  # 214 days before
        chest_imaging_date="2026-06-04",  # 180 days before: still recent enough
    )
    assert [f.message for f in old.eligibility.findings] == [
        "DLCO of 2026-05-01 is 214 days old (> 180): check the lungs again"
    ]
    # intratumoural bleomycin: no lung findings
    it = dose_plan(
        patient(dlco_percent_predicted=30),
        PlanOptions.model_validate({"rules": "sop-2018", "route": "intratumoural"}),
        [(10, 8)],
    )
    assert "eligibility.lung_function" not in finding_ids(it)


def test_dialysis_stops_an_intravenous_plan_whatever_the_clearance() -> None:
    plan = iv_plan("sop-2018", age_years=50, creatinine_clearance_ml_min=60, dialysis=True)
    assert plan.eligibility.status.value == "contraindicated"
    (stop,) = [f for f in plan.eligibility.findings if f.rule_id == "dose.iv_renal_stop"]
    assert stop.message.startswith("on dialysis: no intravenous bleomycin")
    assert plan.dose_iu is None


def test_the_lowest_reduction_wins_and_the_plan_names_it() -> None:
    # age 70 -> 10,000 IU/m2 (age); CrCl 45 -> 70 % = 10,500: the age reduction gives it
    older = iv_plan("sop-2018", age_years=70, creatinine_clearance_ml_min=45)
    assert (older.dose_per_m2_iu, older.dose_rule) == (10_000, "dose.iv_age_reduction")
    assert len(older.dose_reduction) == 2
    # age 70, CrCl 25 -> 55 % = 8,250 < 10,000: the label gives it
    renal = iv_plan("sop-2018", age_years=70, creatinine_clearance_ml_min=25)
    assert (renal.dose_per_m2_iu, renal.dose_rule) == (8_250, "dose.label_renal_table")
    # the evidence of the age reduction travels with the plan's rules
    (age_rule,) = [r for r in older.rules if r["id"] == "dose.iv_age_reduction"]
    assert "28 patients over 65" in age_rule["evidence"]
    assert "Head Neck 2018;40(1):120-125" in age_rule["source"]


def test_sop_2018_unknown_age_is_not_assessed_but_reported() -> None:
    dose = iv_dose_per_m2(SOP, IvPolicy.AGE_RENAL, None, None)
    assert dose.per_m2_iu == 15_000
    assert dose.unassessed
    assert "age unknown" in dose.unassessed[0]
    plan = dose_plan(
        PatientToPlan(height_cm=180, weight_kg=80),
        PlanOptions.model_validate({"rules": "sop-2018"}),
    )
    assert any("age unknown" in w for w in plan.warnings)
    assert any("creatinine clearance unknown" in w for w in plan.warnings)


@pytest.mark.parametrize(
    ("crcl", "fraction"),
    [
        (120.0, 1.0),
        (50.1, 1.0),  # > 50: full dose
        (50.0, 0.70),  # 40-50: 70 %
        (40.0, 0.70),
        (39.9, 0.60),  # 30-40: 60 %
        (30.0, 0.60),
        (29.9, 0.55),  # 20-30: 55 %
        (20.0, 0.55),
        (19.9, 0.45),  # 10-20: 45 %
        (10.0, 0.45),
        (9.9, 0.40),  # 5-10: 40 %
        (5.0, 0.40),
    ],
)
def test_label_renal_table_fractions(crcl: float, fraction: float) -> None:
    assert label_fraction(ESOPE, crcl) == pytest.approx(fraction)
    dose = iv_dose_per_m2(ESOPE, IvPolicy.LABEL_RENAL, 40, crcl)
    # e.g. CrCl 45: 15,000 * 0.70 = 10,500 IU/m2
    assert dose.per_m2_iu == pytest.approx(15_000 * fraction)
    assert dose.refusal is None


def test_label_renal_dose_of_a_patient_with_clearance_35() -> None:
    # 15,000 IU/m2 * 0.60 = 9,000 IU/m2; * 2.00 m2 = 18,000 IU
    plan = iv_plan(iv_policy="label_renal", creatinine_clearance_ml_min=35)
    assert plan.dose_policy == "label_renal"
    assert plan.dose_per_m2_iu == pytest.approx(9_000)
    assert plan.dose_iu == 18_000
    assert "option:iv_policy" in plan.provenance["dose_iu"]
    assert "dose.label_renal_table" in plan.provenance["dose_iu"]


def test_label_renal_below_5_ml_min_gives_no_dose() -> None:
    # 4.9 < 5: below every row of the label table -> no dose, contraindicated
    assert label_fraction(ESOPE, 4.9) is None
    dose = iv_dose_per_m2(ESOPE, IvPolicy.LABEL_RENAL, 40, 4.9)
    assert dose.per_m2_iu is None
    assert dose.refusal is not None
    plan = iv_plan(iv_policy="label_renal", creatinine_clearance_ml_min=4.9)
    assert plan.eligibility.status is EligibilityStatus.CONTRAINDICATED
    assert "dose.label_renal_table" in finding_ids(plan)
    assert plan.dose_iu is None
    assert plan.dose_per_m2_iu is None
    assert plan.pulse_window_min is None
    assert "dose_iu" not in plan.provenance


def test_clearance_messages_state_the_clearance_the_plan_reports() -> None:
    # the plan reports 49.6 mL/min; the caution and the reduction must not say "50 < 50"
    plan = iv_plan("sop-2018", creatinine_clearance_ml_min=49.6)
    assert plan.creatinine_clearance_ml_min == 49.6
    caution = next(f for f in plan.eligibility.findings if f.rule_id == "eligibility.renal_caution")
    assert "49.6" in caution.message
    assert "49.6" in plan.dose_reduction[0]
    # 4.9 mL/min is below the table's 5 mL/min row; "5 mL/min is below" contradicts the table
    refused = iv_plan(iv_policy="label_renal", creatinine_clearance_ml_min=4.9)
    refusal = next(f for f in refused.eligibility.findings if f.rule_id == "dose.label_renal_table")
    assert "4.9" in refusal.message


def test_label_renal_with_unknown_clearance_gives_the_standard_dose() -> None:
    dose = iv_dose_per_m2(ESOPE, IvPolicy.LABEL_RENAL, 40, None)
    assert dose.per_m2_iu == 15_000


# ---- intratumoural bleomycin and cisplatin ---------------------------------------------


def test_ellipsoid_volume_of_a_10_by_8_mm_lesion() -> None:
    # pi/6 * 10 * 8^2 mm3 = pi/6 * 640 = 335.10 mm3 = 0.33510 cm3
    assert ellipsoid_volume_cm3(10, 8) == pytest.approx(0.33510, abs=1e-5)
    # no perpendicular diameter: a sphere, pi/6 * 10^3 = 523.6 mm3
    assert ellipsoid_volume_cm3(10, None) == pytest.approx(0.52360, abs=1e-5)


@pytest.mark.parametrize("policy", ["step", "flat"])
def test_it_bleomycin_of_a_10_by_8_mm_lesion_is_335_iu(policy: str) -> None:
    # 0.33510 cm3 < 0.5 cm3 -> 1,000 IU/cm3 (step) or 1,000 IU/cm3 (flat) -> 335 IU
    options = PlanOptions.model_validate(
        {"rules": "esope-2006", "route": "intratumoural", "it_policy": policy}
    )
    plan = dose_plan(patient(), options, [(10, 8)])
    assert plan.route is Route.INTRATUMOURAL
    assert plan.dose_iu == 335
    assert plan.lesion_doses[0].volume_cm3 == 0.335
    assert plan.lesion_doses[0].dose_iu == 335
    assert plan.dose_policy == f"intratumoural-{policy}"


def test_it_bleomycin_step_table_for_three_sizes() -> None:
    # 10 x 8:  0.33510 cm3 * 1,000 = 335.1 -> 335 IU
    # 12 x 12: pi/6 * 12 * 144 / 1000 = 0.90478 cm3 * 500 = 452.4, but never below the
    #          1,000 IU/cm3 x 0.5 cm3 = 500 IU reached just under the step -> 500 IU
    # 15 x 14: pi/6 * 15 * 196 / 1000 = 1.53938 cm3 * 250 = 384.8, but never below
    #          500 IU/cm3 x 1.0 cm3 = 500 IU -> 500 IU
    options = PlanOptions.model_validate({"rules": "esope-2006", "route": "intratumoural"})
    plan = dose_plan(patient(), options, [(10, 8), (12, 12), (15, 14)])
    assert [d.dose_iu for d in plan.lesion_doses] == [335, 500, 500]
    assert plan.dose_iu == 335 + 500 + 500
    assert plan.provenance["dose_iu"] == ["dose.it_bleomycin", "dose.it_policy"]


def test_it_bleomycin_flat_policy_for_three_sizes() -> None:
    # flat 1,000 IU/cm3: 335.1 -> 335; 904.8 -> 905; 1,539.4 -> 1,539 IU
    options = PlanOptions.model_validate(
        {"rules": "esope-2006", "route": "intratumoural", "it_policy": "flat"}
    )
    plan = dose_plan(patient(), options, [(10, 8), (12, 12), (15, 14)])
    assert [d.dose_iu for d in plan.lesion_doses] == [335, 905, 1539]
    assert plan.provenance["dose_iu"] == ["dose.it_bleomycin_flat", "option:it_policy"]


@pytest.mark.parametrize(
    ("volume", "iu_per_cm3", "total_iu"),
    [
        (0.4999, 1000, 499.9),  # V < 0.5: 1,000 IU/cm3
        (0.5, 500, 500.0),  # 0.5 <= V <= 1: 500 IU/cm3, but never below 1,000 x 0.5
        (0.5001, 500, 500.0),
        (0.9999, 500, 500.0),
        (1.0, 500, 500.0),  # 1.0 is still in the middle band: 500 x 1.0
        (1.0001, 250, 500.0),  # V > 1: 250 IU/cm3, but never below 500 x 1.0
        (2.0, 250, 500.0),  # 250 x 2 overtakes the carried 500 IU here
        (5.0, 250, 1250.0),
    ],
)
def test_it_bleomycin_volume_step_boundaries(
    volume: float, iu_per_cm3: float, total_iu: float
) -> None:
    assert concentration_by_volume(ESOPE, "dose.it_bleomycin", "iu_per_cm3", volume) == iu_per_cm3
    iu, rule_id = it_bleomycin_iu(ESOPE, ItPolicy.STEP, volume)
    assert iu == pytest.approx(total_iu)
    assert rule_id == "dose.it_bleomycin"


@pytest.mark.parametrize(
    ("volume", "total_mg"),
    [(0.4999, 0.9998), (0.5, 1.0), (1.0, 1.0), (1.0001, 1.0), (2.0, 1.0), (3.0, 1.5)],
)
def test_it_cisplatin_volume_step_boundaries(volume: float, total_mg: float) -> None:
    mg, rule_id = it_cisplatin_mg(ESOPE, volume)
    assert mg == pytest.approx(total_mg)
    assert rule_id == "dose.it_cisplatin"


def test_it_cisplatin_step_table_for_three_sizes() -> None:
    # 0.33510 * 2 mg = 0.67 mg; 0.90478 * 1 mg = 0.90 mg, but never below 2 mg x 0.5 cm3
    # = 1.0 mg; 1.53938 * 0.5 mg = 0.77 mg, but never below 1 mg x 1.0 cm3 = 1.0 mg
    options = PlanOptions.model_validate(
        {"rules": "esope-2006", "route": "intratumoural", "drug": "cisplatin"}
    )
    plan = dose_plan(patient(), options, [(10, 8), (12, 12), (15, 14)])
    assert plan.drug is Drug.CISPLATIN
    assert [d.dose_mg for d in plan.lesion_doses] == [0.67, 1.0, 1.0]
    assert plan.dose_mg == pytest.approx(0.67 + 1.0 + 1.0)
    assert plan.dose_iu is None
    assert plan.cumulative_bleomycin_iu is None
    assert plan.provenance["dose_mg"] == ["dose.it_cisplatin"]


def test_a_nodule_1_mm_larger_never_gets_half_the_dose() -> None:
    # The ESOPE table read literally (concentration x volume) halves the total at
    # 0.5 cm3: a round 9.8 mm nodule (0.493 cm3) 493 IU, a 9.9 mm one (0.508 cm3) 254 IU.
    literal = [
        concentration_by_volume(ESOPE, "dose.it_bleomycin", "iu_per_cm3", v) * v
        for v in (ellipsoid_volume_cm3(9.8, None), ellipsoid_volume_cm3(9.9, None))
    ]
    assert [round(x) for x in literal] == [493, 254]
    # The plan carries the total over the step: 493 IU, then 500 IU.
    options = PlanOptions.model_validate({"rules": "esope-2006", "route": "intratumoural"})
    plan = dose_plan(patient(), options, [(9.8, 9.8), (9.9, 9.9)])
    assert [d.dose_iu for d in plan.lesion_doses] == [493, 500]
    # ... and says how far a 1 mm error moves it: 8.8 mm -> 0.357 cm3 -> 357 IU,
    # 10.8 mm -> 0.660 cm3 -> 500 IU (carried over the 0.5 cm3 step).
    first = plan.lesion_doses[0]
    assert (first.dose_if_1mm_smaller, first.dose_if_1mm_larger) == (357, 500)


@pytest.mark.parametrize("rule_set", ["esope-2006", "sop-2018"])
def test_the_intratumoural_total_never_falls_as_the_volume_grows(rule_set: str) -> None:
    rules = load_rule_set(rule_set)
    volumes = [i / 1000 for i in range(1, 5001)]  # 0.001 to 5 cm3, 0.001 steps
    totals = [it_bleomycin_iu(rules, ItPolicy.STEP, v)[0] for v in volumes]
    assert all(b >= a for a, b in itertools.pairwise(totals))
    mg = [it_cisplatin_mg(rules, v)[0] for v in volumes]
    assert all(b >= a for a, b in itertools.pairwise(mg))


def test_calcium_electroporation_injects_half_a_millilitre_per_cm3() -> None:
    # 20 x 15 mm: pi/6 * 20 * 15^2 = 2,356.2 mm3 = 2.356 cm3 -> 0.5 mL/cm3 = 1.18 mL
    # 8 x 8 mm:   pi/6 * 8^3 = 268.1 mm3 = 0.268 cm3 -> 0.13 mL
    options = PlanOptions.model_validate(
        {"rules": "sop-2018", "route": "intratumoural", "drug": "calcium_chloride"}
    )
    plan = dose_plan(patient(), options, [(20, 15), (8, 8)])
    assert [d.dose_ml for d in plan.lesion_doses] == [1.18, 0.13]
    assert plan.dose_ml == 1.31
    assert (plan.dose_iu, plan.dose_mg, plan.cumulative_bleomycin_iu) == (None, None, None)
    assert plan.dose_policy == "intratumoural-calcium"
    assert plan.provenance["dose_ml"] == ["dose.it_calcium"]
    assert plan.pulse_window_min == (0, 10)
    cited = {r["id"]: r for r in plan.rules}
    assert "Acta Oncol 2018;57(3):311-319" in cited["dose.it_calcium"]["source"]
    assert "37 cutaneous metastases" in cited["dose.it_calcium"]["evidence"]
    # never intravenously; bleomycin's own contraindications do not apply to calcium
    with pytest.raises(ValueError, match="calcium chloride into the tumour only"):
        dose_plan(patient(), options.model_copy(update={"route": Route.INTRAVENOUS}), [(20, 15)])
    allergic = patient(contraindications={"bleomycin_hypersensitivity": True})
    assert dose_plan(allergic, options, [(20, 15)]).eligibility.status.value == "eligible"
    bleomycin = PlanOptions.model_validate({"rules": "sop-2018", "route": "intratumoural"})
    stopped = dose_plan(allergic, bleomycin, [(20, 15)])
    assert stopped.eligibility.status.value == "contraindicated"


def test_cisplatin_is_never_given_intravenously() -> None:
    options = PlanOptions.model_validate({"drug": "cisplatin", "route": "intravenous"})
    with pytest.raises(ValueError, match="cisplatin"):
        dose_plan(patient(), options)


def test_intratumoural_dose_needs_the_lesion_diameters() -> None:
    options = PlanOptions.model_validate({"route": "intratumoural"})
    with pytest.raises(ValueError, match="diameters"):
        dose_plan(patient(), options, [])


# ---- lifetime bleomycin ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("prior", "status", "finding"),
    [
        # this session: 15,000 IU/m2 * 2.00 m2 = 30,000 IU
        (369_999, EligibilityStatus.ELIGIBLE, None),  # 399,999
        (370_000, EligibilityStatus.ELIGIBLE, None),  # 400,000: not above the warning
        (370_001, EligibilityStatus.CAUTION, "dose.cumulative_bleomycin_warning"),  # 400,001
        (469_999, EligibilityStatus.CAUTION, "dose.cumulative_bleomycin_warning"),  # 499,999
        (470_000, EligibilityStatus.CAUTION, "dose.cumulative_bleomycin_warning"),  # 500,000
    ],
)
def test_cumulative_bleomycin_warning_boundaries(
    prior: float, status: EligibilityStatus, finding: str | None
) -> None:
    plan = iv_plan(prior_bleomycin_iu=prior)
    assert plan.cumulative_bleomycin_iu == prior + 30_000
    assert plan.eligibility.status is status
    assert plan.dose_iu == 30_000
    expected = [] if finding is None else [finding]
    assert finding_ids(plan) == expected


def test_cumulative_bleomycin_above_500000_is_contraindicated_without_a_dose() -> None:
    # 470,001 + 30,000 = 500,001 IU > 500,000 IU: no dose; 29,999 IU left
    plan = iv_plan(prior_bleomycin_iu=470_001)
    assert plan.cumulative_bleomycin_iu == 500_001
    assert plan.eligibility.status is EligibilityStatus.CONTRAINDICATED
    assert finding_ids(plan) == ["dose.cumulative_bleomycin_limit"]
    assert "29\u202f999\u00a0IU left" in plan.eligibility.findings[0].message
    assert plan.dose_iu is None
    assert plan.dose_per_m2_iu is None
    assert plan.pulse_window_min is None
    assert "dose_iu" not in plan.provenance
    assert any("no dose" in w for w in plan.warnings)


def test_cumulative_limit_counts_the_intratumoural_dose_too() -> None:
    # 499,700 + 335 IU = 500,035 IU > 500,000; 499,665 + 335 = 500,000 is only a caution
    options = PlanOptions.model_validate({"rules": "esope-2006", "route": "intratumoural"})
    over = dose_plan(patient(prior_bleomycin_iu=499_700), options, [(10, 8)])
    at = dose_plan(patient(prior_bleomycin_iu=499_665), options, [(10, 8)])
    assert over.eligibility.status is EligibilityStatus.CONTRAINDICATED
    assert over.dose_iu is None
    assert over.lesion_doses[0].dose_iu is None
    assert at.eligibility.status is EligibilityStatus.CAUTION
    assert at.dose_iu == 335


# ---- pulse window ----------------------------------------------------------------------


def window_of(route: Route, age: int | None, variant: WindowVariant) -> tuple[float, float, str]:
    w = pulse_window(ESOPE, route, age, variant)
    return w.start_min, w.end_min, w.rule_id


def test_iv_window_is_8_to_28_minutes_after_the_bolus() -> None:
    assert window_of(Route.INTRAVENOUS, 40, WindowVariant.STANDARD) == (8, 28, "window.iv")
    assert window_of(Route.INTRAVENOUS, 80, WindowVariant.STANDARD) == (8, 28, "window.iv")
    assert pulse_window(ESOPE, Route.INTRAVENOUS, 40, WindowVariant.STANDARD).minutes == 20


@pytest.mark.parametrize("variant", list(WindowVariant))
def test_it_window_is_0_to_10_minutes_after_the_injection(variant: WindowVariant) -> None:
    assert window_of(Route.INTRATUMOURAL, 80, variant) == (0, 10, "window.it")


@pytest.mark.parametrize(
    ("age", "window"),
    [
        (66, (8, 40, "window.iv_pk_over_65")),  # over 65: 8-40 min
        (65, (8, 28, "window.iv")),  # exactly 65: the standard window
        (64, (5, 15, "window.iv_pk_under_65")),  # under 65: 5-15 min
        (None, (8, 28, "window.iv")),  # age unknown: the standard window
    ],
)
def test_pk_window_variants_by_age(age: int | None, window: tuple[float, float, str]) -> None:
    assert window_of(Route.INTRAVENOUS, age, WindowVariant.PK) == window


def test_plan_records_the_pk_window_and_the_option() -> None:
    plan = iv_plan(age_years=70, window="pk")
    assert plan.pulse_window_min == (8, 40)
    assert plan.provenance["pulse_window_min"] == ["window.iv_pk_over_65", "option:window"]
    unknown = dose_plan(
        PatientToPlan(height_cm=180, weight_kg=80), PlanOptions.model_validate({"window": "pk"})
    )
    assert unknown.pulse_window_min == (8, 28)
    assert any("standard pulse window" in w for w in unknown.warnings)


# ---- properties ------------------------------------------------------------------------

heights = st.floats(min_value=50, max_value=250, allow_nan=False)
weights = st.floats(min_value=20, max_value=300, allow_nan=False)
formulas = st.sampled_from(list(BsaFormula))


@given(formula=formulas, weight=weights, h1=heights, h2=heights)
def test_iv_dose_never_decreases_with_height(
    formula: BsaFormula, weight: float, h1: float, h2: float
) -> None:
    low, high = sorted((h1, h2))
    assert body_surface_area(low, weight, formula) <= body_surface_area(high, weight, formula)
    options = PlanOptions(rules="esope-2006", bsa_formula=formula)
    small = dose_plan(patient(height_cm=low, weight_kg=weight), options)
    large = dose_plan(patient(height_cm=high, weight_kg=weight), options)
    assert small.dose_iu is not None
    assert large.dose_iu is not None
    assert small.dose_iu <= large.dose_iu


@given(formula=formulas, height=heights, w1=weights, w2=weights)
def test_iv_dose_never_decreases_with_weight(
    formula: BsaFormula, height: float, w1: float, w2: float
) -> None:
    low, high = sorted((w1, w2))
    assert body_surface_area(height, low, formula) <= body_surface_area(height, high, formula)
    options = PlanOptions(rules="esope-2006", bsa_formula=formula)
    small = dose_plan(patient(height_cm=height, weight_kg=low), options)
    large = dose_plan(patient(height_cm=height, weight_kg=high), options)
    assert small.dose_iu is not None
    assert large.dose_iu is not None
    assert small.dose_iu <= large.dose_iu


@given(
    rules=st.sampled_from([ESOPE, SOP]),
    policy=st.sampled_from(list(IvPolicy)),
    age=st.none() | st.integers(min_value=0, max_value=120),
    crcl=st.none() | st.floats(min_value=0.01, max_value=300, allow_nan=False),
)
def test_reduced_iv_dose_never_exceeds_the_standard_dose(
    rules: RuleSet, policy: IvPolicy, age: int | None, crcl: float | None
) -> None:
    dose = iv_dose_per_m2(rules, policy, age, crcl)
    assert dose.standard_per_m2_iu == 15_000
    assert dose.per_m2_iu is None or 0 < dose.per_m2_iu <= dose.standard_per_m2_iu


@settings(max_examples=50)
@given(
    policy=st.sampled_from(list(IvPolicy)),
    formula=formulas,
    age=st.integers(min_value=18, max_value=100),
    crcl=st.none() | st.floats(min_value=0.01, max_value=300, allow_nan=False),
    height=heights,
    weight=weights,
)
def test_planned_iv_dose_never_exceeds_the_standard_dose_for_the_same_bsa(
    policy: IvPolicy,
    formula: BsaFormula,
    age: int,
    crcl: float | None,
    height: float,
    weight: float,
) -> None:
    options = PlanOptions(rules="sop-2018", iv_policy=policy, bsa_formula=formula)
    plan = dose_plan(
        patient(
            age_years=age, height_cm=height, weight_kg=weight, creatinine_clearance_ml_min=crcl
        ),
        options,
    )
    assert plan.dose_iu is None or plan.dose_iu <= round(15_000 * plan.bsa_m2)


@given(
    a=st.floats(min_value=0.01, max_value=100, allow_nan=False),
    b=st.floats(min_value=0.01, max_value=100, allow_nan=False),
)
def test_it_dose_grows_with_lesion_volume_under_the_flat_policy(a: float, b: float) -> None:
    low, high = sorted((a, b))
    assert (
        it_bleomycin_iu(ESOPE, ItPolicy.FLAT, low)[0]
        <= it_bleomycin_iu(ESOPE, ItPolicy.FLAT, high)[0]
    )


@given(
    band=st.sampled_from([(0.001, 0.4999), (0.5, 1.0), (1.0001, 100.0)]),
    data=st.data(),
)
def test_it_dose_grows_with_lesion_volume_within_a_step(
    band: tuple[float, float], data: st.DataObject
) -> None:
    volume = st.floats(min_value=band[0], max_value=band[1], allow_nan=False)
    low, high = sorted((data.draw(volume), data.draw(volume)))
    for policy in ItPolicy:
        assert it_bleomycin_iu(ESOPE, policy, low)[0] <= it_bleomycin_iu(ESOPE, policy, high)[0]
    assert it_cisplatin_mg(ESOPE, low)[0] <= it_cisplatin_mg(ESOPE, high)[0]


@given(
    longest=st.floats(min_value=1, max_value=100, allow_nan=False),
    ratio=st.floats(min_value=0.1, max_value=1.0, allow_nan=False),
    growth=st.floats(min_value=1.0, max_value=3.0, allow_nan=False),
)
def test_it_dose_grows_with_lesion_diameters(longest: float, ratio: float, growth: float) -> None:
    # a larger lesion (both diameters scaled up) has a larger volume and flat dose
    small = ellipsoid_volume_cm3(longest, longest * ratio)
    large = ellipsoid_volume_cm3(longest * growth, longest * ratio * growth)
    assert small <= large
    assert (
        it_bleomycin_iu(ESOPE, ItPolicy.FLAT, small)[0]
        <= it_bleomycin_iu(ESOPE, ItPolicy.FLAT, large)[0]
    )


@given(volume=st.floats(min_value=0.001, max_value=100, allow_nan=False))
def test_step_dose_never_exceeds_the_flat_dose(volume: float) -> None:
    step, _ = it_bleomycin_iu(ESOPE, ItPolicy.STEP, volume)
    flat, _ = it_bleomycin_iu(ESOPE, ItPolicy.FLAT, volume)
    assert step <= flat + 1e-9


def test_iv_dose_is_proportional_to_rounded_bsa() -> None:
    # sanity of the rounding: 170 cm, 65 kg: sqrt(170 * 65 / 3600) = sqrt(3.0694) = 1.75198
    # -> 1.75 m2 -> 15,000 * 1.75 = 26,250 IU
    plan = iv_plan(height_cm=170, weight_kg=65)
    assert math.isclose(plan.bsa_m2, 1.75)
    assert plan.dose_iu == 26_250
