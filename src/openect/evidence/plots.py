"""Figures for the evidence: forest plot, funnel plot and the institutional funnel.

Every ``plot_*`` function follows lifelines' convention: it takes an optional matplotlib
:class:`~matplotlib.axes.Axes` (``ax``), draws into it and returns it; without one it
builds its own :class:`~matplotlib.figure.Figure` (never pyplot: no global state, no
display needed, safe in threads). The ``*_figure`` functions return that whole figure and
:func:`save_png` writes one to disk. Proportions are drawn as percentages.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure, SubFigure
from matplotlib.ticker import PercentFormatter
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from openect.evidence.meta import MetaAnalysis
from openect.formatting import estimate as fmt_estimate
from openect.formatting import number, percent

#: Coverage of the two control-limit pairs of the institutional funnel (Spiegelhalter 2005).
FUNNEL_COVERAGES: tuple[float, float] = (0.95, 0.998)

_MODEL_SCALE = {
    None: "Effect",
    "logit": "Logit proportion",
    "ft": "Freeman-Tukey double arcsine",
    "raw": "Proportion",
}


def _fitted(meta: MetaAnalysis) -> MetaAnalysis:
    if not hasattr(meta, "studies_"):
        raise ValueError("meta: not fitted; call fit_proportions() or fit() first")
    return meta


def _value(meta: MetaAnalysis, value: float) -> str:
    """A study or pooled value as printed next to the forest: percent without its sign
    for proportions, three significant digits for generic effects."""
    if meta.transform_ is not None:
        return percent(value, sign=False)
    return fmt_estimate(value, ".3g")


def _figure_of(axis: Axes) -> Figure:
    """The top-level figure holding ``axis`` (also through subfigures)."""
    figure: object = axis.figure
    if isinstance(figure, SubFigure):
        figure = figure.figure
    if not isinstance(figure, Figure):
        raise TypeError("ax: not drawn on a matplotlib Figure")
    return figure


def plot_forest(
    meta: MetaAnalysis,
    ax: Axes | None = None,
    *,
    title: str | None = None,
    xlabel: str | None = None,
) -> Axes:
    """Forest plot of a fitted :class:`MetaAnalysis` on the reporting scale.

    One row per study (square sized by its percent weight, line = its CI), the pooled
    estimate as a diamond spanning its CI, and the prediction interval as a line below
    it; estimate [CI] and weight printed on the right. Proportions in %. Returns ``ax``
    (a new figure 8.5 in wide, 0.32 in per row, when None).
    """
    _fitted(meta)
    studies = meta.studies_
    k = len(studies)
    proportion = meta.transform_ is not None
    if ax is None:
        height = 1.6 + 0.32 * (k + 3)
        ax = Figure(figsize=(8.5, height), layout="constrained").add_subplot()
    axis = ax
    y_study = np.arange(k, 0, -1) + 2.0
    weights = studies["weight_pct"].to_numpy(dtype=float)
    estimate = studies["estimate"].to_numpy(dtype=float)
    low = studies["ci_low"].to_numpy(dtype=float)
    high = studies["ci_high"].to_numpy(dtype=float)
    axis.hlines(y_study, low, high, color="black", linewidth=1)
    axis.scatter(
        estimate, y_study, marker="s", s=15 + 250 * weights / max(weights.max(), 1e-12),
        color="tab:blue", zorder=3,
    )  # fmt: skip
    y_pooled, y_pi = 1.0, 0.0
    diamond_x = [meta.ci_low_, meta.estimate_, meta.ci_high_, meta.estimate_]
    diamond_y = [y_pooled, y_pooled + 0.3, y_pooled, y_pooled - 0.3]
    axis.fill(diamond_x, diamond_y, color="tab:red", zorder=3)
    axis.axvline(meta.estimate_, color="tab:red", linestyle=":", linewidth=0.8)
    if meta.method != "FE":
        axis.hlines(y_pi, meta.pi_low_, meta.pi_high_, color="tab:red", linewidth=2)
        axis.vlines([meta.pi_low_, meta.pi_high_], y_pi - 0.15, y_pi + 0.15, color="tab:red")
    if not proportion:
        axis.axvline(0.0, color="grey", linewidth=0.8)
    pct = number(100 * meta.level, "%")
    method = meta.method + (", Hartung-Knapp" if meta.hartung_knapp else "")
    labels = [*studies["label"].astype(str), f"Pooled ({method})"]
    ticks = [*y_study, y_pooled]
    if meta.method != "FE":
        labels.append("Prediction interval")
        ticks.append(y_pi)
    axis.set_yticks(ticks, labels)

    wd = 5 if proportion else 7

    def row(e: float, lo: float, hi: float, weight: str) -> str:
        cells = f"{_value(meta, e):>{wd}} [{_value(meta, lo):>{wd}}, {_value(meta, hi):>{wd}}]"
        return f"{cells} {weight:>7}"

    text = [
        row(e, lo, hi, number(w, "%", digits=1))
        for e, lo, hi, w in zip(estimate, low, high, weights, strict=True)
    ]
    text.append(row(meta.estimate_, meta.ci_low_, meta.ci_high_, number(100, "%")))
    if meta.method != "FE":
        pi = f"[{_value(meta, meta.pi_low_):>{wd}}, {_value(meta, meta.pi_high_):>{wd}}]"
        text.append(" " * (wd + 1) + pi)
    for y, line in zip(ticks, text, strict=True):
        axis.annotate(
            line, xy=(1.02, y), xycoords=("axes fraction", "data"), va="center", fontsize=8,
            family="monospace",
        )  # fmt: skip
    unit = " (%)" if proportion else ""
    header = f"estimate{unit} [{pct} CI]  weight"
    axis.annotate(
        header, xy=(1.02, k + 3.0), xycoords=("axes fraction", "data"), va="center",
        fontsize=8, family="monospace", weight="bold",
    )  # fmt: skip
    axis.set_ylim(-0.8, k + 3.6)
    if proportion:
        axis.xaxis.set_major_formatter(PercentFormatter(xmax=1.0))
        axis.set_xlim(
            max(0.0, min(float(np.nanmin(low)), meta.pi_low_) - 0.05),
            min(1.0, max(float(np.nanmax(high)), meta.pi_high_) + 0.05),
        )
    axis.set_xlabel(xlabel or ("Proportion" if proportion else "Effect"))
    axis.spines[["top", "right", "left"]].set_visible(False)
    axis.tick_params(axis="y", length=0)
    tau = (
        f"τ² = {fmt_estimate(meta.tau2_, '.3g')}, I² = {number(meta.i2_, '%', digits=0)}, "
        f"Q = {number(meta.q_, digits=1)} (df {meta.q_df_}, "
        f"p = {fmt_estimate(meta.q_pvalue_, '.2g')})"
    )
    axis.set_title((title + "\n" if title else "") + tau, loc="left", fontsize=10)
    return axis


def forest_figure(
    meta: MetaAnalysis, title: str | None = None, xlabel: str | None = None
) -> Figure:
    """The figure of :func:`plot_forest`."""
    return _figure_of(plot_forest(meta, title=title, xlabel=xlabel))


def plot_funnel(meta: MetaAnalysis, ax: Axes | None = None, *, title: str | None = None) -> Axes:
    """Classic funnel plot on the model scale: effect ``yi`` (x) against its standard
    error sqrt(vi) (y, inverted), a vertical line at the pooled estimate and the pseudo
    confidence region estimate +/- z * se (the triangle) at the analysis level. Returns
    ``ax`` (a new 6 x 5 in figure when None)."""
    _fitted(meta)
    studies = meta.studies_
    yi = studies["yi"].to_numpy(dtype=float)
    se = np.sqrt(studies["vi"].to_numpy(dtype=float))
    if ax is None:
        ax = Figure(figsize=(6.0, 5.0), layout="constrained").add_subplot()
    axis = ax
    top = float(se.max()) * 1.1
    z = float(stats.norm.ppf(1 - (1 - meta.level) / 2))
    grid = np.array([0.0, top])
    centre = meta.theta_
    axis.fill_betweenx(grid, centre - z * grid, centre + z * grid, color="0.92")
    axis.plot(centre - z * grid, grid, color="0.4", linestyle="--", linewidth=0.9)
    axis.plot(centre + z * grid, grid, color="0.4", linestyle="--", linewidth=0.9)
    axis.axvline(centre, color="tab:red", linewidth=1)
    axis.scatter(yi, se, color="tab:blue", edgecolor="black", zorder=3)
    axis.set_ylim(top, 0.0)
    axis.set_ylabel("Standard error")
    axis.set_xlabel(_MODEL_SCALE[meta.transform_])
    level = number(100 * meta.level, "%", digits=1)
    heading = f"Funnel plot ({meta.method}; {level} pseudo-confidence region)"
    axis.set_title((title + "\n" if title else "") + heading, loc="left", fontsize=10)
    return axis


def funnel_figure(meta: MetaAnalysis, title: str | None = None) -> Figure:
    """The figure of :func:`plot_funnel`."""
    return _figure_of(plot_funnel(meta, title=title))


def binomial_control_limits(
    target: float, totals: ArrayLike, coverage: float = 0.95
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Exact binomial control limits (proportions) around ``target`` for ``totals``.

    For each n the limits are the (1 - coverage)/2 and (1 + coverage)/2 quantiles of
    Binomial(n, target) divided by n, interpolated between integers as in Spiegelhalter,
    "Funnel plots for comparing institutional performance", Stat Med 2005;24:1185.
    ``target`` in (0, 1), ``totals`` > 0, ``coverage`` in (0, 1) (0.95, 0.998).
    """
    if not 0 < target < 1:
        raise ValueError(f"target={target!r}: out of range; allowed 0 < target < 1")
    if not 0 < coverage < 1:
        raise ValueError(f"coverage={coverage!r}: out of range; allowed 0 < coverage < 1")
    n = np.asarray(totals, dtype=float)
    if np.any(n <= 0):
        raise ValueError(f"totals={n.min():g}: out of range; allowed > 0")

    def limit(q: float) -> NDArray[np.float64]:
        r = stats.binom.ppf(q, n, target)
        cdf_r = stats.binom.cdf(r, n, target)
        cdf_below = stats.binom.cdf(r - 1, n, target)
        alpha = (cdf_r - q) / (cdf_r - cdf_below)
        return np.asarray(np.clip((r - alpha) / n, 0.0, 1.0), dtype=float)

    tail = (1 - coverage) / 2
    return limit(tail), limit(1 - tail)


def _centre_table(
    centres: pd.DataFrame | Sequence[tuple[str, float, float]],
) -> pd.DataFrame:
    if isinstance(centres, pd.DataFrame):
        missing = [c for c in ("label", "events", "total") if c not in centres.columns]
        if missing:
            raise ValueError(
                f"centres: missing column(s) {', '.join(missing)}; need label, events, total"
            )
        table = centres[["label", "events", "total"]].copy()
    else:
        table = pd.DataFrame(list(centres), columns=["label", "events", "total"])
    if table.empty:
        raise ValueError("centres: empty; need at least one (label, events, total)")
    events = pd.to_numeric(table["events"], errors="coerce").to_numpy(dtype=float)
    totals = pd.to_numeric(table["total"], errors="coerce").to_numpy(dtype=float)
    for label, x, n in zip(table["label"].astype(str), events, totals, strict=True):
        if not n > 0:
            raise ValueError(f"centres[{label!r}].total={n:g}: out of range; allowed > 0")
        if not 0 <= x <= n:
            raise ValueError(
                f"centres[{label!r}].events={x:g}: out of range; allowed 0 to total={n:g}"
            )
    table["events"], table["total"] = events, totals
    return table


def plot_centre_funnel(
    target: float,
    centres: pd.DataFrame | Sequence[tuple[str, float, float]],
    ax: Axes | None = None,
    *,
    title: str | None = None,
    xlabel: str = "Lesions treated",
    ylabel: str = "Complete response",
) -> Axes:
    """Institutional-comparison funnel: each centre's proportion against its size.

    ``target`` is the reference proportion (e.g. the pooled literature CR rate, 0-1);
    ``centres`` are ``(label, events, total)`` tuples or a DataFrame with those columns
    (e.g. a centre's lesions with CR out of lesions assessed). Draws the target line,
    exact binomial 95 % and 99.8 % control limits (:func:`binomial_control_limits`) and
    one labelled point per centre; points outside the 95 % / 99.8 % limits are orange /
    red. Returns ``ax`` (a new 7 x 5 in figure when None).
    """
    table = _centre_table(centres)
    totals = table["total"].to_numpy(dtype=float)
    rates = table["events"].to_numpy(dtype=float) / totals
    n_max = max(20.0, float(totals.max()) * 1.15)
    grid = np.unique(np.round(np.geomspace(1, n_max, 400)))
    if ax is None:
        ax = Figure(figsize=(7.0, 5.0), layout="constrained").add_subplot()
    axis = ax
    styles = {0.95: ("0.35", "--"), 0.998: ("0.35", ":")}
    for coverage in FUNNEL_COVERAGES:
        low, high = binomial_control_limits(target, grid, coverage)
        colour, style = styles[coverage]
        label = f"{number(100 * coverage, '%')} limits"
        axis.plot(grid, low, color=colour, linestyle=style, linewidth=1, label=label)
        axis.plot(grid, high, color=colour, linestyle=style, linewidth=1)
    axis.axhline(target, color="tab:blue", linewidth=1.2, label=f"target {percent(target)}")
    low95, high95 = binomial_control_limits(target, totals, FUNNEL_COVERAGES[0])
    low998, high998 = binomial_control_limits(target, totals, FUNNEL_COVERAGES[1])
    colours = np.where(
        (rates < low998) | (rates > high998),
        "tab:red",
        np.where((rates < low95) | (rates > high95), "tab:orange", "tab:green"),
    )
    axis.scatter(totals, rates, c=list(colours), edgecolor="black", zorder=3, s=40)
    for label, x, y in zip(table["label"].astype(str), totals, rates, strict=True):
        axis.annotate(label, (x, y), textcoords="offset points", xytext=(5, 4), fontsize=8)
    axis.set_xlim(0, n_max)
    axis.set_ylim(0, 1)
    axis.yaxis.set_major_formatter(PercentFormatter(xmax=1.0))
    axis.set_xlabel(xlabel)
    axis.set_ylabel(ylabel)
    axis.legend(loc="lower right", fontsize=8)
    axis.set_title(title or "Centres against the pooled literature", loc="left", fontsize=10)
    return axis


def centre_funnel_figure(
    target: float,
    centres: pd.DataFrame | Sequence[tuple[str, float, float]],
    title: str | None = None,
    *,
    xlabel: str = "Lesions treated",
    ylabel: str = "Complete response",
) -> Figure:
    """The figure of :func:`plot_centre_funnel`."""
    return _figure_of(
        plot_centre_funnel(target, centres, title=title, xlabel=xlabel, ylabel=ylabel)
    )


def save_png(figure: Figure, path: str | Path, dpi: int = 150) -> Path:
    """Write ``figure`` as a PNG at ``dpi`` dots per inch (creating the folder) and
    return the path."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=dpi, format="png")
    return out
