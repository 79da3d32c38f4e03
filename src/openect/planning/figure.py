"""Figure of a coverage plan: lesion, target, each application's footprint and the gaps.

:func:`plot_plan` follows lifelines' convention (optional matplotlib ``Axes`` in, the
same ``Axes`` out; its own :class:`~matplotlib.figure.Figure` otherwise, never pyplot);
:func:`plan_figure` draws it on a new figure and saves a PNG.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import shapely
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from numpy.typing import NDArray

from openect.planning.footprint import Footprint
from openect.planning.outline import LesionOutline
from openect.planning.placement import Application, to_skin_frame

#: Length of the scale bar (mm).
SCALE_BAR_MM = 5.0


def _rings(geometry: shapely.Geometry) -> list[NDArray[np.float64]]:
    """Exterior and interior rings (k, 2) (mm) of a polygon or multipolygon."""
    polys = list(geometry.geoms) if hasattr(geometry, "geoms") else [geometry]
    out = []
    for poly in polys:
        if poly.is_empty or not hasattr(poly, "exterior"):
            continue
        out.append(np.asarray(poly.exterior.coords, dtype=float))
        out.extend(np.asarray(r.coords, dtype=float) for r in poly.interiors)
    return out


def _colours(n: int) -> list[tuple[float, float, float, float]]:
    if n <= 10:
        cmap = colormaps["tab10"]
        return [cmap(i) for i in range(n)]
    cmap = colormaps["turbo"]
    return [cmap(0.05 + 0.9 * i / max(n - 1, 1)) for i in range(n)]


def _scale_bar(ax: Axes, bounds: tuple[float, float, float, float]) -> None:
    minx, miny, maxx, maxy = bounds
    pad = 0.04 * max(maxx - minx, maxy - miny)
    x0, y0 = minx + pad, miny + pad
    ax.plot([x0, x0 + SCALE_BAR_MM], [y0, y0], color="black", linewidth=3, solid_capstyle="butt")
    ax.text(
        x0 + SCALE_BAR_MM / 2,
        y0 + 0.4 * pad,
        f"{SCALE_BAR_MM:g} mm",
        ha="center",
        va="bottom",
        fontsize=8,
    )


def plot_plan(
    outline: LesionOutline,
    target: shapely.Polygon,
    footprint: Footprint,
    applications: Sequence[Application],
    uncovered_mm: NDArray[np.float64],
    ax: Axes | None = None,
    *,
    title: str = "",
) -> Axes:
    """Draw the plan in skin coordinates (mm) into ``ax`` and return it (a new 7 x 7 in
    figure when None).

    Shows the lesion outline (solid, lightly filled), the target with its safety margin
    (dashed), the footprint of each application (contour of the lowest field over depth at
    E_rev, V/cm) with its number in treatment order, the needles or plates (black dots),
    the target sample points left uncovered (red crosses) and a 5 mm scale bar.
    """
    if ax is None:
        ax = Figure(figsize=(7.0, 7.0), layout="constrained").add_subplot()

    for i, ring in enumerate(_rings(outline.polygon)):
        ax.fill(ring[:, 0], ring[:, 1], color="#e6b8a2", alpha=0.5, linewidth=0)
        ax.plot(
            ring[:, 0],
            ring[:, 1],
            color="#4a1c10",
            linewidth=1.8,
            label="lesion" if i == 0 else None,
        )
    for i, ring in enumerate(_rings(target)):
        ax.plot(
            ring[:, 0],
            ring[:, 1],
            color="#4a1c10",
            linewidth=1.2,
            linestyle="--",
            label="target (lesion + margin)" if i == 0 else None,
        )

    gx, gy = np.meshgrid(footprint.x_mm, footprint.y_mm)
    grid = np.column_stack([gx.ravel(), gy.ravel()])
    e_min = np.asarray(footprint.e_min_v_per_cm, dtype=float)
    level = float(footprint.e_rev_v_per_cm)
    draw_contour = bool((e_min >= level).any() and (e_min < level).any())
    conductors = np.asarray(footprint.conductors_mm, dtype=float).reshape(-1, 2)
    colours = _colours(len(applications))
    xmin, ymin, xmax, ymax = (float(v) for v in target.bounds)
    for number, (app, colour) in enumerate(zip(applications, colours, strict=True), start=1):
        mesh = to_skin_frame(grid, app)
        sx, sy = mesh[:, 0].reshape(gx.shape), mesh[:, 1].reshape(gx.shape)
        if draw_contour:
            ax.contour(sx, sy, e_min, levels=[level], colors=[colour], linewidths=1.3)
        if len(conductors):
            pins = to_skin_frame(conductors, app)
            ax.plot(pins[:, 0], pins[:, 1], "o", color="black", markersize=2.5)
            xmin, xmax = min(xmin, pins[:, 0].min()), max(xmax, pins[:, 0].max())
            ymin, ymax = min(ymin, pins[:, 1].min()), max(ymax, pins[:, 1].max())
        ax.text(
            app.x_mm,
            app.y_mm,
            str(number),
            ha="center",
            va="center",
            fontsize=7 if len(applications) > 20 else 9,
            color=colour,
            fontweight="bold",
            bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": colour},
            zorder=5,
        )
        if draw_contour:
            covered = footprint.mask
            xmin, xmax = min(xmin, sx[covered].min()), max(xmax, sx[covered].max())
            ymin, ymax = min(ymin, sy[covered].min()), max(ymax, sy[covered].max())

    gaps = np.asarray(uncovered_mm, dtype=float).reshape(-1, 2)
    ax.plot(
        gaps[:, 0],
        gaps[:, 1],
        "x",
        color="red",
        markersize=4,
        linestyle="none",
        label=f"uncovered ({len(gaps)} points)" if len(gaps) else "uncovered (none)",
        zorder=6,
    )

    pad = 0.08 * max(xmax - xmin, ymax - ymin, SCALE_BAR_MM)
    bounds = (xmin - pad, ymin - pad, xmax + pad, ymax + pad)
    ax.set_xlim(bounds[0], bounds[2])
    ax.set_ylim(bounds[1], bounds[3])
    ax.set_aspect("equal")
    _scale_bar(ax, bounds)
    ax.set_xlabel("x (mm)")
    ax.set_ylabel("y (mm)")
    ax.legend(loc="upper right", fontsize=8, framealpha=0.9)
    if title:
        ax.set_title(title)
    return ax


def plan_figure(
    outline: LesionOutline,
    target: shapely.Polygon,
    footprint: Footprint,
    applications: Sequence[Application],
    uncovered_mm: NDArray[np.float64],
    path: Path,
    title: str = "",
) -> Path:
    """Draw the plan (:func:`plot_plan`) on a new 7 x 7 in figure and save it as a PNG
    (150 dpi) at ``path`` (folders created); return the path."""
    path = Path(path)
    figure = Figure(figsize=(7.0, 7.0), layout="constrained")
    plot_plan(
        outline, target, footprint, applications, uncovered_mm, figure.add_subplot(), title=title
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=150, format="png")
    return path
