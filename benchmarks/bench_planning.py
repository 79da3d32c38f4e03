"""Benchmark: plan and verify in 3-D a 30 x 20 mm lesion, 5 mm thick, with linear
electrodes, from a cold footprint cache; then re-plan it with the cache warm.

Columns: the planner's own step timings (footprint, placement, 3-D verification), the
number of applications against the regular grid tiling, and the verified coverage. The
warm re-plan is timed without the 3-D verification (as ``openect plan session
--coverage`` uses it) and with it. Ratios are against the cold plan in the same run.

    .venv/bin/python benchmarks/bench_planning.py [--resolution 0.6]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

from openect.planning.coverage_plan import LesionPlanRequest, plan_lesion
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


if __name__ == "__main__":
    main()
