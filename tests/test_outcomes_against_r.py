"""Outcome statistics agree with R (survival, sandwich, geepack) on committed fixtures.

The input tables and R's results are in tests/fixtures/r (scripts/r/outcomes_input.py
and scripts/r/outcomes_reference.R). Point estimates must agree to 1e-6, CIs to 1e-4.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from openect.outcomes.models import CompleteResponseGEE, LocalControlCox
from openect.outcomes.rates import ResponseRates
from openect.outcomes.survival import KaplanMeier

FIXTURES = Path(__file__).parent / "fixtures" / "r"
POINT, CI = 1e-6, 1e-4


def r_table(name: str) -> pd.DataFrame:
    return pd.read_csv(FIXTURES / name, comment="#")


@pytest.fixture(scope="module")
def lesions() -> pd.DataFrame:
    return pd.read_csv(FIXTURES / "outcomes_lesions.csv")


@pytest.fixture(scope="module")
def patients() -> pd.DataFrame:
    return pd.read_csv(FIXTURES / "outcomes_patients.csv")


def event_rows(curve: pd.DataFrame) -> pd.DataFrame:
    """R's survfit lists every distinct time; lifelines adds time 0."""
    return curve[curve["time"] > 0].reset_index(drop=True)


@pytest.mark.parametrize("group", ["all", "False", "True"])
def test_local_control_kaplan_meier_matches_survfit(lesions: pd.DataFrame, group: str) -> None:
    by = None if group == "all" else "concurrent_immunotherapy"
    km = KaplanMeier("local-control", by=by).fit(lesions)
    ours = event_rows(km.curve(group))
    theirs = r_table("outcomes_km_local_control.csv").query("group == @group")
    theirs = theirs.reset_index(drop=True)
    assert len(ours) == len(theirs) > 50
    np.testing.assert_allclose(ours["time"], theirs["time"], atol=0)
    np.testing.assert_allclose(ours["survival"], theirs["survival"], atol=POINT)
    np.testing.assert_allclose(ours["at_risk"], theirs["at_risk"], atol=0)
    known = theirs["ci_low"].notna()
    np.testing.assert_allclose(ours["ci_low"][known], theirs["ci_low"][known], atol=CI)
    np.testing.assert_allclose(ours["ci_high"][known], theirs["ci_high"][known], atol=CI)


def test_overall_survival_matches_survfit(patients: pd.DataFrame) -> None:
    km = KaplanMeier("overall-survival").fit(patients)
    ours = event_rows(km.curve("all"))
    theirs = r_table("outcomes_km_overall_survival.csv")
    np.testing.assert_allclose(ours["survival"], theirs["survival"], atol=POINT)
    known = theirs["ci_low"].notna()
    np.testing.assert_allclose(ours["ci_low"][known], theirs["ci_low"][known], atol=CI)
    np.testing.assert_allclose(ours["ci_high"][known], theirs["ci_high"][known], atol=CI)


def test_landmarks_match_summary_survfit_times(lesions: pd.DataFrame) -> None:
    km = KaplanMeier("local-control", landmarks=(200, 365)).fit(lesions)
    ours = km.at("all", [200, 365])
    theirs = r_table("outcomes_km_landmarks.csv")
    np.testing.assert_allclose(ours["survival"], theirs["survival"], atol=POINT)
    np.testing.assert_allclose(ours["ci_low"], theirs["ci_low"], atol=CI)
    np.testing.assert_allclose(ours["ci_high"], theirs["ci_high"], atol=CI)
    summary = km.summary.loc["all"]
    assert summary["at_200d"] == pytest.approx(theirs["survival"][0], abs=POINT)


def test_cox_with_cluster_matches_coxph(lesions: pd.DataFrame) -> None:
    cox = LocalControlCox().fit(lesions).summary
    theirs = r_table("outcomes_cox.csv").set_index("covariate")
    for name, row in theirs.iterrows():
        assert cox.loc[name, "coef"] == pytest.approx(row["coef"], abs=POINT), name
        assert cox.loc[name, "se_robust"] == pytest.approx(row["se_robust"], abs=CI), name
        assert cox.loc[name, "hr_low"] == pytest.approx(row["hr_low"], abs=CI), name
        assert cox.loc[name, "hr_high"] == pytest.approx(row["hr_high"], abs=CI), name


def test_rates_match_binom_prop_and_sandwich(lesions: pd.DataFrame, patients: pd.DataFrame) -> None:
    # The R tables were computed with every lesion in one row (the percentage rule for
    # every size), so the comparison names that scope explicitly.
    ours = ResponseRates(lesion_scope="all").fit(lesions, patients).summary
    theirs = r_table("outcomes_rates.csv").set_index(["unit", "outcome"])
    for key, row in theirs.iterrows():
        assert ours.loc[key, "events"] == row["events"]
        assert ours.loc[key, "evaluable"] == row["evaluable"]
        assert ours.loc[key, "rate"] == pytest.approx(row["rate"], abs=POINT)
        for column in ("exact_low", "exact_high", "wilson_low", "wilson_high"):
            assert ours.loc[key, column] == pytest.approx(row[column], abs=CI), (key, column)
        if key[0] == "lesion":
            for column in ("cluster_low", "cluster_high"):
                assert ours.loc[key, column] == pytest.approx(row[column], abs=CI), (key, column)


def test_gee_of_complete_response_matches_geepack(lesions: pd.DataFrame) -> None:
    ours = CompleteResponseGEE().fit(lesions).summary
    theirs = r_table("outcomes_gee.csv").set_index("covariate").drop("(Intercept)")
    for name, row in theirs.iterrows():
        assert ours.loc[name, "coef"] == pytest.approx(row["coef"], abs=1e-4), name
        assert ours.loc[name, "se_robust"] == pytest.approx(row["se_robust"], abs=1e-4), name
