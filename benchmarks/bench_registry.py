"""Benchmark: import a 10,000-patient synthetic register into SQLite, then export it.

Runs ``openect registry init / import / export`` as a user would (each its own
process, timed end to end, including reading and validating the CSV files) on a new
SQLite file. The baseline is ``openect data validate`` on the same folder in the same
way, so the ratios show what the database adds to reading and validating. Targets:
import <= 90 s, export <= 30 s on a 2-core machine.

    .venv/bin/python benchmarks/bench_registry.py [--patients N] [--seed S]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from openect.data.csvio import write_dataset
from openect.synth import generate_cohort

TARGET_IMPORT_S = 90.0
TARGET_EXPORT_S = 30.0


def openect(*args: str) -> float:
    """Run one openect command; return its wall time (s)."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "openect", *args], check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "register"
        dataset = generate_cohort(patients=args.patients, centres=20, seed=args.seed)
        write_dataset(dataset, folder)
        rows = sum(dataset.counts().values())
        del dataset
        url = f"sqlite:///{Path(tmp) / 'registry.sqlite3'}"
        baseline = openect("data", "validate", str(folder))
        init = openect("registry", "init", "--database", url)
        imported = openect("registry", "import", str(folder), "--database", url)
        reimport = openect("registry", "import", str(folder), "--database", url)
        exported = openect("registry", "export", str(Path(tmp) / "out"), "--database", url)
        same = subprocess.run(["diff", "-r", str(folder), str(Path(tmp) / "out")]).returncode == 0
        size = Path(url.removeprefix("sqlite:///")).stat().st_size
    print(f"openect registry on SQLite: {args.patients:,} patients, {rows:,} rows "
          f"(+ {rows:,} audit entries), database {size / 1e6:.0f} MB")  # fmt: skip
    print()
    print("| step | seconds | x data validate |")
    print("|---|---|---|")
    print(f"| openect data validate (baseline) | {baseline:.1f} | 1 |")
    print(f"| registry init | {init:.1f} | {init / baseline:.1f} |")
    print(f"| registry import (validate, write, audit every row) | {imported:.1f} | "
          f"{imported / baseline:.1f} |")  # fmt: skip
    print(f"| registry import again (nothing changes) | {reimport:.1f} | "
          f"{reimport / baseline:.1f} |")  # fmt: skip
    print(f"| registry export (CSV) | {exported:.1f} | {exported / baseline:.1f} |")
    print(f"\nExport byte-identical to the imported files: {same}")
    verdict = {True: "met", False: "NOT met"}
    print(
        f"Targets: import <= {TARGET_IMPORT_S:.0f} s {verdict[imported <= TARGET_IMPORT_S]}; "
        f"export <= {TARGET_EXPORT_S:.0f} s {verdict[exported <= TARGET_EXPORT_S]}"
    )


if __name__ == "__main__":
    main()
