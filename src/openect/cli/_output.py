"""Output helpers shared by every command: JSON on stdout, tables for people, errors,
progress on stderr."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

from rich import box
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.measure import Measurement
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Column, Table
from rich.text import Text

from openect.errors import InputError

#: Console for results (stdout) and one for messages and progress (stderr).
stdout = Console(highlight=False)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)

#: Words longer than this (characters) may be folded inside a table cell when the
#: table is narrow; shorter words stay whole.
LONGEST_WORD = 20


class CliError(InputError):
    """A problem with the user's input: shown as one line on stderr, exit code 2."""


def emit_json(payload: object) -> None:
    """Write ``payload`` as JSON on stdout (one document, UTF-8, trailing newline)."""
    sys.stdout.write(json.dumps(payload, indent=2, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


def _natural(text: Text) -> int:
    """Width of the widest line of ``text`` (terminal cells)."""
    return max((Text(line).cell_len for line in text.plain.splitlines()), default=0)


def _longest_word(text: Text) -> int:
    """Width of the longest word of ``text`` (terminal cells)."""
    return max((Text(word).cell_len for word in text.plain.split()), default=0)


class FittedTable:
    """A table that stays readable in the width of the terminal.

    Key columns (ids) are never cut nor wrapped; the other columns wrap between words
    (and fold words longer than :data:`LONGEST_WORD` characters, never cutting them).
    When that does not fit in a boxed table, the table is drawn without lines between
    its columns; then without its ``optional`` columns (in the order given, with a note
    naming them); and when it still does not fit, each row is shown as a record: its
    ids on one line, then one ``column: value`` line per non-blank cell. The title is a
    line of its own, wrapped at the terminal's width.
    """

    def __init__(
        self,
        title: str,
        columns: Sequence[str],
        rows: Iterable[Sequence[object]],
        keys: Sequence[str] | None = None,
        optional: Sequence[str] = (),
    ) -> None:
        self.title = title
        self.columns = [str(column) for column in columns]
        self.rows = [
            [Text.from_markup("" if cell is None else str(cell)) for cell in row] for row in rows
        ]
        if keys is None:
            self.keys = [0] if self.columns else []
        else:
            unknown = [name for name in keys if name not in self.columns]
            if unknown:
                raise ValueError(f"keys {unknown}: not columns of the table {self.columns}")
            self.keys = [self.columns.index(name) for name in keys]
        self.optional = [self.columns.index(name) for name in optional if name in self.columns]

    # ------------------------------------------------------------------ layout
    def _widths(self, shown: Sequence[int], width: int, compact: bool) -> list[int] | None:
        """Content widths of the ``shown`` columns in a table ``width`` cells wide, or
        None when it cannot fit. Boxed, borders and padding take 3 cells per column and
        1; ``compact`` (no lines between columns), 2 cells between columns."""
        available = width - (2 * len(shown) - 2 if compact else 3 * len(shown) + 1)
        natural: list[int] = []
        need: list[int] = []
        for index in shown:
            header = Text(self.columns[index])
            cells = [row[index] for row in self.rows if index < len(row)]
            widest = max([_natural(header), *(_natural(cell) for cell in cells)])
            natural.append(max(widest, 1))
            if index in self.keys:
                need.append(max(_natural(header), *(_natural(c) for c in cells), 1))
            else:
                word = max([_longest_word(header), *(_longest_word(c) for c in cells), 1])
                need.append(min(widest, word, LONGEST_WORD) or 1)
        if sum(natural) <= available:
            return natural
        if sum(need) > available:
            return None
        # Share the room left between the columns that would use it, in proportion.
        widths = list(need)
        room = available - sum(need)
        slack = [n - w for n, w in zip(natural, widths, strict=True)]
        total = sum(slack)
        for i, extra in enumerate(slack):
            give = min(extra, room * extra // total) if total else 0
            widths[i] += give
        left = available - sum(widths)
        for i in sorted(range(len(widths)), key=lambda k: -(natural[k] - widths[k])):
            if left <= 0:
                break
            if widths[i] < natural[i]:
                widths[i] += 1
                left -= 1
        return widths

    def _table(self, shown: Sequence[int], widths: Sequence[int], compact: bool) -> Table:
        out = (
            Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 1, 0, 0))
            if compact
            else Table()
        )
        for index, width in zip(shown, widths, strict=True):
            key = index in self.keys
            out.add_column(self.columns[index], width=width, no_wrap=key, overflow="fold")
        for row in self.rows:
            out.add_row(*(row[index] if index < len(row) else Text("") for index in shown))
        return out

    def _records(self, width: int) -> Group:
        """Each row as a record: its ids (else its first cell), then one ``column: value``
        line per non-blank cell."""
        parts: list[RenderableType] = []
        heads = self.keys or [0]
        labels = [i for i in range(len(self.columns)) if i not in heads]
        label_width = min(
            max((Text(self.columns[i]).cell_len for i in labels), default=0), width // 3
        )
        for row in self.rows:
            ids = [row[i] for i in heads if i < len(row) and row[i].plain]
            heading = Text(" ").join(ids) if ids else Text("-")
            heading.stylize("bold")
            parts.append(heading)
            grid = Table.grid(padding=(0, 1))
            grid.add_column(width=2)
            grid.add_column(width=label_width + 1, overflow="fold")
            grid.add_column(overflow="fold")
            for i in labels:
                value = row[i] if i < len(row) else Text("")
                if not value.plain.strip():
                    continue  # a blank cell says nothing
                label = self.columns[i]
                grid.add_row("", Text(f"{label}:" if label else "", style="dim"), value)
            parts.append(grid)
        return Group(*parts)

    # ------------------------------------------------------------------ rich protocol
    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = options.max_width
        if self.title:
            yield Text(self.title, style="table.title", overflow="fold")
        for compact in (False, True):
            widths = self._widths(range(len(self.columns)), width, compact)
            if widths is not None:
                yield self._table(range(len(self.columns)), widths, compact)
                return
        shown = list(range(len(self.columns)))
        left_out: list[str] = []
        for index in self.optional:
            shown.remove(index)
            left_out.append(self.columns[index])
            widths = self._widths(shown, width, compact=True)
            if widths is not None:
                yield self._table(shown, widths, compact=True)
                yield Text(
                    f"(left out at this width: {', '.join(left_out)}; --json or a wider "
                    "terminal shows them)",
                    style="dim",
                )
                return
        yield self._records(width)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement(1, options.max_width)


def table(
    title: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[object]],
    *,
    keys: Sequence[str] | None = None,
    optional: Sequence[str] = (),
) -> FittedTable:
    """A table with ``columns`` and ``rows`` (cells shown with ``str``, rich markup
    allowed; None as blank) that fits the terminal: the ``keys`` columns (ids; default
    the first column) are never cut, the others wrap, the ``optional`` ones are left out
    when needed, and rows become records when the table cannot fit (see
    :class:`FittedTable`)."""
    return FittedTable(title, columns, rows, keys=keys, optional=optional)


class _Count(MofNCompleteColumn):
    """``done/total`` while a step counts its work; blank while it does not."""

    def render(self, task: Task) -> Text:
        return Text("") if task.total is None else super().render(task)


@contextmanager
def progress_bar(description: str, total: int | None, *, enabled: bool = True) -> Iterator[Step]:
    """A progress display on stderr while a long step runs, shown only when ``enabled``
    and stderr is a terminal (and removed when done); yields a :class:`Step` that
    the library's callbacks drive."""
    if not enabled or not stderr.is_terminal:
        yield Step(None, description, total)
        return
    columns = (
        SpinnerColumn(),
        TimeElapsedColumn(),
        BarColumn(bar_width=10),
        _Count(),
        # last, on one line: a description too long for the terminal ends in "..."
        TextColumn(
            "{task.description}",
            markup=False,
            table_column=Column(no_wrap=True, overflow="ellipsis", ratio=1),
        ),
    )
    with Progress(*columns, console=stderr, transient=True, expand=True) as progress:
        yield Step(progress, description, total)


class Step:
    """Drives one progress display: :meth:`stage` names what is being done,
    :meth:`advance` counts a unit of work (an electrode pair, an application).
    Without a display (not a terminal, ``--json``) it does nothing."""

    def __init__(self, progress: Progress | None, description: str, total: int | None) -> None:
        self.progress = progress
        self.description = description
        self.task = None if progress is None else progress.add_task(description, total=total)

    def stage(self, name: str, total: int | None = None) -> None:
        """Show ``description: name`` and, with ``total``, restart the count at 0 of it."""
        if self.progress is None or self.task is None:
            return
        if total is None:
            self.progress.update(self.task, description=f"{self.description}: {name}")
        else:
            self.progress.reset(self.task, total=total, description=f"{self.description}: {name}")
        self.progress.refresh()  # show each step, however short

    def advance(self) -> None:
        """One more unit done."""
        if self.progress is not None and self.task is not None:
            self.progress.advance(self.task)


def check_range(option: str, value: int, low: int, high: int | None = None) -> int:
    """Return ``value`` if ``low <= value <= high``, else raise :class:`CliError` naming it."""
    if value < low or (high is not None and value > high):
        allowed = f"{low} to {high}" if high is not None else f">= {low}"
        raise CliError(f"{option}={value}: out of range; allowed {allowed}")
    return value
