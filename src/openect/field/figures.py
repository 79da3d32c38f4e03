"""Figures of a field simulation: |E| slices with threshold isolines, and the coverage curve.

The slice figure shows the maximum-over-pairs |E| (V/cm) in the horizontal plane at
the tumour centre (or mid needle depth) and in the vertical plane y = 0, with the
tumour's E_rev and E_irr isolines, the tumour outline and the electrodes. The coverage
curve gives the tumour volume fraction at or above each field value.

The ``plot_*`` functions follow lifelines' convention: an optional matplotlib ``Axes``
in, the same ``Axes`` out; without one they build a :class:`~matplotlib.figure.Figure`
of their own, never through pyplot (figures may be drawn in threads).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import QuadMesh
from matplotlib.figure import Figure
from numpy.typing import NDArray

from openect.field.geometry import Tumour
from openect.field.simulate import Simulation
from openect.formatting import number

#: Grid points along each slice axis.
SLICE_SAMPLES = 160


def _thresholds(simulation: Simulation) -> tuple[float, float]:
    model = simulation.model
    tissue = model.tumour.tissue if model.tumour is not None else model.layers[0].tissue
    return tissue.e_rev, tissue.e_irr


def _slice_depth(simulation: Simulation) -> float:
    model = simulation.model
    if model.tumour is not None:
        return model.tumour.depth_mm
    return min(c.depth_mm for c in model.electrode.conductors) / 2


def sample_plane(
    simulation: Simulation, plane: str, at_mm: float, half_size_mm: float, depth_mm: float
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """|E| (V/cm) on a regular grid of a plane: ``xy`` at depth ``at_mm`` or ``xz`` at
    y = ``at_mm``. Returns the two axes (mm) and the values (NaN in conductors)."""
    u = np.linspace(-half_size_mm, half_size_mm, SLICE_SAMPLES)
    if plane == "xy":
        v = np.linspace(-half_size_mm, half_size_mm, SLICE_SAMPLES)
        uu, vv = np.meshgrid(u, v)
        points = np.column_stack([uu.ravel(), vv.ravel(), np.full(uu.size, at_mm)])
    else:
        v = np.linspace(0.0, depth_mm, SLICE_SAMPLES)
        uu, vv = np.meshgrid(u, v)
        points = np.column_stack([uu.ravel(), np.full(uu.size, at_mm), vv.ravel()])
    values = simulation.field_at(points).reshape(uu.shape)
    return u, v, values


def plot_field_slice(
    simulation: Simulation,
    plane: str = "xy",
    ax: Axes | None = None,
    *,
    at_mm: float | None = None,
    colorbar: bool = True,
) -> Axes:
    """The maximum-over-pairs |E| (V/cm) in one plane with the tumour's E_rev (white)
    and E_irr (red) isolines, the tumour outline (orange, dashed) and the electrodes
    (silver). ``plane`` is ``"xy"`` (horizontal, at depth ``at_mm``, default the tumour
    centre or mid needle depth) or ``"xz"`` (vertical, at y = ``at_mm``, default 0).
    With ``colorbar`` a colour bar (V/cm) is added next to ``ax``. Returns ``ax`` (a new
    6.5 x 5.2 in figure when None)."""
    from matplotlib.patches import Circle, Ellipse, Rectangle

    if plane not in ("xy", "xz"):
        raise ValueError(f"plane={plane!r}: not allowed; allowed xy, xz")
    if ax is None:
        ax = Figure(figsize=(6.5, 5.2), layout="constrained").add_subplot()
    axis = ax
    model = simulation.model
    e_rev, e_irr = _thresholds(simulation)
    half = model.treated_extent_mm() + 3.0
    depth = min(model.depth_mm, model.deepest_mm() + 4.0)
    at = at_mm if at_mm is not None else (_slice_depth(simulation) if plane == "xy" else 0.0)
    vmax = max(2.0 * e_irr, 1.0)
    u, v, values = sample_plane(simulation, plane, at, half, depth)
    masked = np.ma.masked_invalid(values)
    mappable = axis.pcolormesh(u, v, masked, shading="auto", cmap="viridis", vmin=0, vmax=vmax)
    contours = axis.contour(
        u, v, masked, levels=[e_rev, e_irr], colors=["white", "red"], linewidths=1.2
    )
    axis.clabel(
        contours,
        fmt={e_rev: f"E_rev {number(e_rev)}", e_irr: f"E_irr {number(e_irr)}"},
        fontsize=7,
    )
    axis.set_aspect("equal")
    axis.set_xlabel("x (mm)")
    for conductor in model.electrode.conductors:
        if plane == "xy":
            if conductor.depth_mm < at:
                continue
            if conductor.shape == "disk":
                axis.add_patch(
                    Circle((conductor.x_mm, conductor.y_mm), conductor.radius_mm, color="silver")
                )
            else:
                axis.add_patch(
                    Rectangle(
                        (
                            conductor.x_mm - conductor.half_x_mm,
                            conductor.y_mm - conductor.half_y_mm,
                        ),
                        2 * conductor.half_x_mm,
                        2 * conductor.half_y_mm,
                        color="silver",
                    )
                )
        else:
            x0, x1, y0, y1 = conductor.bounds()
            if y0 <= at <= y1:
                axis.add_patch(Rectangle((x0, 0), x1 - x0, conductor.depth_mm, color="silver"))
    if isinstance(model.tumour, Tumour):
        t = model.tumour
        if plane == "xy":
            scale = 1 - ((at - t.depth_mm) / (t.diameter_z_mm / 2)) ** 2
            if scale > 0:
                axis.add_patch(
                    Ellipse(
                        (t.x_mm, t.y_mm),
                        t.diameter_x_mm * math.sqrt(scale),
                        t.diameter_y_mm * math.sqrt(scale),
                        fill=False, ec="orange", lw=1.5, ls="--",
                    )
                )  # fmt: skip
        else:
            axis.add_patch(
                Ellipse((t.x_mm, t.depth_mm), t.diameter_x_mm, t.diameter_z_mm,
                        fill=False, ec="orange", lw=1.5, ls="--")
            )  # fmt: skip
    elif model.tumour is not None:
        x0, x1, y0, y1, z0, z1 = model.tumour.bounds_mm()
        low, high = ((x0, y0), (x1, y1)) if plane == "xy" else ((x0, z0), (x1, z1))
        axis.add_patch(
            Rectangle(low, high[0] - low[0], high[1] - low[1], fill=False, ec="orange", ls="--")
        )
    if plane == "xy":
        axis.set_ylabel("y (mm)")
        axis.set_title(f"|E| at depth {number(at, 'mm', digits=2)}")
    else:
        axis.set_ylabel("depth z (mm)")
        axis.invert_yaxis()
        axis.set_title(f"|E| in the plane y = {number(at, 'mm', digits=2)}")
    if colorbar:
        axis.figure.colorbar(mappable, ax=axis, label="max over pairs |E| (V/cm)")
    return axis


def slice_figure(simulation: Simulation) -> Figure:
    """The two-slice |E| figure: :func:`plot_field_slice` in the horizontal plane at the
    tumour centre (or mid needle depth) and in the vertical plane y = 0, one colour bar
    (V/cm) and a title naming the electrode, voltage and pairs."""
    model = simulation.model
    figure = Figure(figsize=(12, 5.2), layout="constrained")
    axes = figure.subplots(1, 2)
    plot_field_slice(simulation, "xy", axes[0], colorbar=False)
    plot_field_slice(simulation, "xz", axes[1], colorbar=False)
    mesh = next(c for c in axes[0].collections if isinstance(c, QuadMesh))
    figure.colorbar(mesh, ax=list(axes), label="max over pairs |E| (V/cm)")
    figure.suptitle(
        f"{model.electrode.name}, {number(model.electrode.max_voltage_v, 'V')}, "
        f"{len(model.electrode.pairs)} pair(s); white: E_rev, red: E_irr, dashed: tumour"
    )
    return figure


def slice_png(simulation: Simulation, path: str | Path) -> Path:
    """Write the two-slice |E| figure (:func:`slice_figure`, PNG, 110 dpi) and return
    its path."""
    out = Path(path)
    slice_figure(simulation).savefig(out, dpi=110)
    return out


def coverage_curve(simulation: Simulation) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Field values (V/cm) and the tumour volume fraction at or above each."""
    if simulation.model.tumour is None:
        raise ValueError("coverage curve: the model has no tumour")
    tumour = simulation.mesh.labels == len(simulation.model.layers)
    fields = simulation.field_max[tumour]
    volumes = simulation.space.volumes[tumour]
    order = np.argsort(fields)[::-1]
    e_sorted = fields[order]
    fraction = np.cumsum(volumes[order]) / volumes.sum()
    return e_sorted, fraction


def plot_coverage_curve(simulation: Simulation, ax: Axes | None = None) -> Axes:
    """The coverage curve: tumour volume (%) at or above each field value |E| (V/cm),
    with the tumour's E_rev and E_irr marked. Returns ``ax`` (a new 6 x 4.2 in figure
    when None). Raises ValueError when the model has no tumour."""
    fields, fraction = coverage_curve(simulation)
    e_rev, e_irr = _thresholds(simulation)
    if ax is None:
        ax = Figure(figsize=(6, 4.2), layout="constrained").add_subplot()
    ax.plot(fields, 100 * fraction, color="black")
    for value, colour, name in ((e_rev, "tab:blue", "E_rev"), (e_irr, "tab:red", "E_irr")):
        ax.axvline(value, color=colour, ls="--", label=f"{name} {number(value, 'V/cm')}")
    ax.set_xlim(0, max(3 * e_irr, float(np.percentile(fields, 95))))
    ax.set_ylim(0, 101)
    ax.set_xlabel("field |E| (V/cm)")
    ax.set_ylabel("tumour volume at or above (%)")
    ax.set_title("Tumour coverage")
    ax.legend()
    return ax


def coverage_png(simulation: Simulation, path: str | Path) -> Path:
    """Write the coverage curve (:func:`plot_coverage_curve`, PNG, 110 dpi) and return
    its path."""
    out = Path(path)
    figure = Figure(figsize=(6, 4.2), layout="constrained")
    plot_coverage_curve(simulation, figure.add_subplot())
    figure.savefig(out, dpi=110)
    return out


def write_vtk(simulation: Simulation, path: str | Path) -> Path:
    """Export the mesh with |E| max, conductivity and tissue label per cell (VTK, for
    ParaView); the format follows the suffix (``.vtu`` recommended)."""
    import meshio

    source = simulation.mesh
    # Only the nodes of the tetrahedra (not those strictly inside conductors).
    used = np.zeros(len(source.points), dtype=bool)
    used[source.tets.ravel()] = True
    renumber = np.cumsum(used) - 1
    mesh = meshio.Mesh(
        source.points[used],
        [("tetra", renumber[source.tets])],
        cell_data={
            "E_max_V_per_cm": [simulation.field_max],
            "sigma_S_per_m": [simulation.sigma],
            "tissue_label": [source.labels],
        },
        point_data={"E_max_nodal_V_per_cm": simulation.node_field()[used]},
    )
    out = Path(path)
    mesh.write(out)
    return out
