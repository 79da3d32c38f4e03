"""Run a field simulation and report what a clinician or engineer needs.

:func:`simulate` meshes the model, solves every electrode pair (non-linear
conductivity, monotone memory, maximum field over pairs) and returns a
:class:`Simulation` whose ``result`` (:class:`FieldResult`) is JSON-serialisable:
coverage of the tumour above E_rev and E_irr, healthy volume above E_irr, current per
pair, probes, convergence record, sizes, timings, parameters and software version.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel

from openect import __version__
from openect.field.fem import P1Space
from openect.field.geometry import FieldModel
from openect.field.mesh import Mesh, build_mesh
from openect.field.solver import PICARD_TOL, PairSolution, solve_pairs

#: Largest problem accepted (nodes), so that a run fits in a few GB of memory.
MAX_UNKNOWNS = 3_000_000
#: Default in-plane and depth spacing in the treated region (mm).
DEFAULT_RESOLUTION_MM = 0.4


class Coverage(BaseModel):
    """Tumour volume fractions above the tumour's thresholds; healthy volume above
    each healthy tissue's own E_irr."""

    tumour_fraction_above_rev: float | None
    tumour_fraction_above_irr: float | None
    tumour_volume_mm3: float | None
    healthy_volume_above_irr_mm3: float


class Probe(BaseModel):
    """|E| (V/cm) at a point (mm; z = depth below the skin); None inside a conductor."""

    x_mm: float
    y_mm: float
    z_mm: float
    e_v_per_cm: float | None


class PairReport(BaseModel):
    """Convergence of one pair."""

    positive: list[int]
    negative: list[int]
    voltage_v: float
    current_a: float
    converged: bool
    picard_iterations: int
    sigma_changes: list[float]
    cg_iterations: list[int]
    seconds: float


class FieldResult(BaseModel):
    """What a simulation found, and how (JSON-serialisable)."""

    electrode: str
    voltage_v: float
    pairs: int
    unknowns: int
    elements: int
    converged: bool
    current_a: list[float]
    coverage: Coverage
    probes: list[Probe]
    pair_reports: list[PairReport]
    timing_s: dict[str, float]
    parameters: dict[str, object]
    software: dict[str, str]


@dataclass
class Simulation:
    """The mesh, the fields and the result of one simulation."""

    model: FieldModel
    mesh: Mesh
    space: P1Space
    field_max: NDArray[np.float64]  # V/cm per element, maximum over pairs
    sigma: NDArray[np.float64]  # S/m per element, after the last pair
    solutions: list[PairSolution]
    result: FieldResult

    def node_field(self) -> NDArray[np.float64]:
        """Maximum-over-pairs |E| recovered at the nodes (volume-weighted average, V/cm)."""
        return node_average(self.mesh, self.space, self.field_max)

    def field_at(self, points_mm: NDArray[np.float64]) -> NDArray[np.float64]:
        """|E| (V/cm) at points (mm), NaN inside conductors or outside the block."""
        cells, weights = locate_cells(self.mesh, self.space, points_mm)
        nodal = self.node_field()
        values = np.full(len(cells), np.nan)
        found = cells >= 0
        values[found] = np.einsum("nk,nk->n", weights[found], nodal[self.mesh.tets[cells[found]]])
        return values


def node_average(mesh: Mesh, space: P1Space, values: NDArray[np.float64]) -> NDArray[np.float64]:
    """Element values recovered at the nodes (volume-weighted average)."""
    n = len(mesh.points)
    tets = mesh.tets.ravel()
    weight = np.repeat(space.volumes, 4)
    total = np.bincount(tets, weights=np.repeat(values * space.volumes, 4), minlength=n)
    return total / np.maximum(np.bincount(tets, weights=weight, minlength=n), 1e-300)


def estimate_unknowns(model: FieldModel, resolution_mm: float) -> int:
    """Rough node count before meshing, to refuse runs that would not fit in memory."""
    extent = model.treated_extent_mm() + 2.0
    fine_2d = (2 * extent / resolution_mm) ** 2 * 1.2
    far_2d = (2 * model.half_width_mm / (8 * resolution_mm)) ** 2
    levels = (model.deepest_mm() + 3.0) / resolution_mm + 15
    return int((fine_2d + far_2d) * levels)


def locate_cells(
    mesh: Mesh, space: P1Space, points_mm: NDArray[np.float64]
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """For points (N, 3) in mm: the tetrahedron holding each (-1 if none: outside the
    block or inside a conductor) and its barycentric weights (N, 4), vectorised over
    the extrusion: the 2-D triangle, the depth level, then one of the prism's three
    tetrahedra."""
    from matplotlib.tri import Triangulation

    points_mm = np.asarray(points_mm, dtype=np.float64).reshape(-1, 3)
    triangulation = Triangulation(mesh.points2d[:, 0], mesh.points2d[:, 1], mesh.triangles2d)
    finder = triangulation.get_trifinder()
    triangles = np.asarray(finder(points_mm[:, 0], points_mm[:, 1]), dtype=np.int64)
    m2 = len(mesh.triangles2d)
    depth = points_mm[:, 2]
    level = np.searchsorted(mesh.levels, depth, side="right") - 1
    level = np.clip(level, 0, len(mesh.levels) - 2)
    inside = (triangles >= 0) & (depth >= 0) & (depth <= mesh.levels[-1])
    cells = np.full(len(points_mm), -1, dtype=np.int64)
    weights = np.zeros((len(points_mm), 4))
    candidates = mesh.prism_tets[level * m2 + np.where(inside, triangles, 0)]
    for j in range(3):
        todo = np.nonzero(inside & (cells < 0) & (candidates[:, j] >= 0))[0]
        if not len(todo):
            continue
        cell = candidates[todo, j]
        origin = mesh.points[mesh.tets[cell, 0]]
        w = np.einsum("nki,ni->nk", space.geometry.gradients_at(cell), points_mm[todo] - origin)
        w[:, 0] += 1.0
        hit = np.all(w >= -1e-9, axis=1)
        cells[todo[hit]] = cell[hit]
        weights[todo[hit]] = w[hit]
    return cells, weights


def locate(
    mesh: Mesh, space: P1Space, points_mm: NDArray[np.float64]
) -> list[tuple[int, NDArray[np.float64]]]:
    """For each point: its tetrahedron (-1 if none) and barycentric weights."""
    cells, weights = locate_cells(mesh, space, points_mm)
    return [(int(c), w) for c, w in zip(cells, weights, strict=True)]


def simulate(
    model: FieldModel,
    resolution_mm: float = DEFAULT_RESOLUTION_MM,
    probes: Sequence[tuple[float, float, float]] = (),
    progress: Callable[[], None] | None = None,
    stage: Callable[[str], None] | None = None,
) -> Simulation:
    """Mesh, solve every pair, and measure coverage, currents and probes.

    ``progress`` is called after each electrode pair is solved; ``stage`` with the name
    of each step as it starts: ``"meshing"``, ``"solving"`` (then ``progress`` once per
    pair) and ``"post-processing"`` (coverage and probes). Both are for progress
    displays; the library prints nothing.
    """
    say = stage or (lambda _name: None)
    estimate = estimate_unknowns(model, resolution_mm)
    if estimate > MAX_UNKNOWNS:
        raise ValueError(
            f"resolution_mm={resolution_mm}: about {estimate:,} unknowns, more than the "
            f"{MAX_UNKNOWNS:,} that fit in memory; use a coarser resolution"
        )
    for x, y, z in probes:
        if (
            abs(x) > model.half_width_mm
            or abs(y) > model.half_width_mm
            or not 0 <= z <= model.depth_mm
        ):
            raise ValueError(f"probe ({x:g}, {y:g}, {z:g}) mm: outside the block")
    started = time.perf_counter()
    say("meshing")
    mesh = build_mesh(model, resolution_mm)
    meshed = time.perf_counter()
    space = mesh.space()
    tissues = [layer.tissue for layer in model.layers]
    if model.tumour is not None:
        tissues.append(model.tumour.tissue)
    say("solving")
    solutions, field_max, sigma = solve_pairs(
        space,
        mesh.conductor_nodes,
        model.electrode.pairs,
        tissues,
        mesh.labels,
        model.sigma_model,
        progress,
    )
    solved = time.perf_counter()
    say("post-processing")
    coverage = _coverage(model, mesh, space, field_max, tissues)
    simulation = Simulation(model, mesh, space, field_max, sigma, solutions, result=None)  # type: ignore[arg-type]
    probe_points = np.array(probes, dtype=float).reshape(-1, 3)
    values = simulation.field_at(probe_points) if len(probe_points) else np.array([])
    pair_reports = [
        PairReport(
            positive=list(pair.positive),
            negative=list(pair.negative),
            voltage_v=pair.voltage_v,
            current_a=solution.current_a,
            converged=solution.converged,
            picard_iterations=solution.iterations,
            sigma_changes=solution.changes,
            cg_iterations=solution.cg_iterations,
            seconds=round(solution.seconds, 3),
        )
        for pair, solution in zip(model.electrode.pairs, solutions, strict=True)
    ]
    simulation.result = FieldResult(
        electrode=model.electrode.name,
        voltage_v=model.electrode.max_voltage_v,
        pairs=len(model.electrode.pairs),
        unknowns=mesh.unknowns,
        elements=len(mesh.labels),
        converged=all(s.converged for s in solutions),
        current_a=[s.current_a for s in solutions],
        coverage=coverage,
        probes=[
            Probe(x_mm=p[0], y_mm=p[1], z_mm=p[2], e_v_per_cm=None if math.isnan(v) else float(v))
            for p, v in zip(probe_points, values, strict=True)
        ],
        pair_reports=pair_reports,
        timing_s={
            "mesh": round(meshed - started, 3),
            "solve": round(solved - meshed, 3),
            "total": round(time.perf_counter() - started, 3),
        },
        parameters={
            "resolution_mm": resolution_mm,
            "block_half_width_mm": model.half_width_mm,
            "block_depth_mm": model.depth_mm,
            "sigma_model": model.sigma_model.value,
            "picard_tolerance": PICARD_TOL,
            "tissues": [t.__dict__ for t in tissues],
            "conductors": [c.__dict__ for c in model.electrode.conductors],
            "tumour": None
            if model.tumour is None
            else {"bounds_mm": model.tumour.bounds_mm(), "volume_mm3": model.tumour.volume_mm3()},
        },
        software={"openect": __version__},
    )
    return simulation


def _coverage(
    model: FieldModel,
    mesh: Mesh,
    space: P1Space,
    field_max: NDArray[np.float64],
    tissues: list,  # type: ignore[type-arg]
) -> Coverage:
    volumes = space.volumes
    e_irr = np.array([t.e_irr for t in tissues])[mesh.labels]
    if model.tumour is None:
        healthy = np.ones(len(volumes), dtype=bool)
        return Coverage(
            tumour_fraction_above_rev=None,
            tumour_fraction_above_irr=None,
            tumour_volume_mm3=None,
            healthy_volume_above_irr_mm3=float(volumes[healthy & (field_max >= e_irr)].sum()),
        )
    tumour = mesh.labels == len(model.layers)
    healthy = ~tumour
    tumour_volume = float(volumes[tumour].sum())
    if tumour_volume == 0:
        raise ValueError("the tumour holds no mesh element; use a finer resolution")
    t = model.tumour.tissue
    return Coverage(
        tumour_fraction_above_rev=float(
            volumes[tumour & (field_max >= t.e_rev)].sum() / tumour_volume
        ),
        tumour_fraction_above_irr=float(
            volumes[tumour & (field_max >= t.e_irr)].sum() / tumour_volume
        ),
        tumour_volume_mm3=tumour_volume,
        healthy_volume_above_irr_mm3=float(volumes[healthy & (field_max >= e_irr)].sum()),
    )
