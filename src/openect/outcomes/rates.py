"""Response rates per lesion and per patient with exact, Wilson and cluster-robust CIs.

* **exact**: Clopper-Pearson interval (``binom.test`` in R);
* **Wilson**: score interval without continuity correction (``prop.test(correct=FALSE)``);
* **cluster-robust** (lesions only): lesions of one patient are correlated, so the
  per-lesion rate gets a CI from an intercept-only logistic model with a sandwich
  variance clustered on the patient (statsmodels ``cov_type="cluster"``, the same
  small-sample factors as R's ``sandwich::vcovCL`` type HC1), on the logit scale and
  back-transformed.

Lesions are reported by measurability (RECIST 1.1): with ``lesion_scope="measurable"``
(the default) the per-lesion rows are over the measurable lesions (column
``measurable``) and the non-measurable lesions get their own row (complete response
only: they have no partial response); ``lesion_scope="all"`` puts every lesion in one
row (the earlier behaviour, and that of the tables checked against R). Every row says
what it is over (``basis``); the patient rows name the per-patient rule when the patient
table has one (column ``rule``).
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

OUTCOMES = {"cr": "complete response", "objective": "objective response (CR + PR)"}

LesionScope = Literal["measurable", "all"]
#: Unit of the row of the non-measurable lesions.
NON_MEASURABLE_UNIT = "lesion, non-measurable"


def lesion_basis(scope: LesionScope) -> str:
    """What the per-lesion rows are over, in words."""
    if scope == "measurable":
        return "measurable lesions (longest diameter >= 10 mm at baseline)"
    return "all lesions (percentage rule for every size)"


def measurable_rows(lesions: pd.DataFrame, scope: LesionScope) -> pd.Series:
    """Boolean mask of the lesions counted in the per-lesion rows under ``scope``."""
    if scope == "all":
        return pd.Series(True, index=lesions.index)
    if scope != "measurable":
        raise ValueError(f"lesion_scope={scope!r}: allowed measurable, all")
    if "measurable" not in lesions:
        raise ValueError(
            "lesion_scope='measurable' needs a measurable column; pass lesion_scope='all' "
            "for a table without one"
        )
    return lesions["measurable"].astype(bool)


def _check_level(level: float) -> float:
    if not 0.0 < level < 1.0:
        raise ValueError(f"level={level}: allowed 0 < level < 1")
    return level


def proportion_ci(
    events: int, total: int, method: str = "exact", level: float = 0.95
) -> tuple[float, float]:
    """Two-sided CI of a proportion ``events / total``: ``exact`` or ``wilson``."""
    _check_level(level)
    if total <= 0 or not 0 <= events <= total:
        raise ValueError(f"events={events}, total={total}: allowed 0 <= events <= total, total > 0")
    name = {"exact": "beta", "wilson": "wilson"}.get(method)
    if name is None:
        raise ValueError(f"method={method!r}: allowed exact, wilson")
    low, high = proportion_confint(events, total, alpha=1.0 - level, method=name)
    return float(low), float(high)


def _expit(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def cluster_robust_ci(
    outcome: np.ndarray[Any, Any], clusters: np.ndarray[Any, Any], level: float = 0.95
) -> tuple[float, float, float]:
    """Proportion of ``outcome`` (0/1) and its CI with a sandwich SE clustered on ``clusters``.

    Returns ``(proportion, low, high)``. The interval is formed on the logit scale; a
    proportion of 0 or 1 (no logit) or a single cluster (no variance between clusters)
    returns the exact interval's bounds instead.
    """
    _check_level(level)
    y = np.asarray(outcome, dtype=float)
    n, events = len(y), int(y.sum())
    p = events / n
    groups = pd.factorize(pd.Series(clusters))[0]
    if events in (0, n) or groups.max() < 1:
        # no logit (0 or 100 %) or a single cluster (no between-cluster variance)
        low, high = proportion_ci(events, n, "exact", level)
        return p, low, high
    fit = sm.GLM(y, np.ones((n, 1)), family=sm.families.Binomial()).fit(
        cov_type="cluster", cov_kwds={"groups": groups}
    )
    beta, se = float(fit.params[0]), float(fit.bse[0])
    z = float(stats.norm.ppf(0.5 + level / 2.0))
    return p, _expit(beta - z * se), _expit(beta + z * se)


class ResponseRates:
    """CR and objective-response rates per lesion and per patient at the landmark.

    ``fit(lesions, patients)`` takes the tables of :mod:`openect.outcomes.tables`
    (columns ``cr``, ``objective``, ``patient_id``, ``measurable``; ``response``,
    ``rule``). Result: ``table_``, one row per (unit, outcome) with events, evaluable,
    rate, the CIs and ``basis`` (what the row is over). ``lesion_scope``: see the module.
    """

    def __init__(self, level: float = 0.95, lesion_scope: LesionScope = "measurable") -> None:
        self.level = _check_level(level)
        if lesion_scope not in ("measurable", "all"):
            raise ValueError(f"lesion_scope={lesion_scope!r}: allowed measurable, all")
        self.lesion_scope = lesion_scope

    def fit(self, lesions: pd.DataFrame, patients: pd.DataFrame) -> ResponseRates:
        """Compute the rates; returns self."""
        rows: list[dict[str, Any]] = []
        evaluable = lesions.dropna(subset=["cr"])
        counted = measurable_rows(evaluable, self.lesion_scope)
        basis = lesion_basis(self.lesion_scope)
        for outcome in OUTCOMES:
            part = evaluable[counted]
            y = part[outcome].to_numpy(dtype=float)
            row = self._row("lesion", outcome, y, part["patient_id"].to_numpy())
            rows.append(row | {"basis": basis})
        if self.lesion_scope == "measurable":
            part = evaluable[~counted]
            y = part["cr"].to_numpy(dtype=float)
            row = self._row(NON_MEASURABLE_UNIT, "cr", y, part["patient_id"].to_numpy())
            rows.append(
                row | {"basis": "non-measurable lesions (< 10 mm): CR, non-CR/non-PD or PD"}
            )
        known = patients[patients["response"] != "NE"]
        patient_outcome = {
            "cr": (known["response"] == "CR").to_numpy(dtype=float),
            "objective": known["response"].isin(["CR", "PR"]).to_numpy(dtype=float),
        }
        rules = sorted(set(patients["rule"])) if "rule" in patients else []
        patient_basis = "patients" + (f", per-patient rule: {', '.join(rules)}" if rules else "")
        for outcome, y in patient_outcome.items():
            rows.append(self._row("patient", outcome, y, None) | {"basis": patient_basis})
        self.table_ = pd.DataFrame(rows)
        return self

    def _row(
        self,
        unit: str,
        outcome: str,
        y: np.ndarray[Any, Any],
        clusters: np.ndarray[Any, Any] | None,
    ) -> dict[str, Any]:
        n, events = len(y), int(y.sum())
        row: dict[str, Any] = {"unit": unit, "outcome": outcome, "events": events, "evaluable": n}
        if n == 0:
            return row | {"rate": None}
        row["rate"] = events / n
        row["exact_low"], row["exact_high"] = proportion_ci(events, n, "exact", self.level)
        row["wilson_low"], row["wilson_high"] = proportion_ci(events, n, "wilson", self.level)
        if clusters is not None:
            _, row["cluster_low"], row["cluster_high"] = cluster_robust_ci(y, clusters, self.level)
        return row

    @property
    def summary(self) -> pd.DataFrame:
        """The rates table indexed by unit and outcome."""
        return self.table_.set_index(["unit", "outcome"])

    def to_dict(self) -> list[dict[str, Any]]:
        """JSON-serialisable rows (NaN as None)."""
        frame = self.table_.astype(object).where(self.table_.notna(), None)
        return [{str(k): v for k, v in row.items()} for row in frame.to_dict(orient="records")]
