"""Patient-reported outcomes over scheduled visits: pain NRS, EQ-VAS and EQ-5D-3L.

The InspECT melanoma protocol collects a pain numeric rating scale (NRS, 0-10 points),
the EQ-5D-3L descriptive system (five dimensions, levels 1-3) and the EQ visual
analogue scale (EQ-VAS, 0-100 points) at baseline and 1, 2, 4 and 10 months after
the first ECT session. Real reports are rarely on the exact day, so each report is
assigned to a scheduled visit through a window of days around it (see
:class:`QualityOfLife`).

Times are counted in whole days from the date of the patient's FIRST ECT session
(day 0); one month is 30.4375 days (365.25 / 12).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import pandas as pd
from scipy import stats

from openect import __version__
from openect.data.dataset import Dataset
from openect.formatting import percent
from openect.outcomes._json import records

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

#: Days per month: 365.25 / 12.
DAYS_PER_MONTH: Final[float] = 30.4375
#: InspECT melanoma schedule: baseline and 1, 2, 4 and 10 months after the first ECT.
DEFAULT_VISITS_MONTHS: Final[tuple[float, ...]] = (0, 1, 2, 4, 10)
#: EQ-5D-3L dimensions, as the suffixes of the ``eq5d_*`` columns of patient_reported.csv.
EQ5D_DIMENSIONS: Final[tuple[str, ...]] = ("mobility", "selfcare", "activity", "pain", "anxiety")
#: Scores summarised per visit: column of patient_reported.csv -> (label, unit range).
SCORES: Final[dict[str, str]] = {"pain_nrs": "Pain NRS (0-10)", "eq_vas": "EQ-VAS (0-100)"}

_STAT_COLUMNS: Final[tuple[str, ...]] = (
    "visit_months",
    "day",
    "n",
    "mean",
    "sd",
    "ci_low",
    "ci_high",
    "median",
    "n_paired",
    "change_mean",
    "change_sd",
    "change_ci_low",
    "change_ci_high",
)


def default_tolerance_days(visit_months: float) -> tuple[int, int]:
    """Default window of a visit: (days allowed before, days allowed after) its target day.

    - baseline (0 months): from 30 days before up to the day of the first session;
    - visits up to 3 months: +-15 days;
    - later visits: +-30 days.
    """
    if visit_months == 0:
        return (30, 0)
    if visit_months <= 3:
        return (15, 15)
    return (30, 30)


def visit_day(visit_months: float) -> int:
    """Target day of a visit: ``30.4375 * visit_months`` days after the first session,
    rounded to the nearest whole day (halves up); e.g. 1 -> 30, 2 -> 61, 4 -> 122,
    10 -> 304 days."""
    return math.floor(DAYS_PER_MONTH * visit_months + 0.5)


class QualityOfLife:
    """Pain NRS, EQ-VAS and EQ-5D-3L per scheduled visit, with confidence intervals.

    Visit windows. Each visit at ``m`` months has a target day
    ``round(30.4375 * m)`` after the patient's first ECT session (day 0) and a window
    ``[target - before, target + after]`` in whole days, bounds included. By default
    (:func:`default_tolerance_days`):

    =========  ==========  ================
    visit      target day  window (days)
    =========  ==========  ================
    baseline   0           -30 to 0
    1 month    30          15 to 45
    2 months   61          46 to 76
    4 months   122         92 to 152
    10 months  304         274 to 334
    =========  ==========  ================

    A report is assigned to the visit whose target day is nearest among the visits
    whose window contains it (ties: the earlier visit); reports outside every window,
    and reports of patients without any session, are ignored. For each patient and
    visit only the report nearest to the target day is kept (ties: the earlier
    report, then the smaller ``report_id``); its missing items stay missing, they are
    not borrowed from another report.

    Statistics. For the pain NRS (points, 0-10) and EQ-VAS (points, 0-100), per visit:
    number of patients ``n``, ``mean``, ``sd`` (n - 1 denominator), the t-distribution
    confidence interval of the mean ``ci_low``/``ci_high``, ``median``; and the
    paired change from baseline over the ``n_paired`` patients with a value at both
    the baseline visit (0 months) and this visit: ``change_mean``, ``change_sd`` and
    its t confidence interval ``change_ci_low``/``change_ci_high`` (positive = higher
    than at baseline). Change columns are missing (NaN) on the baseline row, where
    ``n_paired`` is 0, and everywhere when the schedule has no 0-month visit. A
    standard deviation and CI need two values; below that they are NaN.

    For each EQ-5D-3L dimension and visit: ``n``, the number and share of patients
    with any problem (level 2 or 3) and with extreme problems (level 3), each with a
    Wilson score interval.

    Args:
        visits_months: scheduled visits in months after the first ECT session,
            strictly increasing, each >= 0.
        tolerance_days: window of each visit, ``{visit_months: (days_before,
            days_after)}``, both >= 0; a visit not listed gets
            :func:`default_tolerance_days`.
        level: confidence level of every interval, between 0 and 1 (0.95 = 95 %).

    Attributes (after :meth:`fit`):
        windows_: one row per visit: ``visit_months``, ``day`` (target), ``from_day``,
            ``to_day`` (days after the first session, bounds included).
        assignments_: the reports used: ``patient_id``, ``report_id``, ``visit_months``,
            ``report_day`` (days after the first session), ``pain_nrs``, ``eq_vas``,
            ``eq5d_*``.
        report_counts_: number of reports ``total``, ``used``, ``no_session`` (patient
            without a session), ``outside_windows``, ``superseded`` (a nearer report
            of the same patient fell in the same visit).
        pain_: pain NRS statistics per visit (columns above).
        eq_vas_: EQ-VAS statistics per visit (columns above).
        eq5d_: one row per visit and dimension: ``visit_months``, ``dimension``, ``n``,
            ``problems``, ``problems_share``, ``problems_ci_low``,
            ``problems_ci_high``, ``extreme``, ``extreme_share``, ``extreme_ci_low``,
            ``extreme_ci_high`` (shares as fractions 0-1).
    """

    windows_: pd.DataFrame
    assignments_: pd.DataFrame
    report_counts_: dict[str, int]
    pain_: pd.DataFrame
    eq_vas_: pd.DataFrame
    eq5d_: pd.DataFrame

    def __init__(
        self,
        visits_months: Sequence[float] = DEFAULT_VISITS_MONTHS,
        tolerance_days: Mapping[float, tuple[int, int]] | None = None,
        level: float = 0.95,
    ) -> None:
        self.visits_months = tuple(visits_months)
        self.tolerance_days = dict(tolerance_days) if tolerance_days is not None else None
        self.level = level

    # ------------------------------------------------------------------ parameters
    def _windows(self) -> list[tuple[float, int, int, int]]:
        """(visit_months, target day, from_day, to_day) of each visit, days inclusive."""
        visits = self.visits_months
        if not visits:
            raise ValueError("visits_months is empty: give at least one visit (months)")
        for months in visits:
            if isinstance(months, bool) or not isinstance(months, int | float):
                raise TypeError(f"visits_months: {months!r} is not a number of months")
            if not math.isfinite(months) or months < 0:
                raise ValueError(f"visits_months: {months!r} out of range; allowed >= 0 months")
        if any(b <= a for a, b in itertools.pairwise(visits)):
            raise ValueError(f"visits_months={list(visits)} must be strictly increasing")
        if not 0 < self.level < 1:
            raise ValueError(f"level={self.level!r} out of range; allowed 0 < level < 1")
        tolerance = self.tolerance_days or {}
        unknown = [months for months in tolerance if months not in visits]
        if unknown:
            raise ValueError(f"tolerance_days: {unknown} not in visits_months={list(visits)}")
        rows = []
        for months in visits:
            before, after = tolerance.get(months, default_tolerance_days(months))
            if before < 0 or after < 0:
                raise ValueError(
                    f"tolerance_days[{months}]=({before}, {after}) out of range; "
                    "allowed: days before and after >= 0"
                )
            day = visit_day(months)
            rows.append((float(months), day, day - int(before), day + int(after)))
        return rows

    # ------------------------------------------------------------------ fitting
    def fit(self, dataset: Dataset) -> QualityOfLife:
        """Assign the reports of ``dataset`` to visits and summarise them; return self."""
        windows = self._windows()
        reports = _report_frame(dataset)
        first = _first_session_days(dataset)
        reports["first_day"] = reports["patient_id"].map(first)
        with_session = reports[reports["first_day"].notna()].copy()
        with_session["report_day"] = with_session["ordinal"] - with_session["first_day"].astype(
            "int64"
        )

        # Candidate (report, visit) pairs: the report lies in the visit's window.
        candidates = []
        for months, day, from_day, to_day in windows:
            inside = with_session["report_day"].between(from_day, to_day)
            part = with_session.loc[inside, ["report_day"]].copy()
            part["visit_months"] = months
            part["distance"] = (part["report_day"] - day).abs()
            candidates.append(part)
        pairs = pd.concat(candidates).rename_axis("row").reset_index()
        # The nearest visit of each report (ties: the earlier visit) ...
        pairs = pairs.sort_values(["row", "distance", "visit_months"], kind="stable")
        pairs = pairs.drop_duplicates("row")
        in_window = len(pairs)
        # ... then the nearest report of each patient and visit.
        chosen = with_session.loc[pairs["row"].to_numpy()].assign(
            visit_months=pairs["visit_months"].to_numpy(),
            distance=pairs["distance"].to_numpy(),
        )
        chosen = chosen.sort_values(
            ["patient_id", "visit_months", "distance", "report_day", "report_id"], kind="stable"
        ).drop_duplicates(["patient_id", "visit_months"])
        columns = [
            "patient_id",
            "report_id",
            "visit_months",
            "report_day",
            *SCORES,
            *(f"eq5d_{d}" for d in EQ5D_DIMENSIONS),
        ]
        assignments = chosen[columns].sort_values(["patient_id", "visit_months"])
        self.windows_ = pd.DataFrame(windows, columns=["visit_months", "day", "from_day", "to_day"])
        self.assignments_ = assignments.reset_index(drop=True)
        self.report_counts_ = {
            "total": len(reports),
            "used": len(assignments),
            "no_session": len(reports) - len(with_session),
            "outside_windows": len(with_session) - in_window,
            "superseded": in_window - len(assignments),
        }
        self.pain_ = self._score_table("pain_nrs")
        self.eq_vas_ = self._score_table("eq_vas")
        self.eq5d_ = self._eq5d_table()
        return self

    def _score_table(self, column: str) -> pd.DataFrame:
        windows = self.windows_
        visits = windows["visit_months"]
        wide = self.assignments_.pivot(
            index="patient_id", columns="visit_months", values=column
        ).reindex(columns=visits)
        wide = wide.astype("float64")
        n, mean, sd, low, high = _t_summary(wide, self.level)
        table = pd.DataFrame(
            {
                "visit_months": visits.to_numpy(),
                "day": windows["day"].to_numpy(),
                "n": n,
                "mean": mean,
                "sd": sd,
                "ci_low": low,
                "ci_high": high,
                "median": wide.median().to_numpy(),
            }
        )
        if 0 in set(visits):
            change = wide.sub(wide[0.0], axis=0)
            change[0.0] = np.nan
            n_paired, c_mean, c_sd, c_low, c_high = _t_summary(change, self.level)
        else:
            n_paired = np.zeros(len(visits), dtype=np.int64)
            c_mean = c_sd = c_low = c_high = np.full(len(visits), np.nan)
        table["n_paired"] = n_paired
        table["change_mean"] = c_mean
        table["change_sd"] = c_sd
        table["change_ci_low"] = c_low
        table["change_ci_high"] = c_high
        return table[list(_STAT_COLUMNS)]

    def _eq5d_table(self) -> pd.DataFrame:
        from statsmodels.stats.proportion import proportion_confint

        assignments = self.assignments_
        visits = self.windows_["visit_months"]
        parts = []
        for dimension in EQ5D_DIMENSIONS:
            levels = assignments[f"eq5d_{dimension}"]
            grouped = pd.DataFrame(
                {
                    "visit_months": assignments["visit_months"],
                    "n": levels.notna(),
                    "problems": levels >= 2,
                    "extreme": levels >= 3,
                }
            )
            counts = grouped.groupby("visit_months").sum().reindex(visits, fill_value=0)
            counts = counts.astype("int64").reset_index()
            counts.insert(1, "dimension", dimension)
            parts.append(counts)
        table = pd.concat(parts, ignore_index=True)
        table["dimension"] = pd.Categorical(table["dimension"], categories=EQ5D_DIMENSIONS)
        table = table.sort_values(["visit_months", "dimension"], kind="stable")
        table["dimension"] = table["dimension"].astype(str)
        nobs = table["n"].to_numpy()
        known = nobs > 0
        for name in ("problems", "extreme"):
            count = table[name].to_numpy()
            share = np.full(len(table), np.nan)
            low = np.full(len(table), np.nan)
            high = np.full(len(table), np.nan)
            share[known] = count[known] / nobs[known]
            if known.any():
                low[known], high[known] = proportion_confint(
                    count[known], nobs[known], alpha=1 - self.level, method="wilson"
                )
            table[f"{name}_share"] = share
            table[f"{name}_ci_low"] = low
            table[f"{name}_ci_high"] = high
        order = ["visit_months", "dimension", "n"]
        for name in ("problems", "extreme"):
            order += [name, f"{name}_share", f"{name}_ci_low", f"{name}_ci_high"]
        return table[order].reset_index(drop=True)

    # ------------------------------------------------------------------ results
    def _check_fitted(self) -> None:
        if not hasattr(self, "pain_"):
            raise RuntimeError("QualityOfLife is not fitted: call fit(dataset) first")

    @property
    def summary(self) -> pd.DataFrame:
        """Pain NRS and EQ-VAS statistics per visit, one table with a ``measure`` column
        (``pain_nrs`` or ``eq_vas``) first."""
        self._check_fitted()
        parts = [
            table.assign(measure=measure)[["measure", *_STAT_COLUMNS]]
            for measure, table in (("pain_nrs", self.pain_), ("eq_vas", self.eq_vas_))
        ]
        return pd.concat(parts, ignore_index=True)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable results: parameters, windows, report counts and the three
        tables as lists of records (missing values are ``None``)."""
        self._check_fitted()
        return {
            "analysis": "quality_of_life",
            "software": f"openect {__version__}",
            "parameters": {
                "visits_months": [float(m) for m in self.visits_months],
                "days_per_month": DAYS_PER_MONTH,
                "level": float(self.level),
            },
            "windows": records(self.windows_),
            "report_counts": dict(self.report_counts_),
            "pain_nrs": records(self.pain_),
            "eq_vas": records(self.eq_vas_),
            "eq5d": records(self.eq5d_),
        }

    def __str__(self) -> str:
        if not hasattr(self, "pain_"):
            return f"QualityOfLife(visits_months={list(self.visits_months)}) - not fitted"
        counts = self.report_counts_
        level = f"{100 * self.level:g} %"
        lines = [
            f"Patient-reported outcomes by visit (months after first ECT); {level} CI",
            f"reports: {counts['used']} used of {counts['total']} "
            f"({counts['no_session']} without a session, {counts['outside_windows']} outside "
            f"every window, {counts['superseded']} superseded by a nearer report)",
        ]
        shown = ["visit_months", "n", "mean", "ci_low", "ci_high", "median", "change_mean"]
        for label, table in (("Pain NRS (0-10)", self.pain_), ("EQ-VAS (0-100)", self.eq_vas_)):
            lines += ["", label, table[shown].to_string(index=False, float_format="{:.2f}".format)]
        problems = self.eq5d_.pivot(
            index="visit_months", columns="dimension", values="problems_share"
        )[list(EQ5D_DIMENSIONS)]
        lines += [
            "",
            "EQ-5D-3L: share with any problem (level >= 2)",
            problems.to_string(float_format=lambda share: percent(share, digits=0)),
        ]
        return "\n".join(lines)

    def plot_trajectories(self, axes: Sequence[Axes] | None = None) -> list[Axes]:
        """Mean pain NRS (points, 0-10) and mean EQ-VAS (points, 0-100) with their
        confidence intervals at each visit (months after the first ECT session), the
        number of patients under each visit: one panel each into the two ``axes`` (a new
        10 x 4 in figure of two panels when None). Returns the two axes."""
        self._check_fitted()
        if axes is None:
            from matplotlib.figure import Figure

            axes = list(Figure(figsize=(10.0, 4.0), layout="constrained").subplots(1, 2))
        if len(axes) != 2:
            raise ValueError(f"axes: {len(axes)} given; allowed exactly 2 (pain, EQ-VAS)")
        panels = (
            (axes[0], self.pain_, "Pain NRS (points, 0-10)", (0.0, 10.0), "tab:red"),
            (axes[1], self.eq_vas_, "EQ-VAS (points, 0-100)", (0.0, 100.0), "tab:blue"),
        )
        for ax, table, label, limits, colour in panels:
            x = table["visit_months"].to_numpy(dtype=float)
            mean = table["mean"].to_numpy(dtype=float)
            errors = np.vstack(
                [
                    mean - table["ci_low"].to_numpy(dtype=float),
                    table["ci_high"].to_numpy(dtype=float) - mean,
                ]
            )
            ax.errorbar(x, mean, yerr=errors, marker="o", capsize=4, color=colour)
            ax.set_xticks(x)
            ax.set_xticklabels(
                [f"{m:g}\n({n})" for m, n in zip(x, table["n"], strict=True)], fontsize=8
            )
            ax.set_xlabel("Time since first ECT session (months); (n) = patients")
            ax.set_ylabel(f"Mean {label}")
            ax.set_ylim(*limits)
            ax.grid(True, alpha=0.3)
        axes[0].set_title(f"Pain (mean, {100 * self.level:g} % CI)")
        axes[1].set_title(f"Self-rated health (mean, {100 * self.level:g} % CI)")
        return list(axes)

    def trajectory_figure(self) -> Figure:
        """The figure of :meth:`plot_trajectories` (two panels, 10 x 4 in)."""
        from matplotlib.figure import Figure

        figure = Figure(figsize=(10.0, 4.0), layout="constrained")
        self.plot_trajectories(list(figure.subplots(1, 2)))
        return figure


# ---------------------------------------------------------------------- helpers
def _report_frame(dataset: Dataset) -> pd.DataFrame:
    """The patient_reported records as a frame, dates as proleptic ordinals (days)."""
    columns = [
        "report_id",
        "patient_id",
        "ordinal",
        *SCORES,
        *(f"eq5d_{d}" for d in EQ5D_DIMENSIONS),
    ]
    rows = [
        (
            r.report_id,
            r.patient_id,
            r.report_date.toordinal(),
            r.pain_nrs,
            r.eq_vas,
            r.eq5d_mobility,
            r.eq5d_selfcare,
            r.eq5d_activity,
            r.eq5d_pain,
            r.eq5d_anxiety,
        )
        for r in dataset.patient_reported
    ]
    frame = pd.DataFrame.from_records(rows, columns=columns)
    frame["ordinal"] = frame["ordinal"].astype("int64")
    for column in columns[3:]:
        frame[column] = frame[column].astype("float64")
    return frame


def _first_session_days(dataset: Dataset) -> pd.Series:
    """Proleptic ordinal (days) of each patient's first session, by patient id."""
    sessions = pd.DataFrame.from_records(
        [(s.patient_id, s.session_date.toordinal()) for s in dataset.sessions],
        columns=["patient_id", "ordinal"],
    )
    return sessions.groupby("patient_id")["ordinal"].min()


def _t_summary(
    wide: pd.DataFrame, level: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per column: n, mean, sd (n - 1) and the t confidence interval of the mean."""
    n = wide.count().to_numpy(dtype=np.int64)
    mean = wide.mean().to_numpy(dtype=float)
    sd = wide.std(ddof=1).to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        quantile = stats.t.ppf(0.5 + level / 2, np.where(n > 1, n - 1, np.nan))
        half = quantile * sd / np.sqrt(n)
    mean = np.where(n > 0, mean, np.nan)
    return n, mean, sd, mean - half, mean + half
