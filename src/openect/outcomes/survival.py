"""Kaplan-Meier local tumour control and overall survival (lifelines), with CIs and at-risk.

Local tumour control is estimated per lesion: time from the first treatment of the
lesion to local progression, censored at the last assessment (see
:mod:`openect.response.evaluation`). Overall survival is per patient from the first ECT
session to death, censored at the last contact. Times in days. Confidence intervals are
the exponential Greenwood ("log-log") intervals of lifelines, equal to R's
``survfit(..., conf.type = "log-log")``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from lifelines import KaplanMeierFitter

Endpoint = Literal["local-control", "overall-survival"]
ENDPOINTS: dict[str, tuple[str, str, str]] = {
    "local-control": ("lesion", "control_days", "progression"),
    "overall-survival": ("patient", "os_days", "death"),
}
#: Landmarks reported by default (days): 200 d (InspECT "86 % at 200 days") and 1 year.
DEFAULT_LANDMARKS = (200, 365)
#: Times of the at-risk table (days).
DEFAULT_AT_RISK = (0, 90, 180, 365, 730)


def _none_if_nan(value: float) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


class KaplanMeier:
    """Kaplan-Meier estimate of one endpoint, optionally per group.

    Parameters
    ----------
    endpoint:
        ``"local-control"`` (per lesion) or ``"overall-survival"`` (per patient).
    by:
        Column of the analysis table to stratify by (e.g. ``concurrent_immunotherapy``).
    level:
        Confidence level of the pointwise intervals.
    landmarks, at_risk_times:
        Times (days) of the landmark estimates and of the at-risk table.
    """

    def __init__(
        self,
        endpoint: Endpoint = "local-control",
        by: str | None = None,
        level: float = 0.95,
        landmarks: Sequence[float] = DEFAULT_LANDMARKS,
        at_risk_times: Sequence[float] = DEFAULT_AT_RISK,
    ) -> None:
        if endpoint not in ENDPOINTS:
            raise ValueError(f"endpoint={endpoint!r}: allowed {', '.join(ENDPOINTS)}")
        if not 0.0 < level < 1.0:
            raise ValueError(f"level={level}: allowed 0 < level < 1")
        self.endpoint = endpoint
        self.by = by
        self.level = level
        self.landmarks = tuple(float(t) for t in landmarks)
        self.at_risk_times = tuple(float(t) for t in at_risk_times)

    @property
    def unit(self) -> str:
        """``lesion`` or ``patient``."""
        return ENDPOINTS[self.endpoint][0]

    def fit(self, table: pd.DataFrame) -> KaplanMeier:
        """Estimate from the lesion table (local control) or patient table (survival)."""
        _, time_column, event_column = ENDPOINTS[self.endpoint]
        missing = [c for c in (time_column, event_column, self.by) if c and c not in table]
        if missing:
            allowed = ", ".join(c for c in table.columns if c not in (time_column, event_column))
            raise ValueError(f"by={missing[0]!r}: not a column; allowed {allowed}")
        data = table.dropna(subset=[time_column])
        groups: list[tuple[str, pd.DataFrame]]
        if self.by is None:
            groups = [("all", data)]
        else:
            groups = [(str(k), g) for k, g in data.groupby(self.by, sort=True, dropna=True)]
        self.fitters_: dict[str, KaplanMeierFitter] = {}
        for label, group in groups:
            fitter = KaplanMeierFitter(alpha=1.0 - self.level)
            fitter.fit(
                group[time_column].to_numpy(dtype=float),
                group[event_column].to_numpy(dtype=int),
                label=label,
            )
            self.fitters_[label] = fitter
        return self

    def curve(self, label: str) -> pd.DataFrame:
        """The step function of group ``label``: time, survival, ci_low, ci_high, at_risk."""
        fitter = self.fitters_[label]
        survival = fitter.survival_function_.iloc[:, 0]
        ci = fitter.confidence_interval_survival_function_
        table = fitter.event_table
        frame = pd.DataFrame(
            {
                "time": survival.index.to_numpy(dtype=float),
                "survival": survival.to_numpy(),
                "ci_low": ci.iloc[:, 0].to_numpy(),
                "ci_high": ci.iloc[:, 1].to_numpy(),
                "at_risk": table["at_risk"].reindex(survival.index).to_numpy(),
                "events": table["observed"].reindex(survival.index).to_numpy(),
            }
        )
        return frame

    def at(self, label: str, times: Sequence[float]) -> pd.DataFrame:
        """Survival and CI of group ``label`` at ``times`` (days): the step value at each."""
        curve = self.curve(label)
        index = np.searchsorted(curve["time"].to_numpy(), np.asarray(times, float), "right") - 1
        rows = []
        fitter = self.fitters_[label]
        for t, i in zip(times, index, strict=True):
            beyond = t > float(fitter.timeline.max())
            rows.append(
                {
                    "time": float(t),
                    "survival": None if beyond else float(curve["survival"].iloc[i]),
                    "ci_low": None if beyond else _none_if_nan(curve["ci_low"].iloc[i]),
                    "ci_high": None if beyond else _none_if_nan(curve["ci_high"].iloc[i]),
                }
            )
        return pd.DataFrame(rows)

    def at_risk(self, label: str) -> list[int]:
        """Number at risk of group ``label`` at each of ``at_risk_times``."""
        fitter = self.fitters_[label]
        durations = np.asarray(fitter.durations, dtype=float)
        return [int(np.count_nonzero(durations >= t)) for t in self.at_risk_times]

    def median(self, label: str) -> float | None:
        """Median time (days) of group ``label``; None when not reached."""
        return _none_if_nan(float(self.fitters_[label].median_survival_time_))

    @property
    def summary(self) -> pd.DataFrame:
        """One row per group: n, events, median and the landmark estimates with CIs."""
        rows = []
        for label, fitter in self.fitters_.items():
            row: dict[str, Any] = {
                "group": label,
                "n": len(fitter.durations),
                "events": int(np.sum(fitter.event_observed)),
                "median_days": self.median(label),
            }
            for _, point in self.at(label, self.landmarks).iterrows():
                day = int(point["time"])
                row[f"at_{day}d"] = point["survival"]
                row[f"at_{day}d_low"] = point["ci_low"]
                row[f"at_{day}d_high"] = point["ci_high"]
            rows.append(row)
        return pd.DataFrame(rows).set_index("group")

    def to_dict(self) -> dict[str, Any]:
        """JSON: endpoint, unit, by, and per group the step function.

        Per group: ``times`` (days), ``survival``, ``ci_low``, ``ci_high`` and ``at_risk``
        (number at risk just before each time) as parallel lists, ``at_risk_table`` at
        the reporting times, ``median_days`` and the ``landmarks``.
        """
        groups: dict[str, Any] = {}
        for label, fitter in self.fitters_.items():
            curve = self.curve(label)
            groups[label] = {
                "n": len(fitter.durations),
                "events": int(np.sum(fitter.event_observed)),
                "median_days": self.median(label),
                "times": curve["time"].tolist(),
                "survival": curve["survival"].tolist(),
                "ci_low": [_none_if_nan(v) for v in curve["ci_low"]],
                "ci_high": [_none_if_nan(v) for v in curve["ci_high"]],
                "at_risk": [int(v) for v in curve["at_risk"]],
                "at_risk_table": {
                    "times": list(self.at_risk_times),
                    "n": self.at_risk(label),
                },
                "landmarks": [
                    {k: (None if v is None else float(v)) for k, v in row.items()}
                    for row in self.at(label, self.landmarks).to_dict(orient="records")
                ],
            }
        return {
            "endpoint": self.endpoint,
            "unit": self.unit,
            "by": self.by,
            "level": self.level,
            "time_unit": "days",
            "groups": groups,
        }
