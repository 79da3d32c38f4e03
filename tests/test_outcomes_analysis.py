"""Outcome analyses on hand-made tables and on the synthetic register."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pandas as pd
import pytest

from openect.outcomes.analysis import OutcomeAnalysis, subgroup_rates
from openect.outcomes.models import auc
from openect.outcomes.rates import proportion_ci
from openect.outcomes.survival import KaplanMeier
from openect.synth import generate_cohort


def test_kaplan_meier_is_the_product_limit() -> None:
    lesions = pd.DataFrame({"control_days": [10, 20, 20, 30, 40], "progression": [1, 1, 0, 1, 0]})
    km = KaplanMeier("local-control", at_risk_times=(0, 20, 35)).fit(lesions)
    curve = km.curve("all").set_index("time")
    # 5 at risk at 10 d (1 event), 4 at 20 d (1 event, 1 censored), 2 at 30 d (1 event)
    assert curve.loc[10.0, "survival"] == pytest.approx(4 / 5)
    assert curve.loc[20.0, "survival"] == pytest.approx(4 / 5 * 3 / 4)
    assert curve.loc[30.0, "survival"] == pytest.approx(4 / 5 * 3 / 4 * 1 / 2)
    assert list(curve.loc[[10.0, 20.0, 30.0], "at_risk"]) == [5, 4, 2]
    assert km.at_risk("all") == [5, 4, 1]
    assert km.median("all") == 30.0
    at = km.at("all", [25, 100])
    assert at["survival"][0] == pytest.approx(0.6)
    assert np.isnan(at["survival"][1])  # beyond the last follow-up: not estimated


def test_subgroup_rates_count_and_wilson_interval() -> None:
    lesions = pd.DataFrame(
        {
            "cr": [1, 1, 0, 1, 0, 0, np.nan],
            "objective": [1, 1, 1, 1, 0, 1, np.nan],
            "large": [False, False, False, True, True, True, True],
            "layer": ["cutaneous"] * 7,
            "ulcerated": [False] * 7,
            "previously_irradiated": [False] * 7,
            "electrode": ["linear"] * 7,
            "drug": ["bleomycin intravenous"] * 6 + ["calcium_chloride intratumoural"],
            "concurrent_immunotherapy": [False] * 7,
        }
    )
    table = subgroup_rates(lesions, lesion_scope="all").set_index(["subgroup", "level"])
    small, large = table.loc[("large", "False")], table.loc[("large", "True")]
    assert (small["evaluable"], small["cr_events"], small["objective_events"]) == (3, 2, 3)
    assert (large["evaluable"], large["cr_events"]) == (3, 1)  # the NaN lesion is not evaluable
    # Wilson score interval by its formula
    p, n, z = 2 / 3, 3, 1.959963984540054
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    assert small["cr_low"] == pytest.approx(centre - half)
    assert small["cr_high"] == pytest.approx(centre + half)


def test_exact_interval_of_zero_events_is_one_sided_rule_of_three_like() -> None:
    low, high = proportion_ci(0, 30, "exact")
    assert low == 0.0
    assert high == pytest.approx(1 - 0.025 ** (1 / 30))
    with pytest.raises(ValueError, match="method='mid': allowed exact, wilson"):
        proportion_ci(1, 3, "mid")
    with pytest.raises(ValueError, match="events=4, total=3"):
        proportion_ci(4, 3)


def test_auc_is_the_share_of_correctly_ordered_pairs() -> None:
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 40)
    score = np.round(rng.normal(size=40) + y, 1)  # rounding makes ties
    pairs = [
        1.0 if s1 > s0 else 0.5 if s1 == s0 else 0.0
        for (s1, y1), (s0, y0) in itertools.product(zip(score, y, strict=True), repeat=2)
        if y1 == 1 and y0 == 0
    ]
    assert auc(y, score) == pytest.approx(np.mean(pairs))


@pytest.fixture(scope="module")
def analysis() -> OutcomeAnalysis:
    return OutcomeAnalysis().fit(generate_cohort(1000, centres=4, seed=2026))


def test_register_reproduces_published_landmarks(analysis: OutcomeAnalysis) -> None:
    """The synthetic register is calibrated on InspECT: local control ~86 % at 200 days,
    1-year overall survival ~67 % (Kunte 2017), better with immunotherapy (Campana 2021)."""
    local = analysis.local_control_.summary.loc["all"]
    assert 0.80 < local["at_200d"] < 0.90
    assert local["at_200d_low"] < local["at_200d"] < local["at_200d_high"]
    survival = analysis.survival_.summary.loc["all"]
    assert 0.58 < survival["at_365d"] < 0.74
    by_immunotherapy = analysis.local_control_by_immunotherapy_.summary
    assert by_immunotherapy.loc["True", "at_365d"] > by_immunotherapy.loc["False", "at_365d"]
    cox = analysis.cox_.summary if analysis.cox_ is not None else None
    assert cox is not None
    assert cox.loc["large", "hr"] > 1.0  # tumours >= 3 cm progress more (Mali 2013)
    assert cox.loc["concurrent_immunotherapy", "hr"] < 1.0
    gee = analysis.gee_.summary if analysis.gee_ is not None else None
    assert gee is not None
    assert gee.loc["large", "or_high"] < 1.0  # less CR for tumours >= 3 cm


def test_cr_model_is_calibrated_and_labelled_model_based(analysis: OutcomeAnalysis) -> None:
    model = analysis.cr_model_
    assert model is not None
    result = model.to_dict()
    assert result["label"].startswith("model-based")
    assert 0.55 < result["cv_auc"] < 0.9
    calibration = model.calibration_
    assert calibration["n"].sum() == model.n_
    assert np.abs(calibration["predicted"] - calibration["observed"]).max() < 0.12
    probabilities = model.predict(analysis.lesions_)
    assert ((probabilities > 0) & (probabilities < 1)).all()


def test_summary_is_json_and_small_data_give_notes_not_crashes(analysis: OutcomeAnalysis) -> None:
    json.dumps(analysis.to_dict(), allow_nan=False)
    tiny = OutcomeAnalysis().fit(generate_cohort(3, centres=1, seed=1))
    result = tiny.to_dict()
    json.dumps(result, default=str)
    assert result["patients"] == 3
    if tiny.cox_ is None or tiny.gee_ is None:
        assert result["notes"]


def test_cluster_robust_interval_of_a_single_patient_falls_back_to_exact() -> None:
    from openect.outcomes.rates import cluster_robust_ci

    p, low, high = cluster_robust_ci(np.array([1, 0, 1, 1]), np.array(["P1"] * 4))
    assert p == 0.75
    assert (low, high) == pytest.approx(proportion_ci(3, 4, "exact"))


def test_rates_count_measurable_and_non_measurable_lesions_apart() -> None:
    from openect.outcomes.rates import ResponseRates

    # 4 measurable lesions: CR, PR, SD, CR; 2 non-measurable: CR, NN (cr 1, 0).
    lesions = pd.DataFrame(
        {
            "patient_id": ["P1", "P1", "P2", "P3", "P3", "P4"],
            "measurable": [True, True, True, True, False, False],
            "cr": [1.0, 0.0, 0.0, 1.0, 1.0, 0.0],
            "objective": [1.0, 1.0, 0.0, 1.0, 1.0, 0.0],
        }
    )
    patients = pd.DataFrame({"response": ["PR", "SD", "CR", "NE"], "rule": ["sum"] * 4})
    table = ResponseRates().fit(lesions, patients).summary
    assert (table.loc[("lesion", "cr"), "events"], table.loc[("lesion", "cr"), "evaluable"]) == (
        2,
        4,
    )
    assert table.loc[("lesion", "objective"), "events"] == 3
    apart = table.loc[("lesion, non-measurable", "cr")]
    assert (apart["events"], apart["evaluable"]) == (1, 2)
    assert table.loc[("lesion", "cr"), "basis"].startswith("measurable lesions")
    assert table.loc[("patient", "cr"), "basis"] == "patients, per-patient rule: sum"
    every = ResponseRates(lesion_scope="all").fit(lesions, patients).summary
    assert every.loc[("lesion", "cr"), "evaluable"] == 6
    assert ("lesion, non-measurable", "cr") not in every.index
    with pytest.raises(ValueError, match="needs a measurable column"):
        ResponseRates().fit(lesions.drop(columns="measurable"), patients)


def test_analysis_names_the_per_patient_rule_and_the_lesions_rated(
    analysis: OutcomeAnalysis,
) -> None:
    result = analysis.to_dict()
    assert (result["patient_rule"], result["non_measurable"]) == ("lesions", "qualitative")
    assert result["lesion_rates_over"].startswith("measurable lesions")
    assert analysis.subgroups_.attrs["basis"].startswith("measurable lesions")
