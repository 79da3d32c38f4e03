"""Tests of ``openect.response``: response of treated skin metastases after ECT.

Each test states the clinical rule it checks. Lesions are measured with calipers:
RECIST 1.1 adapted to skin compares the longest diameter (mm), WHO the product of the
longest and perpendicular diameters (mm2). Day 0 of every hand-made register below is the
first ECT session; a visit "on day 60" is 60 days after it.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd
import pytest
from pydantic import ValidationError

from openect.data.dataset import Dataset
from openect.data.enums import BodySite, Drug, Layer, PrimaryTumour, Route, Sex
from openect.data.models import Application, Assessment, Centre, Lesion, Patient, Session
from openect.data.validation import check_dataset
from openect.response import (
    LANDMARK_DAYS,
    LANDMARK_WINDOW_DAYS,
    Category,
    ResponseCriteria,
    ResponseEvaluation,
    categorise,
    criteria_names,
    load_criteria,
    patient_category,
)
from openect.response.evaluation import ASSESSMENT_COLUMNS, LESION_COLUMNS, PATIENT_COLUMNS
from openect.synth import generate_cohort

CR, PR, SD, PD, NE = Category.CR, Category.PR, Category.SD, Category.PD, Category.NE
NC, NN = Category.NC, Category.NN
RECIST = load_criteria("recist")
WHO = load_criteria("who")

#: Day 0: the first ECT session of every hand-made register.
T0 = dt.date(2024, 3, 4)


def on(day: int) -> dt.date:
    """The date ``day`` days after the first ECT session."""
    return T0 + dt.timedelta(days=day)


# --------------------------------------------------------------------------- registers
def lesion(lesion_id: str, longest: float, perpendicular: float | None = None) -> Lesion:
    """A cutaneous metastasis measured a week before the first session (patient = id prefix)."""
    return Lesion(
        lesion_id=lesion_id,
        patient_id=lesion_id.split("-")[0],
        body_site=BodySite.LOWER_LIMB_LEFT,
        layer=Layer.CUTANEOUS,
        baseline_date=on(-7),
        longest_diameter_mm=longest,
        perpendicular_diameter_mm=perpendicular,
    )


def visit(
    lesion_id: str,
    day: int,
    longest: float,
    perpendicular: float | None = None,
    *,
    override: str | None = None,
    reason: str | None = None,
) -> Assessment:
    """A caliper measurement of ``lesion_id`` on ``day``, optionally with an override."""
    return Assessment(
        assessment_id=f"{lesion_id}-D{day}",
        lesion_id=lesion_id,
        assessment_date=on(day),
        longest_diameter_mm=longest,
        perpendicular_diameter_mm=perpendicular,
        override_response=override,
        override_reason=reason,
    )


def register(
    lesions: Sequence[Lesion],
    visits: Iterable[Assessment] = (),
    *,
    sessions: Sequence[tuple[int, Sequence[str] | None]] = ((0, None),),
    deaths: Mapping[str, int] | None = None,
    validate: bool = True,
) -> Dataset:
    """A valid register of melanoma patients with these lesions and visits.

    ``sessions``: (day, ids of the lesions treated that day; None = every lesion of the
    patient). Each patient gets one intravenous-bleomycin session per listed day on
    which one of their lesions is treated, with one plate application per lesion.
    ``deaths``: patient id -> day of death (last contact on that day).
    ``validate``: assert that the register passes the dataset validation.
    """
    deaths = dict(deaths or {})
    patient_ids = sorted({lesion.patient_id for lesion in lesions})
    ds = Dataset()
    ds.centres = [Centre(centre_id="C01", name="Centre one"), Centre(centre_id="C02", name="Two")]
    for number, patient_id in enumerate(patient_ids):
        death = on(deaths[patient_id]) if patient_id in deaths else None
        ds.patients.append(
            Patient(
                patient_id=patient_id,
                centre_id="C01" if number % 2 == 0 else "C02",
                sex=Sex.F,
                birth_year=1950,
                primary_tumour=PrimaryTumour.MELANOMA,
                last_contact_date=death or on(400),
                death_date=death,
                death_cause="melanoma" if death else None,
            )
        )
        own = [lesion.lesion_id for lesion in lesions if lesion.patient_id == patient_id]
        number_of_session = 0
        for day, treated in sessions:
            targets = [lid for lid in own if treated is None or lid in treated]
            if not targets:
                continue
            number_of_session += 1
            session_id = f"{patient_id}-S{number_of_session}"
            ds.sessions.append(
                Session(
                    session_id=session_id,
                    patient_id=patient_id,
                    session_date=on(day),
                    session_number=number_of_session,
                    drug=Drug.BLEOMYCIN,
                    route=Route.INTRAVENOUS,
                )
            )
            ds.applications += [
                Application(
                    application_id=f"{session_id}-A{k}",
                    session_id=session_id,
                    lesion_id=lid,
                    electrode="plate",
                )
                for k, lid in enumerate(targets, start=1)
            ]
    ds.lesions = list(lesions)
    ds.assessments = list(visits)
    if validate:
        assert check_dataset(ds) == [], "the hand-made register must itself be valid"
    return ds


def fit(ds: Dataset, **options: Any) -> ResponseEvaluation:
    return ResponseEvaluation(**options).fit(ds)


def result(evaluation: ResponseEvaluation, lesion_id: str) -> dict[str, Any]:
    """The lesion row of ``lesion_id`` as a dict."""
    rows = evaluation.lesions_[evaluation.lesions_["lesion_id"] == lesion_id]
    assert len(rows) == 1
    return rows.iloc[0].to_dict()


def steps(evaluation: ResponseEvaluation, lesion_id: str) -> pd.DataFrame:
    """The categorised assessments of ``lesion_id``, in date order."""
    frame = evaluation.assessments_
    return frame[frame["lesion_id"] == lesion_id].reset_index(drop=True)


def patient(evaluation: ResponseEvaluation, patient_id: str) -> dict[str, Any]:
    rows = evaluation.patients_[evaluation.patients_["patient_id"] == patient_id]
    assert len(rows) == 1
    return rows.iloc[0].to_dict()


# =========================================================================== criteria
def test_the_bundled_criteria_are_recist_and_who() -> None:
    assert criteria_names() == ["recist", "who"]


def test_recist_compares_the_longest_diameter_with_recist_1_1_thresholds() -> None:
    assert (RECIST.name, RECIST.measure, RECIST.unit, RECIST.status) == (
        "recist",
        "longest",
        "mm",
        "V",
    )
    assert RECIST.pr_decrease_pct == 30.0
    assert RECIST.pd_increase_pct == 20.0
    assert RECIST.pd_min_increase == 5.0
    assert RECIST.measurable_min == 10.0
    assert "Eisenhauer" in RECIST.source


def test_who_compares_the_product_of_diameters_with_who_thresholds() -> None:
    assert (WHO.name, WHO.measure, WHO.unit, WHO.status) == ("who", "product", "mm2", "V")
    assert WHO.pr_decrease_pct == 50.0
    assert WHO.pd_increase_pct == 25.0
    assert WHO.pd_min_increase == 0.0
    assert "Miller" in WHO.source


def test_criteria_names_are_case_insensitive() -> None:
    assert load_criteria("RECIST") == RECIST
    assert load_criteria("Who") == WHO


def test_an_unknown_criterion_is_refused_naming_it_and_the_allowed_ones() -> None:
    with pytest.raises(ValueError, match=r"criteria='mrecist': unknown; allowed recist, who"):
        load_criteria("mrecist")


# =========================================================================== categorise
# (measure, baseline, nadir) in mm; nadir None = the baseline.
RECIST_BOUNDARIES = [
    pytest.param(0.0, 20.0, 20.0, CR, id="disappearance is CR"),
    pytest.param(0.0, 20.0, 10.0, CR, id="disappearance after a PR is CR"),
    # PR: >= 30 % decrease against the baseline.
    pytest.param(14.0, 20.0, 20.0, PR, id="exactly 30 % decrease (20 -> 14 mm) is PR"),
    pytest.param(14.02, 20.0, 20.0, SD, id="29.9 % decrease (20 -> 14.02 mm) is SD"),
    pytest.param(7.0, 10.0, 10.0, PR, id="exactly 30 % decrease (10 -> 7 mm) is PR"),
    pytest.param(7.01, 10.0, 10.0, SD, id="29.9 % decrease (10 -> 7.01 mm) is SD"),
    pytest.param(9.1, 13.0, 13.0, PR, id="exactly 30 % decrease (13 -> 9.1 mm) is PR"),
    pytest.param(9.113, 13.0, 13.0, SD, id="29.9 % decrease (13 -> 9.113 mm) is SD"),
    # In binary, 11 x 0.7 and 12 x 0.7 come out just below 7.7 and 8.4: the tolerance keeps PR.
    pytest.param(7.7, 11.0, 11.0, PR, id="exactly 30 % decrease (11 -> 7.7 mm) is PR"),
    pytest.param(8.4, 12.0, 12.0, PR, id="exactly 30 % decrease (12 -> 8.4 mm) is PR"),
    pytest.param(8.412, 12.0, 12.0, SD, id="29.9 % decrease (12 -> 8.412 mm) is SD"),
    pytest.param(16.0, 20.0, None, SD, id="20 % decrease is SD"),
    pytest.param(20.0, 20.0, 20.0, SD, id="no change is SD"),
    # PD: >= 20 % over the nadir AND >= 5 mm.
    pytest.param(30.0, 25.0, 25.0, PD, id="exactly 20 % and exactly 5 mm over the nadir is PD"),
    pytest.param(
        30.0, 40.0, 25.0, PD, id="20 % and 5 mm over the nadir is PD although below baseline"
    ),
    pytest.param(29.4, 24.5, 24.5, SD, id="20 % but 4.9 mm over the nadir is not PD"),
    pytest.param(24.0, 20.0, 20.0, SD, id="20 % but 4 mm over the nadir is not PD"),
    pytest.param(59.95, 50.0, 50.0, SD, id="9.95 mm but 19.9 % over the nadir is not PD"),
    pytest.param(30.0, 50.0, 25.1, PR, id="4.9 mm and 19.5 % over the nadir is not PD"),
    pytest.param(25.0, 20.0, None, PD, id="25 % and 5 mm over the baseline (no nadir) is PD"),
    pytest.param(36.0, 30.0, 30.0, PD, id="exactly 20 % and 6 mm is PD"),
    # Boundaries that are exact in decimal only: lost without the tolerance.
    pytest.param(10.2, 20.0, 5.2, PD, id="exactly 5 mm over a 5.2 mm nadir is PD"),
    pytest.param(38.94, 40.0, 32.45, PD, id="exactly 20 % over a 32.45 mm nadir is PD"),
    pytest.param(38.93, 40.0, 32.45, SD, id="19.97 % over a 32.45 mm nadir is not PD"),
    # Regrowth after a CR: the nadir is 0, so only the 5 mm minimum decides.
    pytest.param(4.0, 20.0, 0.0, PR, id="4 mm regrowth after CR is not PD (PR vs 20 mm)"),
    pytest.param(4.0, 5.0, 0.0, SD, id="4 mm regrowth after CR is not PD (SD vs 5 mm)"),
    pytest.param(4.9, 20.0, 0.0, PR, id="4.9 mm regrowth after CR is not PD"),
    pytest.param(5.0, 20.0, 0.0, PD, id="5 mm regrowth after CR is PD"),
]


@pytest.mark.parametrize(("measure", "baseline", "nadir", "expected"), RECIST_BOUNDARIES)
def test_recist_category_at_its_thresholds(
    measure: float, baseline: float, nadir: float | None, expected: Category
) -> None:
    assert categorise(measure, baseline, nadir, RECIST) is expected


# (measure, baseline, nadir) as (longest, perpendicular) in mm; WHO compares the products.
WHO_BOUNDARIES = [
    pytest.param((0.0, 0.0), (20.0, 10.0), (20.0, 10.0), CR, id="disappearance is CR"),
    # PR: >= 50 % decrease of the product against the baseline.
    pytest.param((10.0, 10.0), (20.0, 10.0), (20.0, 10.0), PR, id="exactly 50 % (200->100) PR"),
    pytest.param((20.0, 5.0), (20.0, 10.0), (20.0, 10.0), PR, id="exactly 50 %, one diameter"),
    pytest.param((10.02, 10.0), (20.0, 10.0), (20.0, 10.0), NC, id="49.9 % (200->100.2) is NC"),
    pytest.param((16.0, 12.0), (20.0, 20.0), (20.0, 20.0), PR, id="52 % (400->192) is PR"),
    pytest.param((9.1, 5.0), (13.0, 7.0), (13.0, 7.0), PR, id="exactly 50 % (91->45.5) is PR"),
    pytest.param((12.5, 8.8), (20.0, 11.0), (20.0, 11.0), PR, id="exactly 50 % (220->110) PR"),
    pytest.param((12.5, 4.4), (11.0, 10.0), (11.0, 10.0), PR, id="exactly 50 % (110->55) PR"),
    # PD: >= 25 % increase of the product over the nadir, no absolute minimum.
    pytest.param((12.5, 10.0), (20.0, 10.0), (10.0, 10.0), PD, id="exactly 25 % (100->125) PD"),
    pytest.param((12.49, 10.0), (20.0, 10.0), (10.0, 10.0), NC, id="24.9 % (100->124.9) not PD"),
    pytest.param((16.9, 12.5), (20.0, 20.0), (13.0, 13.0), PD, id="exactly 25 % (169->211.25)"),
    pytest.param((20.4, 12.5), (30.0, 30.0), (17.0, 12.0), PD, id="exactly 25 % (204->255) PD"),
    pytest.param((2.5, 2.0), (20.0, 10.0), (2.0, 2.0), PD, id="25 % of a 4 mm2 nadir is PD"),
    pytest.param((1.0, 1.0), (20.0, 10.0), (0.0, 0.0), PD, id="1 mm reappearance after CR PD"),
    pytest.param((0.5, 0.5), (20.0, 10.0), (0.0, 0.0), PD, id="any reappearance after CR PD"),
]


@pytest.mark.parametrize(("measure", "baseline", "nadir", "expected"), WHO_BOUNDARIES)
def test_who_category_at_its_thresholds(
    measure: tuple[float, float],
    baseline: tuple[float, float],
    nadir: tuple[float, float],
    expected: Category,
) -> None:
    assert (
        categorise(WHO.measure_of(*measure), WHO.measure_of(*baseline), WHO.measure_of(*nadir), WHO)
        is expected
    )


def test_who_measure_is_the_product_and_recist_the_longest_diameter() -> None:
    assert WHO.measure_of(12.0, 9.5) == 114.0
    assert RECIST.measure_of(12.0, 9.5) == 12.0
    assert RECIST.measure_of(12.0, None) == 12.0


def test_who_without_a_perpendicular_diameter_is_not_evaluable() -> None:
    assert WHO.measure_of(12.0, None) is None
    assert categorise(WHO.measure_of(12.0, None), 200.0, 100.0, WHO) is NE


def test_who_disappearance_needs_no_perpendicular_diameter() -> None:
    assert WHO.measure_of(0.0, None) == 0.0
    assert categorise(WHO.measure_of(0.0, None), 200.0, 100.0, WHO) is CR


@pytest.mark.parametrize("criteria", [RECIST, WHO], ids=["recist", "who"])
def test_a_missing_measure_or_baseline_is_not_evaluable(criteria: ResponseCriteria) -> None:
    assert categorise(None, 20.0, 20.0, criteria) is NE
    assert categorise(10.0, None, None, criteria) is NE


def test_a_negative_measure_or_zero_baseline_is_refused() -> None:
    with pytest.raises(ValueError, match=r"measure=-1.0, baseline=20.0"):
        categorise(-1.0, 20.0, 20.0, RECIST)
    with pytest.raises(ValueError, match=r"measure=5.0, baseline=0.0"):
        categorise(5.0, 0.0, 0.0, RECIST)


# =========================================================================== landmark
@pytest.mark.parametrize(
    ("visits", "landmark", "landmark_day"),
    [
        pytest.param({30: 16.0, 55: 12.0, 68: 0.0}, PR, 55, id="day 55 is nearer than day 68"),
        pytest.param({30: 16.0, 52: 12.0, 66: 0.0}, CR, 66, id="day 66 is nearer than day 52"),
        pytest.param({60: 16.0, 61: 0.0}, SD, 60, id="exactly day 60"),
        pytest.param({40: 12.0, 120: 0.0}, PR, 40, id="day 40 is inside the window"),
        pytest.param({20: 12.0, 100: 0.0}, CR, 100, id="day 100 is inside the window"),
        pytest.param({39: 12.0, 101: 0.0}, NE, None, id="days 39 and 101 are outside: NE"),
        pytest.param({}, NE, None, id="no assessment: NE"),
        # The module does not define ties; it takes the earlier of two equidistant visits.
        pytest.param({45: 12.0, 75: 0.0}, PR, 45, id="tie at 15 days: the earlier visit"),
    ],
)
def test_landmark_response_is_the_visit_nearest_to_day_60_within_days_40_to_100(
    visits: dict[int, float], landmark: Category, landmark_day: int | None
) -> None:
    ds = register([lesion("P1-L1", 20.0)], [visit("P1-L1", d, v) for d, v in visits.items()])
    row = result(fit(ds), "P1-L1")
    assert row["landmark_response"] == landmark.value
    if landmark_day is None:
        assert row["landmark_date"] is None
        assert pd.isna(row["landmark_days"])
    else:
        assert row["landmark_date"] == on(landmark_day)
        assert row["landmark_days"] == landmark_day


def test_default_landmark_is_day_60_in_a_40_to_100_day_window() -> None:
    assert LANDMARK_DAYS == 60
    assert LANDMARK_WINDOW_DAYS == (40, 100)


def test_landmark_day_and_window_are_settings() -> None:
    ds = register([lesion("P1-L1", 20.0)], [visit("P1-L1", 60, 12.0), visit("P1-L1", 90, 0.0)])
    assert result(fit(ds), "P1-L1")["landmark_response"] == "PR"
    late = fit(ds, landmark_days=90, landmark_window_days=(75, 120))
    assert result(late, "P1-L1")["landmark_response"] == "CR"
    assert result(late, "P1-L1")["landmark_days"] == 90


def test_landmark_skips_a_visit_that_is_not_evaluable() -> None:
    # WHO: day 58 lacks the perpendicular diameter, so the day-75 visit is the landmark.
    ds = register(
        [lesion("P1-L1", 20.0, 15.0)],
        [visit("P1-L1", 58, 10.0), visit("P1-L1", 75, 10.0, 8.0)],
    )
    evaluation = fit(ds, criteria="who")
    assert steps(evaluation, "P1-L1")["category"].tolist() == ["NE", "PR"]
    assert result(evaluation, "P1-L1")["landmark_response"] == "PR"
    assert result(evaluation, "P1-L1")["landmark_days"] == 75


# =========================================================================== best, PD, censoring
def test_best_response_stops_at_the_first_pd_which_is_the_local_progression() -> None:
    # 20 mm -> 16 (SD) -> 10 (PR, nadir) -> 15 (+50 %, +5 mm over the nadir: PD) -> 0.
    ds = register(
        [lesion("P1-L1", 20.0)],
        [visit("P1-L1", d, v) for d, v in {30: 16.0, 60: 10.0, 90: 15.0, 120: 0.0}.items()],
    )
    evaluation = fit(ds)
    visits = steps(evaluation, "P1-L1")
    assert visits["category"].tolist() == ["SD", "PR", "PD", "CR"]
    assert visits["derived"].tolist() == ["SD", "PR", "PD", "CR"]
    assert visits["days"].tolist() == [30, 60, 90, 120]
    assert visits["course"].tolist() == [1, 1, 1, 1]
    assert visits["reference"].tolist() == [20.0, 20.0, 20.0, 20.0]
    assert visits["nadir"].tolist() == [20.0, 16.0, 10.0, 10.0]
    assert visits["change_from_reference_pct"].tolist() == [-20.0, -50.0, -25.0, -100.0]
    assert visits["change_from_nadir_pct"].tolist() == [-20.0, -37.5, 50.0, -100.0]
    row = result(evaluation, "P1-L1")
    assert row["best_response"] == "PR"
    assert row["best_response_date"] == on(60)
    assert row["landmark_response"] == "PR"
    assert row["assessments"] == 4
    assert bool(row["local_progression"]) is True
    assert row["local_progression_date"] == on(90)
    assert row["control_end_date"] == on(90)
    assert row["control_days"] == 90


def test_growth_without_response_is_pd_and_the_best_response_is_pd() -> None:
    ds = register([lesion("P1-L1", 20.0)], [visit("P1-L1", 45, 25.0), visit("P1-L1", 90, 30.0)])
    row = result(fit(ds), "P1-L1")
    assert (row["best_response"], row["landmark_response"]) == ("PD", "PD")
    assert row["best_response_date"] == on(45)
    assert row["local_progression_date"] == on(45)
    assert row["control_days"] == 45


def test_a_lesion_without_pd_is_censored_at_its_last_assessment() -> None:
    visits = {30: 12.0, 60: 0.0, 150: 0.0, 240: 0.0}
    ds = register([lesion("P1-L1", 20.0)], [visit("P1-L1", d, v) for d, v in visits.items()])
    row = result(fit(ds), "P1-L1")
    assert row["best_response"] == "CR"
    assert row["best_response_date"] == on(60)
    assert bool(row["local_progression"]) is False
    assert row["local_progression_date"] is None
    assert row["control_end_date"] == on(240)
    assert row["control_days"] == 240


def test_censor_at_death_moves_the_censoring_of_a_controlled_lesion_to_the_death() -> None:
    # P1 dies on day 300: L1 is controlled (last visit day 240), L2 progressed on day 90.
    ds = register(
        [lesion("P1-L1", 20.0), lesion("P1-L2", 20.0)],
        [
            visit("P1-L1", 60, 0.0),
            visit("P1-L1", 240, 0.0),
            visit("P1-L2", 60, 10.0),
            visit("P1-L2", 90, 16.0),
        ],
        deaths={"P1": 300},
    )
    default = fit(ds)
    assert result(default, "P1-L1")["control_end_date"] == on(240)
    at_death = fit(ds, censor_at_death=True)
    assert result(at_death, "P1-L1")["control_end_date"] == on(300)
    assert result(at_death, "P1-L1")["control_days"] == 300
    assert bool(result(at_death, "P1-L1")["local_progression"]) is False
    for evaluation in (default, at_death):
        assert result(evaluation, "P1-L2")["control_end_date"] == on(90)
        assert bool(result(evaluation, "P1-L2")["local_progression"]) is True


def test_censor_at_death_does_not_reach_past_a_retreatment() -> None:
    # Retreated on day 200 without a recorded PD, dead on day 300: course 1 ends at day 90.
    ds = register(
        [lesion("P1-L1", 20.0)],
        [visit("P1-L1", 30, 12.0), visit("P1-L1", 90, 13.0), visit("P1-L1", 230, 8.0)],
        sessions=[(0, None), (200, None)],
        deaths={"P1": 300},
    )
    row = result(fit(ds, censor_at_death=True), "P1-L1")
    assert bool(row["local_progression"]) is False
    assert row["control_end_date"] == on(90)
    assert row["control_days"] == 90


# =========================================================================== overrides
def test_an_override_with_a_reason_replaces_the_derived_category() -> None:
    # 20 -> 18 mm is SD by size; ultrasound shows a necrotic, non-viable core.
    reason = "necrotic non-viable core on ultrasound"
    ds = register([lesion("P1-L1", 20.0)], [visit("P1-L1", 60, 18.0, override="PR", reason=reason)])
    evaluation = fit(ds)
    only = steps(evaluation, "P1-L1").iloc[0]
    assert (only["derived"], only["category"], only["override_reason"]) == ("SD", "PR", reason)
    assert result(evaluation, "P1-L1")["landmark_response"] == "PR"
    assert result(evaluation, "P1-L1")["best_response"] == "PR"


def test_a_new_lesion_in_the_treated_field_is_an_override_pd_and_local_progression() -> None:
    reason = "new nodule inside the treated field"
    ds = register(
        [lesion("P1-L1", 20.0)],
        [
            visit("P1-L1", 30, 12.0),
            visit("P1-L1", 60, 8.0, override="PD", reason=reason),
            visit("P1-L1", 90, 6.0),
        ],
    )
    evaluation = fit(ds)
    assert steps(evaluation, "P1-L1")["derived"].tolist() == ["PR", "PR", "PR"]
    assert steps(evaluation, "P1-L1")["category"].tolist() == ["PR", "PD", "PR"]
    row = result(evaluation, "P1-L1")
    assert row["best_response"] == "PR"
    assert row["best_response_date"] == on(30)
    assert row["landmark_response"] == "PD"
    assert bool(row["local_progression"]) is True
    assert row["local_progression_date"] == on(60)
    assert row["control_days"] == 60


def test_an_override_without_a_reason_is_refused_by_the_data_model() -> None:
    with pytest.raises(ValidationError, match="honoured only with the reason"):
        visit("P1-L1", 60, 18.0, override="CR")


# =========================================================================== courses
def test_a_retreatment_starts_course_2_against_the_last_measurement_before_it() -> None:
    # Course 1: 20 -> 10 (PR) -> 16 (PD on day 70). Retreated on day 90.
    # Course 2 is measured against 16 mm: 12 mm is -25 % (SD), not -40 % vs baseline (PR);
    # 17 mm is +5 mm and +41.7 % over the course-2 nadir of 12 mm (PD).
    ds = register(
        [lesion("P1-L1", 20.0)],
        [visit("P1-L1", d, v) for d, v in {30: 10.0, 70: 16.0, 120: 12.0, 150: 17.0}.items()],
        sessions=[(0, None), (90, None)],
    )
    evaluation = fit(ds)
    visits = steps(evaluation, "P1-L1")
    assert visits["course"].tolist() == [1, 1, 2, 2]
    assert visits["reference"].tolist() == [20.0, 20.0, 16.0, 16.0]
    assert visits["nadir"].tolist() == [20.0, 10.0, 16.0, 12.0]
    assert visits["category"].tolist() == ["PR", "PD", "SD", "PD"]
    assert visits["days"].tolist() == [30, 70, 120, 150]
    row = result(evaluation, "P1-L1")
    assert row["sessions"] == 2
    assert row["first_treatment_date"] == on(0)
    assert row["assessments"] == 2
    assert row["best_response"] == "PR"
    assert row["local_progression_date"] == on(70)


def test_a_visit_on_the_day_of_retreatment_closes_course_1_and_is_the_new_reference() -> None:
    ds = register(
        [lesion("P1-L1", 20.0)],
        [visit("P1-L1", 30, 12.0), visit("P1-L1", 90, 14.0), visit("P1-L1", 120, 7.0)],
        sessions=[(0, None), (90, None)],
    )
    evaluation = fit(ds)
    visits = steps(evaluation, "P1-L1")
    assert visits["course"].tolist() == [1, 1, 2]
    assert visits["reference"].tolist() == [20.0, 20.0, 14.0]
    assert visits["category"].tolist() == ["PR", "PR", "PR"]
    row = result(evaluation, "P1-L1")
    assert row["assessments"] == 2
    assert row["control_end_date"] == on(90)


def test_a_lesion_retreated_without_pd_is_censored_before_the_retreatment() -> None:
    ds = register(
        [lesion("P1-L1", 20.0)],
        [visit("P1-L1", d, v) for d, v in {30: 12.0, 45: 10.0, 100: 8.0, 130: 0.0}.items()],
        sessions=[(0, None), (60, None)],
    )
    evaluation = fit(ds)
    assert steps(evaluation, "P1-L1")["reference"].tolist() == [20.0, 20.0, 10.0, 10.0]
    row = result(evaluation, "P1-L1")
    assert row["best_response"] == "PR"
    assert bool(row["local_progression"]) is False
    assert row["control_end_date"] == on(45)
    assert row["control_days"] == 45


def test_a_lesion_retreated_after_a_cr_keeps_its_course_1_result() -> None:
    # CR on day 60, the scar area is treated again on day 90 and regrows slightly by day 120.
    ds = register(
        [lesion("P1-L1", 20.0)],
        [visit("P1-L1", 60, 0.0), visit("P1-L1", 120, 3.0)],
        sessions=[(0, None), (90, None)],
    )
    evaluation = fit(ds)
    row = result(evaluation, "P1-L1")
    assert (row["best_response"], row["landmark_response"]) == ("CR", "CR")
    assert bool(row["local_progression"]) is False
    assert row["control_end_date"] == on(60)
    # Course 2 starts from a CR (0 mm): it is measured against the baseline again.
    course_2 = steps(evaluation, "P1-L1").query("course == 2")
    assert course_2["reference"].tolist() == [20.0]
    assert course_2["category"].tolist() == ["PR"]


def test_assessments_up_to_the_first_treatment_are_course_0_without_category() -> None:
    # The day-0 visit is valid; the day -3 one is flagged by the dataset validation
    # ("before the first session treating the lesion") but must not break the evaluation.
    ds = register(
        [lesion("P1-L1", 20.0)],
        [visit("P1-L1", -3, 21.0), visit("P1-L1", 0, 20.5), visit("P1-L1", 60, 10.0)],
        validate=False,
    )
    assert [issue.column for issue in check_dataset(ds)] == ["assessment_date"]
    evaluation = fit(ds)
    visits = steps(evaluation, "P1-L1")
    assert visits["days"].tolist() == [-3, 0, 60]
    assert visits["course"].tolist() == [0, 0, 1]
    assert visits["derived"].tolist() == [None, None, "PR"]
    assert visits["category"].tolist() == [None, None, "PR"]
    assert visits["reference"].isna().tolist() == [True, True, False]
    assert visits["nadir"].isna().tolist() == [True, True, False]
    assert result(evaluation, "P1-L1")["assessments"] == 1
    assert evaluation.to_dict()["assessments"] == 1


def test_lesions_never_treated_are_left_out() -> None:
    ds = register(
        [lesion("P1-L1", 20.0), lesion("P1-L2", 15.0)],
        [visit("P1-L1", 60, 0.0), visit("P1-L2", 60, 25.0)],
        sessions=[(0, ["P1-L1"])],
    )
    evaluation = fit(ds)
    assert evaluation.lesions_["lesion_id"].tolist() == ["P1-L1"]
    assert evaluation.assessments_["lesion_id"].tolist() == ["P1-L1"]
    assert patient(evaluation, "P1")["lesions"] == 1
    assert patient(evaluation, "P1")["response"] == "CR"


def test_a_register_without_treated_lesions_gives_empty_tables_with_their_columns() -> None:
    ds = register([lesion("P1-L1", 20.0)], [visit("P1-L1", 60, 10.0)], sessions=[])
    evaluation = fit(ds)
    assert list(evaluation.assessments_.columns) == ASSESSMENT_COLUMNS
    assert list(evaluation.lesions_.columns) == LESION_COLUMNS
    assert list(evaluation.patients_.columns) == PATIENT_COLUMNS
    assert (len(evaluation.assessments_), len(evaluation.lesions_)) == (0, 0)
    assert len(evaluation.patients_) == 0
    assert evaluation.rates()["lesion"] == {
        "evaluable": 0,
        "cr": 0,
        "or": 0,
        "cr_rate": None,
        "or_rate": None,
    }


def test_a_treated_lesion_without_follow_up_is_not_evaluable() -> None:
    ds = register([lesion("P1-L1", 20.0)])
    row = result(fit(ds), "P1-L1")
    assert (row["best_response"], row["landmark_response"]) == ("NE", "NE")
    assert row["assessments"] == 0
    assert row["control_end_date"] is None
    assert bool(row["local_progression"]) is False


def test_measurability_follows_the_10_mm_recist_minimum() -> None:
    ds = register([lesion("P1-L1", 10.0), lesion("P1-L2", 9.5)])
    evaluation = fit(ds)
    assert bool(result(evaluation, "P1-L1")["measurable"]) is True
    assert bool(result(evaluation, "P1-L2")["measurable"]) is False


def test_the_small_shared_dataset_is_evaluated_as_expected(dataset: Dataset) -> None:
    # P1-L1: 12 mm -> 6 mm (PR, day 34) -> 0 (CR, day 60); P1-L2: 35 -> 30 mm is SD by size
    # but overridden to PR; P2-L1: treated, never assessed.
    evaluation = ResponseEvaluation().fit(dataset)
    assert steps(evaluation, "P1-L1")["category"].tolist() == ["PR", "CR"]
    assert steps(evaluation, "P1-L1")["days"].tolist() == [34, 60]
    assert steps(evaluation, "P1-L2")["derived"].tolist() == ["SD"]
    assert steps(evaluation, "P1-L2")["category"].tolist() == ["PR"]
    assert result(evaluation, "P1-L1")["landmark_response"] == "CR"
    assert result(evaluation, "P1-L2")["landmark_response"] == "PR"
    assert result(evaluation, "P2-L1")["landmark_response"] == "NE"
    assert patient(evaluation, "P1")["response"] == "PR"
    assert patient(evaluation, "P1")["centre_id"] == "C01"
    assert patient(evaluation, "P2")["response"] == "NE"
    assert patient(evaluation, "P2")["centre_id"] == "C02"


# =========================================================================== per patient
@pytest.mark.parametrize(
    ("categories", "expected"),
    [
        pytest.param([CR, CR, CR], CR, id="every lesion CR: CR"),
        pytest.param([CR, NE], CR, id="every evaluable lesion CR: CR"),
        pytest.param([CR, CR, PR], PR, id="CR and PR: PR"),
        pytest.param([CR, SD], PR, id="one CR and one SD: PR"),
        pytest.param([SD, PR], PR, id="one PR and one SD: PR"),
        pytest.param([SD, SD, NE], SD, id="no response, no PD: SD"),
        pytest.param([CR, CR, PD], PD, id="any PD: PD"),
        pytest.param([PD, NE], PD, id="PD and NE: PD"),
        pytest.param([NE, NE], NE, id="no evaluable lesion: NE"),
        pytest.param([], NE, id="no lesion: NE"),
    ],
)
def test_per_patient_response(categories: list[Category], expected: Category) -> None:
    assert patient_category(categories) is expected


def _two_patients() -> Dataset:
    # P1-L1: CR at day 60. P1-L2 (12 mm): CR at day 30, 4 mm at day 60 (PR, not PD).
    # P2-L1: CR at day 60. P2-L2 (20 mm): PR at day 30 (12 mm), PD at day 60 (18 mm).
    # P3-L1: treated, never assessed.
    return register(
        [
            lesion("P1-L1", 20.0),
            lesion("P1-L2", 12.0),
            lesion("P2-L1", 15.0),
            lesion("P2-L2", 20.0),
            lesion("P3-L1", 10.0),
        ],
        [
            visit("P1-L1", 60, 0.0),
            visit("P1-L2", 30, 0.0),
            visit("P1-L2", 60, 4.0),
            visit("P2-L1", 60, 0.0),
            visit("P2-L2", 30, 12.0),
            visit("P2-L2", 60, 18.0),
        ],
    )


def test_per_patient_response_on_the_landmark_by_default() -> None:
    evaluation = fit(_two_patients())
    common = {"rule": "lesions", "response_date": None, "baseline_sum": None}
    common |= {"response_sum": None, "lesions_sd": 0, "lesions_nn": 0}
    assert evaluation.patients_.to_dict(orient="records") == [
        common
        | {
            "patient_id": "P1",
            "centre_id": "C01",
            "lesions": 2,
            "measurable_lesions": 2,
            "evaluable_lesions": 2,
            "response": "PR",
            "lesions_cr": 1,
            "lesions_pr": 1,
            "lesions_pd": 0,
        },
        common
        | {
            "patient_id": "P2",
            "centre_id": "C02",
            "lesions": 2,
            "measurable_lesions": 2,
            "evaluable_lesions": 2,
            "response": "PD",
            "lesions_cr": 1,
            "lesions_pr": 0,
            "lesions_pd": 1,
        },
        common
        | {
            "patient_id": "P3",
            "centre_id": "C01",
            "lesions": 1,
            "measurable_lesions": 1,
            "evaluable_lesions": 0,
            "response": "NE",
            "lesions_cr": 0,
            "lesions_pr": 0,
            "lesions_pd": 0,
        },
    ]


def test_per_patient_response_on_the_best_response() -> None:
    evaluation = fit(_two_patients(), patient_basis="best")
    assert evaluation.lesions_["best_response"].tolist() == ["CR", "CR", "CR", "PR", "NE"]
    assert evaluation.patients_["response"].tolist() == ["CR", "PR", "NE"]
    assert evaluation.patients_["lesions_cr"].tolist() == [2, 1, 0]
    assert evaluation.patients_["lesions_pr"].tolist() == [0, 1, 0]
    assert evaluation.patients_["lesions_pd"].tolist() == [0, 0, 0]


# =========================================================================== WHO vs RECIST
def test_who_and_recist_can_disagree_on_the_same_measurements() -> None:
    # L1: 20 x 20 -> 16 x 12 mm: longest -20 % (RECIST SD), product -52 % (WHO PR).
    # L2: 20 x 20 -> 10 x 10 -> 12 x 11 mm: longest +2 mm (RECIST PR, no PD),
    #     product 100 -> 132 mm2, +32 % over the nadir (WHO PD).
    ds = register(
        [lesion("P1-L1", 20.0, 20.0), lesion("P1-L2", 20.0, 20.0)],
        [
            visit("P1-L1", 60, 16.0, 12.0),
            visit("P1-L2", 30, 10.0, 10.0),
            visit("P1-L2", 60, 12.0, 11.0),
        ],
    )
    recist, who = fit(ds, criteria="recist"), fit(ds, criteria="who")
    assert result(recist, "P1-L1")["baseline_measure"] == 20.0
    assert result(who, "P1-L1")["baseline_measure"] == 400.0
    assert result(recist, "P1-L1")["landmark_response"] == "SD"
    assert result(who, "P1-L1")["landmark_response"] == "PR"
    assert steps(recist, "P1-L2")["category"].tolist() == ["PR", "PR"]
    assert steps(who, "P1-L2")["category"].tolist() == ["PR", "PD"]
    assert steps(who, "P1-L2")["measure"].tolist() == [100.0, 132.0]
    assert bool(result(recist, "P1-L2")["local_progression"]) is False
    assert result(who, "P1-L2")["local_progression_date"] == on(60)
    assert patient(recist, "P1")["response"] == "PR"
    assert patient(who, "P1")["response"] == "PD"
    assert who.to_dict()["criteria"] == "who"
    assert who.to_dict()["criteria_status"] == "V"


def test_who_needs_the_perpendicular_diameter_at_baseline_and_at_the_visit() -> None:
    ds = register(
        [lesion("P1-L1", 20.0, 15.0), lesion("P1-L2", 20.0)],
        [visit("P1-L1", 60, 10.0), visit("P1-L2", 60, 10.0, 5.0)],
    )
    who, recist = fit(ds, criteria="who"), fit(ds)
    assert steps(who, "P1-L1")["category"].tolist() == ["NE"]
    assert steps(who, "P1-L2")["category"].tolist() == ["NE"]
    assert pd.isna(result(who, "P1-L2")["baseline_measure"])
    assert result(who, "P1-L1")["landmark_response"] == "NE"
    assert patient(who, "P1")["response"] == "NE"
    assert steps(recist, "P1-L1")["category"].tolist() == ["PR"]
    assert patient(recist, "P1")["response"] == "PR"


# =========================================================================== parameters
@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param(
            {"landmark_window_days": (70, 100)},
            r"landmark_window_days=\(70, 100\): allowed 0 < start <= landmark_days \(60\) <= end",
            id="window starts after the landmark",
        ),
        pytest.param(
            {"landmark_window_days": (40, 50)},
            r"landmark_window_days=\(40, 50\): allowed 0 < start <= landmark_days \(60\) <= end",
            id="window ends before the landmark",
        ),
        pytest.param(
            {"landmark_window_days": (0, 100)},
            r"landmark_window_days=\(0, 100\): allowed 0 < start",
            id="window starts on the treatment day",
        ),
        pytest.param(
            {"landmark_days": 0}, r"landmark_days=0: allowed 1 to 3650 days", id="landmark 0"
        ),
        pytest.param(
            {"landmark_days": 4000, "landmark_window_days": (40, 5000)},
            r"landmark_days=4000: allowed 1 to 3650 days",
            id="landmark over 10 years",
        ),
        pytest.param(
            {"criteria": "mrecist"},
            r"criteria='mrecist': unknown; allowed recist, who",
            id="unknown criteria",
        ),
        pytest.param(
            {"patient_basis": "worst"},
            r"patient_basis='worst': allowed landmark, best",
            id="unknown patient basis",
        ),
    ],
)
def test_invalid_settings_are_refused_naming_the_value_and_the_allowed_range(
    options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        ResponseEvaluation(**options)


def test_a_criterion_can_be_given_as_an_object() -> None:
    assert ResponseEvaluation(criteria=WHO).criteria is WHO


# =========================================================================== calibration
@pytest.fixture(scope="module")
def cohort() -> ResponseEvaluation:
    """RECIST evaluation of the synthetic 1,000-patient, 4-centre register (seed 2026),
    every lesion by the percentage rule as in the published skin series it is calibrated
    on (caliper-measured nodules of every size)."""
    return ResponseEvaluation(non_measurable="percentage").fit(
        generate_cohort(1000, centres=4, seed=2026)
    )


def test_synthetic_landmark_response_matches_published_melanoma_series(
    cohort: ResponseEvaluation,
) -> None:
    # InspECT melanoma (Kunte 2017): CR 58 %, OR 77 %; Clover 2020 melanoma: CR 64 %, OR 82 %.
    lesion_rates = cohort.rates()["lesion"]
    assert lesion_rates["evaluable"] > 2000
    assert 0.55 <= lesion_rates["cr_rate"] <= 0.68
    assert 0.76 <= lesion_rates["or_rate"] <= 0.88
    landmark = cohort.lesions_["landmark_response"]
    evaluable = landmark[landmark != "NE"]
    assert math.isclose(lesion_rates["cr_rate"], (evaluable == "CR").mean())
    assert math.isclose(lesion_rates["or_rate"], evaluable.isin(["CR", "PR"]).mean())


def test_synthetic_per_patient_cr_is_below_per_lesion_cr(cohort: ResponseEvaluation) -> None:
    # CR per patient needs every treated lesion in CR (InspECT: 70.1 % per tumour, 57.9 %).
    rates = cohort.rates()
    assert rates["patient"]["cr_rate"] < rates["lesion"]["cr_rate"]


# =========================================================================== to_dict
def _check_to_dict(evaluation: ResponseEvaluation) -> dict[str, Any]:
    out = evaluation.to_dict()
    assert json.loads(json.dumps(out)) == out
    lesions, patients = evaluation.lesions_, evaluation.patients_
    assert out["lesions"] == len(lesions)
    assert out["patients"] == len(patients)
    assert out["assessments"] == int((evaluation.assessments_["course"] > 0).sum())
    assert out["local_progressions"] == int(lesions["local_progression"].sum())
    assert out["landmark_window_days"] == list(evaluation.landmark_window_days)
    assert out["patient_rule"] == evaluation.patient_rule
    assert set(patients["rule"]) <= {evaluation.patient_rule}
    split = evaluation.split_measurable
    measurable = (
        lesions["measurable"].astype(bool)
        if split
        else lesions["measurable"] == lesions["measurable"]
    )
    names = [c.value for c in evaluation.criteria.categories]
    for level, column in (
        ("lesion landmark", "landmark_response"),
        ("lesion best", "best_response"),
    ):
        parts = [(f"{level}, measurable", measurable), (f"{level}, non-measurable", ~measurable)]
        for key, rows in parts if split else [(level, measurable)]:
            series = lesions.loc[rows, column]
            assert out["counts"][key] == {c: int((series == c).sum()) for c in names}
    series = patients["response"]
    assert out["counts"]["patient"] == {c: int((series == c).sum()) for c in names}
    for unit, series in (
        ("lesion", lesions.loc[measurable, "landmark_response"]),
        ("patient", patients["response"]),
    ):
        evaluable = series[series != "NE"]
        rates = out["rates"][unit]
        assert rates["evaluable"] == len(evaluable)
        assert rates["cr"] == int((evaluable == "CR").sum())
        assert rates["or"] == int(evaluable.isin(["CR", "PR"]).sum())
        if len(evaluable):
            assert math.isclose(rates["cr_rate"], rates["cr"] / len(evaluable))
            assert math.isclose(rates["or_rate"], rates["or"] / len(evaluable))
    if split:
        apart = lesions.loc[~measurable, "landmark_response"]
        apart = apart[apart != "NE"]
        assert out["rates"]["lesion_non_measurable"]["evaluable"] == len(apart)
        assert out["rates"]["lesion_non_measurable"]["cr"] == int((apart == "CR").sum())
    else:
        assert out["rates"]["lesion_non_measurable"] is None
    return out


def test_to_dict_of_a_hand_made_register_is_json_and_matches_the_tables() -> None:
    out = _check_to_dict(fit(_two_patients(), patient_basis="best"))
    none = {"CR": 0, "PR": 0, "SD": 0, "NN": 0, "PD": 0, "NE": 0}
    assert out == {
        "criteria": "recist",
        "criteria_status": "V",
        "criteria_source": RECIST.source,
        "landmark_days": 60,
        "landmark_window_days": [40, 100],
        "patient_basis": "best",
        "patient_rule": "lesions",
        "patient_rule_title": (
            "lesion-based: CR if every evaluable lesion is CR, PD if any is PD, PR if one responded"
        ),
        "non_measurable": "qualitative",
        "measurable_min": 10.0,
        "confirmation_days": 0,
        "lesions": 5,
        "measurable_lesions": 5,
        "patients": 3,
        "assessments": 6,
        "counts": {
            "lesion landmark, measurable": none | {"CR": 2, "PR": 1, "PD": 1, "NE": 1},
            "lesion landmark, non-measurable": none,
            "lesion best, measurable": none | {"CR": 3, "PR": 1, "NE": 1},
            "lesion best, non-measurable": none,
            "patient": none | {"CR": 1, "PR": 1, "NE": 1},
        },
        "rates": {
            "lesion": {"evaluable": 4, "cr": 2, "or": 3, "cr_rate": 0.5, "or_rate": 0.75},
            "lesion_non_measurable": {
                "evaluable": 0,
                "cr": 0,
                "nn": 0,
                "pd": 0,
                "cr_rate": None,
            },
            "patient": {"evaluable": 2, "cr": 1, "or": 2, "cr_rate": 0.5, "or_rate": 1.0},
        },
        "local_progressions": 1,
    }


def test_to_dict_of_the_synthetic_register_is_json_and_matches_the_tables(
    cohort: ResponseEvaluation,
) -> None:
    out = _check_to_dict(cohort)
    assert out["patients"] == 1000
    assert out["counts"]["lesion landmark"] == cohort.summary.loc["lesion landmark"].to_dict()
    assert out["non_measurable"] == "percentage"


def test_to_dict_without_evaluable_lesions_gives_null_rates() -> None:
    out = _check_to_dict(fit(register([lesion("P1-L1", 20.0)])))
    assert out["rates"]["lesion"]["cr_rate"] is None
    assert out["rates"]["patient"]["or_rate"] is None
    assert '"cr_rate": null' in json.dumps(out)


def test_the_text_summary_states_criteria_landmark_and_rates() -> None:
    text = str(fit(_two_patients()))
    assert text.splitlines() == [
        "Response (RECIST 1.1 adapted to skin (longest diameter); landmark 60 d, window 40-100 d)",
        "  measurable lesions: 4 evaluable, CR 50.0\u00a0%, OR 75.0\u00a0%",
        "  non-measurable lesions (< 10 mm, CR/NN/PD): 0 evaluable, CR —, NN 0, PD 0",
        "  patients (lesion-based: CR if every evaluable lesion is CR, PD if any is PD, PR if "
        "one responded): 2 evaluable, CR 0.0\u00a0%, OR 50.0\u00a0%",
    ]


# =========================================================================== conventions
def test_a_9_mm_lesion_is_non_measurable_and_classified_qualitatively() -> None:
    # RECIST 1.1 (Eisenhauer 2009): measurable = longest diameter >= 10 mm by caliper.
    # 9 mm -> 4 mm is -56 %, a PR by the percentage rule; non-measurable it is NN
    # (non-CR/non-PD). 9 -> 0 mm is CR; 9 -> 4 -> 10 mm is +6 mm, +150 % over the nadir: PD.
    ds = register(
        [lesion("P1-L1", 9.0), lesion("P1-L2", 9.0), lesion("P1-L3", 9.0)],
        [
            visit("P1-L1", 60, 4.0),
            visit("P1-L2", 60, 0.0),
            visit("P1-L3", 30, 4.0),
            visit("P1-L3", 60, 10.0),
        ],
    )
    evaluation = fit(ds)
    assert bool(result(evaluation, "P1-L1")["measurable"]) is False
    assert steps(evaluation, "P1-L1")["category"].tolist() == ["NN"]
    assert result(evaluation, "P1-L1")["landmark_response"] == "NN"
    assert result(evaluation, "P1-L2")["landmark_response"] == "CR"
    assert steps(evaluation, "P1-L3")["category"].tolist() == ["NN", "PD"]
    assert categorise(4.0, 9.0, 9.0, RECIST, measurable=False) is NN
    assert categorise(4.0, 9.0, 9.0, RECIST) is PR
    # the earlier behaviour stays available only as an explicit option
    legacy = fit(ds, non_measurable="percentage")
    assert result(legacy, "P1-L1")["landmark_response"] == "PR"


def test_an_override_pr_on_a_non_measurable_lesion_is_non_cr_non_pd() -> None:
    ds = register(
        [lesion("P1-L1", 8.0)],
        [visit("P1-L1", 60, 7.0, override="PR", reason="flattened, still palpable")],
    )
    assert steps(fit(ds), "P1-L1")["category"].tolist() == ["NN"]


def test_rates_report_measurable_and_non_measurable_lesions_apart() -> None:
    # P1-L1 20 -> 10 mm (PR, measurable); P1-L2 9 -> 0 mm (CR, non-measurable);
    # P1-L3 8 -> 6 mm (NN, non-measurable).
    ds = register(
        [lesion("P1-L1", 20.0), lesion("P1-L2", 9.0), lesion("P1-L3", 8.0)],
        [visit("P1-L1", 60, 10.0), visit("P1-L2", 60, 0.0), visit("P1-L3", 60, 6.0)],
    )
    evaluation = fit(ds)
    rates = evaluation.rates()
    assert rates["lesion"] == {"evaluable": 1, "cr": 0, "or": 1, "cr_rate": 0.0, "or_rate": 1.0}
    assert rates["lesion_non_measurable"] == {
        "evaluable": 2,
        "cr": 1,
        "nn": 1,
        "pd": 0,
        "cr_rate": 0.5,
    }
    summary = evaluation.summary
    assert summary.loc["lesion landmark, measurable", "PR"] == 1
    assert summary.loc["lesion landmark, non-measurable", "CR"] == 1
    assert summary.loc["lesion landmark, non-measurable", "NN"] == 1
    assert summary.loc["lesion landmark, non-measurable", "PR"] == 0
    text = str(evaluation)
    assert "measurable lesions: 1 evaluable" in text
    assert "non-measurable lesions (< 10 mm, CR/NN/PD): 2 evaluable, CR 50.0" in text


def test_who_a_pr_without_a_confirming_assessment_28_days_later_is_unconfirmed() -> None:
    # WHO (Miller 1981): a PR needs a second assessment at least 4 weeks later.
    # 20 x 20 = 400 mm2 -> 10 x 10 = 100 mm2 on day 40 (-75 %, PR); next visit on day 60
    # (20 days later) still PR, then nothing: unconfirmed; the confirmed best is NC.
    ds = register(
        [lesion("P1-L1", 20.0, 20.0)],
        [visit("P1-L1", 40, 10.0, 10.0), visit("P1-L1", 60, 10.0, 9.0)],
    )
    row = result(fit(ds, criteria="who"), "P1-L1")
    assert row["best_response"] == "PR"
    assert row["best_confirmation"] == "unconfirmed"
    assert row["confirmed_best_response"] == "NC"
    assert row["landmark_confirmation"] == "unconfirmed"
    # RECIST asks for no confirmation here
    recist = result(fit(ds), "P1-L1")
    assert (recist["best_confirmation"], recist["confirmed_best_response"]) == (
        "not required",
        "PR",
    )


def test_who_a_cr_kept_28_days_later_is_confirmed() -> None:
    # CR on day 40, CR again on day 68 (28 days later): confirmed.
    ds = register(
        [lesion("P1-L1", 20.0, 15.0)],
        [visit("P1-L1", 40, 0.0), visit("P1-L1", 55, 0.0), visit("P1-L1", 68, 0.0)],
    )
    row = result(fit(ds, criteria="who"), "P1-L1")
    assert (row["best_response"], row["best_confirmation"]) == ("CR", "confirmed")
    assert row["confirmed_best_response"] == "CR"


def test_who_a_response_lost_before_28_days_is_not_confirmed() -> None:
    # PR on day 30 (400 -> 150 mm2), NC on day 45 (250 mm2), PR on day 70: the PR of day 30
    # was not kept; the PR of day 70 has no later visit: unconfirmed.
    ds = register(
        [lesion("P1-L1", 20.0, 20.0)],
        [
            visit("P1-L1", 30, 15.0, 10.0),
            visit("P1-L1", 45, 25.0, 10.0),
            visit("P1-L1", 70, 15.0, 10.0),
        ],
    )
    row = result(fit(ds, criteria="who"), "P1-L1")
    assert (row["best_response"], row["best_confirmation"]) == ("PR", "unconfirmed")
    assert row["confirmed_best_response"] == "NC"


def test_who_uses_the_who_names() -> None:
    # 20 x 20 -> 18 x 18 mm: -19 % of the product, neither PR nor PD: "no change" (NC).
    ds = register([lesion("P1-L1", 20.0, 20.0)], [visit("P1-L1", 60, 18.0, 18.0)])
    who = fit(ds, criteria="who")
    assert result(who, "P1-L1")["landmark_response"] == "NC"
    assert patient(who, "P1")["response"] == "NC"
    assert list(who.summary.columns) == ["CR", "PR", "NC", "PD", "NE"]
    assert WHO.confirmation_days == 28
    assert WHO.stable_name == "NC"
    assert result(fit(ds), "P1-L1")["landmark_response"] == "SD"


def test_who_override_sd_is_named_nc() -> None:
    ds = register(
        [lesion("P1-L1", 20.0, 20.0)],
        [visit("P1-L1", 60, 0.0, override="SD", reason="residual nodule on palpation")],
    )
    assert steps(fit(ds, criteria="who"), "P1-L1")["category"].tolist() == ["NC"]


def test_per_patient_sum_of_diameters_rule_on_a_worked_example() -> None:
    # Three target lesions (>= 10 mm): 20 + 15 + 10 = 45 mm at baseline.
    # Day 60: 12 + 10 + 9 = 31 mm: (31 - 45) / 45 = -31.1 %, at least 30 % down: PR.
    # Lesion by lesion: 20->12 is -40 % (PR), 15->10 -33 % (PR), 10->9 -10 % (SD): the
    # lesion-based rule also gives PR here. Patient P2: 30 + 10 = 40 mm; day 60: 30 + 0
    # = 30 mm, -25 %: SD by the sum although one lesion is CR (lesion-based rule: PR).
    # Patient P3: 20 + 20 = 40 mm, day 30: 10 + 10 = 20 (nadir), day 60: 16 + 10 = 26 mm:
    # +30 % and +6 mm over the nadir: PD by the sum (20->16 alone is -20 % vs baseline,
    # and +60 % over its own nadir of 10 mm, PD lesion by lesion too).
    ds = register(
        [
            lesion("P1-L1", 20.0),
            lesion("P1-L2", 15.0),
            lesion("P1-L3", 10.0),
            lesion("P2-L1", 30.0),
            lesion("P2-L2", 10.0),
            lesion("P3-L1", 20.0),
            lesion("P3-L2", 20.0),
        ],
        [
            visit("P1-L1", 60, 12.0),
            visit("P1-L2", 60, 10.0),
            visit("P1-L3", 60, 9.0),
            visit("P2-L1", 60, 30.0),
            visit("P2-L2", 60, 0.0),
            visit("P3-L1", 30, 10.0),
            visit("P3-L2", 30, 10.0),
            visit("P3-L1", 60, 16.0),
            visit("P3-L2", 60, 10.0),
        ],
    )
    by_sum = fit(ds, patient_rule="sum")
    p1 = patient(by_sum, "P1")
    assert (p1["rule"], p1["response"], p1["baseline_sum"], p1["response_sum"]) == (
        "sum",
        "PR",
        45.0,
        31.0,
    )
    assert p1["response_date"] == on(60)
    assert patient(by_sum, "P2")["response"] == "SD"
    assert patient(by_sum, "P3")["response"] == "PD"
    by_lesions = fit(ds)
    assert [patient(by_lesions, p)["response"] for p in ("P1", "P2", "P3")] == ["PR", "PR", "PD"]
    assert by_sum.to_dict()["patient_rule"] == "sum"
    assert by_sum.to_dict()["patient_rule_title"] == (
        "RECIST sum of diameters of the measurable (target) lesions"
    )
    assert "patient (sum rule)" in by_sum.summary.index
    assert "RECIST sum of diameters" in str(by_sum)


def test_per_patient_sum_rule_cr_needs_the_non_measurable_lesions_gone() -> None:
    # Targets 20 mm -> 0 (CR); a non-target 8 mm nodule still there (NN): PR (RECIST
    # table 1); once it is gone too: CR. A patient with only a 9 mm lesion: NN.
    ds = register(
        [lesion("P1-L1", 20.0), lesion("P1-L2", 8.0), lesion("P2-L1", 9.0)],
        [
            visit("P1-L1", 60, 0.0),
            visit("P1-L2", 60, 6.0),
            visit("P1-L1", 90, 0.0),
            visit("P1-L2", 90, 0.0),
            visit("P2-L1", 60, 7.0),
        ],
    )
    by_sum = fit(ds, patient_rule="sum")
    assert patient(by_sum, "P1")["response"] == "PR"
    assert patient(by_sum, "P1")["measurable_lesions"] == 1
    assert patient(fit(ds, patient_rule="sum", patient_basis="best"), "P1")["response"] == "CR"
    assert patient(by_sum, "P2")["response"] == "NN"


def test_per_patient_sum_rule_pd_from_a_new_lesion_in_the_field() -> None:
    # The sum shrinks (20 -> 10 mm) but a new in-field lesion is recorded as override PD.
    ds = register(
        [lesion("P1-L1", 20.0)],
        [visit("P1-L1", 60, 10.0, override="PD", reason="new lesion in the treated field")],
    )
    assert patient(fit(ds, patient_rule="sum"), "P1")["response"] == "PD"


def test_the_default_per_patient_rule_is_the_lesion_based_one() -> None:
    evaluation = ResponseEvaluation()
    assert evaluation.patient_rule == "lesions"
    assert evaluation.non_measurable == "qualitative"
    with pytest.raises(ValueError, match=r"patient_rule='mean': allowed lesions, sum"):
        ResponseEvaluation(patient_rule="mean")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"non_measurable='all': allowed qualitative"):
        ResponseEvaluation(non_measurable="all")  # type: ignore[arg-type]
