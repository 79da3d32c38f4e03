"""Who responds best: Cox model of local control, logistic GEE of CR, predicted CR probability.

* :class:`LocalControlCox` - proportional hazards of local progression per lesion
  (lifelines ``CoxPHFitter``, Efron ties) with a sandwich variance clustered on the
  patient, as R's ``coxph(..., cluster = patient_id)``.
* :class:`CompleteResponseGEE` - CR at the landmark per lesion, logistic GEE with an
  exchangeable working correlation within patients (statsmodels), odds ratios with
  robust CIs.
* :class:`CompleteResponseModel` - a logistic model giving a **model-based** predicted
  CR probability per lesion, with patient-grouped cross-validated AUC, Brier score and a
  calibration table (predicted vs observed by deciles of prediction).

The covariates are the published predictors (Mali 2013; Kunte 2017; Campana 2016):
tumour >= 30 mm (or log size), subcutaneous layer, ulceration, previous irradiation and
concurrent immunotherapy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import statsmodels.api as sm
from lifelines import CoxPHFitter
from scipy import stats

#: Covariates of the Cox and GEE models: name -> how it is formed from the lesion table.
COVARIATES: dict[str, str] = {
    "large": "longest diameter >= 30 mm",
    "subcutaneous": "layer = subcutaneous",
    "ulcerated": "ulcerated at baseline",
    "previously_irradiated": "in a previously irradiated field",
    "concurrent_immunotherapy": "checkpoint inhibitor around the first session",
}
#: Covariates of the CR probability model (log size instead of the 30 mm cut).
PREDICTION_COVARIATES = (
    "log_longest_mm",
    "subcutaneous",
    "ulcerated",
    "previously_irradiated",
    "concurrent_immunotherapy",
)


def design(lesions: pd.DataFrame, covariates: Sequence[str]) -> pd.DataFrame:
    """Numeric covariate columns (0/1 or float) formed from the lesion table."""
    out = pd.DataFrame(index=lesions.index)
    for name in covariates:
        if name == "subcutaneous":
            out[name] = (lesions["layer"] == "subcutaneous").astype(float)
        elif name == "log_longest_mm":
            out[name] = np.log(lesions["longest_diameter_mm"].astype(float))
        elif name in lesions:
            out[name] = lesions[name].astype(float)
        else:
            raise ValueError(f"covariate={name!r}: unknown; allowed {', '.join(COVARIATES)}")
    return out


def _usable(matrix: pd.DataFrame) -> list[str]:
    """Columns that vary (a constant covariate cannot be estimated)."""
    return [c for c in matrix.columns if matrix[c].nunique() > 1]


def _frame(frame: pd.DataFrame) -> list[dict[str, Any]]:
    clean = frame.astype(object).where(frame.notna(), None)
    return [{str(k): v for k, v in r.items()} for r in clean.to_dict(orient="records")]


def efron_score_residuals(
    time: np.ndarray[Any, Any],
    event: np.ndarray[Any, Any],
    x: np.ndarray[Any, Any],
    beta: np.ndarray[Any, Any],
) -> np.ndarray[Any, Any]:
    """Score residuals of a Cox model with Efron's handling of tied event times.

    The same quantities as R's ``residuals(coxph, type = "score")`` (survival's
    ``coxscore``): for subject *i*, ``delta_i (x_i - xbar(t_i)) - sum_j r_i dLambda_j
    (x_i - xbar_j)`` over the event times up to *t_i*, where a time with *m* tied events is
    split into *m* sub-steps whose risk-set sums drop the tied subjects' risk by k/m.
    ``time`` (n), ``event`` (0/1, n), ``x`` (n x p), ``beta`` (p); returns n x p.
    """
    order = np.lexsort((-np.asarray(event), np.asarray(time)))
    t = np.asarray(time, dtype=float)[order]
    dead = np.asarray(event, dtype=bool)[order]
    xs = np.asarray(x, dtype=float)[order]
    p = xs.shape[1]
    risk = np.exp(xs @ np.asarray(beta, dtype=float))
    times, first = np.unique(t, return_index=True)
    at_risk0 = np.cumsum(risk[::-1])[::-1][first]
    at_risk1 = np.cumsum((risk[:, None] * xs)[::-1], axis=0)[::-1][first]
    slot = np.searchsorted(times, t)
    deaths = np.bincount(slot, weights=dead, minlength=len(times))
    dead0 = np.bincount(slot, weights=risk * dead, minlength=len(times))
    dead1 = np.stack(
        [np.bincount(slot, weights=risk * xs[:, j] * dead, minlength=len(times)) for j in range(p)],
        axis=1,
    ).reshape(len(times), p)
    hazard = np.zeros(len(times))
    hazard_x = np.zeros((len(times), p))
    tied = np.zeros(len(times))
    tied_x = np.zeros((len(times), p))
    mean_x = np.zeros((len(times), p))
    for j in np.nonzero(deaths)[0]:
        m = int(deaths[j])
        fraction = np.arange(m) / m
        denominator = at_risk0[j] - fraction * dead0[j]
        xbar = (at_risk1[j][None, :] - fraction[:, None] * dead1[j][None, :]) / denominator[:, None]
        hazard[j] = np.sum(1.0 / denominator)
        hazard_x[j] = np.sum(xbar / denominator[:, None], axis=0)
        tied[j] = np.sum((1.0 - fraction) / denominator)
        tied_x[j] = np.sum((1.0 - fraction)[:, None] * xbar / denominator[:, None], axis=0)
        mean_x[j] = xbar.mean(axis=0)
    cumulative = np.cumsum(hazard)
    cumulative_x = np.cumsum(hazard_x, axis=0)
    # Censored subjects take every event up to their own time; the dead, those before it.
    h = np.where(dead, cumulative[slot] - hazard[slot], cumulative[slot])
    hx = np.where(dead[:, None], (cumulative_x - hazard_x)[slot], cumulative_x[slot])
    residuals = -risk[:, None] * (xs * h[:, None] - hx)
    k = slot[dead]
    residuals[dead] += (
        xs[dead] - mean_x[k] - risk[dead, None] * (xs[dead] * tied[k, None] - tied_x[k])
    )
    out: np.ndarray[Any, Any] = np.empty_like(residuals)
    out[order] = residuals
    return out


class LocalControlCox:
    """Cox proportional hazards of local progression, SEs clustered on the patient.

    Coefficients from lifelines (Efron ties); the robust variance is R's: ``V D'D V``
    with ``V`` the model-based variance and ``D`` the Efron score residuals summed per
    patient (:func:`efron_score_residuals`), no small-sample factor.
    """

    def __init__(self, covariates: Sequence[str] = tuple(COVARIATES), level: float = 0.95) -> None:
        self.covariates = tuple(covariates)
        self.level = level

    def fit(self, lesions: pd.DataFrame) -> LocalControlCox:
        """Fit on the lesion table (``control_days``, ``progression``, ``patient_id``)."""
        data = lesions.dropna(subset=["control_days"])
        data = data[data["control_days"] > 0]
        x = design(data, self.covariates)
        used = _usable(x)
        frame = x[used].assign(
            control_days=data["control_days"].astype(float),
            progression=data["progression"].astype(int),
            patient_id=data["patient_id"].to_numpy(),
        )
        self.fitter_ = CoxPHFitter(alpha=1.0 - self.level)
        self.fitter_.fit(
            frame.drop(columns="patient_id"),
            duration_col="control_days",
            event_col="progression",
            fit_options={"precision": 1e-12},
        )
        beta = self.fitter_.params_.to_numpy()
        naive = self.fitter_.variance_matrix_.to_numpy()
        scores = efron_score_residuals(
            frame["control_days"].to_numpy(),
            frame["progression"].to_numpy(),
            frame[used].to_numpy(dtype=float),
            beta,
        )
        per_patient = pd.DataFrame(scores).groupby(frame["patient_id"].to_numpy()).sum().to_numpy()
        robust = naive @ (per_patient.T @ per_patient) @ naive
        se = np.sqrt(np.diag(robust))
        z = float(stats.norm.ppf(0.5 + self.level / 2.0))
        self.table_ = pd.DataFrame(
            {
                "covariate": used,
                "coef": beta,
                "se_robust": se,
                "se_naive": np.sqrt(np.diag(naive)),
                "hr": np.exp(beta),
                "hr_low": np.exp(beta - z * se),
                "hr_high": np.exp(beta + z * se),
                "p": 2.0 * stats.norm.sf(np.abs(beta / se)),
            }
        )
        self.n_ = len(frame)
        self.events_ = int(frame["progression"].sum())
        return self

    @property
    def summary(self) -> pd.DataFrame:
        """Hazard ratios with robust CIs, one row per covariate."""
        return self.table_.set_index("covariate")

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable result."""
        return {"n": self.n_, "events": self.events_, "terms": _frame(self.table_)}


class CompleteResponseGEE:
    """Logistic GEE of CR at the landmark, exchangeable correlation within patients."""

    def __init__(self, covariates: Sequence[str] = tuple(COVARIATES), level: float = 0.95) -> None:
        self.covariates = tuple(covariates)
        self.level = level

    def fit(self, lesions: pd.DataFrame) -> CompleteResponseGEE:
        """Fit on the evaluable lesions of the lesion table (``cr`` not missing)."""
        data = lesions.dropna(subset=["cr"]).sort_values("patient_id", kind="stable")
        x = design(data, self.covariates)
        used = _usable(x)
        exog = sm.add_constant(x[used], has_constant="add")
        groups = pd.factorize(data["patient_id"])[0]
        model = sm.GEE(
            data["cr"].to_numpy(dtype=float),
            exog,
            groups=groups,
            family=sm.families.Binomial(),
            cov_struct=sm.cov_struct.Exchangeable(),
        )
        result = model.fit()
        z = float(stats.norm.ppf(0.5 + self.level / 2.0))
        params, se = result.params.to_numpy(), result.bse.to_numpy()
        self.table_ = pd.DataFrame(
            {
                "covariate": list(exog.columns),
                "coef": params,
                "se_robust": se,
                "or": np.exp(params),
                "or_low": np.exp(params - z * se),
                "or_high": np.exp(params + z * se),
                "p": result.pvalues.to_numpy(),
            }
        )
        self.table_ = self.table_[self.table_["covariate"] != "const"].reset_index(drop=True)
        self.n_ = len(data)
        self.clusters_ = int(groups.max() + 1) if len(groups) else 0
        self.correlation_ = float(model.cov_struct.dep_params)
        return self

    @property
    def summary(self) -> pd.DataFrame:
        """Odds ratios of CR with robust CIs, one row per covariate."""
        return self.table_.set_index("covariate")

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable result."""
        return {
            "n": self.n_,
            "clusters": self.clusters_,
            "working_correlation": self.correlation_,
            "terms": _frame(self.table_),
        }


def auc(y: np.ndarray[Any, Any], score: np.ndarray[Any, Any]) -> float:
    """Area under the ROC curve (Mann-Whitney statistic; ties count one half)."""
    y = np.asarray(y, dtype=bool)
    ranks = stats.rankdata(score)
    positives, negatives = int(y.sum()), int((~y).sum())
    if positives == 0 or negatives == 0:
        return float("nan")
    return float((ranks[y].sum() - positives * (positives + 1) / 2) / (positives * negatives))


class CompleteResponseModel:
    """Model-based predicted probability of CR per lesion, with cross-validated checks.

    A logistic regression on :data:`PREDICTION_COVARIATES`. ``fit`` estimates it on all
    evaluable lesions and, by ``folds``-fold cross-validation with whole patients per
    fold (assigned by a seeded permutation), the out-of-fold AUC, Brier score and a
    calibration table by deciles of predicted probability.
    """

    def __init__(
        self, covariates: Sequence[str] = PREDICTION_COVARIATES, folds: int = 5, seed: int = 2026
    ) -> None:
        if folds < 2:
            raise ValueError(f"folds={folds}: allowed >= 2")
        self.covariates = tuple(covariates)
        self.folds = folds
        self.seed = seed

    def _fit_glm(self, x: pd.DataFrame, y: np.ndarray[Any, Any]) -> Any:
        return sm.GLM(
            y, sm.add_constant(x, has_constant="add"), family=sm.families.Binomial()
        ).fit()

    def fit(self, lesions: pd.DataFrame) -> CompleteResponseModel:
        """Fit and cross-validate on the evaluable lesions; returns self."""
        data = lesions.dropna(subset=["cr"])
        x = design(data, self.covariates)
        self.used_ = _usable(x)
        x = x[self.used_]
        y = data["cr"].to_numpy(dtype=float)
        self.result_ = self._fit_glm(x, y)
        patients = pd.unique(data["patient_id"])
        rng = np.random.default_rng(self.seed)
        fold_of_patient = dict(
            zip(patients, rng.permutation(len(patients)) % self.folds, strict=True)
        )
        fold = data["patient_id"].map(fold_of_patient).to_numpy()
        predicted = np.empty(len(data))
        for k in range(self.folds):
            test = fold == k
            if not test.any():
                continue
            result = self._fit_glm(x[~test], y[~test])
            predicted[test] = result.predict(sm.add_constant(x[test], has_constant="add"))
        self.cv_auc_ = auc(y, predicted)
        self.cv_brier_ = float(np.mean((predicted - y) ** 2))
        deciles = pd.qcut(predicted, 10, labels=False, duplicates="drop")
        calibration = (
            pd.DataFrame({"bin": deciles, "predicted": predicted, "observed": y})
            .groupby("bin")
            .agg(
                n=("observed", "size"),
                predicted=("predicted", "mean"),
                observed=("observed", "mean"),
            )
            .reset_index(drop=True)
        )
        self.calibration_ = calibration
        self.n_ = len(data)
        return self

    def predict(self, lesions: pd.DataFrame) -> np.ndarray[Any, Any]:
        """Predicted CR probability (model based) for each row of a lesion table."""
        x = design(lesions, self.covariates)[self.used_]
        predicted: np.ndarray[Any, Any] = np.asarray(
            self.result_.predict(sm.add_constant(x, has_constant="add"))
        )
        return predicted

    @property
    def coefficients(self) -> dict[str, float]:
        """Logistic coefficients (log odds), intercept as ``const``."""
        return {str(k): float(v) for k, v in self.result_.params.items()}

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable result: coefficients, cross-validated AUC, Brier, calibration."""
        return {
            "label": "model-based estimate, not a clinical rule",
            "n": self.n_,
            "folds": self.folds,
            "coefficients": self.coefficients,
            "cv_auc": None if math.isnan(self.cv_auc_) else self.cv_auc_,
            "cv_brier": self.cv_brier_,
            "calibration": [
                {k: float(v) for k, v in row.items()}
                for row in self.calibration_.to_dict(orient="records")
            ],
        }
