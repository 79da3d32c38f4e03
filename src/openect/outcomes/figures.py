"""Figures of outcome analyses (matplotlib, Agg): Kaplan-Meier, response bars, ratio forests."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from openect.outcomes.survival import KaplanMeier

TITLES = {
    "local-control": "Local tumour control (per lesion)",
    "overall-survival": "Overall survival from first ECT (per patient)",
}
YLABELS = {
    "local-control": "Free from local progression",
    "overall-survival": "Alive",
}


def km_figure(km: KaplanMeier, title: str | None = None, horizon_days: float = 730) -> Figure:
    """Kaplan-Meier curves of every group with pointwise CI bands and an at-risk table."""
    fig, (ax, table_ax) = plt.subplots(
        2, 1, figsize=(7.0, 5.2), gridspec_kw={"height_ratios": [4, 1]}, sharex=True
    )
    labels = list(km.fitters_)
    for label in labels:
        curve = km.curve(label)
        name = label if km.by is None else f"{km.by} = {label}"
        ax.step(curve["time"], curve["survival"], where="post", label=name)
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
    times = [t for t in km.at_risk_times if t <= horizon_days]
    for row, label in enumerate(labels):
        counts = km.at_risk(label)[: len(times)]
        for t, n in zip(times, counts, strict=True):
            table_ax.text(t, row, str(n), ha="center", va="center", fontsize=8)
    table_ax.set_yticks(range(len(labels)), labels, fontsize=8)
    table_ax.set_ylim(len(labels) - 0.5, -0.5)
    table_ax.set_xlabel("Days since first treatment")
    table_ax.set_title("Number at risk", fontsize=8, loc="left")
    for side in ("top", "right", "bottom"):
        table_ax.spines[side].set_visible(False)
    table_ax.tick_params(axis="y", length=0, pad=22)
    fig.tight_layout()
    return fig


def response_bars_figure(
    groups: Sequence[tuple[str, float, float]],
    title: str = "Per-lesion response at ~60 days",
) -> Figure:
    """Grouped bars of CR and objective response (%) for ``(label, cr, or)`` in 0-1."""
    fig, ax = plt.subplots(figsize=(max(6.0, 0.9 * len(groups) + 2), 4.2))
    x = np.arange(len(groups))
    cr = [100 * g[1] for g in groups]
    orr = [100 * g[2] for g in groups]
    ax.bar(x - 0.2, cr, 0.4, label="CR")
    ax.bar(x + 0.2, orr, 0.4, label="OR (CR + PR)")
    for i, (c, o) in enumerate(zip(cr, orr, strict=True)):
        ax.text(i - 0.2, c + 1, f"{c:.0f}", ha="center", fontsize=7)
        ax.text(i + 0.2, o + 1, f"{o:.0f}", ha="center", fontsize=7)
    ax.set_xticks(x, [g[0] for g in groups], rotation=30, ha="right", fontsize=8)
    ax.set_ylim(0, 105)
    ax.set_ylabel("Lesions (%)")
    ax.set_title(title)
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig


def ratio_forest_figure(
    table: pd.DataFrame,
    estimate: str,
    low: str,
    high: str,
    title: str,
    xlabel: str,
) -> Figure:
    """Forest plot of ratios (HR or OR) with CIs on a log axis; one row per covariate."""
    rows = table.reset_index()
    fig, ax = plt.subplots(figsize=(6.5, 0.45 * len(rows) + 1.5))
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
    ax.set_yticks(y, rows["covariate"].str.replace("_", " "), fontsize=8)
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig
