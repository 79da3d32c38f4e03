"""Toxicity of ECT: adverse events by CTCAE v5 term and grade, and per session.

Adverse events are graded with the Common Terminology Criteria for Adverse Events
(CTCAE) version 5: grade 1 mild, 2 moderate, 3 severe, 4 life-threatening, 5 death
related to the event. Grade 3 or more is the usual threshold of severe toxicity.
"""

from __future__ import annotations

import math
from typing import Any, Final

import pandas as pd

from openect import __version__
from openect.data.dataset import Dataset
from openect.formatting import MISSING, percent, percent_interval
from openect.outcomes._json import records

#: CTCAE v5 grades.
GRADES: Final[tuple[int, ...]] = (1, 2, 3, 4, 5)
#: Lowest CTCAE grade counted as severe toxicity.
SEVERE_GRADE: Final[int] = 3
#: Label of the all-terms row of :attr:`Toxicity.summary`.
ANY_TERM: Final[str] = "Any adverse event"

_BY_TERM_COLUMNS: Final[tuple[str, ...]] = (
    "term",
    "events",
    "patients",
    "sessions",
    *(f"grade_{g}" for g in GRADES),
    "grade_3_plus",
    "serious",
)


class Toxicity:
    """Adverse events (CTCAE v5) counted by term and per ECT session.

    By term: every adverse event of the dataset counts, whether or not it is
    attributed to a session. Per session: the denominator is every session of the
    dataset; an event counts for the session named in its ``session_id``. Events
    with an empty ``session_id`` (not attributed to a session), or naming a session
    that is not in the dataset, are counted by term but not per session
    (:attr:`event_counts_` says how many). A session without any attributed event has
    worst grade 0.

    Args:
        level: confidence level of the Wilson score intervals, between 0 and 1
            (0.95 = 95 %).

    Attributes (after :meth:`fit`):
        by_term_: one row per CTCAE term, most frequent first (ties by term):
            ``term``, ``events`` (number of events), ``patients`` and ``sessions``
            (distinct patients and attributed sessions with the term), ``grade_1`` ..
            ``grade_5`` (events of each grade), ``grade_3_plus`` (events of grade >= 3),
            ``serious`` (events marked serious; unknown counts as not serious).
        per_session_: one row: ``sessions`` (all sessions), ``sessions_any_ae``,
            ``any_ae_share``, ``any_ae_ci_low``, ``any_ae_ci_high`` (sessions with at
            least one attributed event), ``sessions_grade_3_plus``,
            ``grade_3_plus_share``, ``grade_3_plus_ci_low``, ``grade_3_plus_ci_high``
            (sessions with an attributed event of grade >= 3), and ``worst_grade_0`` ..
            ``worst_grade_5`` (sessions whose worst attributed grade is 0 = none, 1, ..
            5; they add up to ``sessions``). Shares are fractions 0-1.
        event_counts_: number of events ``total``, ``attributed`` (to a session of the
            dataset), ``no_session`` (empty ``session_id``) and ``unknown_session``
            (a ``session_id`` not among the sessions).
    """

    by_term_: pd.DataFrame
    per_session_: pd.DataFrame
    event_counts_: dict[str, int]

    def __init__(self, level: float = 0.95) -> None:
        self.level = level

    def fit(self, dataset: Dataset) -> Toxicity:
        """Count the adverse events of ``dataset``; return self."""
        if not 0 < self.level < 1:
            raise ValueError(f"level={self.level!r} out of range; allowed 0 < level < 1")
        events = pd.DataFrame.from_records(
            [
                (e.patient_id, e.session_id, e.term, e.grade, e.serious is True)
                for e in dataset.adverse_events
            ],
            columns=["patient_id", "session_id", "term", "grade", "serious"],
        )
        events["grade"] = events["grade"].astype("int64")
        events["serious"] = events["serious"].astype(bool)
        session_ids = pd.Index(pd.unique(pd.Series([s.session_id for s in dataset.sessions])))
        attributed = events["session_id"].isin(session_ids)
        no_session = int(events["session_id"].isna().sum())

        self.by_term_ = _by_term(events)
        self.per_session_ = self._per_session(events[attributed], session_ids)
        self.event_counts_ = {
            "total": len(events),
            "attributed": int(attributed.sum()),
            "no_session": no_session,
            "unknown_session": len(events) - int(attributed.sum()) - no_session,
        }
        self._events = events
        return self

    def _per_session(self, attributed: pd.DataFrame, session_ids: pd.Index) -> pd.DataFrame:
        worst = attributed.groupby("session_id")["grade"].max()
        worst = worst.reindex(session_ids, fill_value=0).astype("int64")
        sessions = len(session_ids)
        row: dict[str, float | int] = {"sessions": sessions}
        for name, threshold in (("any_ae", 1), ("grade_3_plus", SEVERE_GRADE)):
            count = int((worst >= threshold).sum())
            low, high = _wilson(count, sessions, self.level)
            row[f"sessions_{name}"] = count
            row[f"{name}_share"] = count / sessions if sessions else math.nan
            row[f"{name}_ci_low"] = low
            row[f"{name}_ci_high"] = high
        distribution = worst.value_counts().reindex(range(6), fill_value=0)
        for grade in range(6):
            row[f"worst_grade_{grade}"] = int(distribution[grade])
        return pd.DataFrame([row])

    # ------------------------------------------------------------------ results
    def _check_fitted(self) -> None:
        if not hasattr(self, "by_term_"):
            raise RuntimeError("Toxicity is not fitted: call fit(dataset) first")

    @property
    def summary(self) -> pd.DataFrame:
        """:attr:`by_term_` followed by an all-terms row (``term`` = ``"Any adverse
        event"``) whose ``patients`` and ``sessions`` are distinct counts over all
        terms and whose event counts are the column totals."""
        self._check_fitted()
        events = self._events
        total: dict[str, Any] = {
            "term": ANY_TERM,
            "events": len(events),
            "patients": int(events["patient_id"].nunique()),
            "sessions": int(events["session_id"].nunique()),
        }
        for column in _BY_TERM_COLUMNS[4:]:
            total[column] = int(self.by_term_[column].sum())
        return pd.concat([self.by_term_, pd.DataFrame([total])], ignore_index=True)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable results: parameters, event counts, the by-term table as a
        list of records and the per-session row as a dict (missing values ``None``)."""
        self._check_fitted()
        return {
            "analysis": "toxicity",
            "software": f"openect {__version__}",
            "parameters": {"level": float(self.level), "severe_grade": SEVERE_GRADE},
            "event_counts": dict(self.event_counts_),
            "by_term": records(self.by_term_),
            "per_session": records(self.per_session_)[0],
        }

    def __str__(self) -> str:
        if not hasattr(self, "by_term_"):
            return "Toxicity() - not fitted"
        row = self.per_session_.iloc[0]
        level = f"{100 * self.level:g} %"

        def share(name: str) -> str:
            if not row["sessions"]:
                return MISSING
            interval = percent_interval(row[f"{name}_ci_low"], row[f"{name}_ci_high"])
            return f"{percent(row[f'{name}_share'])} ({level} CI {interval})"

        counts = self.event_counts_
        worst = ", ".join(f"{g}: {int(row[f'worst_grade_{g}'])}" for g in range(6))
        lines = [
            "Adverse events (CTCAE v5)",
            f"events: {counts['total']} ({counts['no_session']} not attributed to a session, "
            f"{counts['unknown_session']} naming an unknown session)",
            f"sessions: {int(row['sessions'])}; with any AE: "
            f"{int(row['sessions_any_ae'])}, {share('any_ae')}; with grade >= 3: "
            f"{int(row['sessions_grade_3_plus'])}, {share('grade_3_plus')}",
            f"sessions by worst grade (0 = none): {worst}",
            "",
            self.summary.to_string(index=False) if len(self.by_term_) else "(no events)",
        ]
        return "\n".join(lines)


# ---------------------------------------------------------------------- helpers
def _by_term(events: pd.DataFrame) -> pd.DataFrame:
    grouped = events.groupby("term")
    table = pd.DataFrame(
        {
            "events": grouped.size(),
            "patients": grouped["patient_id"].nunique(),
            "sessions": grouped["session_id"].nunique(),
        }
    )
    grades = pd.crosstab(events["term"], events["grade"]).reindex(columns=list(GRADES))
    for grade in GRADES:
        table[f"grade_{grade}"] = grades[grade].reindex(table.index).fillna(0)
    table["grade_3_plus"] = table[[f"grade_{g}" for g in GRADES if g >= SEVERE_GRADE]].sum(axis=1)
    table["serious"] = grouped["serious"].sum()
    table = table.rename_axis("term").reset_index()
    for column in _BY_TERM_COLUMNS[1:]:
        table[column] = table[column].astype("int64")
    table = table.sort_values(["events", "term"], ascending=[False, True], kind="stable")
    return table[list(_BY_TERM_COLUMNS)].reset_index(drop=True)


def _wilson(count: int, total: int, level: float) -> tuple[float, float]:
    """Wilson score interval of ``count / total``; NaN when ``total`` is 0."""
    if total == 0:
        return math.nan, math.nan
    from statsmodels.stats.proportion import proportion_confint

    low, high = proportion_confint(count, total, alpha=1 - level, method="wilson")
    return float(low), float(high)
