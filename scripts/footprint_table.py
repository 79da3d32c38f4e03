"""Regenerate src/openect/protocol/footprint_table.toml from the coverage planner.

    .venv/bin/python scripts/footprint_table.py [--cache DIR]

Takes several minutes (a field simulation per electrode and thickness, then placements).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from openect.planning.footprint_table import TableEntry, build_table, to_toml

TARGET = Path(__file__).resolve().parents[1] / "src/openect/protocol/footprint_table.toml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cache", type=Path, default=None, help="footprint cache folder")
    parser.add_argument("--out", type=Path, default=TARGET, help="file to write")
    args = parser.parse_args()

    def show(entry: TableEntry) -> None:
        print(
            f"{entry.electrode:10} {entry.voltage_v:6g} V {entry.thickness_mm:5g} mm "
            f"{entry.area_per_application_cm2:7.4f} cm2/application "
            f"(alone {entry.single_application_cm2:.4f}; counts {entry.counts})",
            flush=True,
        )

    entries = build_table(cache=args.cache, progress=show)
    args.out.write_text(to_toml(entries), encoding="utf-8")
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
