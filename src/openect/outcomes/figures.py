"""Figures of outcome analyses: Kaplan-Meier curves, response bars, ratio forests.

Every ``plot_*`` function follows lifelines' convention: it takes an optional matplotlib
:class:`~matplotlib.axes.Axes` (``ax``), draws into it and returns it; without one it
builds a :class:`~matplotlib.figure.Figure` of its own (never pyplot, so figures can be
drawn in threads, e.g. by the web server). The ``*_figure`` functions are thin wrappers
that return the whole figure, for callers that save it (``figure.savefig(path)``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure, SubFigure
from matplotlib.ticker import FormatStrFormatter, LogLocator, NullFormatter

from openect.formatting import number, words
from openect.outcomes.survival import KaplanMeier

TITLES = {
    "local-control": "Local tumour control (per lesion)",
    "overall-survival": "Overall survival from first ECT (per patient)",
}
YLABELS = {
    "local-control": "Free from local progression",
    "overall-survival": "Alive",
}


def new_axes(width_in: float, height_in: float) -> Axes:
    """One Axes on a new :class:`Figure` of ``width_in`` x ``height_in`` inches with
    constrained layout (labels and titles kept inside the figure); no pyplot."""
    figure = Figure(figsize=(width_in, height_in), layout="constrained")
    return figure.add_subplot()


def figure_of(ax: Axes) -> Figure:
    """The top-level :class:`Figure` that holds ``ax`` (also through subfigures)."""
    figure: object = ax.figure
    if isinstance(figure, SubFigure):
        figure = figure.figure  # the root figure (matplotlib >= 3.8)
    if not isinstance(figure, Figure):
        raise TypeError("ax: not drawn on a matplotlib Figure")
    return figure


def group_name(by: str | None, label: str) -> str:
    """A Kaplan-Meier group for people: ``concurrent immunotherapy: yes`` for
    ``by="concurrent_immunotherapy"``, ``label="True"``; ``all`` without ``by``."""
    value = {"True": "yes", "False": "no"}.get(label, words(label))
    return value if by is None else f"{words(by)}: {value}"


def plot_km(
    km: KaplanMeier,
    ax: Axes | None = None,
    *,
    title: str | None = None,
    horizon_days: float = 730,
    at_risk: bool = True,
) -> Axes:
    """Kaplan-Meier curves of every group of a fitted ``km`` with pointwise CI bands
    (survival 0-1 against days since first treatment, up to ``horizon_days``), dotted
    lines at the landmarks and, with ``at_risk``, the number at risk under the axis.
    Returns ``ax`` (a new 7 x 5.4 in figure when None)."""
    if ax is None:
        ax = new_axes(7.0, 5.4 if at_risk else 4.4)
    labels = list(km.fitters_)
    for label in labels:
        curve = km.curve(label)
        ax.step(
            curve["time"],
            curve["survival"],
            where="post",
            label=group_name(km.by, label),
        )
        ax.fill_between(
            curve["time"], curve["ci_low"], curve["ci_high"], step="post", alpha=0.2, linewidth=0
        )
    ax.set_ylim(0, 1.02)
    ax.set_xlim(0, horizon_days)
    ax.set_ylabel(YLABELS[km.endpoint])
    ax.set_title(title or TITLES[km.endpoint])
    ax.grid(alpha=0.3)
    for landmark in km.landmarks:
        ax.axvline(landmark, color="grey", linestyle=":", linewidth=0.8)
    if km.by is not None or len(labels) > 1:
        ax.legend(loc="lower left", fontsize=8)
    if not at_risk:
        ax.set_xlabel("Days since first treatment")
        return ax
    rows = max(len(labels), 1)
    table = ax.inset_axes((0.0, -0.16 - 0.07 * rows, 1.0, 0.07 * rows), sharex=ax)
    times = [t for t in km.at_risk_times if t <= horizon_days]
    for row, label in enumerate(labels):
        counts = km.at_risk(label)[: len(times)]
        for t, n in zip(times, counts, strict=True):
            table.text(t, row, number(n, digits=0), ha="center", va="center", fontsize=8)
    names = ["all" if km.by is None else group_name(None, label) for label in labels]
    table.set_yticks(range(len(labels)), names, fontsize=8)
    table.set_ylim(len(labels) - 0.5, -0.5)
    table.set_xlabel("Days since first treatment")
    table.set_title("Number at risk", fontsize=8, loc="left")
    table.tick_params(axis="x", length=0, labelbottom=False)
    table.tick_params(axis="y", length=0, pad=24)
    for side in ("top", "right", "bottom", "left"):
        table.spines[side].set_visible(False)
    return ax


def km_figure(km: KaplanMeier, title: str | None = None, horizon_days: float = 730) -> Figure:
    """The figure of :func:`plot_km` (Kaplan-Meier curves with the at-risk table)."""
    return figure_of(plot_km(km, title=title, horizon_days=horizon_days))


def plot_response_bars(
    groups: Sequence[tuple[str, float, float]],
    ax: Axes | None = None,
    *,
    title: str = "Per-lesion response at ~60 days",
) -> Axes:
    """Grouped bars of complete and objective response (%) for ``(label, cr, or)`` with
    ``cr`` and ``or`` as fractions 0-1, the value printed on each bar. Returns ``ax``."""
    if ax is None:
        ax = new_axes(max(6.0, 0.9 * len(groups) + 2), 4.4)
    x = np.arange(len(groups))
    cr = [100 * g[1] for g in groups]
    orr = [100 * g[2] for g in groups]
    ax.bar(x - 0.2, cr, 0.4, label="Complete response")
    ax.bar(x + 0.2, orr, 0.4, label="Objective response (complete + partial)")
    for i, (c, o) in enumerate(zip(cr, orr, strict=True)):
        ax.text(i - 0.2, c + 1, number(c, digits=0), ha="center", fontsize=7)
        ax.text(i + 0.2, o + 1, number(o, digits=0), ha="center", fontsize=7)
    ax.set_xticks(x, [g[0] for g in groups], rotation=30, ha="right", fontsize=8)
    ax.set_ylim(0, 122)  # room for the legend above the 100 % bars
    ax.set_yticks(range(0, 101, 20))
    ax.set_ylabel("Lesions (%)")
    ax.set_title(title)
    ax.legend(fontsize=8, loc="upper left", ncols=2)
    ax.grid(axis="y", alpha=0.3)
    return ax


def response_bars_figure(
    groups: Sequence[tuple[str, float, float]],
    title: str = "Per-lesion response at ~60 days",
) -> Figure:
    """The figure of :func:`plot_response_bars`."""
    return figure_of(plot_response_bars(groups, title=title))


def plot_ratio_forest(
    table: pd.DataFrame,
    estimate: str,
    low: str,
    high: str,
    ax: Axes | None = None,
    *,
    title: str = "",
    xlabel: str = "",
    labels: Mapping[str, str] | None = None,
) -> Axes:
    """Forest plot of ratios (hazard or odds ratios, no unit) with their CIs on a log
    axis: one row per covariate (index or ``covariate`` column of ``table``), columns
    ``estimate``, ``low`` and ``high``. A covariate is named by ``labels`` when it has an
    entry there, else as words (``previously irradiated``). Returns ``ax``."""
    rows = table.reset_index()
    if ax is None:
        ax = new_axes(6.5, 0.45 * len(rows) + 1.6)
    y = np.arange(len(rows))[::-1]
    ax.errorbar(
        rows[estimate],
        y,
        xerr=[rows[estimate] - rows[low], rows[high] - rows[estimate]],
        fmt="s",
        capsize=3,
    )
    ax.axvline(1.0, color="grey", linestyle="--", linewidth=0.8)
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    names = [(labels or {}).get(str(c), words(c)) for c in rows["covariate"]]
    ax.set_yticks(y, names, fontsize=8)
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    return ax


def ratio_forest_figure(
    table: pd.DataFrame,
    estimate: str,
    low: str,
    high: str,
    title: str,
    xlabel: str,
    labels: Mapping[str, str] | None = None,
) -> Figure:
    """The figure of :func:`plot_ratio_forest`."""
    return figure_of(
        plot_ratio_forest(table, estimate, low, high, title=title, xlabel=xlabel, labels=labels)
    )
