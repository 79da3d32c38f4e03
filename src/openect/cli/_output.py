"""Output helpers shared by every command: JSON on stdout, tables for people, errors."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from openect.errors import InputError

#: Console for results (stdout) and one for messages and progress (stderr).
stdout = Console(highlight=False)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)


class CliError(InputError):
    """A problem with the user's input: shown as one line on stderr, exit code 2."""


def emit_json(payload: Any) -> None:
    """Write ``payload`` as JSON on stdout (one document, UTF-8, trailing newline)."""
    sys.stdout.write(json.dumps(payload, indent=2, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


def table(title: str, columns: Sequence[str], rows: Iterable[Sequence[object]]) -> Table:
    """A rich table with ``columns`` and ``rows`` (cells shown with ``str``; None as blank)."""
    out = Table(title=title, title_justify="left")
    for column in columns:
        out.add_column(column)
    for row in rows:
        out.add_row(*("" if cell is None else str(cell) for cell in row))
    return out


def check_range(option: str, value: int, low: int, high: int | None = None) -> int:
    """Return ``value`` if ``low <= value <= high``, else raise :class:`CliError` naming it."""
    if value < low or (high is not None and value > high):
        allowed = f"{low} to {high}" if high is not None else f">= {low}"
        raise CliError(f"{option}={value}: out of range; allowed {allowed}")
    return value
