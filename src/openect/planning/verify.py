"""Verification of a plan in 3-D: every application simulated on the real geometry.

Each application of the plan is solved in turn on the application mesh (the electrode
at the application's position and angle; the lesion tissue inside the lesion outline
down to its thickness, the tissue layers elsewhere). Tissue electroporated by an earlier
application keeps its raised conductivity (monotone memory): after each application
the final conductivity is sampled on a voxel grid over the target (0.5 mm), and the next
application starts from the larger of that memory and the intact conductivity at its
elements. The target volume (lesion outline plus margin, from the skin down to the
lesion's thickness) is sampled on a regular grid; a sample is covered when the field
of some application reaches the lesion tissue's E_rev there (the margin is there for
tumour cells beyond the visible edge, so the lesion threshold applies to it too).
Samples inside a needle count as covered.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from numpy.typing import NDArray

from openect.field.simulate import locate_cells
from openect.planning.local_field import LocalField
from openect.planning.placement import Application, sample_region

#: Spacing of the target samples and of the conductivity memory voxels (mm).
SAMPLE_SPACING_MM = 0.5


@dataclass
class Verification:
    """Coverage of the target and of the lesion in 3-D, the uncovered places and the
    current of each application's pairs."""

    target_fraction: float
    lesion_fraction: float
    samples: int
    #: (K, 2) skin positions (mm) with an uncovered sample at some depth.
    uncovered_mm: NDArray[np.float64]
    #: Deepest uncovered sample under each of those positions (mm).
    uncovered_depth_mm: NDArray[np.float64]
    currents_a: list[list[float]]
    seconds: float


def _to_local(points: NDArray[np.float64], app: Application) -> NDArray[np.float64]:
    """Skin-frame points (N, 3) into the application's electrode frame."""
    angle = np.radians(app.angle_deg)
    c, s = np.cos(angle), np.sin(angle)
    dx, dy = points[:, 0] - app.x_mm, points[:, 1] - app.y_mm
    return np.column_stack([c * dx + s * dy, -s * dx + c * dy, points[:, 2]])


def _to_skin(points: NDArray[np.float64], app: Application) -> NDArray[np.float64]:
    angle = np.radians(app.angle_deg)
    c, s = np.cos(angle), np.sin(angle)
    x, y = points[:, 0], points[:, 1]
    return np.column_stack([c * x - s * y + app.x_mm, s * x + c * y + app.y_mm, points[:, 2]])


def target_samples(
    target: shapely.Polygon, thickness_mm: float, spacing_mm: float = SAMPLE_SPACING_MM
) -> NDArray[np.float64]:
    """Regular samples (N, 3) of the target volume: the target outline's 2-D samples at
    depths spacing/2, 3 spacing/2, ... below the skin down to the thickness (mm)."""
    flat = sample_region(target, spacing_mm)
    count = max(1, round(thickness_mm / spacing_mm))
    depths = (np.arange(count) + 0.5) * thickness_mm / count
    return np.column_stack([np.repeat(flat, len(depths), axis=0), np.tile(depths, len(flat))])


class Verifier:
    """Simulates applications one after the other on the real geometry, keeping the
    conductivity memory and the covered samples between calls (so that applications
    can be appended to a plan and only they are simulated)."""

    def __init__(self, local: LocalField, lesion: shapely.Polygon, target: shapely.Polygon) -> None:
        self.local = local
        self.lesion = lesion
        self.thickness = local.setup.thickness_mm
        self.samples = target_samples(target, self.thickness)
        self.in_lesion = shapely.contains_xy(lesion, self.samples[:, 0], self.samples[:, 1])
        self.covered = np.zeros(len(self.samples), dtype=bool)
        #: Samples each application covered (in the order added).
        self.hits: list[NDArray[np.bool_]] = []
        self.currents: list[list[float]] = []
        self.seconds = 0.0
        h = SAMPLE_SPACING_MM
        minx, miny, maxx, maxy = target.bounds
        reach = 2.0
        self.gx = np.arange(minx - reach, maxx + reach + h, h)
        self.gy = np.arange(miny - reach, maxy + reach + h, h)
        self.gz = np.arange(h / 2, self.thickness + reach, h)
        self.memory = np.zeros((len(self.gx), len(self.gy), len(self.gz)))
        self.voxels = np.stack(
            np.meshgrid(self.gx, self.gy, self.gz, indexing="ij"), axis=-1
        ).reshape(-1, 3)

    def add(
        self,
        applications: Sequence[Application],
        progress: Callable[[int, int], None] | None = None,
    ) -> None:
        """Simulate ``applications`` in order after those already added; ``progress``
        (for progress displays) is called after each with the number of applications of
        this call done so far and their total."""
        started = time.perf_counter()
        local, h = self.local, SAMPLE_SPACING_MM
        e_rev = local.e_rev_v_per_cm
        half_width = local.model.half_width_mm
        gx, gy, gz = self.gx, self.gy, self.gz
        for done, app in enumerate(applications, start=1):
            skin = _to_skin(local.centroids, app)
            in_lesion = shapely.contains_xy(self.lesion, skin[:, 0], skin[:, 1]) & (
                skin[:, 2] <= self.thickness + 1e-9
            )
            ix = np.rint((skin[:, 0] - gx[0]) / h).astype(np.int64)
            iy = np.rint((skin[:, 1] - gy[0]) / h).astype(np.int64)
            iz = np.rint((skin[:, 2] - gz[0]) / h).astype(np.int64)
            on_grid = (
                (ix >= 0) & (ix < len(gx)) & (iy >= 0) & (iy < len(gy)) & (iz >= 0) & (iz < len(gz))
            )
            start = np.zeros(len(skin))
            start[on_grid] = self.memory[ix[on_grid], iy[on_grid], iz[on_grid]]
            field_max, sigma = local.solve(in_lesion, initial_memory=start)
            self.currents.append([s.current_a for s in local.solutions])

            local_samples = _to_local(self.samples, app)
            cells, _ = locate_cells(local.mesh, local.space, local_samples)
            found = cells >= 0
            hit = np.zeros(len(self.samples), dtype=bool)
            hit[found] = field_max[cells[found]] >= e_rev
            # Not located but inside the block: inside a needle.
            in_block = (np.abs(local_samples[:, 0]) < half_width) & (
                np.abs(local_samples[:, 1]) < half_width
            )
            needle = ~found & in_block & _inside_conductor(local, local_samples)
            self.hits.append(hit | needle)
            self.covered |= hit | needle

            local_voxels = _to_local(self.voxels, app)
            vcells, _ = locate_cells(local.mesh, local.space, local_voxels)
            vfound = vcells >= 0
            flat = self.memory.reshape(-1)
            flat[vfound] = np.maximum(flat[vfound], sigma[vcells[vfound]])
            if progress is not None:
                progress(done, len(applications))
        self.seconds += time.perf_counter() - started

    def result(self) -> Verification:
        """Coverage so far."""
        uncovered = self.samples[~self.covered]
        if len(uncovered):
            positions, inverse = np.unique(
                np.round(uncovered[:, :2], 6), axis=0, return_inverse=True
            )
            deepest = np.zeros(len(positions))
            np.maximum.at(deepest, inverse.ravel(), uncovered[:, 2])
        else:
            positions, deepest = np.zeros((0, 2)), np.zeros(0)
        lesion_total = int(self.in_lesion.sum())
        return Verification(
            target_fraction=float(self.covered.mean()),
            lesion_fraction=(float(self.covered[self.in_lesion].mean()) if lesion_total else 1.0),
            samples=len(self.samples),
            uncovered_mm=positions,
            uncovered_depth_mm=deepest,
            currents_a=[list(c) for c in self.currents],
            seconds=self.seconds,
        )

    def meets(self, covered: NDArray[np.bool_], target_fraction: float) -> bool:
        """Whole lesion covered and at least ``target_fraction`` of the target."""
        lesion_ok = bool(covered[self.in_lesion].all()) if self.in_lesion.any() else True
        return lesion_ok and float(covered.mean()) >= target_fraction

    def redundant(self, target_fraction: float) -> list[int]:
        """Applications (indices, in the order added) that can go while the others, as
        they covered in this run, still meet the conditions: those covering least on
        their own are tried first; each removal is kept only if the rest still meet."""
        keep = list(range(len(self.hits)))
        if not self.meets(self.covered, target_fraction):
            return []
        hits = np.array(self.hits)
        counts = hits.sum(axis=0)
        unique = [int((hits[k] & (counts == 1)).sum()) for k in keep]
        removed: list[int] = []
        for k in sorted(keep, key=lambda j: (unique[j], -j)):
            rest = [j for j in keep if j != k]
            if rest and self.meets(np.asarray(hits[rest].any(axis=0)), target_fraction):
                keep = rest
                removed.append(k)
        return sorted(removed)

    def uncovered_lesion_mm(self) -> NDArray[np.float64]:
        """Skin positions (K, 2) of uncovered lesion samples."""
        missed = self.samples[~self.covered & self.in_lesion]
        return np.unique(np.round(missed[:, :2], 6), axis=0) if len(missed) else missed[:, :2]


def verify(
    local: LocalField,
    lesion: shapely.Polygon,
    target: shapely.Polygon,
    applications: Sequence[Application],
    progress: Callable[[int, int], None] | None = None,
) -> Verification:
    """Simulate every application in order (with conductivity memory) and measure the
    target and lesion volume fractions above E_rev; ``progress(done, total)`` is called
    after each application."""
    verifier = Verifier(local, lesion, target)
    verifier.add(applications, progress)
    return verifier.result()


def _inside_conductor(local: LocalField, points: NDArray[np.float64]) -> NDArray[np.bool_]:
    """Points (electrode frame) inside a needle or plate above its tip."""
    inside = np.zeros(len(points), dtype=bool)
    for c in local.model.electrode.conductors:
        if c.shape == "disk":
            near = np.hypot(points[:, 0] - c.x_mm, points[:, 1] - c.y_mm) <= c.radius_mm + 1e-6
        else:
            near = (np.abs(points[:, 0] - c.x_mm) <= c.half_x_mm + 1e-6) & (
                np.abs(points[:, 1] - c.y_mm) <= c.half_y_mm + 1e-6
            )
        inside |= near & (points[:, 2] <= c.depth_mm)
    return inside
