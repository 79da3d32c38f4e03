"""Benchmark: the field engine's linear solve against a direct solver and fixed-sweep
Jacobi, and a full non-linear hexagonal application.

Part 1, needle pair (long needles, homogeneous 0.2 S/m, 400 V, 4 mm): for each
resolution, unknowns, setup times (mesh, P1 space and assembly, AMG hierarchy), solve time, CG
iterations, and the error of the midpoint field against the analytic two-cylinder
value; the cost exponent fitted over the sizes (1 = linear in unknowns). In the same
run, on the sizes up to 50 k unknowns, the same linear system solved by scipy's direct solver
(spsolve) and by plain Jacobi with a fixed number of sweeps (as some open tools do),
as time and accuracy ratios.

Part 2: a full non-linear hexagonal application (12 pairs, skin-layered tissue, 10 mm
tumour) at the given resolution.

    .venv/bin/python benchmarks/bench_field.py [--sizes 0.6 0.3 0.14] [--hex-resolution 0.4]
"""

from __future__ import annotations

import argparse
import os
import resource
import time

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import cg, spsolve

from openect.field.amg import Hierarchy
from openect.field.analytic import NeedlePair
from openect.field.conductivity import SigmaModel
from openect.field.electrodes import ElectrodeGeometry, needle_pair
from openect.field.fem import P1Space
from openect.field.geometry import FieldModel, homogeneous
from openect.field.mesh import build_mesh
from openect.field.model_file import build_model
from openect.field.simulate import simulate
from openect.field.solver import PairSystem
from openect.field.threads import RowBlocks, blas_on_one_thread

DEPTH = 10.0
JACOBI_SWEEPS = 1000
#: The direct solver and Jacobi run on systems up to this size.
COMPARE_MAX_UNKNOWNS = 50_000


def midpoint_error(
    space: P1Space, mesh_points: np.ndarray, tets: np.ndarray, potential: np.ndarray
) -> float:
    """Relative error of the mid-depth midpoint field (element average near (0, 0, 5))."""
    field = space.field_magnitude(potential)
    centroids = mesh_points[tets].mean(axis=1)
    near = (np.hypot(centroids[:, 0], centroids[:, 1]) < 0.3) & (
        abs(centroids[:, 2] - DEPTH / 2) < 2
    )
    value = np.average(field[near], weights=space.volumes[near])
    return float(value / NeedlePair(400.0, 4.0, 0.35).midpoint_field_v_per_cm - 1)


def jacobi(a: sp.csr_matrix, b: np.ndarray, sweeps: int) -> np.ndarray:
    """Plain (damped 2/3) Jacobi with a fixed number of sweeps from zero."""
    inverse_diagonal = 1.0 / a.diagonal()
    x = np.zeros_like(b)
    for _ in range(sweeps):
        x += (2 / 3) * inverse_diagonal * (b - a @ x)
    return x


def part1(sizes: list[float]) -> None:
    conductors, pairs = needle_pair(4.0, 0.35, DEPTH, 400.0)
    model = FieldModel(
        ElectrodeGeometry("pair", conductors, pairs), homogeneous(sigma0=0.2), None,
        SigmaModel.CONSTANT, half_width_mm=30.0, depth_mm=DEPTH,
    )  # fmt: skip
    print("Part 1: needle pair, linear solve (rtol 1e-8)")
    header = f"{'h mm':>6}{'unknowns':>11}{'mesh s':>8}{'P1 s':>7}{'AMG s':>7}{'solve s':>9}"
    header += f"{'total s':>9}{'kernel s':>10}{'CG its':>8}{'vs exact':>10}"
    print(
        header + f"{'direct/AMG t':>14}{'direct diff':>13}{'Jacobi/AMG t':>14}{'Jacobi diff':>13}"
    )
    unknowns, totals = [], []
    for h in sizes:
        t0 = time.perf_counter()
        cpu0 = os.times()
        mesh = build_mesh(model, h)
        tm = time.perf_counter()
        space = mesh.space()
        values = space.edge_values(np.full(len(mesh.labels), 0.2))
        system = PairSystem(space, mesh.conductor_nodes, pairs[0])
        a, rhs = system.reduce(values)
        tp = time.perf_counter()
        solver = Hierarchy(a)
        t1 = time.perf_counter()
        iterations: list[int] = []
        with blas_on_one_thread():
            x, _ = cg(RowBlocks(a).operator(), rhs, rtol=1e-8, atol=0.0,
                      M=solver.preconditioner(),
                      callback=lambda _x, its=iterations: its.append(1))  # fmt: skip
        t2 = time.perf_counter()
        kernel = os.times().system - cpu0.system
        potential = system.expand(x)
        error = midpoint_error(space, mesh.points, mesh.tets, potential)
        # Unknowns: the free nodes (fixed ones stay in the system as identity rows).
        unknowns.append(system.n_free)
        totals.append(t2 - t0)
        row = f"{h:>6.3g}{system.n_free:>11,}{tm - t0:>8.2f}{tp - tm:>7.2f}{t1 - tp:>7.2f}"
        row += f"{t2 - t1:>9.2f}{t2 - t0:>9.2f}{kernel:>10.2f}{len(iterations):>8}"
        row += f"{error:>+10.2%}"
        if system.n_free <= COMPARE_MAX_UNKNOWNS:
            t3 = time.perf_counter()
            direct = spsolve(a.tocsc(), rhs)
            t4 = time.perf_counter()
            sweeps = jacobi(a, rhs, JACOBI_SWEEPS)
            t5 = time.perf_counter()
            amg = t2 - t1
            e_direct = midpoint_error(space, mesh.points, mesh.tets, system.expand(direct))
            e_jacobi = midpoint_error(space, mesh.points, mesh.tets, system.expand(sweeps))
            # Midpoint field of each solver relative to the converged AMG-CG solution.
            row += f"{(t4 - t3) / amg:>14.1f}{(1 + e_direct) / (1 + error) - 1:>+13.2%}"
            row += f"{(t5 - t4) / amg:>14.1f}{(1 + e_jacobi) / (1 + error) - 1:>+13.2%}"
        print(row)
    if len(sizes) >= 2:
        exponent = np.polyfit(np.log(unknowns), np.log(totals), 1)[0]
        print(f"fitted cost exponent (total vs unknowns): {exponent:.2f}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"peak resident memory: {peak:.2f} GB")
    print(
        "kernel s: system CPU time (the kernel zeroing freshly allocated memory); "
        "vs exact: midpoint field against the two-cylinder value (discretisation error); "
        "direct/AMG t, Jacobi/AMG t: solve time over the AMG-CG solve; diff: midpoint field "
        f"against the AMG-CG solution; Jacobi: {JACOBI_SWEEPS} fixed damped sweeps from zero"
    )


def part2(resolution: float) -> None:
    model = build_model(
        {
            "electrode": "hexagonal",
            "tissue": "skin-layered",
            "tumour": {"diameter_mm": 10, "depth_mm": 5},
        }
    )
    t0 = time.perf_counter()
    result = simulate(model, resolution).result
    seconds = time.perf_counter() - t0
    picard = [report.picard_iterations for report in result.pair_reports]
    print("\nPart 2: hexagonal, 12 pairs, skin-layered, 10 mm tumour, sigmoid conductivity")
    coverage = 100 * (result.coverage.tumour_fraction_above_rev or 0)
    print(f"resolution {resolution} mm: {result.unknowns:,} unknowns, {seconds:.1f} s in all "
          f"(mesh {result.timing_s['mesh']:.1f} s), converged {result.converged}, "
          f"Picard iterations per pair {min(picard)}-{max(picard)}, "
          f"tumour above E_rev {coverage:.1f} %")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=float, nargs="+", default=[0.6, 0.45, 0.3, 0.2, 0.135])
    parser.add_argument("--hex-resolution", type=float, default=0.4)
    args = parser.parse_args()
    part1(args.sizes)
    part2(args.hex_resolution)


if __name__ == "__main__":
    main()
