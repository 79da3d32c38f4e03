"""Edit a dataset folder's CSV files as a person would in a spreadsheet."""

from __future__ import annotations

import csv
from pathlib import Path


def set_cell(directory: Path, file: str, row_id: str, column: str, value: str) -> int:
    """Set one cell of the row whose first cell is ``row_id``; return its line number."""
    path = directory / file
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    position = rows[0].index(column)
    for number, row in enumerate(rows):
        if row[0] == row_id:
            row[position] = value
            with open(path, "w", encoding="utf-8", newline="") as handle:
                csv.writer(handle, lineterminator="\n").writerows(rows)
            return number + 1
    raise AssertionError(f"{row_id} not in {file}")
