"""Where to put the electrode applications so that their footprints cover the target.

Coordinates are in the skin plane (mm). An application puts the electrode centre at
(x_mm, y_mm) with its own frame rotated by angle_deg (counter-clockwise) relative to the
skin frame; a skin point is electroporated through the treated depth when it falls inside
the footprint (lowest field over depth >= E_rev, V/cm) of at least one application.

The target (lesion + safety margin) is sampled on a regular grid; the planner picks
applications from a grid of candidate positions and rotations with a weighted greedy set
cover, improves the cover by local exchanges, prunes redundant applications and orders
the remaining ones for the procedure.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
import shapely
from numpy.typing import NDArray
from shapely import affinity

from openect.planning.footprint import Footprint

#: Weight of a lesion sample against a margin sample in the greedy gain.
LESION_WEIGHT = 10.0
MARGIN_WEIGHT = 1.0
#: Bound on the working arrays of one block of the coverage matrix (bytes).
_BLOCK_BYTES = 200_000_000
#: Rough cost (bytes) of one candidate-sample pair while a block is evaluated.
_BYTES_PER_PAIR = 100
#: Bound on the stored candidate-sample hits; sampling is coarsened above it.
_MAX_HITS = 20_000_000


@dataclass(frozen=True)
class Application:
    """One electrode application: electrode centre on the skin (mm) and rotation of the
    electrode frame relative to the skin frame (degrees, counter-clockwise)."""

    x_mm: float
    y_mm: float
    angle_deg: float


def _rotation(angle_deg: float) -> tuple[float, float]:
    """(cos, sin) of an angle in degrees, exact at multiples of 90 degrees."""
    quarter = angle_deg / 90.0
    if quarter == round(quarter):
        return [(1.0, 0.0), (0.0, 1.0), (-1.0, 0.0), (0.0, -1.0)][round(quarter) % 4]
    a = math.radians(angle_deg)
    return math.cos(a), math.sin(a)


def _local(
    dx: NDArray[np.float64], dy: NDArray[np.float64], c: float, s: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Offsets from the electrode centre in the skin frame -> electrode frame (mm)."""
    return c * dx + s * dy, -s * dx + c * dy


def to_electrode_frame(points_mm: NDArray[np.float64], app: Application) -> NDArray[np.float64]:
    """Skin-frame points (N, 2) (mm) -> the electrode frame of one application (mm)."""
    pts = np.asarray(points_mm, dtype=float).reshape(-1, 2)
    c, s = _rotation(app.angle_deg)
    lx, ly = _local(pts[:, 0] - app.x_mm, pts[:, 1] - app.y_mm, c, s)
    return np.column_stack([lx, ly])


def to_skin_frame(points_mm: NDArray[np.float64], app: Application) -> NDArray[np.float64]:
    """Electrode-frame points (N, 2) (mm) of one application -> the skin frame (mm)."""
    pts = np.asarray(points_mm, dtype=float).reshape(-1, 2)
    c, s = _rotation(app.angle_deg)
    x = c * pts[:, 0] - s * pts[:, 1] + app.x_mm
    y = s * pts[:, 0] + c * pts[:, 1] + app.y_mm
    return np.column_stack([x, y])


def sample_region(region: shapely.Geometry, spacing_mm: float) -> NDArray[np.float64]:
    """Sample points (N, 2) (mm) of a region: centres of the cells of a regular grid of
    spacing_mm (cell edges at multiples of the spacing) that lie inside the region. A region
    too small to hold a cell centre is represented by one interior point."""
    if not spacing_mm > 0.0:
        raise ValueError(f"spacing_mm={spacing_mm:g}: allowed spacing > 0 mm")
    if region.is_empty:
        return np.zeros((0, 2))
    minx, miny, maxx, maxy = region.bounds
    kx = np.arange(math.floor(minx / spacing_mm - 0.5), math.ceil(maxx / spacing_mm - 0.5) + 1)
    ky = np.arange(math.floor(miny / spacing_mm - 0.5), math.ceil(maxy / spacing_mm - 0.5) + 1)
    grid_y, grid_x = np.meshgrid((ky + 0.5) * spacing_mm, (kx + 0.5) * spacing_mm, indexing="ij")
    xx, yy = grid_x.ravel(), grid_y.ravel()
    inside = np.asarray(shapely.contains_xy(region, xx, yy), dtype=bool)
    if not inside.any():
        p = region.representative_point()
        return np.array([[float(p.x), float(p.y)]])
    return np.column_stack([xx[inside], yy[inside]])


def coverage(
    footprint: Footprint, applications: Sequence[Application], points: NDArray[np.float64]
) -> NDArray[np.bool_]:
    """For skin points (N, 2) (mm): covered by the footprint of at least one application?"""
    pts = np.asarray(points, dtype=float).reshape(-1, 2)
    out = np.zeros(len(pts), dtype=bool)
    for app in applications:
        out |= footprint.covered(to_electrode_frame(pts, app))
    return out


@dataclass
class Placement:
    """A plan of electrode applications for one target, with its coverage."""

    #: Applications, numbered in treatment order (serpentine over the target).
    applications: list[Application]
    #: Fraction of the lesion sample points covered (2-D footprint union).
    lesion_fraction: float
    #: Fraction of the target (lesion + margin) sample points covered.
    target_fraction: float
    #: "greedy" (set cover) or "grid" (the regular grid of rectangles was no worse).
    method: str
    #: The regular grid of rectangles: number of applications and its coverage.
    baseline_count: int
    baseline_target_fraction: float
    baseline_lesion_fraction: float
    #: (M, 2) target sample points (mm) left uncovered by the plan.
    uncovered_mm: NDArray[np.float64]
    #: Target coverage the plan was built to reach: the requested goal, raised to the
    #: coverage of the grid when the grid covers more (lowered to what can be reached).
    coverage_goal: float = 0.0
    #: Spacing (mm) of the target sample points.
    sample_spacing_mm: float = 0.0
    #: Lesion sample flags (N,) and all target sample points (N, 2) (mm).
    samples_mm: NDArray[np.float64] = field(default_factory=lambda: np.zeros((0, 2)))
    lesion_samples: NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, dtype=bool))


def _inscribed_rectangle(footprint: Footprint) -> tuple[float, float, float, float]:
    """Largest axis-aligned rectangle of covered cells centred on the covered cell nearest
    the electrode centre: (centre x, centre y, width, height) in the electrode frame (mm)."""
    mask = footprint.mask
    if not mask.any():
        raise ValueError(f"footprint of {footprint.electrode!r} covers nothing")
    h = footprint.spacing_mm
    yy, xx = np.meshgrid(footprint.y_mm, footprint.x_mm, indexing="ij")
    dist = np.where(mask, np.hypot(xx, yy), np.inf)
    iy0, ix0 = (int(i) for i in np.unravel_index(int(np.argmin(dist)), mask.shape))
    ny, nx = mask.shape
    row_ok = mask[:, ix0].copy()
    best = (-1.0, 0, 0)
    for kx in range(min(ix0, nx - 1 - ix0) + 1):
        if kx > 0:
            row_ok &= mask[:, ix0 - kx] & mask[:, ix0 + kx]
        if not row_ok[iy0]:
            break
        ky = 0
        while (
            iy0 - ky - 1 >= 0
            and iy0 + ky + 1 < ny
            and row_ok[iy0 - ky - 1]
            and row_ok[iy0 + ky + 1]
        ):
            ky += 1
        area = max(2 * kx, 1) * max(2 * ky, 1) * h * h
        if area > best[0]:
            best = (area, kx, ky)
    _, kx, ky = best
    return (
        float(footprint.x_mm[ix0]),
        float(footprint.y_mm[iy0]),
        max(2 * kx, 1) * h,
        max(2 * ky, 1) * h,
    )


def _serpentine(applications: Sequence[Application], row_mm: float) -> list[Application]:
    """Order applications for the procedure: rows of about row_mm in y (from low y), each
    row run along x starting from the end nearest the previous application (alternating
    directions on a regular grid), then the path shortened by segment reversals, so that
    consecutive applications are neighbours."""
    order = sorted(range(len(applications)), key=lambda i: (applications[i].y_mm, i))
    rows: list[list[int]] = []
    start = -math.inf
    for i in order:
        y = applications[i].y_mm
        if not rows or y - start > 0.5 * row_mm:
            rows.append([])
            start = y
        rows[-1].append(i)
    out: list[Application] = []
    for row in rows:
        row.sort(key=lambda i: (applications[i].x_mm, applications[i].y_mm, i))
        if out:
            last = out[-1]
            first, end = applications[row[0]], applications[row[-1]]
            to_first = math.hypot(first.x_mm - last.x_mm, first.y_mm - last.y_mm)
            to_end = math.hypot(end.x_mm - last.x_mm, end.y_mm - last.y_mm)
            if to_end < to_first:
                row.reverse()
        out.extend(applications[i] for i in row)
    return _shorten(out)


def _shorten(path: list[Application], max_passes: int = 50) -> list[Application]:
    """Shorten an open path through the applications by segment reversals (2-opt), each
    accepted only when it makes the path strictly shorter (mm)."""
    n = len(path)
    if n < 3:
        return path
    order = np.arange(n)
    xy = np.array([[a.x_mm, a.y_mm] for a in path])
    for _ in range(max_passes):
        improved = False
        for i in range(n - 1):
            p = xy[order]
            j = np.arange(i + 1, n)
            old = np.zeros(len(j))
            new = np.zeros(len(j))
            if i > 0:
                old += np.hypot(*(p[i] - p[i - 1]))
                new += np.hypot(*(p[j] - p[i - 1]).T)
            inner = j < n - 1
            jn = j[inner]
            old[inner] += np.hypot(*(p[jn + 1] - p[jn]).T)
            new[inner] += np.hypot(*(p[jn + 1] - p[i]).T)
            gain = old - new
            best = int(np.argmax(gain))
            if gain[best] > 1e-9:
                k = int(j[best])
                order[i : k + 1] = order[i : k + 1][::-1].copy()
                improved = True
        if not improved:
            break
    return [path[int(k)] for k in order]


def treatment_order(footprint: Footprint, applications: Sequence[Application]) -> list[Application]:
    """The applications in the order of the procedure: serpentine rows, consecutive
    applications neighbours."""
    return _serpentine(applications, _row_mm(footprint))


def _row_mm(footprint: Footprint) -> float:
    return max(math.sqrt(footprint.area_mm2), footprint.spacing_mm)


def grid_baseline(
    footprint: Footprint, target: shapely.Geometry, angle_deg: float = 0.0
) -> list[Application]:
    """The naive plan: tile the target's bounding box with the largest rectangle of covered
    cells of the footprint (electrode frame, rotated by angle_deg), keeping the tiles that
    overlap the target. Applications in serpentine order."""
    cx_e, cy_e, width, height = _inscribed_rectangle(footprint)
    c, s = _rotation(angle_deg)
    # Work in a frame aligned with the tiles: u = R(-angle) q.
    rotated = affinity.rotate(target, -angle_deg, origin=(0.0, 0.0))
    minx, miny, maxx, maxy = rotated.bounds
    nx = max(1, math.ceil((maxx - minx) / width - 1e-9))
    ny = max(1, math.ceil((maxy - miny) / height - 1e-9))
    mx, my = 0.5 * (minx + maxx), 0.5 * (miny + maxy)
    apps = []
    for j in range(ny):
        v = my + (j - 0.5 * (ny - 1)) * height
        for i in range(nx):
            u = mx + (i - 0.5 * (nx - 1)) * width
            tile = shapely.box(u - width / 2, v - height / 2, u + width / 2, v + height / 2)
            if not (tile.intersects(rotated) and tile.intersection(rotated).area > 0.0):
                continue
            # Tile centre back to the skin frame, then the electrode centre that puts the
            # rectangle's centre there.
            tx, ty = c * u - s * v, s * u + c * v
            ex, ey = c * cx_e - s * cy_e, s * cx_e + c * cy_e
            apps.append(
                Application(round(float(tx - ex), 6), round(float(ty - ey), 6), float(angle_deg))
            )
    return _serpentine(apps, _row_mm(footprint))


def _candidate_positions(
    target: shapely.Geometry, extent_mm: float, step_mm: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    minx, miny, maxx, maxy = target.bounds
    xs = np.arange(
        math.floor((minx - extent_mm) / step_mm), math.ceil((maxx + extent_mm) / step_mm) + 1
    )
    ys = np.arange(
        math.floor((miny - extent_mm) / step_mm), math.ceil((maxy + extent_mm) / step_mm) + 1
    )
    return xs * step_mm, ys * step_mm


def _hits(
    footprint: Footprint,
    samples: NDArray[np.float64],
    cx: NDArray[np.float64],
    cy: float,
    angle_deg: float,
    reach_mm: float,
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """(candidate index in cx, sample index) pairs for candidates at (cx[i], cy)."""
    near = np.flatnonzero(np.abs(samples[:, 1] - cy) <= reach_mm)
    if len(near) == 0 or len(cx) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    sx, sy = samples[near, 0], samples[near, 1]
    c, s = _rotation(angle_deg)
    rows = max(1, _BLOCK_BYTES // (_BYTES_PER_PAIR * len(near)))
    cand_out, samp_out = [], []
    for lo in range(0, len(cx), rows):
        block = cx[lo : lo + rows]
        dx = sx[None, :] - block[:, None]
        dy = np.broadcast_to(sy[None, :] - cy, dx.shape)
        lx, ly = _local(dx, dy, c, s)
        hit = footprint.covered(np.column_stack([lx.ravel(), ly.ravel()])).reshape(dx.shape)
        ci, si = np.nonzero(hit)
        cand_out.append(ci + lo)
        samp_out.append(near[si])
    return np.concatenate(cand_out), np.concatenate(samp_out)


def _coverage_matrix(
    footprint: Footprint,
    samples: NDArray[np.float64],
    angles_deg: Sequence[float],
    xs: NDArray[np.float64],
    ys: NDArray[np.float64],
    extra: Sequence[Application],
    reach_mm: float,
) -> tuple[list[Application], sp.csr_matrix]:
    """Candidate applications (every rotation at every grid position, then the extra ones)
    that cover at least one sample, and the (candidates, samples) coverage matrix."""
    candidates: list[Application] = []
    rows_idx: list[NDArray[np.int64]] = []
    cols_idx: list[NDArray[np.int64]] = []
    for angle in angles_deg:
        for y in ys:
            ci, si = _hits(footprint, samples, xs, float(y), float(angle), reach_mm)
            rows_idx.append(ci + len(candidates))
            cols_idx.append(si)
            candidates.extend(Application(float(x), float(y), float(angle)) for x in xs)
    for app in extra:
        ci, si = _hits(footprint, samples, np.array([app.x_mm]), app.y_mm, app.angle_deg, reach_mm)
        rows_idx.append(ci + len(candidates))
        cols_idx.append(si)
        candidates.append(app)
    rows = np.concatenate([np.zeros(0, dtype=np.int64), *rows_idx])
    cols = np.concatenate([np.zeros(0, dtype=np.int64), *cols_idx])
    matrix = sp.csr_matrix(
        (np.ones(len(rows), dtype=np.float64), (rows, cols)),
        shape=(len(candidates), len(samples)),
    )
    useful = np.flatnonzero(np.diff(matrix.indptr) > 0)
    return [candidates[i] for i in useful], matrix[useful]


def _rows(matrix: sp.csr_matrix, j: int) -> NDArray[np.int32]:
    """Samples covered by candidate j."""
    return np.asarray(matrix.indices[matrix.indptr[j] : matrix.indptr[j + 1]])


def _gain(
    by_sample: sp.csc_matrix, samples: NDArray[np.int64], weights: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Weighted count, for every candidate, of the given samples it covers."""
    n_candidates = by_sample.shape[0]
    starts = by_sample.indptr[samples]
    lengths = by_sample.indptr[samples + 1] - starts
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(n_candidates)
    offsets = np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(total)
    return np.bincount(
        by_sample.indices[offsets],
        weights=np.repeat(weights[samples], lengths),
        minlength=n_candidates,
    ).astype(np.float64)


def _meets(
    multiplicity: NDArray[np.int64], lesion_needed: NDArray[np.bool_], required: int
) -> bool:
    """Every coverable lesion sample covered and at least `required` samples covered?"""
    covered = multiplicity > 0
    return bool(covered[lesion_needed].all()) and int(covered.sum()) >= required


def _greedy(
    matrix: sp.csr_matrix,
    by_sample: sp.csc_matrix,
    weights: NDArray[np.float64],
    lesion_needed: NDArray[np.bool_],
    required: int,
    multiplicity: NDArray[np.int64],
    limit: int,
) -> list[int]:
    """Add at most `limit` candidates to a plan (multiplicity: applications covering each
    sample, updated in place), each time the one with the largest weighted gain over the
    uncovered samples (ties to the lowest index), until the plan meets the conditions or
    no candidate adds anything."""
    uncovered = multiplicity == 0
    idx = np.flatnonzero(uncovered)
    if 4 * len(idx) > len(uncovered):
        gain = np.asarray(matrix @ (weights * uncovered), dtype=np.float64)
    else:
        gain = _gain(by_sample, idx, weights)
    covered = len(uncovered) - len(idx)
    picks: list[int] = []
    while len(picks) < limit:
        if covered >= required and not (lesion_needed & uncovered).any():
            break
        j = int(np.argmax(gain))
        if gain[j] <= 0.0:
            break
        picks.append(j)
        row = _rows(matrix, j)
        new = row[uncovered[row]]
        uncovered[new] = False
        covered += len(new)
        multiplicity[row] += 1
        gain -= _gain(by_sample, new.astype(np.int64), weights)
        gain[j] = 0.0
    return picks


def _prune(
    matrix: sp.csr_matrix,
    kept: list[int],
    multiplicity: NDArray[np.int64],
    lesion_needed: NDArray[np.bool_],
    required: int,
) -> list[int]:
    """Drop applications (last first) whose removal keeps the conditions; the result is
    minimal: removing any one application breaks a condition."""
    covered = int((multiplicity > 0).sum())
    out = list(kept)
    for j in reversed(kept):
        row = _rows(matrix, j)
        lost = row[multiplicity[row] == 1]
        if lesion_needed[lost].any() or covered - len(lost) < required:
            continue
        multiplicity[row] -= 1
        covered -= len(lost)
        out.remove(j)
    return out


def _exchange(
    matrix: sp.csr_matrix,
    by_sample: sp.csc_matrix,
    weights: NDArray[np.float64],
    lesion_needed: NDArray[np.bool_],
    required: int,
    centres: NDArray[np.float64],
    kept: list[int],
    multiplicity: NDArray[np.int64],
    radius_mm: float,
) -> list[int]:
    """Local search: replace 2 neighbouring applications by 1, or 3 by 2 (greedy refill of
    the hole they leave), while the conditions stay met. Deterministic scan order."""
    plan = list(kept)
    improved = True
    while improved:
        improved = False
        a = 0
        while a < len(plan):
            here = centres[plan[a]]
            others = [k for k in plan if k != plan[a]]
            dist = np.array([float(np.hypot(*(centres[k] - here))) for k in others])
            order = sorted(range(len(others)), key=lambda i: (dist[i], others[i]))
            near = [others[i] for i in order[:4] if dist[i] <= radius_mm]
            swapped = False
            for size in (2, 3):
                for combo in itertools.combinations(near, size - 1):
                    removed = [plan[a], *combo]
                    trial = multiplicity.copy()
                    for k in removed:
                        trial[_rows(matrix, k)] -= 1
                    picks = _greedy(
                        matrix, by_sample, weights, lesion_needed, required, trial, size - 1
                    )
                    if _meets(trial, lesion_needed, required):
                        plan = [k for k in plan if k not in removed] + picks
                        multiplicity[:] = trial
                        improved = swapped = True
                        break
                if swapped:
                    break
            if not swapped:
                a += 1
    return plan


def _set_cover(
    matrix: sp.csr_matrix,
    weights: NDArray[np.float64],
    lesion_needed: NDArray[np.bool_],
    required: int,
    centres: NDArray[np.float64],
    radius_mm: float,
) -> tuple[list[int], int]:
    """Weighted greedy set cover, pruning and local exchanges. Returns the kept candidate
    rows and the covered-sample count they were held to (the requirement, or what could
    be reached)."""
    n = matrix.shape[1]
    by_sample = matrix.tocsc()
    multiplicity = np.zeros(n, dtype=np.int64)
    chosen = _greedy(
        matrix, by_sample, weights, lesion_needed, required, multiplicity, matrix.shape[0]
    )
    threshold = min(required, int((multiplicity > 0).sum()))
    kept = _prune(matrix, chosen, multiplicity, lesion_needed, threshold)
    kept = _exchange(
        matrix,
        by_sample,
        weights,
        lesion_needed,
        threshold,
        centres,
        kept,
        multiplicity,
        radius_mm,
    )
    kept = _prune(matrix, kept, multiplicity, lesion_needed, threshold)
    return kept, threshold


def _required(goal: float, n: int) -> int:
    """Smallest count k of n samples with k / n >= goal."""
    k = min(n, max(0, math.ceil(goal * n)))
    while k > 0 and (k - 1) / n >= goal:
        k -= 1
    while k < n and k / n < goal:
        k += 1
    return k


def place(
    footprint: Footprint,
    lesion: shapely.Polygon,
    target: shapely.Polygon,
    angles_deg: Sequence[float] = (0.0, 90.0),
    spacing_mm: float = 0.5,
    goal: float = 0.99,
    step_mm: float | None = None,
) -> Placement:
    """Plan electrode applications whose footprints cover the lesion and its margin.

    The target (lesion + margin, mm) is sampled every spacing_mm. Candidate applications
    are every rotation in angles_deg (degrees) at every position of a regular grid (step_mm,
    default max(spacing_mm, footprint spacing, 0.5 mm)) over the target's bounding box
    grown by the footprint's extent, plus the tiles of the naive grid (see grid_baseline).
    A weighted greedy set cover (lesion samples weigh 10, margin samples 1; ties to the
    first candidate) adds applications until every lesion sample that any candidate can
    cover is covered and the covered fraction of target samples reaches the coverage goal;
    redundant applications are then removed (last chosen first), local exchanges replace
    two neighbouring applications by one, or three by two, wherever the conditions stay
    met, and a last pruning pass leaves a minimal plan: removing any one of its
    applications breaks one of these two conditions. The applications are
    numbered in serpentine order (rows in y, each run along x from the end nearest the
    previous application; the path then shortened by segment reversals).

    The coverage goal is `goal`, raised to the target coverage of the naive grid when the
    grid covers more. If the set cover still needs more applications than the grid, or
    covers less, the grid itself is returned (method "grid"). Hence the plan never has
    more applications and never less target coverage than the naive grid at the best of
    angles_deg (fewest applications, then highest coverage).

    For very large targets the sampling and candidate steps are coarsened (by factors of
    1.25) to bound memory; the spacing used is reported. Deterministic: no randomness and
    stable orderings throughout.
    """
    if not 0.0 < goal <= 1.0:
        raise ValueError(f"goal={goal:g}: allowed 0 < goal <= 1")
    if not angles_deg:
        raise ValueError("angles_deg: at least one electrode rotation needed")
    if not spacing_mm > 0.0:
        raise ValueError(f"spacing_mm={spacing_mm:g}: allowed spacing > 0 mm")
    if target.is_empty or lesion.is_empty:
        raise ValueError("lesion and target must be non-empty regions")
    if footprint.area_mm2 <= 0.0:
        raise ValueError(f"footprint of {footprint.electrode!r} covers nothing")
    step = step_mm if step_mm is not None else max(spacing_mm, footprint.spacing_mm, 0.5)
    if not step > 0.0:
        raise ValueError(f"step_mm={step:g}: allowed step > 0 mm")
    extent = footprint.extent_mm()
    reach = extent + footprint.spacing_mm
    spacing = spacing_mm

    # Coarsen the sampling on very large targets so that the coverage matrix stays bounded.
    while True:
        xs, ys = _candidate_positions(target, extent, step)
        per_candidate = footprint.area_mm2 / spacing**2
        n_samples_est = target.area / spacing**2
        est = len(angles_deg) * len(xs) * len(ys) * min(per_candidate, n_samples_est)
        if est <= _MAX_HITS:
            break
        spacing *= 1.25
        step *= 1.25

    samples = sample_region(target, spacing)
    in_lesion = np.asarray(shapely.contains_xy(lesion, samples[:, 0], samples[:, 1]), dtype=bool)
    if not in_lesion.any():
        p = lesion.representative_point()
        samples = np.vstack([samples, [[float(p.x), float(p.y)]]])
        in_lesion = np.append(in_lesion, True)
    n = len(samples)

    # The naive grid at each rotation: fewest applications, then highest coverage.
    baseline: list[Application] = []
    base_cover = np.zeros(n, dtype=bool)
    best_key: tuple[int, int] | None = None
    for angle in angles_deg:
        apps = grid_baseline(footprint, target, float(angle))
        cov = coverage(footprint, apps, samples)
        key = (len(apps), -int(cov.sum()))
        if best_key is None or key < best_key:
            best_key, baseline, base_cover = key, apps, cov
    base_count = int(base_cover.sum())

    candidates, matrix = _coverage_matrix(footprint, samples, angles_deg, xs, ys, baseline, reach)
    weights = np.where(in_lesion, LESION_WEIGHT, MARGIN_WEIGHT)
    coverable = np.diff(matrix.tocsc().indptr) > 0
    lesion_needed = in_lesion & coverable
    required = max(_required(goal, n), base_count)
    centres = np.array([[c.x_mm, c.y_mm] for c in candidates]).reshape(-1, 2)
    kept, threshold = _set_cover(matrix, weights, lesion_needed, required, centres, 2.0 * extent)

    greedy = _serpentine([candidates[j] for j in kept], _row_mm(footprint))
    greedy_cover = coverage(footprint, greedy, samples)
    n_lesion = int(in_lesion.sum())
    if len(greedy) > len(baseline) or int(greedy_cover.sum()) < base_count:
        apps, cover, method = baseline, base_cover, "grid"
    else:
        apps, cover, method = greedy, greedy_cover, "greedy"
    return Placement(
        applications=list(apps),
        lesion_fraction=float(cover[in_lesion].sum() / n_lesion),
        target_fraction=float(cover.sum() / n),
        method=method,
        baseline_count=len(baseline),
        baseline_target_fraction=float(base_count / n),
        baseline_lesion_fraction=float(base_cover[in_lesion].sum() / n_lesion),
        uncovered_mm=samples[~cover],
        coverage_goal=float(threshold / n),
        sample_spacing_mm=float(spacing),
        samples_mm=samples,
        lesion_samples=in_lesion,
    )
