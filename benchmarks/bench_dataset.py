"""Benchmark: generate, write and validate a synthetic register of 10,000 patients.

Prints a table of rows/s. The baseline is a bare ``csv.reader`` pass over the same
files in the same process (no types, no checks), so the ratio shows what full
validation costs on top of reading the text. Reading steps are timed best of
``--repeat`` runs, after the generated dataset has been released. Target: validation
of the 10,000-patient dataset in under 15 s on a 2-core machine.

    .venv/bin/python benchmarks/bench_dataset.py [--patients N] [--seed S]
"""

from __future__ import annotations

import argparse
import csv
import gc
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from openect.data.csvio import load_dataset, write_dataset
from openect.synth import generate_cohort

TARGET_VALIDATION_S = 15.0


def bare_csv_pass(directory: Path) -> int:
    """Rows read by ``csv.reader`` over every CSV file (the baseline)."""
    rows = 0
    for path in sorted(directory.glob("*.csv")):
        with open(path, encoding="utf-8", newline="") as handle:
            rows += sum(1 for _ in csv.reader(handle)) - 1
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp) / "cohort"
        t0 = time.perf_counter()
        dataset = generate_cohort(patients=args.patients, centres=8, seed=args.seed)
        t1 = time.perf_counter()
        write_dataset(dataset, directory)
        t2 = time.perf_counter()
        counts = dataset.counts()
        del dataset
        gc.collect()

        def best(step: Callable[[], object]) -> float:
            times = []
            for _ in range(args.repeat):
                started = time.perf_counter()
                step()
                times.append(time.perf_counter() - started)
            return min(times)

        baseline = best(lambda: bare_csv_pass(directory))
        validation = best(lambda: load_dataset(directory))
        rows = bare_csv_pass(directory)
        _, report = load_dataset(directory)

    total = sum(counts.values())
    assert rows == total, (rows, total)
    assert report.valid, report.issues[:5]
    timings = [
        ("generate (synth)", t1 - t0),
        ("write CSV", t2 - t1),
        ("bare csv.reader (baseline)", baseline),
        ("read + validate", validation),
    ]
    print(f"{args.patients} patients, {total} rows in {len(counts)} files")
    print(f"{'step':<28}{'seconds':>10}{'rows/s':>14}{'x baseline':>12}")
    for name, seconds in timings:
        print(f"{name:<28}{seconds:>10.2f}{total / seconds:>14,.0f}{seconds / baseline:>12.1f}")
    verdict = "meets" if validation < TARGET_VALIDATION_S else "MISSES"
    print(f"validation {validation:.1f} s {verdict} the {TARGET_VALIDATION_S:.0f} s target")


if __name__ == "__main__":
    main()
