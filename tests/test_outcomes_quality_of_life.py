"""Patient-reported outcomes per visit: windows, pain NRS, EQ-VAS and EQ-5D-3L."""

from __future__ import annotations

import datetime as dt
import io
import json
import math
from typing import Any

import numpy as np
import pytest
from scipy import stats

from openect.data.dataset import Dataset
from openect.data.enums import Drug, PrimaryTumour, Route, Sex
from openect.data.models import Centre, Patient, PatientReported, Session
from openect.outcomes.quality_of_life import (
    EQ5D_DIMENSIONS,
    QualityOfLife,
    default_tolerance_days,
    visit_day,
)
from openect.synth import generate_cohort

FIRST = dt.date(2021, 1, 10)


def _patient(patient_id: str) -> Patient:
    return Patient(
        patient_id=patient_id,
        centre_id="C01",
        sex=Sex.F,
        birth_year=1950,
        primary_tumour=PrimaryTumour.MELANOMA,
    )


def _session(patient_id: str, number: int, day: int) -> Session:
    return Session(
        session_id=f"{patient_id}-S{number}",
        patient_id=patient_id,
        session_date=FIRST + dt.timedelta(days=day),
        session_number=number,
        drug=Drug.BLEOMYCIN,
        route=Route.INTRAVENOUS,
    )


def _report(patient_id: str, report_id: str, day: int, **items: Any) -> PatientReported:
    return PatientReported(
        report_id=report_id,
        patient_id=patient_id,
        report_date=FIRST + dt.timedelta(days=day),
        **items,
    )


def _dataset(
    reports: list[PatientReported], patients: tuple[str, ...], without_session: tuple[str, ...] = ()
) -> Dataset:
    """Patients whose first session is on FIRST (plus a later retreatment), and
    patients in ``without_session`` who never had a session."""
    return Dataset(
        centres=[Centre(centre_id="C01", name="Centre one")],
        patients=[_patient(p) for p in (*patients, *without_session)],
        # The retreatment comes first in the file: the FIRST session is the earliest date.
        sessions=[_session(p, 2, 200) for p in patients] + [_session(p, 1, 0) for p in patients],
        patient_reported=reports,
    )


def _t_interval(values: list[float]) -> tuple[float, float, float]:
    """Mean and 95 % t interval, computed independently with scipy's interval()."""
    x = np.asarray(values, dtype=float)
    sem = x.std(ddof=1) / math.sqrt(len(x))
    low, high = stats.t.interval(0.95, len(x) - 1, loc=x.mean(), scale=sem)
    return float(x.mean()), float(low), float(high)


def _wilson(count: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """Wilson score interval written out by hand."""
    p = count / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


# ---------------------------------------------------------------------- windows
def test_visit_target_days_are_months_of_30_4375_days_rounded() -> None:
    assert [visit_day(m) for m in (0, 1, 2, 4, 10)] == [0, 30, 61, 122, 304]
    assert visit_day(8) == 244  # 243.5 days: halves round up


def test_default_tolerance_is_30_days_before_baseline_then_15_and_30_days() -> None:
    assert default_tolerance_days(0) == (30, 0)
    assert default_tolerance_days(1) == default_tolerance_days(2) == (15, 15)
    assert default_tolerance_days(4) == default_tolerance_days(10) == (30, 30)


def test_default_windows_table() -> None:
    windows = QualityOfLife().fit(_dataset([], ("A",))).windows_
    assert windows.to_dict(orient="list") == {
        "visit_months": [0.0, 1.0, 2.0, 4.0, 10.0],
        "day": [0, 30, 61, 122, 304],
        "from_day": [-30, 15, 46, 92, 274],
        "to_day": [0, 45, 76, 152, 334],
    }


@pytest.mark.parametrize(
    ("day", "visit"),
    [
        (-31, None),
        (-30, 0.0),
        (0, 0.0),
        (1, None),
        (14, None),
        (15, 1.0),
        (45, 1.0),
        (46, 2.0),
        (76, 2.0),
        (77, None),
        (91, None),
        (92, 4.0),
        (152, 4.0),
        (153, None),
        (273, None),
        (274, 10.0),
        (334, 10.0),
        (335, None),
    ],
)
def test_report_is_assigned_to_a_visit_only_inside_its_window(day: int, visit: float) -> None:
    qol = QualityOfLife().fit(_dataset([_report("A", "R1", day, pain_nrs=3)], ("A",)))
    assigned = qol.assignments_["visit_months"].tolist()
    assert assigned == ([] if visit is None else [visit])
    assert qol.report_counts_["outside_windows"] == (1 if visit is None else 0)
    if visit is not None:
        assert qol.assignments_["report_day"].tolist() == [day]


def test_custom_tolerance_narrows_a_window() -> None:
    reports = [_report("A", "R1", 20, pain_nrs=3), _report("A", "R2", 58, pain_nrs=2)]
    qol = QualityOfLife(tolerance_days={1: (5, 5)}).fit(_dataset(reports, ("A",)))
    assert qol.windows_.loc[1, ["from_day", "to_day"]].tolist() == [25, 35]
    assert qol.assignments_["report_id"].tolist() == ["R2"]


def test_overlapping_windows_take_the_nearest_visit() -> None:
    reports = [_report("A", "R1", 44, pain_nrs=3), _report("B", "R2", 47, pain_nrs=2)]
    qol = QualityOfLife(tolerance_days={1: (30, 30), 2: (30, 30)}).fit(
        _dataset(reports, ("A", "B"))
    )
    got = dict(zip(qol.assignments_["report_id"], qol.assignments_["visit_months"], strict=True))
    assert got == {"R1": 1.0, "R2": 2.0}  # 44 is 14 days from day 30, 17 from day 61


def test_nearest_report_per_patient_and_visit_earlier_on_ties() -> None:
    reports = [
        _report("A", "A-far", 40, pain_nrs=9),
        _report("A", "A-near", 33, pain_nrs=1),
        _report("B", "B-late", 32, pain_nrs=9),
        _report("B", "B-early", 28, pain_nrs=2),
    ]
    qol = QualityOfLife().fit(_dataset(reports, ("A", "B")))
    assert qol.assignments_["report_id"].tolist() == ["A-near", "B-early"]
    assert qol.report_counts_ == {
        "total": 4,
        "used": 2,
        "no_session": 0,
        "outside_windows": 0,
        "superseded": 2,
    }
    assert qol.pain_.loc[1, "mean"] == pytest.approx(1.5)


def test_reports_of_a_patient_without_session_are_ignored() -> None:
    reports = [_report("A", "R1", 0, pain_nrs=4), _report("Z", "R2", 0, pain_nrs=10)]
    qol = QualityOfLife().fit(_dataset(reports, ("A",), without_session=("Z",)))
    assert qol.report_counts_["no_session"] == 1
    assert qol.assignments_["patient_id"].tolist() == ["A"]
    assert qol.pain_.loc[0, "n"] == 1
    assert qol.pain_.loc[0, "mean"] == 4.0


def test_days_count_from_the_first_session_not_the_retreatment() -> None:
    # Day 200 is the retreatment: a report 30 days after it (day 230) falls between
    # the 4- and 10-month windows of the first session.
    qol = QualityOfLife().fit(_dataset([_report("A", "R1", 230, pain_nrs=1)], ("A",)))
    assert qol.assignments_.empty
    assert qol.report_counts_["outside_windows"] == 1


# ---------------------------------------------------------------------- statistics
BASELINE = {"A": (6, 50), "B": (8, 40), "C": (4, 65), "D": (7, 55), "E": (5, None)}
ONE_MONTH = {"A": (3, 70), "B": (5, 60), "C": (2, 80), "E": (4, 75)}
MOBILITY = {"A": 1, "B": 2, "C": 3, "D": 1, "E": 2}


@pytest.fixture
def scored() -> QualityOfLife:
    reports = []
    offsets = {"A": -30, "B": 0, "C": -3, "D": -10, "E": -1}
    for patient, (pain, vas) in BASELINE.items():
        reports.append(
            _report(
                patient,
                f"{patient}-0",
                offsets[patient],
                pain_nrs=pain,
                eq_vas=vas,
                eq5d_mobility=MOBILITY[patient],
                eq5d_pain=2,
            )
        )
    one_month_days = {"A": 15, "B": 45, "C": 30, "E": 25}
    for patient, (pain, vas) in ONE_MONTH.items():
        reports.append(
            _report(patient, f"{patient}-1", one_month_days[patient], pain_nrs=pain, eq_vas=vas)
        )
    reports.append(_report("A", "A-out", -31, pain_nrs=10, eq_vas=0))  # outside: ignored
    return QualityOfLife().fit(_dataset(reports, tuple(BASELINE)))


def test_pain_mean_and_t_interval_per_visit(scored: QualityOfLife) -> None:
    pain = scored.pain_.set_index("visit_months")
    for visit, values in ((0.0, BASELINE), (1.0, ONE_MONTH)):
        scores = [float(p) for p, _ in values.values()]
        mean, low, high = _t_interval(scores)
        row = pain.loc[visit]
        assert row["n"] == len(scores)
        assert row["mean"] == pytest.approx(mean)
        assert row["sd"] == pytest.approx(np.std(scores, ddof=1))
        assert (row["ci_low"], row["ci_high"]) == pytest.approx((low, high))
        assert row["median"] == pytest.approx(np.median(scores))
    # baseline pain 6, 8, 4, 7, 5: mean 6, sd sqrt(2.5), t(0.975, 4) = 2.776
    assert pain.loc[0.0, "ci_low"] == pytest.approx(6 - 2.7764451 * math.sqrt(2.5 / 5))


def test_pain_change_from_baseline_is_paired(scored: QualityOfLife) -> None:
    row = scored.pain_.set_index("visit_months").loc[1.0]
    changes = [ONE_MONTH[p][0] - BASELINE[p][0] for p in ONE_MONTH]  # -3, -3, -2, -1
    mean, low, high = _t_interval(changes)
    assert row["n_paired"] == 4
    assert row["change_mean"] == pytest.approx(mean) == pytest.approx(-2.25)
    assert row["change_sd"] == pytest.approx(np.std(changes, ddof=1))
    assert (row["change_ci_low"], row["change_ci_high"]) == pytest.approx((low, high))


def test_baseline_row_has_no_change(scored: QualityOfLife) -> None:
    row = scored.pain_.iloc[0]
    assert row["n_paired"] == 0
    assert all(math.isnan(row[c]) for c in ("change_mean", "change_ci_low", "change_ci_high"))


def test_missing_item_stays_missing_in_eq_vas(scored: QualityOfLife) -> None:
    vas = scored.eq_vas_.set_index("visit_months")
    baseline = [v for _, v in BASELINE.values() if v is not None]  # E has no EQ-VAS
    mean, low, high = _t_interval([float(v) for v in baseline])
    assert vas.loc[0.0, "n"] == 4
    assert (vas.loc[0.0, "mean"], vas.loc[0.0, "ci_low"], vas.loc[0.0, "ci_high"]) == (
        pytest.approx((mean, low, high))
    )
    changes = [ONE_MONTH[p][1] - BASELINE[p][1] for p in ("A", "B", "C")]  # E unpaired
    c_mean, c_low, c_high = _t_interval([float(c) for c in changes])
    assert vas.loc[1.0, "n_paired"] == 3
    assert (vas.loc[1.0, "change_mean"], vas.loc[1.0, "change_ci_low"]) == pytest.approx(
        (c_mean, c_low)
    )
    assert vas.loc[1.0, "change_ci_high"] == pytest.approx(c_high)


def test_visits_without_reports_have_n_zero_and_no_estimate(scored: QualityOfLife) -> None:
    later = scored.pain_[scored.pain_["visit_months"] >= 2]
    assert later["n"].tolist() == [0, 0, 0]
    assert later["mean"].isna().all()
    assert later["ci_low"].isna().all()


def test_schedule_without_baseline_has_no_change() -> None:
    reports = [_report("A", "R0", 0, pain_nrs=6), _report("A", "R1", 30, pain_nrs=2)]
    pain = QualityOfLife(visits_months=(1, 2)).fit(_dataset(reports, ("A",))).pain_
    assert pain["n"].tolist() == [1, 0]
    assert pain["n_paired"].tolist() == [0, 0]
    assert pain["change_mean"].isna().all()


def test_eq5d_problem_shares_with_wilson_intervals(scored: QualityOfLife) -> None:
    eq5d = scored.eq5d_.set_index(["visit_months", "dimension"])
    mobility = eq5d.loc[(0.0, "mobility")]
    # levels 1, 2, 3, 1, 2: three with any problem, one extreme
    assert (mobility["n"], mobility["problems"], mobility["extreme"]) == (5, 3, 1)
    assert mobility["problems_share"] == pytest.approx(0.6)
    assert mobility["extreme_share"] == pytest.approx(0.2)
    assert (mobility["problems_ci_low"], mobility["problems_ci_high"]) == pytest.approx(
        _wilson(3, 5)
    )
    assert (mobility["extreme_ci_low"], mobility["extreme_ci_high"]) == pytest.approx(_wilson(1, 5))
    pain = eq5d.loc[(0.0, "pain")]
    assert (pain["n"], pain["problems"], pain["extreme"], pain["problems_share"]) == (5, 5, 0, 1.0)
    # one-month reports carry no EQ-5D: n 0, shares missing
    assert eq5d.loc[(1.0, "selfcare"), "n"] == 0
    assert math.isnan(eq5d.loc[(1.0, "selfcare"), "problems_share"])


def test_eq5d_table_has_one_row_per_visit_and_dimension(scored: QualityOfLife) -> None:
    assert len(scored.eq5d_) == 5 * 5
    assert scored.eq5d_["dimension"].tolist()[:5] == list(EQ5D_DIMENSIONS)


def test_level_changes_the_interval_width() -> None:
    dataset = _dataset(
        [_report(p, f"{p}-0", 0, pain_nrs=v) for p, (v, _) in BASELINE.items()], tuple(BASELINE)
    )
    wide = QualityOfLife(level=0.99).fit(dataset).pain_.iloc[0]
    x = [float(v) for v, _ in BASELINE.values()]
    low, high = stats.t.interval(0.99, 4, loc=np.mean(x), scale=np.std(x, ddof=1) / math.sqrt(5))
    assert (wide["ci_low"], wide["ci_high"]) == pytest.approx((low, high))


# ---------------------------------------------------------------------- outputs
def test_summary_stacks_pain_and_eq_vas(scored: QualityOfLife) -> None:
    summary = scored.summary
    assert summary["measure"].tolist() == ["pain_nrs"] * 5 + ["eq_vas"] * 5
    assert summary.columns[:4].tolist() == ["measure", "visit_months", "day", "n"]


def test_to_dict_is_json_without_nan(scored: QualityOfLife) -> None:
    result = scored.to_dict()
    text = json.dumps(result, allow_nan=False)
    assert json.loads(text) == result
    assert set(result) == {
        "analysis",
        "software",
        "parameters",
        "windows",
        "report_counts",
        "pain_nrs",
        "eq_vas",
        "eq5d",
    }
    assert result["pain_nrs"][0]["change_mean"] is None
    assert result["pain_nrs"][0]["n"] == 5
    assert isinstance(result["pain_nrs"][0]["n"], int)
    assert result["pain_nrs"][1]["change_mean"] == pytest.approx(-2.25)
    assert result["report_counts"]["outside_windows"] == 1


def test_str_shows_counts_and_tables(scored: QualityOfLife) -> None:
    text = str(scored)
    assert "9 used of 10" in text
    assert "Pain NRS (0-10)" in text
    assert "EQ-5D-3L" in text
    assert "not fitted" in str(QualityOfLife())


def test_trajectory_figure_has_two_labelled_panels(scored: QualityOfLife) -> None:
    figure = scored.trajectory_figure()
    axes = figure.get_axes()
    assert len(axes) == 2
    assert all("months" in ax.get_xlabel() for ax in axes)
    assert "0-10" in axes[0].get_ylabel()
    assert "0-100" in axes[1].get_ylabel()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    assert buffer.getvalue().startswith(b"\x89PNG")


def test_results_need_fit() -> None:
    with pytest.raises(RuntimeError, match="fit"):
        _ = QualityOfLife().summary


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"visits_months": ()}, "empty"),
        ({"visits_months": (0, 2, 1)}, "strictly increasing"),
        ({"visits_months": (-1, 1)}, "allowed >= 0"),
        ({"level": 1.0}, "0 < level < 1"),
        ({"tolerance_days": {3: (5, 5)}}, "not in visits_months"),
        ({"tolerance_days": {1: (-1, 5)}}, "days before and after >= 0"),
    ],
)
def test_invalid_parameters_are_named(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        QualityOfLife(**kwargs).fit(Dataset())


def test_empty_dataset_gives_empty_tables() -> None:
    qol = QualityOfLife().fit(Dataset())
    assert qol.pain_["n"].tolist() == [0] * 5
    assert qol.eq5d_["n"].sum() == 0
    json.dumps(qol.to_dict(), allow_nan=False)
    assert len(qol.trajectory_figure().get_axes()) == 2


# ---------------------------------------------------------------------- synthetic cohort
@pytest.fixture(scope="module")
def cohort() -> Dataset:
    return generate_cohort(200, centres=3, seed=7)


def test_synthetic_cohort_is_consistent(cohort: Dataset) -> None:
    qol = QualityOfLife().fit(cohort)
    counts = qol.report_counts_
    assert counts["total"] == len(cohort.patient_reported)
    parts = ("used", "no_session", "outside_windows", "superseded")
    assert sum(counts[part] for part in parts) == counts["total"]
    assert not qol.assignments_.duplicated(["patient_id", "visit_months"]).any()
    assert qol.pain_["n"].sum() == qol.assignments_["pain_nrs"].notna().sum()
    assert qol.pain_.loc[0, "n"] <= 200
    assert ((qol.pain_["mean"] >= 0) & (qol.pain_["mean"] <= 10)).all()
    assert ((qol.eq_vas_["mean"] >= 0) & (qol.eq_vas_["mean"] <= 100)).all()
    assert (qol.pain_["ci_low"] <= qol.pain_["mean"]).all()
    assert (qol.eq5d_["extreme"] <= qol.eq5d_["problems"]).all()
    json.dumps(qol.to_dict(), allow_nan=False)


def test_pain_falls_after_ect_in_the_synthetic_cohort(cohort: Dataset) -> None:
    one_month = QualityOfLife().fit(cohort).pain_.set_index("visit_months").loc[1.0]
    assert one_month["n_paired"] > 100
    assert one_month["change_ci_high"] < 0
