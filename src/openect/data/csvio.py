"""Read and write the CSV folder dataset (one file per entity plus ``dataset.json``).

Format (``docs/dataset.md``): UTF-8, header row, columns in data-model order, ISO dates
``YYYY-MM-DD``, times ``HH:MM`` or ``HH:MM:SS``, booleans ``true``/``false``, lists
semicolon-separated, empty cell = unknown. Every file is present, even with no rows.

Reading validates everything (types, ranges, enums, required cells, references,
date order) and reports all problems at once; it never returns a half-valid dataset.
It accepts a UTF-8 byte-order mark (Excel's "CSV UTF-8") and reports, with file and
row, what the csv module would fail on: overlong cells, NUL bytes, invalid UTF-8.

Writing is canonical: the same dataset always gives the same bytes. Files meant to be
opened in a spreadsheet are written with ``for_people=True``: text cells starting with
``=``, ``+``, ``-``, ``@``, a tab or a carriage return are prefixed with ``'`` so that
no spreadsheet runs them as formulas (CSV injection); numbers are left alone.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import operator
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from openect.data.dataset import (
    DATASET_FORMAT,
    SCHEMA_VERSION,
    Dataset,
    DatasetInfo,
    collection_paused,
)
from openect.data.field_errors import error_message
from openect.data.models import ENTITIES, Record, Today, added_in, references, registry_today
from openect.data.schema import column_index, columns, file_name
from openect.data.validation import ValidationIssue, ValidationReport, check_dataset
from openect.errors import InputError

INFO_FILE = "dataset.json"
LIST_SEPARATOR = ";"
#: Longest cell read (characters); the longest field of the data model has 500.
MAX_CELL = 10_000
#: The csv module's field size limit while reading, so that a longer cell is reported
#: with its column (by :data:`MAX_CELL`) instead of failing the whole file.
FIELD_LIMIT = 1 << 24
#: First characters that make a spreadsheet read a cell as a formula (OWASP).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class DatasetError(InputError):
    """A dataset that cannot be used; ``report`` lists every problem."""

    def __init__(self, report: ValidationReport) -> None:
        self.report = report
        first = report.issues[0] if report.issues else "no details"
        more = len(report.issues) - 1
        suffix = f" (and {more} more problem{'s' if more != 1 else ''})" if more > 0 else ""
        super().__init__(f"invalid dataset: {first}{suffix}")


# -- writing ---------------------------------------------------------------------------


def _format_time(value: dt.time) -> str:
    if value.microsecond:
        return value.isoformat()
    return value.isoformat(timespec="seconds" if value.second else "minutes")


def _bool_cell(value: bool) -> str:
    return "true" if value else "false"


def _list_cell(value: list[Enum]) -> str:
    return LIST_SEPARATOR.join(str(item.value) for item in value)


#: Cells the csv module would not write canonically by itself. It already writes None
#: as an empty cell, floats with ``repr`` (shortest round-trip form), integers, dates
#: (ISO) and string enums (their value) as the format wants them.
_CELL_ENCODERS: dict[str, Callable[[Any], str]] = {
    "bool": _bool_cell,
    "time": _format_time,
    "list": _list_cell,
}


def neutralised(text: str) -> str:
    """``text`` safe to open in a spreadsheet: ``'`` before a leading formula character."""
    return "'" + text if text.startswith(FORMULA_START) else text


def _rows(
    model: type[Record], records: list[Record], for_people: bool = False
) -> Iterator[list[Any]]:
    """CSV rows of ``records``: field values in column order, encoded where needed.

    ``for_people`` neutralises text columns (kind ``str``) against CSV injection.
    """
    cols = columns(model)
    values = operator.attrgetter(*(c.name for c in cols))
    special = [(i, _CELL_ENCODERS[c.kind]) for i, c in enumerate(cols) if c.kind in _CELL_ENCODERS]
    floats = [i for i, c in enumerate(cols) if c.kind == "float"]
    texts = [i for i, c in enumerate(cols) if c.kind == "str"] if for_people else []
    for record in records:
        row = list(values(record))
        for i, encode in special:
            if row[i] is not None:
                row[i] = encode(row[i])
        for i in floats:
            if row[i] is not None and type(row[i]) is not float:
                row[i] = float(row[i])
        for i in texts:
            if row[i]:
                row[i] = neutralised(row[i])
        yield row


def write_dataset(
    dataset: Dataset, directory: str | os.PathLike[str], *, for_people: bool = False
) -> Path:
    """Write ``dataset`` as a CSV folder at ``directory`` and return its path.

    The folder must not exist or be empty; files are written to a temporary folder
    beside it first and moved into place only when all are complete. By default the
    files are the canonical round-trip form (read back, they give the same dataset);
    ``for_people=True`` writes them for spreadsheets: text cells that a spreadsheet would
    run as a formula get a leading ``'`` (see :func:`neutralised`).
    """
    target = Path(directory)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise FileExistsError(f"dataset folder {str(target)!r} exists and is not empty")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        # The files are written in this version's columns, whatever version was read.
        info = dataset.info.model_dump(mode="json") | {"schema_version": SCHEMA_VERSION}
        (staging / INFO_FILE).write_text(
            json.dumps(info, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        for model in ENTITIES:
            cols = columns(model)
            with open(staging / file_name(model), "w", encoding="utf-8", newline="") as handle:
                writer = csv.writer(handle, lineterminator="\n")
                writer.writerow([c.name for c in cols])
                writer.writerows(_rows(model, dataset.records(model), for_people))
        if target.exists():
            target.rmdir()
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


# -- reading ---------------------------------------------------------------------------


def _read_info(directory: Path, issues: list[ValidationIssue]) -> DatasetInfo:
    path = directory / INFO_FILE
    if not path.is_file():
        issues.append(
            ValidationIssue(
                INFO_FILE, None, None, None, "missing file; it records the schema version"
            )
        )
        return DatasetInfo()
    try:
        raw = json.loads(path.read_text(encoding="utf-8-sig"))
        info = DatasetInfo.model_validate(raw)
    except (ValueError, ValidationError) as error:
        message = str(error).splitlines()[0]
        issues.append(
            ValidationIssue(INFO_FILE, None, None, None, f"not valid JSON metadata: {message}")
        )
        return DatasetInfo()
    if info.format != DATASET_FORMAT:
        issues.append(
            ValidationIssue(
                INFO_FILE,
                None,
                "format",
                info.format,
                f"not an OpenECT dataset; expected {DATASET_FORMAT!r}",
            )
        )
    major = info.schema_version.split(".")[0]
    if major != SCHEMA_VERSION.split(".")[0]:
        issues.append(
            ValidationIssue(
                INFO_FILE,
                None,
                "schema_version",
                info.schema_version,
                f"unsupported schema version; this version of OpenECT reads {major}.x = "
                f"{SCHEMA_VERSION.split('.')[0]}.x",
            )
        )
    return info


def _check_header(
    model: type[Record], header: list[str], issues: list[ValidationIssue], version: str
) -> bool:
    """Report header problems; return whether the rows can still be read.

    Columns added after the file's schema ``version`` may be missing (empty cells).
    """
    name = file_name(model)
    expected = [c.name for c in columns(model)]
    optional = set(getattr(model, "optional_columns", lambda: ())())
    optional.update(added_in(model, version))
    index = column_index(model)
    readable = True
    for column in header:
        if column not in index:
            issues.append(
                ValidationIssue(
                    name, 1, column, column, f"unknown column; allowed: {', '.join(expected)}"
                )
            )
    for column in expected:
        if column not in header and column not in optional:
            issues.append(ValidationIssue(name, 1, column, None, "missing column"))
            if index[column].required:
                readable = False
    present = [c for c in header if c in index]
    if present != [c for c in expected if c in present]:
        issues.append(
            ValidationIssue(
                name,
                1,
                None,
                ",".join(header),
                f"columns out of order; expected: {','.join(expected)}",
            )
        )
    if len(set(header)) != len(header):
        issues.append(ValidationIssue(name, 1, None, ",".join(header), "repeated column name"))
        readable = False
    return readable


#: A reference cell of a row that failed validation: (file, line, column, value, table).
PendingReference = tuple[str, int, str, str, str]


def _read_table(
    directory: Path,
    model: type[Record],
    issues: list[ValidationIssue],
    pending: list[PendingReference],
    version: str = SCHEMA_VERSION,
    today: Today | None = None,
) -> tuple[list[Record], list[int], set[str] | None]:
    """Read one CSV file: valid records, their line numbers and every identifier seen.

    ``version`` is the schema version of ``dataset.json``: columns added after it may
    be missing. ``today`` is the registry's today the dates are checked against (read
    once per dataset; by default now).

    The identifiers are ``None`` when the file is missing or cannot be read.

    References of rows that fail validation are added to ``pending`` so that they can
    still be checked once every file is read.
    """
    name = file_name(model)
    path = directory / name
    records: list[Record] = []
    lines: list[int] = []
    ids: set[str] = set()
    if not path.is_file():
        issues.append(
            ValidationIssue(
                name,
                None,
                None,
                None,
                "missing file; every table must be present (header only when empty)",
            )
        )
        return records, lines, None
    if csv.field_size_limit() < FIELD_LIMIT:
        csv.field_size_limit(FIELD_LIMIT)
    nul = _NulLines()
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(nul.lines(handle))
            header = next(reader, None)
            if header is None:
                issues.append(
                    ValidationIssue(name, None, None, None, "empty file; the header row is missing")
                )
                return records, lines, None
            readable = _check_header(model, header, issues, version)
            parser = _RowParser(model, name, header, today or registry_today())
            id_position = header.index(model.id_field) if model.id_field in header else None
            ref_positions = [
                (header.index(column), column, target)
                for column, target in references(model).items()
                if column in header
            ]
            width = len(header)
            for row in reader:
                line = reader.line_num
                if row and max(map(len, row)) > MAX_CELL:
                    _overlong(name, line, header, row, issues)
                    if id_position is not None and id_position < len(row) and row[id_position]:
                        ids.add(row[id_position][:MAX_CELL])
                    continue
                if not readable or len(row) != width:
                    # Identifiers of rows that are not read still count as present.
                    if id_position is not None and id_position < len(row) and row[id_position]:
                        ids.add(row[id_position])
                    if not readable:
                        continue
                    issues.append(
                        ValidationIssue(
                            name,
                            line,
                            None,
                            None,
                            f"{len(row)} cells but the header has {width}",
                        )
                    )
                    continue
                record = parser.parse(line, row, issues)
                if record is not None:
                    records.append(record)
                    lines.append(line)
                else:
                    if id_position is not None and row[id_position]:
                        ids.add(row[id_position])
                    pending.extend(
                        (name, line, column, row[position], target)
                        for position, column, target in ref_positions
                        if row[position]
                    )
    except UnicodeDecodeError as error:
        issues.append(_not_utf8(path, name, error))
        return records, lines, None
    except csv.Error as error:
        issues.append(
            ValidationIssue(name, reader.line_num, None, None, f"not readable as CSV: {error}")
        )
        return records, lines, None
    finally:
        nul.report(name, issues)
    ids.update(map(operator.attrgetter(model.id_field), records))
    return records, lines, ids


class _NulLines:
    """Passes the lines of a file on, noting those with NUL bytes (binary, not CSV text)."""

    def __init__(self) -> None:
        self.first: int | None = None
        self.count = 0

    def lines(self, handle: Iterator[str]) -> Iterator[str]:
        """The lines of ``handle``, unchanged."""
        for number, text in enumerate(handle, start=1):
            if "\x00" in text:
                self.count += 1
                if self.first is None:
                    self.first = number
            yield text

    def report(self, name: str, issues: list[ValidationIssue]) -> None:
        """One issue for the NUL bytes of the file, at the first line that has one."""
        if self.first is None:
            return
        more = f" (and {self.count - 1} more line(s))" if self.count > 1 else ""
        issues.append(
            ValidationIssue(
                name,
                self.first,
                None,
                None,
                f"NUL byte (\\0) in the line{more}; not a text CSV file: save it as CSV UTF-8",
            )
        )


def _overlong(
    name: str, line: int, header: list[str], row: list[str], issues: list[ValidationIssue]
) -> None:
    """Report every cell of ``row`` longer than :data:`MAX_CELL`."""
    for position, text in enumerate(row):
        if len(text) > MAX_CELL:
            column = header[position] if position < len(header) else None
            issues.append(
                ValidationIssue(
                    name,
                    line,
                    column,
                    text[:40] + "...",
                    f"a cell of {len(text):,} characters; at most {MAX_CELL:,} allowed",
                )
            )


def _not_utf8(path: Path, name: str, error: UnicodeDecodeError) -> ValidationIssue:
    """The issue of a file that is not UTF-8, at the first line that is not."""
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as bad:
                return ValidationIssue(
                    name,
                    number,
                    None,
                    None,
                    f"not UTF-8 text: {bad.reason} at byte {bad.start + 1} of the line; "
                    "save the file as CSV UTF-8",
                )
    return ValidationIssue(name, None, None, None, f"not UTF-8 text: {error.reason}")


class _RowParser:
    """Turns the cells of one CSV row into a validated record, or issues.

    The fast path builds the field dict once and lets pydantic parse the text; the
    detailed path runs only for rows that fail.
    """

    def __init__(self, model: type[Record], name: str, header: list[str], today: Today) -> None:
        index = column_index(model)
        self.model = model
        self.context = {"today": today}
        self.name = name
        self.index = index
        self.columns = [(i, index[c]) for i, c in enumerate(header) if c in index]
        self.bools = [(i, c.name) for i, c in self.columns if c.kind == "bool"]
        self.lists = [(i, c.name) for i, c in self.columns if c.kind == "list"]
        self.plain = [(i, c.name) for i, c in self.columns if c.kind not in ("bool", "list")]

    def parse(self, line: int, row: list[str], issues: list[ValidationIssue]) -> Record | None:
        values: dict[str, Any] = {name: row[i] for i, name in self.plain if row[i]}
        cell_errors = False
        for i, name in self.bools:
            text = row[i]
            if text:
                parsed = _BOOLEANS.get(text)
                if parsed is None:
                    allowed = self.index[name].allowed
                    issues.append(
                        ValidationIssue(
                            self.name, line, name, text, f"not a boolean; allowed: {allowed}"
                        )
                    )
                    cell_errors = True
                else:
                    values[name] = parsed
        for i, name in self.lists:
            if row[i]:
                values[name] = row[i].split(LIST_SEPARATOR)
        try:
            record = self.model.model_validate(values, context=self.context)
        except ValidationError as error:
            self._explain(line, values, error, issues)
            return None
        return None if cell_errors else record

    def _explain(
        self,
        line: int,
        values: dict[str, Any],
        error: ValidationError,
        issues: list[ValidationIssue],
    ) -> None:
        for detail in error.errors(include_url=False):
            loc = detail["loc"]
            column_name = str(loc[0]) if loc else None
            column = self.index.get(column_name) if column_name else None
            value: Any = values.get(column_name, "") if column_name else None
            if column is not None and column.kind == "list" and len(loc) > 1:
                value = value[int(loc[1])]
            issues.append(
                ValidationIssue(
                    self.name, line, column_name, _cell(value), error_message(detail, column)
                )
            )


_BOOLEANS = {"true": True, "false": False}


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return LIST_SEPARATOR.join(value)
    return "" if value is None else str(value)


_FILE_ORDER = {INFO_FILE: 0} | {file_name(m): i + 1 for i, m in enumerate(ENTITIES)}


def _file_order(issue: ValidationIssue) -> tuple[int, int]:
    """Sort key: dataset.json, then files in data-model order, then line number."""
    return _FILE_ORDER.get(issue.file, len(_FILE_ORDER)), issue.row or 0


def load_dataset(directory: str | os.PathLike[str]) -> tuple[Dataset, ValidationReport]:
    """Read and validate a dataset folder.

    Returns the dataset (only its valid rows) and the report of every problem. Use
    :func:`read_dataset` when a dataset with problems must not be used at all.
    """
    folder = Path(directory)
    report = ValidationReport()
    if not folder.is_dir():
        report.issues.append(
            ValidationIssue(
                str(folder), None, None, None, "not a folder; a dataset is a folder of CSV files"
            )
        )
        return Dataset(), report
    with collection_paused():
        dataset = _load(folder, report)
    return dataset, report


def _load(folder: Path, report: ValidationReport) -> Dataset:
    issues: list[ValidationIssue] = []
    dataset = Dataset(info=_read_info(folder, issues))
    lines: dict[str, list[int]] = {}
    known: dict[str, set[str] | None] = {}
    pending: list[PendingReference] = []
    today = registry_today()
    for model in ENTITIES:
        records, numbers, ids = _read_table(
            folder, model, issues, pending, dataset.info.schema_version, today
        )
        getattr(dataset, model.table).extend(records)
        lines[model.table] = numbers
        known[model.table] = ids
    for name, line, column, value, target in pending:
        ids = known[target]
        if ids is not None and value not in ids:
            issues.append(
                ValidationIssue(
                    name, line, column, value, f"unknown {column}: no such row in {target}.csv"
                )
            )
    issues.extend(check_dataset(dataset, lines=lines, known_ids=known))
    issues.sort(key=_file_order)
    report.issues = issues
    report.counts = dataset.counts()
    return dataset


def read_dataset(directory: str | os.PathLike[str]) -> Dataset:
    """Read a dataset folder; raise :class:`DatasetError` with every problem if invalid."""
    dataset, report = load_dataset(directory)
    if not report.valid:
        raise DatasetError(report)
    return dataset
