"""Meta-analysis of ECT response rates agrees with R metafor; bundled evidence and figures.

Reference values come from ``scripts/r/evidence_reference.R`` (R 4.2 + metafor 3.8),
committed under ``tests/fixtures/r``; R is not needed to run these tests.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.figure import Figure

from openect.evidence import (
    ConvergenceError,
    MetaAnalysis,
    list_tables,
    load_table,
    melanoma_response_studies,
    spratt2014,
)
from openect.evidence.meta import (
    Transform,
    _tau2_reml,
    ipft,
    ipft_hm,
    pft,
    proportion_effects,
)
from openect.evidence.plots import (
    binomial_control_limits,
    centre_funnel_figure,
    forest_figure,
    funnel_figure,
    save_png,
)

FIXTURES = Path(__file__).parent / "fixtures" / "r"
TRANSFORM: dict[str, Transform | None] = {"PLO": "logit", "PFT": "ft", "PR": "raw", "GEN": None}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

#: Agreement with R: the brief asks for 1e-6 (estimates) and 1e-4 (intervals); the
#: implementation follows metafor's algorithm, so much tighter tolerances hold.
POINT = 1e-9
INTERVAL = 1e-8


def _read(name: str) -> pd.DataFrame:
    return pd.read_csv(FIXTURES / name, comment="#")


INPUTS = _read("metafor_inputs.csv")
POOLED = _read("metafor_pooled.csv")
STUDIES = _read("metafor_studies.csv")


def _case_id(row: pd.Series) -> str:
    return f"{row.dataset}-{row.measure}-{row.method}-{row.test}-{row.level:g}"


CASES = [row for _, row in POOLED.iterrows()]


def _fit(row: pd.Series) -> MetaAnalysis:
    data = INPUTS[INPUTS["dataset"] == row["dataset"]]
    model = MetaAnalysis(
        method=row["method"],
        transform=TRANSFORM[row["measure"]],
        hartung_knapp=row["test"] == "knha",
        level=float(row["level"]),
    )
    if row["measure"] == "GEN":
        return model.fit(data["yi"], data["vi"], labels=data["label"])
    return model.fit_proportions(data["events"], data["total"], labels=data["label"])


def test_fixtures_say_how_they_were_made() -> None:
    for name in ("metafor_inputs.csv", "metafor_pooled.csv", "metafor_studies.csv"):
        header = (FIXTURES / name).read_text(encoding="utf-8").splitlines()[0]
        assert "scripts/r/evidence_reference.R" in header
        assert "metafor 3.8" in header
    combos = POOLED.groupby(["measure", "method", "test"]).size()
    assert len(combos) == 3 * 3 * 2 + 3 * 2  # proportions x methods x tests, + generic


@pytest.mark.parametrize("row", CASES, ids=[_case_id(r) for r in CASES])
def test_pooled_results_agree_with_metafor(row: pd.Series) -> None:
    model = _fit(row)
    assert model.k_ == row["k"]
    assert model.theta_ == pytest.approx(row["estimate"], abs=POINT)
    assert model.se_ == pytest.approx(row["se"], abs=POINT)
    assert model.tau2_ == pytest.approx(row["tau2"], abs=POINT)
    assert model.theta_ci_low_ == pytest.approx(row["ci_lb"], abs=INTERVAL)
    assert model.theta_ci_high_ == pytest.approx(row["ci_ub"], abs=INTERVAL)
    assert model.i2_ == pytest.approx(row["I2"], rel=1e-9, abs=1e-9)
    assert model.h2_ == pytest.approx(row["H2"], rel=1e-9)
    assert model.q_ == pytest.approx(row["QE"], rel=1e-9, abs=1e-12)
    assert model.q_pvalue_ == pytest.approx(row["QEp"], rel=1e-6, abs=1e-15)
    assert model.s2w_ == pytest.approx(row["s2w"], rel=1e-9)
    # back-transformed (identity for raw proportions and generic effects)
    assert model.estimate_ == pytest.approx(row["pred_bt"], abs=POINT)
    assert model.ci_low_ == pytest.approx(row["ci_lb_bt"], abs=INTERVAL)
    assert model.ci_high_ == pytest.approx(row["ci_ub_bt"], abs=INTERVAL)
    if row["method"] == "FE":
        # metafor's predict() gives no PI for FE models; with tau2 = 0 it equals the CI.
        assert pd.isna(row["pi_lb"])
        assert (model.pi_low_, model.pi_high_) == (model.ci_low_, model.ci_high_)
    else:
        assert model.theta_pi_low_ == pytest.approx(row["pi_lb"], abs=INTERVAL)
        assert model.theta_pi_high_ == pytest.approx(row["pi_ub"], abs=INTERVAL)
        assert model.pi_low_ == pytest.approx(row["pi_lb_bt"], abs=INTERVAL)
        assert model.pi_high_ == pytest.approx(row["pi_ub_bt"], abs=INTERVAL)


@pytest.mark.parametrize("row", CASES, ids=[_case_id(r) for r in CASES])
def test_study_effects_weights_and_cis_agree_with_metafor(row: pd.Series) -> None:
    model = _fit(row)
    keys = ["dataset", "measure", "method", "test", "level"]
    mask = np.logical_and.reduce([STUDIES[key] == row[key] for key in keys])
    reference = STUDIES[mask].sort_values("study")
    studies = model.studies_
    assert list(studies["label"]) == list(reference["label"])
    np.testing.assert_allclose(studies["yi"], reference["yi"], rtol=0, atol=POINT)
    np.testing.assert_allclose(studies["vi"], reference["vi"], rtol=1e-12)
    np.testing.assert_allclose(studies["weight_pct"], reference["weight"], rtol=0, atol=1e-9)
    np.testing.assert_allclose(model.weights_, reference["weight"], rtol=0, atol=1e-9)
    np.testing.assert_allclose(studies["estimate"], reference["est_bt"], rtol=0, atol=POINT)
    np.testing.assert_allclose(studies["ci_low"], reference["ci_lb_bt"], rtol=0, atol=INTERVAL)
    np.testing.assert_allclose(studies["ci_high"], reference["ci_ub_bt"], rtol=0, atol=INTERVAL)


STEPADJ = [row for _, row in _read("metafor_stepadj.csv").iterrows()]


@pytest.mark.parametrize("row", STEPADJ, ids=[f"{r.dataset}-{r.test}" for r in STEPADJ])
def test_oscillating_reml_is_retried_with_half_steps_as_metafor_advises(row: pd.Series) -> None:
    events = [float(v) for v in row["events"].split(";")]
    totals = [float(v) for v in row["total"].split(";")]
    assert row["full_step_converged"] == 0  # R stops with "did not converge" here
    model = MetaAnalysis("REML", "raw", row["test"] == "knha").fit_proportions(events, totals)
    assert model.step_adj_ == 0.5
    assert model.tau2_ == pytest.approx(row["tau2"], abs=POINT)
    assert model.theta_ == pytest.approx(row["estimate"], abs=POINT)
    assert model.se_ == pytest.approx(row["se"], abs=POINT)
    assert model.ci_low_ == pytest.approx(row["ci_lb"], abs=INTERVAL)
    assert model.ci_high_ == pytest.approx(row["ci_ub"], abs=INTERVAL)
    assert model.pi_low_ == pytest.approx(row["pi_lb"], abs=INTERVAL)
    assert model.pi_high_ == pytest.approx(row["pi_ub"], abs=INTERVAL)
    assert model.i2_ == pytest.approx(row["I2"], rel=1e-7)
    yi, vi = proportion_effects(events, totals, "raw")
    with pytest.raises(ConvergenceError, match="did not converge in max_iter=1000"):
        _tau2_reml(yi, vi, max_iter=1000, tol=1e-12, step_adj=1.0)


# ---- conventions --------------------------------------------------------------------


def test_zero_cells_get_one_half_for_logit_and_raw_but_not_freeman_tukey() -> None:
    events, totals = np.array([0.0, 3.0, 12.0]), np.array([15.0, 20.0, 12.0])
    yi, vi = proportion_effects(events, totals, "logit")
    assert yi[0] == pytest.approx(math.log(0.5 / 15.5))
    assert vi[0] == pytest.approx(1 / 0.5 + 1 / 15.5)
    assert yi[1] == pytest.approx(math.log(3 / 17))  # no zero cell: untouched
    assert yi[2] == pytest.approx(math.log(12.5 / 0.5))
    p, v = proportion_effects(events, totals, "raw")
    assert p[0] == pytest.approx(0.5 / 16)
    assert v[0] == pytest.approx(p[0] * (1 - p[0]) / 16)
    assert p[2] == pytest.approx(12.5 / 13)
    ft, vft = proportion_effects(events, totals, "ft")
    assert ft[0] == pytest.approx(0.5 * (0 + math.asin(math.sqrt(1 / 16))))
    assert vft[0] == pytest.approx(1 / (4 * 15 + 2))


def test_a_single_study_is_pooled_by_fixed_effect_as_itself() -> None:
    model = MetaAnalysis(method="FE").fit_proportions([11], [29], labels=["one study"])
    assert model.k_ == 1
    assert model.estimate_ == pytest.approx(11 / 29)
    assert (model.ci_low_, model.ci_high_) == pytest.approx(
        (model.studies_["ci_low"][0], model.studies_["ci_high"][0])
    )
    assert (model.q_, model.q_pvalue_, model.i2_, model.h2_, model.tau2_) == (0, 1, 0, 1, 0)
    assert model.weights_.tolist() == [100.0]


def test_freeman_tukey_back_transform_is_the_inverse_and_clamps_like_metafor() -> None:
    n = np.array([12.0, 94.0, 233.0])
    p = np.array([5 / 12, 58 / 94, 136 / 233])
    np.testing.assert_allclose(ipft(pft(p, n), n), p, atol=1e-12)
    assert ipft(pft(1.0, 20.0) + 0.01, 20.0) == 1.0
    assert ipft(pft(0.0, 20.0) - 0.01, 20.0) == 0.0
    # harmonic mean of n: 1 / mean(1 / n)
    assert ipft_hm(0.8, n) == pytest.approx(ipft(0.8, 3 / np.sum(1 / n)))


def test_results_are_reported_for_machines_and_people() -> None:
    data = spratt2014("CR")
    model = MetaAnalysis().fit_proportions(data["events"], data["total"], data["label"])
    payload = json.loads(json.dumps(model.to_dict(), allow_nan=False))
    for key in ("k", "estimate", "ci_low", "ci_high", "tau2", "i2", "q", "pi_low", "pi_high",
                "weights", "method", "transform", "hartung_knapp", "level"):  # fmt: skip
        assert key in payload
    assert payload["k"] == 11
    assert payload["transform"] == "logit"  # the default for proportions
    assert sum(payload["weights"]) == pytest.approx(100)
    assert payload["studies"][0]["events"] == 5
    summary = model.summary
    assert summary.loc["pooled", "estimate"] == model.estimate_
    assert summary.loc["pooled", "k"] == 11
    text = str(model)
    assert "Pooled estimate: 47.9\u00a0% (95\u00a0% CI 32.4–63.7\u00a0%;" in text
    assert "Kendler 2013" in text


def test_level_changes_the_interval_width() -> None:
    data = spratt2014("OR")
    wide = MetaAnalysis(level=0.99).fit_proportions(data["events"], data["total"])
    narrow = MetaAnalysis(level=0.80).fit_proportions(data["events"], data["total"])
    assert wide.estimate_ == pytest.approx(narrow.estimate_)
    assert wide.ci_high_ - wide.ci_low_ > narrow.ci_high_ - narrow.ci_low_


# ---- bad input ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "PM"}, "method='PM': not allowed; allowed FE, DL, REML"),
        ({"transform": "probit"}, "transform='probit': not allowed; allowed logit, ft, raw"),
        ({"level": 95}, "level=95: out of range; allowed 0 < level < 1"),
        ({"level": 0.0}, "level=0.0: out of range"),
    ],
)
def test_bad_options_name_the_field_and_the_allowed_values(
    kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        MetaAnalysis(**kwargs)


@pytest.mark.parametrize(
    ("events", "totals", "message"),
    [
        ([5, 30], [12, 27], r"events\[1\]=30: out of range; allowed 0 to totals\[1\]=27"),
        ([-1, 3], [12, 27], r"events\[0\]=-1: out of range; allowed >= 0"),
        ([1, 3], [12, 0], r"totals\[1\]=0: out of range; allowed > 0"),
        ([1, 3], [12], r"events/totals: 2 events for 1 totals"),
        ([1, float("nan")], [12, 27], r"events\[1\]=nan: not a finite number"),
        ([1], [12], r"k=1: too few studies for method='REML'; allowed k >= 2"),
        ([], [], r"k=0: no studies"),
    ],
)
def test_bad_counts_name_the_study_the_value_and_the_range(
    events: list[float], totals: list[float], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        MetaAnalysis().fit_proportions(events, totals)


def test_bad_effects_and_misuse_are_explained() -> None:
    with pytest.raises(ValueError, match=r"vi\[1\]=0: out of range; allowed > 0"):
        MetaAnalysis().fit([0.1, 0.2], [0.01, 0.0])
    with pytest.raises(ValueError, match="yi/vi: 2 effects for 3 variances"):
        MetaAnalysis().fit([0.1, 0.2], [0.01, 0.02, 0.03])
    with pytest.raises(ValueError, match="transform='logit': applies to fit_proportions"):
        MetaAnalysis(transform="logit").fit([0.1, 0.2], [0.01, 0.02])
    with pytest.raises(ValueError, match="labels: 1 labels for 2 studies"):
        MetaAnalysis().fit([0.1, 0.2], [0.01, 0.02], labels=["a"])
    with pytest.raises(ValueError, match="k=1: too few studies for hartung_knapp=True"):
        MetaAnalysis(method="FE", hartung_knapp=True).fit([0.1], [0.01])
    with pytest.raises(RuntimeError, match="not fitted"):
        _ = MetaAnalysis().summary


# ---- properties ---------------------------------------------------------------------

studies_strategy = st.lists(
    st.tuples(st.integers(min_value=1, max_value=400), st.floats(min_value=0, max_value=1)),
    min_size=2,
    max_size=12,
)


@settings(max_examples=60, deadline=None)
@given(
    data=studies_strategy,
    method=st.sampled_from(["FE", "DL", "REML"]),
    transform=st.sampled_from(["logit", "ft", "raw"]),
    hartung_knapp=st.booleans(),
)
def test_pooled_estimate_lies_within_the_studies_and_its_intervals(
    data: list[tuple[int, float]], method: str, transform: str, hartung_knapp: bool
) -> None:
    totals = [n for n, _ in data]
    events = [round(n * share) for n, share in data]
    model = MetaAnalysis(method, transform, hartung_knapp).fit_proportions(events, totals)  # type: ignore[arg-type]
    yi = model.studies_["yi"]
    assert yi.min() - 1e-12 <= model.theta_ <= yi.max() + 1e-12
    assert model.tau2_ >= 0
    assert model.theta_ci_low_ <= model.theta_ <= model.theta_ci_high_
    assert model.theta_pi_low_ <= model.theta_ci_low_ + 1e-12
    assert model.theta_pi_high_ >= model.theta_ci_high_ - 1e-12
    assert sum(model.weights_) == pytest.approx(100)
    if method == "FE":
        assert model.tau2_ == 0
    assert 0 <= model.i2_ <= 100


# ---- bundled evidence ---------------------------------------------------------------


def test_every_bundled_table_has_rows_and_sources() -> None:
    tables = {t.name: t for t in list_tables()}
    assert set(tables) == {
        "spratt2014_ect_studies",
        "melanoma_ect_cohorts",
        "published_pooled_estimates",
        "survival_and_local_control",
    }
    for table in tables.values():
        assert table.rows == len(load_table(table.name)) > 0
        assert table.sources
        assert table.description
    spratt = tables["spratt2014_ect_studies"]
    assert spratt.rows == 11
    assert any("J Clin Oncol 2014" in s for s in spratt.sources)
    assert "https://pmc.ncbi.nlm.nih.gov/articles/PMC4979225/table/T1/" in spratt.sources


def test_unknown_table_names_the_allowed_ones() -> None:
    with pytest.raises(ValueError, match="table='nope': unknown; allowed spratt2014_ect_studies"):
        load_table("nope")


def test_spratt_rows_are_the_counts_that_r_pooled() -> None:
    for outcome, dataset in (("CR", "spratt2014_cr"), ("OR", "spratt2014_or")):
        ours = spratt2014(outcome)  # type: ignore[arg-type]
        reference = INPUTS[INPUTS["dataset"] == dataset]
        assert list(ours["label"]) == list(reference["label"])
        assert list(ours["events"]) == list(reference["events"])
        assert list(ours["total"]) == list(reference["total"])
    assert int(spratt2014("CR")["total"].sum()) == 899  # lesions in the 11 ECT studies


def test_melanoma_selection_leaves_out_inconsistent_and_mixed_rows_unless_asked() -> None:
    lesion_or = melanoma_response_studies("OR", "lesion")
    reference = INPUTS[INPUTS["dataset"] == "melanoma_lesion_or"]
    assert list(lesion_or["label"]) == list(reference["label"])
    assert list(lesion_or["events"]) == list(reference["events"])
    assert list(lesion_or["total"]) == list(reference["total"])
    patient_or = melanoma_response_studies("OR", "patient")
    assert not patient_or["flags"].str.contains("INCONSISTENT|MIXED").any()
    everything = melanoma_response_studies(
        "OR", "patient", include_inconsistent=True, include_mixed=True
    )
    assert everything["flags"].str.contains("INCONSISTENT").sum() == 2  # Kunte, Caraco 2015
    assert everything["flags"].str.contains("MIXED").sum() == 1  # Borgognoni 2020
    assert set(patient_or["label"]) < set(everything["label"])
    with pytest.raises(ValueError, match="outcome='PR': not allowed; allowed CR"):
        melanoma_response_studies("PR")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="level='tumour': not allowed; allowed lesion, patient"):
        melanoma_response_studies("CR", "tumour")  # type: ignore[arg-type]


# ---- figures ------------------------------------------------------------------------


def test_forest_and_funnel_figures_are_written_as_png(tmp_path: Path) -> None:
    data = spratt2014("CR")
    model = MetaAnalysis().fit_proportions(data["events"], data["total"], data["label"])
    forest = forest_figure(model, title="Spratt 2014: CR per lesion")
    funnel = funnel_figure(model)
    assert isinstance(forest, Figure)
    assert isinstance(funnel, Figure)
    for name, figure in (("forest.png", forest), ("funnel.png", funnel)):
        path = save_png(figure, tmp_path / "figures" / name)
        content = path.read_bytes()
        assert content[:8] == PNG_SIGNATURE
        assert len(content) > 1000
    generic = MetaAnalysis(method="FE").fit([-0.5, -0.2, 0.1], [0.04, 0.02, 0.05])
    assert isinstance(forest_figure(generic, xlabel="log risk ratio"), Figure)


def test_binomial_control_limits_bracket_the_target_and_narrow_with_size() -> None:
    totals = np.array([10, 50, 200, 2000])
    low, high = binomial_control_limits(0.5, totals, 0.95)
    assert np.all(low < 0.5)
    assert np.all(high > 0.5)
    assert np.all(np.diff(high - low) < 0)
    # large n: close to the normal approximation p +/- 1.96 sqrt(p (1 - p) / n)
    half = 1.959964 * math.sqrt(0.25 / 2000)
    assert (low[-1], high[-1]) == pytest.approx((0.5 - half, 0.5 + half), abs=1e-3)
    wide_low, wide_high = binomial_control_limits(0.5, totals, 0.998)
    assert np.all(wide_low <= low)
    assert np.all(wide_high >= high)
    with pytest.raises(ValueError, match=r"target=1\.2: out of range; allowed 0 < target < 1"):
        binomial_control_limits(1.2, totals)


def test_centre_funnel_places_centres_against_the_pooled_literature(tmp_path: Path) -> None:
    centres = [("C01", 30, 40), ("C02", 5, 25), ("C03", 60, 90)]
    figure = centre_funnel_figure(0.48, centres, title="CR per lesion")
    path = save_png(figure, tmp_path / "centres.png", dpi=80)
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    frame = pd.DataFrame(centres, columns=["label", "events", "total"])
    assert isinstance(centre_funnel_figure(0.48, frame), Figure)
    with pytest.raises(ValueError, match=r"centres\['C02'\].events=30: out of range"):
        centre_funnel_figure(0.48, [("C02", 30, 25)])
