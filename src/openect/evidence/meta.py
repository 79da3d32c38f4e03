"""Meta-analysis of proportions and generic effects, agreeing with R's ``metafor::rma``.

:class:`MetaAnalysis` follows the scikit-learn / lifelines pattern: options in the
constructor, work in :meth:`MetaAnalysis.fit_proportions` (event counts out of totals,
e.g. lesions with a complete response out of lesions treated) or :meth:`MetaAnalysis.fit`
(any effect ``yi`` with sampling variance ``vi``), results in attributes with a trailing
underscore, a :attr:`MetaAnalysis.summary` DataFrame and a printed summary.

Conventions are metafor's (version 3.8):

* effect sizes as ``escalc``: ``PLO`` (logit), ``PFT`` (Freeman-Tukey double arcsine),
  ``PR`` (raw proportion); 1/2 is added to both cells of a study with zero events or zero
  non-events for ``PLO`` and ``PR`` (``add=1/2, to="only0"``), never for ``PFT``;
* estimators as ``rma``: ``FE`` (inverse variance), ``DL`` (DerSimonian-Laird) and ``REML``
  (Fisher scoring with step halving, tau2 >= 0); Hartung-Knapp as ``test="knha"``;
* Q, I2 and H2 as ``rma`` prints them, the prediction interval as ``predict``, the
  weights as ``weights``; back-transforms ``transf.ilogit`` and ``transf.ipft.hm``.

Proportions are fractions (0-1) on the reporting scale; variances are on the model scale.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any, Literal, cast, get_args

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from openect.errors import ComputationError
from openect.formatting import estimate, number, percent, percent_interval

Method = Literal["FE", "DL", "REML"]
Transform = Literal["logit", "ft", "raw"]

METHODS: tuple[str, ...] = get_args(Method)
TRANSFORMS: tuple[str, ...] = get_args(Transform)

#: metafor's name for each transform (``escalc`` measure).
MEASURES: dict[str, str] = {"logit": "PLO", "ft": "PFT", "raw": "PR"}

#: Continuity correction added to both cells of a study with a zero cell (metafor ``add``).
ZERO_CELL_ADD = 0.5

FloatArray = NDArray[np.float64]


class ConvergenceError(ComputationError):
    """The REML Fisher scoring did not converge within ``max_iter`` iterations."""


# ---- transforms ---------------------------------------------------------------------


def expit(x: ArrayLike) -> FloatArray:
    """Inverse logit ``1 / (1 + exp(-x))`` (metafor ``transf.ilogit``)."""
    return np.asarray(stats.logistic.cdf(np.asarray(x, dtype=float)), dtype=float)


def pft(p: ArrayLike, n: ArrayLike) -> FloatArray:
    """Freeman-Tukey double arcsine of proportion ``p`` with ``n`` (metafor ``transf.pft``)."""
    n_ = np.asarray(n, dtype=float)
    x = np.asarray(p, dtype=float) * n_
    return np.asarray(
        0.5 * (np.arcsin(np.sqrt(x / (n_ + 1))) + np.arcsin(np.sqrt((x + 1) / (n_ + 1)))),
        dtype=float,
    )


def ipft(x: ArrayLike, n: ArrayLike) -> FloatArray:
    """Inverse Freeman-Tukey transform with sample size ``n`` (metafor ``transf.ipft``).

    Miller's (1978) inversion; values beyond the transform of 0 or 1 are clamped to 0 or 1,
    and values where the inversion is undefined are NaN, exactly as in metafor.
    """
    x_, n_ = np.broadcast_arrays(np.asarray(x, dtype=float), np.asarray(n, dtype=float))
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.sin(2 * x_)
        z = 0.5 * (1 - np.sign(np.cos(2 * x_)) * np.sqrt(1 - (s + (s - 1 / s) / n_) ** 2))
    z = np.where(np.isfinite(z), z, np.nan)
    z = np.where(x_ > pft(1.0, n_), 1.0, z)
    z = np.where(x_ < pft(0.0, n_), 0.0, z)
    return np.asarray(z, dtype=float)


def ipft_hm(x: ArrayLike, totals: ArrayLike) -> FloatArray:
    """Inverse Freeman-Tukey with the harmonic mean of ``totals`` (``transf.ipft.hm``)."""
    n = np.asarray(totals, dtype=float)
    nhm = 1.0 / float(np.mean(1.0 / n))
    return ipft(x, nhm)


# ---- effect sizes -------------------------------------------------------------------


def proportion_effects(
    events: ArrayLike, totals: ArrayLike, transform: Transform = "logit"
) -> tuple[FloatArray, FloatArray]:
    """Effect sizes ``yi`` and sampling variances ``vi`` of proportions, as metafor ``escalc``.

    ``logit`` (PLO): yi = log(x / (n - x)), vi = 1/x + 1/(n - x);
    ``ft`` (PFT): yi = (asin(sqrt(x/(n+1))) + asin(sqrt((x+1)/(n+1)))) / 2, vi = 1/(4n + 2);
    ``raw`` (PR): yi = x/n, vi = yi (1 - yi) / n.
    For ``logit`` and ``raw`` 1/2 is added to x and n - x of studies with x = 0 or x = n.
    Inputs are assumed validated (0 <= x <= n, n > 0).
    """
    x = np.asarray(events, dtype=float)
    n = np.asarray(totals, dtype=float)
    if transform == "ft":
        yi = 0.5 * (np.arcsin(np.sqrt(x / (n + 1))) + np.arcsin(np.sqrt((x + 1) / (n + 1))))
        return yi, 1.0 / (4 * n + 2)
    m = n - x
    zero = (x == 0) | (m == 0)
    x = np.where(zero, x + ZERO_CELL_ADD, x)
    m = np.where(zero, m + ZERO_CELL_ADD, m)
    if transform == "logit":
        return np.log(x / m), 1 / x + 1 / m
    p = x / (x + m)
    return p, p * (1 - p) / (x + m)


# ---- validation ---------------------------------------------------------------------


def _choice(field: str, value: object, allowed: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{field}={value!r}: not allowed; allowed {', '.join(allowed)}")
    return value


def _vector(field: str, values: ArrayLike) -> FloatArray:
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{field}: expected numbers, got {values!r}") from None
    if array.ndim != 1:
        raise ValueError(f"{field}: expected a 1-D sequence of numbers, got shape {array.shape}")
    bad = np.flatnonzero(~np.isfinite(array))
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"{field}[{i}]={array[i]}: not a finite number")
    return array


def _labels(labels: Iterable[object] | None, k: int) -> list[str]:
    if labels is None:
        return [f"study {i + 1}" for i in range(k)]
    out = [str(label) for label in labels]
    if len(out) != k:
        raise ValueError(f"labels: {len(out)} labels for {k} studies; need one per study")
    return out


def _none_if_nan(value: float) -> float | None:
    return None if math.isnan(value) else value


# ---- the analysis object ------------------------------------------------------------


class MetaAnalysis:
    """Fixed- or random-effects meta-analysis (metafor ``rma`` conventions).

    Parameters
    ----------
    method:
        ``"FE"`` (fixed effect, inverse variance), ``"DL"`` (DerSimonian-Laird random
        effects) or ``"REML"`` (restricted maximum likelihood random effects, default).
    transform:
        Scale on which proportions are pooled by :meth:`fit_proportions`: ``"logit"``
        (default when None), ``"ft"`` (Freeman-Tukey double arcsine) or ``"raw"``.
        Must be None for :meth:`fit` (generic effects are not back-transformed).
    hartung_knapp:
        Hartung-Knapp(-Sidik-Jonkman) adjustment (metafor ``test="knha"``): standard
        error scaled by the weighted residual variance, t with k - 1 degrees of freedom
        for the confidence and prediction intervals.
    level:
        Confidence level of the intervals, a fraction in (0, 1) (0.95 = 95 %).
    max_iter, tol:
        Fisher-scoring limits for REML: at most ``max_iter`` iterations, stop when the
        change of tau2 is <= ``tol`` (same units as the effect variance).
    step_adj:
        Step length factor of the Fisher scoring (metafor ``control=list(stepadj=)``).
        When the full step (1) does not converge - it can oscillate for raw proportions
        close to 0 or 1 - the fit is retried once with 0.5, metafor's documented remedy;
        ``step_adj_`` says which factor was used.

    Attributes (after fitting; proportions on the reporting scale, i.e. fractions 0-1)
    ------------------------------------------------------------------------------------
    ``k_`` studies; ``estimate_``, ``ci_low_``, ``ci_high_``, ``pi_low_``, ``pi_high_``
    pooled estimate with confidence and prediction interval (back-transformed);
    ``theta_``, ``se_``, ``theta_ci_low_``, ``theta_ci_high_``, ``theta_pi_low_``,
    ``theta_pi_high_`` the same on the model scale; ``tau2_`` between-study variance
    (model scale); ``i2_`` (%), ``h2_``, ``q_``, ``q_df_``, ``q_pvalue_`` heterogeneity;
    ``weights_`` percent weights; ``studies_`` per-study DataFrame; ``transform_`` the
    transform used (None for generic effects); ``df_`` t degrees of freedom (None for z);
    ``s2w_`` Hartung-Knapp scale factor (1 without it); ``iterations_`` REML iterations
    and ``step_adj_`` their step factor.
    """

    k_: int
    theta_: float
    se_: float
    theta_ci_low_: float
    theta_ci_high_: float
    theta_pi_low_: float
    theta_pi_high_: float
    estimate_: float
    ci_low_: float
    ci_high_: float
    pi_low_: float
    pi_high_: float
    tau2_: float
    i2_: float
    h2_: float
    q_: float
    q_df_: int
    q_pvalue_: float
    weights_: FloatArray
    studies_: pd.DataFrame
    transform_: Transform | None
    df_: int | None
    crit_: float
    s2w_: float
    iterations_: int
    step_adj_: float
    labels_: list[str]

    def __init__(
        self,
        method: Method = "REML",
        transform: Transform | None = None,
        hartung_knapp: bool = False,
        level: float = 0.95,
        *,
        max_iter: int = 1000,
        tol: float = 1e-12,
        step_adj: float = 1.0,
    ) -> None:
        self.method: Method = cast(Method, _choice("method", method, METHODS))
        if transform is not None:
            _choice("transform", transform, TRANSFORMS)
        self.transform = transform
        if not isinstance(hartung_knapp, bool):
            raise ValueError(f"hartung_knapp={hartung_knapp!r}: must be True or False")
        self.hartung_knapp = hartung_knapp
        if not isinstance(level, int | float) or not 0 < level < 1:
            raise ValueError(f"level={level!r}: out of range; allowed 0 < level < 1 (0.95 = 95 %)")
        self.level = float(level)
        if max_iter < 1:
            raise ValueError(f"max_iter={max_iter}: out of range; allowed >= 1")
        self.max_iter = int(max_iter)
        if not tol > 0:
            raise ValueError(f"tol={tol}: out of range; allowed > 0")
        self.tol = float(tol)
        if not 0 < step_adj <= 1:
            raise ValueError(f"step_adj={step_adj}: out of range; allowed 0 < step_adj <= 1")
        self.step_adj = float(step_adj)

    def __repr__(self) -> str:
        return (
            f"MetaAnalysis(method={self.method!r}, transform={self.transform!r}, "
            f"hartung_knapp={self.hartung_knapp}, level={self.level})"
        )

    # ---- fitting ----------------------------------------------------------------------

    def fit_proportions(
        self,
        events: ArrayLike,
        totals: ArrayLike,
        labels: Iterable[object] | None = None,
    ) -> MetaAnalysis:
        """Pool proportions ``events / totals`` (e.g. lesions with CR / lesions treated).

        ``events`` and ``totals`` are counts per study (0 <= events <= totals, totals > 0).
        The pooled estimate, its intervals and the study CIs are back-transformed to
        proportions (fractions 0-1). Returns ``self``.
        """
        transform: Transform = "logit" if self.transform is None else self.transform
        x = _vector("events", events)
        n = _vector("totals", totals)
        if x.size != n.size:
            raise ValueError(
                f"events/totals: {x.size} events for {n.size} totals; need one of each per study"
            )
        for i in range(x.size):
            if n[i] <= 0:
                raise ValueError(f"totals[{i}]={n[i]:g}: out of range; allowed > 0")
            if x[i] < 0:
                raise ValueError(f"events[{i}]={x[i]:g}: out of range; allowed >= 0")
            if x[i] > n[i]:
                raise ValueError(
                    f"events[{i}]={x[i]:g}: out of range; allowed 0 to totals[{i}]={n[i]:g}"
                )
        yi, vi = proportion_effects(x, n, transform)
        self._fit(yi, vi, _labels(labels, x.size))
        self.transform_ = transform
        self._back_transform(x, n)
        return self

    def fit(
        self, yi: ArrayLike, vi: ArrayLike, labels: Iterable[object] | None = None
    ) -> MetaAnalysis:
        """Pool generic effects ``yi`` (e.g. log risk ratios) with sampling variances ``vi``.

        ``vi`` must be > 0 (squared standard errors, in the squared units of ``yi``).
        Nothing is back-transformed. Returns ``self``.
        """
        if self.transform is not None:
            raise ValueError(
                f"transform={self.transform!r}: applies to fit_proportions(); "
                "fit() pools effects on their own scale (use transform=None)"
            )
        y = _vector("yi", yi)
        v = _vector("vi", vi)
        if y.size != v.size:
            raise ValueError(f"yi/vi: {y.size} effects for {v.size} variances; need one of each")
        self._fit(y, v, _labels(labels, y.size))
        self.transform_ = None
        self._back_transform(None, None)
        return self

    def _fit(self, yi: FloatArray, vi: FloatArray, labels: list[str]) -> None:
        k = yi.size
        if k == 0:
            raise ValueError("k=0: no studies; allowed k >= 1 (FE) or k >= 2 (DL, REML)")
        if k < 2 and self.method != "FE":
            raise ValueError(
                f"k={k}: too few studies for method={self.method!r}; allowed k >= 2 "
                "(use method='FE' for a single study)"
            )
        if k < 2 and self.hartung_knapp:
            raise ValueError(f"k={k}: too few studies for hartung_knapp=True; allowed k >= 2")
        bad = np.flatnonzero(vi <= 0)
        if bad.size:
            i = int(bad[0])
            raise ValueError(f"vi[{i}]={vi[i]:g}: out of range; allowed > 0")
        self.iterations_ = 0
        self.step_adj_ = self.step_adj
        if self.method == "FE":
            tau2 = 0.0
        elif self.method == "DL":
            tau2 = _tau2_dl(yi, vi)
        else:
            try:
                tau2, self.iterations_ = _tau2_reml(yi, vi, self.max_iter, self.tol, self.step_adj)
            except ConvergenceError:
                if self.step_adj != 1.0:
                    raise
                self.step_adj_ = 0.5
                tau2, self.iterations_ = _tau2_reml(yi, vi, self.max_iter, self.tol, 0.5)

        w = 1.0 / (vi + tau2)
        theta = float(np.sum(w * yi) / np.sum(w))
        variance = 1.0 / float(np.sum(w))
        alpha = 1.0 - self.level
        s2w = 1.0
        df: int | None = None
        if self.hartung_knapp:
            rss = float(np.sum(w * (yi - theta) ** 2))
            s2w = 0.0 if rss <= np.finfo(float).eps else rss / (k - 1)
            df = k - 1
            crit = float(stats.t.ppf(1 - alpha / 2, df))
        else:
            crit = float(stats.norm.ppf(1 - alpha / 2))
        se = math.sqrt(s2w * variance)

        # Heterogeneity (always with the fixed-effect weights 1/vi, as metafor).
        w_fe = 1.0 / vi
        if k > 1:
            theta_fe = float(np.sum(w_fe * yi) / np.sum(w_fe))
            q = max(0.0, float(np.sum(w_fe * (yi - theta_fe) ** 2)))
            q_pvalue = float(stats.chi2.sf(q, k - 1))
            if self.method == "FE":
                i2 = max(0.0, 100 * (q - (k - 1)) / q) if q > 0 else 0.0
                h2 = q / (k - 1)
            else:
                vt = (k - 1) / (float(np.sum(w_fe)) - float(np.sum(w_fe**2) / np.sum(w_fe)))
                i2 = 100 * tau2 / (vt + tau2)
                h2 = tau2 / vt + 1
        else:
            q, q_pvalue, i2, h2 = 0.0, 1.0, 0.0, 1.0

        self.k_ = k
        self.labels_ = labels
        self.tau2_ = tau2
        self.theta_ = theta
        self.se_ = se
        self.crit_ = crit
        self.df_ = df
        self.s2w_ = s2w
        self.theta_ci_low_ = theta - crit * se
        self.theta_ci_high_ = theta + crit * se
        half_pi = crit * math.sqrt(se**2 + tau2)
        self.theta_pi_low_ = theta - half_pi
        self.theta_pi_high_ = theta + half_pi
        self.q_ = q
        self.q_df_ = k - 1
        self.q_pvalue_ = q_pvalue
        self.i2_ = i2
        self.h2_ = h2
        self.weights_ = 100 * w / np.sum(w)
        self._yi = yi
        self._vi = vi

    def _back_transform(self, events: FloatArray | None, totals: FloatArray | None) -> None:
        """Pooled values and study CIs on the reporting scale (proportions for transforms)."""
        transform = self.transform_
        pooled = np.array(
            [
                self.theta_,
                self.theta_ci_low_,
                self.theta_ci_high_,
                self.theta_pi_low_,
                self.theta_pi_high_,
            ]
        )
        z = float(stats.norm.ppf(1 - (1 - self.level) / 2))
        yi, vi = self._yi, self._vi
        low, high = yi - z * np.sqrt(vi), yi + z * np.sqrt(vi)
        if transform == "logit":
            pooled, est, low, high = expit(pooled), expit(yi), expit(low), expit(high)
        elif transform == "ft":
            assert totals is not None
            pooled = ipft_hm(pooled, totals)
            est, low, high = ipft(yi, totals), ipft(low, totals), ipft(high, totals)
        else:
            est = yi
        values = [float(v) for v in pooled]
        self.estimate_, self.ci_low_, self.ci_high_, self.pi_low_, self.pi_high_ = values
        columns: dict[str, Any] = {"label": self.labels_}
        if events is not None and totals is not None:
            columns["events"] = events
            columns["total"] = totals
        columns.update(
            yi=yi, vi=vi, estimate=est, ci_low=low, ci_high=high, weight_pct=self.weights_
        )
        self.studies_ = pd.DataFrame(columns)

    # ---- results ----------------------------------------------------------------------

    def _check_fitted(self) -> None:
        if not hasattr(self, "studies_"):
            raise RuntimeError(
                "MetaAnalysis is not fitted yet; call fit_proportions() or fit() first"
            )

    @property
    def summary(self) -> pd.DataFrame:
        """One-row DataFrame (index ``"pooled"``) with every pooled quantity."""
        self._check_fitted()
        row = {
            "k": self.k_,
            "estimate": self.estimate_,
            "ci_low": self.ci_low_,
            "ci_high": self.ci_high_,
            "pi_low": self.pi_low_,
            "pi_high": self.pi_high_,
            "theta": self.theta_,
            "se": self.se_,
            "tau2": self.tau2_,
            "i2": self.i2_,
            "h2": self.h2_,
            "q": self.q_,
            "q_df": self.q_df_,
            "q_pvalue": self.q_pvalue_,
        }
        return pd.DataFrame([row], index=pd.Index(["pooled"]))

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable results (NaN as None); proportions as fractions 0-1."""
        self._check_fitted()
        studies: list[dict[str, Any]] = []
        frame = self.studies_
        for i, label in enumerate(self.labels_):
            record: dict[str, Any] = {"label": label}
            for key in ("events", "total"):
                if key in frame.columns:
                    value = float(frame[key].to_numpy(dtype=float)[i])
                    record[key] = int(value) if value.is_integer() else value
            for key in ("yi", "vi", "estimate", "ci_low", "ci_high", "weight_pct"):
                record[key] = _none_if_nan(float(frame[key].to_numpy(dtype=float)[i]))
            studies.append(record)
        return {
            "method": self.method,
            "transform": self.transform_,
            "measure": MEASURES.get(self.transform_ or "", "GEN"),
            "hartung_knapp": self.hartung_knapp,
            "level": self.level,
            "k": self.k_,
            "estimate": _none_if_nan(self.estimate_),
            "ci_low": _none_if_nan(self.ci_low_),
            "ci_high": _none_if_nan(self.ci_high_),
            "pi_low": _none_if_nan(self.pi_low_),
            "pi_high": _none_if_nan(self.pi_high_),
            "theta": self.theta_,
            "se": self.se_,
            "theta_ci_low": self.theta_ci_low_,
            "theta_ci_high": self.theta_ci_high_,
            "theta_pi_low": self.theta_pi_low_,
            "theta_pi_high": self.theta_pi_high_,
            "tau2": self.tau2_,
            "i2": self.i2_,
            "h2": self.h2_,
            "q": self.q_,
            "q_df": self.q_df_,
            "q_pvalue": self.q_pvalue_,
            "df": self.df_,
            "iterations": self.iterations_,
            "step_adj": self.step_adj_,
            "weights": [float(w) for w in self.weights_],
            "labels": list(self.labels_),
            "studies": studies,
        }

    def _text(self, value: float) -> str:
        """A value on the reporting scale for :meth:`__str__`: a percentage for
        proportions, four significant digits for generic effects (``—`` when missing)."""
        if self.transform_ is not None:
            return percent(value)
        return estimate(value, ".4g")

    def _interval(self, low: float, high: float) -> str:
        """An interval as :meth:`_text` writes its bounds: ``32.4–63.7 %`` for
        proportions, ``-0.8 to -0.2`` for generic effects."""
        if self.transform_ is not None:
            return percent_interval(low, high)
        return f"{self._text(low)} to {self._text(high)}"

    def __str__(self) -> str:
        if not hasattr(self, "studies_"):
            return repr(self) + " (not fitted)"
        scale = {
            None: "generic effects (no transform)",
            "logit": "proportions, logit scale",
            "ft": "proportions, Freeman-Tukey double arcsine",
            "raw": "proportions, raw scale",
        }[self.transform_]
        pct = number(100 * self.level, "%")
        test = f"Hartung-Knapp t(df={self.df_})" if self.hartung_knapp else "z"
        lines = [
            f"Meta-analysis: {self.method}, {scale}, {test}, k = {self.k_}",
            "",
        ]
        width = max(len(label) for label in self.labels_)
        frame = self.studies_
        columns = ("estimate", "ci_low", "ci_high", "weight_pct")
        est, low, high, weight = (frame[c].to_numpy(dtype=float) for c in columns)
        intervals = [
            f"[{self._interval(float(lo), float(hi))}]" for lo, hi in zip(low, high, strict=True)
        ]
        span = max(len(text) for text in intervals)
        for i, label in enumerate(self.labels_):
            lines.append(
                f"  {label:<{width}}  {self._text(float(est[i])):>9}  "
                f"{intervals[i]:<{span}}  weight {number(float(weight[i]), '%'):>7}"
            )
        lines += [
            "",
            f"Pooled estimate: {self._text(self.estimate_)} "
            f"({pct} CI {self._interval(self.ci_low_, self.ci_high_)}; "
            f"prediction interval {self._interval(self.pi_low_, self.pi_high_)})",
            f"Model scale: theta = {estimate(self.theta_, '.4f')}, "
            f"se = {estimate(self.se_, '.4f')}",
            f"Heterogeneity: tau2 = {estimate(self.tau2_, '.4g')}, "
            f"I2 = {number(self.i2_, '%')}, H2 = {estimate(self.h2_, '.2f')}, "
            f"Q = {estimate(self.q_, '.2f')} (df = {self.q_df_}, "
            f"p = {estimate(self.q_pvalue_, '.3g')})",
        ]
        return "\n".join(lines)


# ---- tau2 estimators ----------------------------------------------------------------


def _tau2_dl(yi: FloatArray, vi: FloatArray) -> float:
    """DerSimonian-Laird tau2 = max(0, (Q - (k - 1)) / (sum w - sum w^2 / sum w))."""
    w = 1.0 / vi
    theta = np.sum(w * yi) / np.sum(w)
    q = float(np.sum(w * (yi - theta) ** 2))
    trace_p = float(np.sum(w) - np.sum(w**2) / np.sum(w))
    return max(0.0, (q - (yi.size - 1)) / trace_p)


def _projection(w: FloatArray) -> NDArray[np.float64]:
    """P = W - W 1 (1' W 1)^-1 1' W for an intercept-only model."""
    return np.asarray(np.diag(w) - np.outer(w, w) / np.sum(w), dtype=float)


def _reml_loglik(yi: FloatArray, vi: FloatArray, tau2: float) -> float:
    """Restricted log-likelihood of the intercept-only random-effects model (metafor)."""
    w = 1.0 / (vi + tau2)
    theta = np.sum(w * yi) / np.sum(w)
    rss = float(np.sum(w * (yi - theta) ** 2))
    k = yi.size
    return float(
        -0.5 * (k - 1) * math.log(2 * math.pi)
        - 0.5 * np.sum(np.log(vi + tau2))
        - 0.5 * math.log(float(np.sum(w)))
        - 0.5 * rss
    )


def _tau2_reml(
    yi: FloatArray, vi: FloatArray, max_iter: int, tol: float, step_adj: float = 1.0
) -> tuple[float, int]:
    """REML tau2 by Fisher scoring (metafor ``rma.uni``): start from the Hedges estimate
    max(0, var(yi) - mean(vi)), step ``step_adj`` * (y'PPy - tr P) / tr(PP), halve steps
    that would go below 0, stop when the change is <= ``tol``; then metafor's check that
    tau2 = 0 does not have a higher restricted likelihood."""
    k = yi.size
    tau2 = max(0.0, float(np.var(yi, ddof=1)) - float(np.mean(vi))) if k > 1 else 0.0
    change = tol + 1
    iterations = 0
    while change > tol:
        iterations += 1
        old = tau2
        p = _projection(1.0 / (vi + tau2))
        py = p @ yi
        adj = step_adj * (float(py @ py) - float(np.trace(p))) / float(np.sum(p * p))
        if math.isnan(adj):
            adj = 0.0
        while tau2 + adj < 0:
            adj /= 2
        tau2 = tau2 + adj
        change = abs(old - tau2)
        if iterations > max_iter:
            raise ConvergenceError(
                f"REML Fisher scoring did not converge in max_iter={max_iter} iterations "
                f"with step_adj={step_adj:g} (last change of tau2 {change:.3g} > tol={tol:g}); "
                "try method='DL' or a logit / Freeman-Tukey transform"
            )
    # metafor's ll0check: a local maximum away from 0 that is worse than tau2 = 0.
    ll_tol = np.finfo(float).eps ** 0.25
    if _reml_loglik(yi, vi, 0.0) - _reml_loglik(yi, vi, tau2) > ll_tol and tau2 > tol:
        tau2 = 0.0
    return max(0.0, tau2), iterations
