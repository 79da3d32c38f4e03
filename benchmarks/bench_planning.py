"""Benchmark: plan and verify in 3-D a 30 x 20 mm lesion, 5 mm thick, with linear
electrodes, from a cold footprint cache; then re-plan it with the cache warm.

Columns: the planner's own step timings (footprint, placement, 3-D verification), the
number of applications against the regular grid tiling, and the verified coverage. The
warm re-plan is timed without the 3-D verification (as ``openect plan session
--coverage`` uses it) and with it. Ratios are against the cold plan in the same run.

Then the large case of the test suite's 3-D coverage checks (tests/test_planning_plan.py
checks 10 x 8, 20 x 15 and 12 x 5 mm): a 35 x 25 mm lesion, 4 mm thick, linear
electrodes at 0.8 mm, 0.5 min per application, must be covered in 3-D with no more
applications and no less coverage than the regular grid; the script exits with status 1
when it is not.

    .venv/bin/python benchmarks/bench_planning.py [--resolution 0.6]
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
import time

from openect.planning.coverage_plan import COVERAGE_TARGET, LesionPlanRequest, plan_lesion
from openect.planning.local_field import PLANNING_RESOLUTION_MM


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolution", type=float, default=PLANNING_RESOLUTION_MM)
    args = parser.parse_args()
    os.environ["OPENECT_CACHE_DIR"] = tempfile.mkdtemp(prefix="openect-bench-cache-")
    request = LesionPlanRequest(
        longest_mm=30,
        perpendicular_mm=20,
        thickness_mm=5,
        electrode="linear",
        resolution_mm=args.resolution,
        treatable_check=False,
    )
    runs = []
    for label, verify in (
        ("cold cache, plan + 3-D verification", True),
        ("warm cache, plan (no verification)", False),
        ("warm cache, plan + 3-D verification", True),
    ):
        started = time.perf_counter()
        plan, _ = plan_lesion(request.model_copy(update={"verify": verify}))
        runs.append((label, time.perf_counter() - started, plan))
    cold = runs[0][1]
    print(
        f"30 x 20 mm lesion, 5 mm thick, linear electrode, resolution {args.resolution} mm, "
        f"margin {runs[0][2].margin_mm:g} mm"
    )
    header = f"{'run':<40}{'total s':>9}{'x cold':>8}{'footprint s':>13}{'placement s':>13}"
    print(header + f"{'verify s':>10}{'apps':>6}{'grid':>6}{'target %':>10}{'lesion %':>10}")
    for label, seconds, plan in runs:
        t = plan.timing_s
        print(
            f"{label:<40}{seconds:>9.1f}{seconds / cold:>8.2f}{t['footprint']:>13.1f}"
            f"{t['placement']:>13.1f}{t['verification']:>10.1f}{plan.count:>6}"
            f"{plan.baseline['count']:>6.0f}"
            f"{100 * plan.coverage.target_fraction_above_rev:>10.1f}"
            f"{100 * plan.coverage.lesion_fraction_above_rev:>10.1f}"
        )
    print("targets: plan + 3-D verification <= 120 s; warm re-plan <= 5 s")
    problems = check_large_ellipse()
    for problem in problems:
        print(f"FAILED: {problem}")
    if problems:
        raise SystemExit(1)


def check_large_ellipse() -> list[str]:
    """Plan a 35 x 25 mm lesion (0.5 min per application) and check its 3-D coverage as
    the test suite does for smaller lesions; the failed checks."""
    request = LesionPlanRequest(
        longest_mm=35,
        perpendicular_mm=25,
        thickness_mm=4,
        electrode="linear",
        resolution_mm=0.8,
        minutes_per_application=0.5,
    )
    started = time.perf_counter()
    plan, _ = plan_lesion(request)
    seconds = time.perf_counter() - started
    coverage = plan.coverage
    placed = plan.count - plan.added_after_verification + plan.removed_after_verification
    checks = {
        "verified in 3-D": coverage.verified_3d,
        f"target >= {COVERAGE_TARGET:g} above E_rev": (
            coverage.target_fraction_above_rev >= COVERAGE_TARGET
        ),
        "whole lesion above E_rev": coverage.lesion_fraction_above_rev == 1.0,
        "no more applications than the grid": placed <= plan.baseline["count"],
        "no less coverage than the grid": (
            coverage.placement_target_fraction >= plan.baseline["target_fraction"] - 1e-12
        ),
        "time = applications x minutes": math.isclose(
            plan.time_min, plan.count * plan.minutes_per_application
        ),
    }
    print(
        f"35 x 25 mm lesion, 4 mm thick, linear electrode, resolution 0.8 mm, 0.5 min per "
        f"application: {seconds:.1f} s, {plan.count} applications (grid "
        f"{plan.baseline['count']:.0f}), target "
        f"{100 * coverage.target_fraction_above_rev:.1f} %, lesion "
        f"{100 * coverage.lesion_fraction_above_rev:.1f} %"
    )
    return [name for name, ok in checks.items() if not ok]


if __name__ == "__main__":
    main()
