"""Benchmark: ``openect analyse`` on a synthetic register of 10,000 patients.

Times the command end to end (read + full validation + every analysis + JSON) in this
process, and each analysis step. The baseline is a bare ``csv.reader`` pass over the
same files in the same process, so the ratios show the cost of each step relative to
merely reading the text. Target: the whole command in under 20 s on a 2-core machine.

    .venv/bin/python benchmarks/bench_outcomes.py [--patients N] [--seed S]
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import io
import tempfile
import time
from pathlib import Path

from bench_dataset import bare_csv_pass  # the same baseline as the dataset benchmark
from openect.cli import main as openect
from openect.data.csvio import load_dataset, write_dataset
from openect.outcomes.analysis import OutcomeAnalysis
from openect.synth import generate_cohort

TARGET_S = 20.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp) / "register"
        dataset = generate_cohort(patients=args.patients, centres=20, seed=args.seed)
        write_dataset(dataset, directory)
        counts = dataset.counts()
        del dataset
        gc.collect()

        started = time.perf_counter()
        rows = bare_csv_pass(directory)
        baseline = time.perf_counter() - started

        started = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()) as out:
            code = openect(["analyse", str(directory), "--json"])
        command = time.perf_counter() - started
        assert code == 0, "openect analyse failed"
        size = len(out.getvalue())

        started = time.perf_counter()
        dataset, report = load_dataset(directory)
        load = time.perf_counter() - started
        assert report.valid
        analysis = OutcomeAnalysis().fit(dataset)

    print(
        f"openect analyse: {args.patients:,} patients, {counts['lesions']:,} lesions, "
        f"{counts['assessments']:,} assessments, {rows:,} rows in all; JSON {size / 1e3:.0f} kB"
    )
    print()
    print("| step | seconds | x bare csv.reader |")
    print("|---|---|---|")
    print(f"| bare csv.reader pass (baseline) | {baseline:.2f} | 1 |")
    print(f"| read + full validation | {load:.2f} | {load / baseline:.1f} |")
    for step, seconds in analysis.timing_s_.items():
        print(f"| {step.replace('_', ' ')} | {seconds:.2f} | {seconds / baseline:.1f} |")
    print(
        f"| **openect analyse DIR --json, end to end** | {command:.2f} | {command / baseline:.1f} |"
    )
    verdict = "met" if command <= TARGET_S else "NOT met"
    print(f"\nTarget (<= {TARGET_S:.0f} s end to end): {verdict}")


if __name__ == "__main__":
    main()
