"""Column specifications derived from the canonical models.

Everything that needs a field list (the CSV codec, validation messages, the
``openect data schema`` command, later the registry tables and exports) reads it
from here, and this module reads it from the pydantic models: never typed twice.
"""

from __future__ import annotations

import datetime as dt
import types
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types as at
from pydantic import AfterValidator
from pydantic.fields import FieldInfo

from openect.data.models import ENTITIES, ID_PATTERN, NOT_IN_FUTURE_CHECKS, Record

Kind = Literal["str", "int", "float", "bool", "date", "time", "enum", "list"]


@dataclass(frozen=True)
class Column:
    """One column of a dataset table, as derived from a model field."""

    name: str
    kind: Kind
    required: bool
    description: str | None
    unit: str | None
    references: str | None
    enum: type[StrEnum] | None
    gt: float | None = None
    ge: float | None = None
    lt: float | None = None
    le: float | None = None
    pattern: str | None = None
    vocabulary: str | None = None
    free_text: bool = False
    #: Schema version that added the column (None: in every version).
    since: str | None = None
    #: Not after the registry's today (a date) or its current year (a year of birth).
    not_in_future: bool = False

    @property
    def allowed(self) -> str:
        """Human description of the allowed values, e.g. ``0 to 4`` or ``> 0 and <= 500``."""
        if self.vocabulary is not None:
            return self.vocabulary
        if self.pattern == ID_PATTERN:
            return "an identifier: letters, digits and . _ : - (at most 64)"
        if self.enum is not None:
            prefix = "semicolon-separated list of " if self.kind == "list" else "one of "
            return prefix + ", ".join(member.value for member in self.enum)
        if self.kind == "bool":
            return "true or false"
        if self.kind == "date":
            return "a date YYYY-MM-DD" + (", not after today" if self.not_in_future else "")
        if self.kind == "time":
            return "a time of day HH:MM or HH:MM:SS"
        parts: list[str] = []
        if self.ge is not None and self.le is not None:
            later = ", not after the current year" if self.not_in_future else ""
            return f"{_num(self.ge)} to {_num(self.le)}" + _unit(self.unit) + later
        if self.gt is not None:
            parts.append(f"> {_num(self.gt)}")
        if self.ge is not None:
            parts.append(f">= {_num(self.ge)}")
        if self.lt is not None:
            parts.append(f"< {_num(self.lt)}")
        if self.le is not None:
            parts.append(f"<= {_num(self.le)}")
        if parts:
            return " and ".join(parts) + _unit(self.unit)
        if self.kind == "int":
            return "an integer"
        if self.kind == "float":
            return "a number" + _unit(self.unit)
        if self.pattern is not None:
            return f"text matching `{self.pattern}`"
        return "text"


def _num(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _unit(unit: str | None) -> str:
    return f" {unit}" if unit else ""


def _kind(annotation: Any) -> tuple[Kind, type[StrEnum] | None]:
    origin = get_origin(annotation)
    if origin is Annotated:
        return _kind(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        inner = [arg for arg in get_args(annotation) if arg is not type(None)]
        return _kind(inner[0])
    if origin is list:
        (item,) = get_args(annotation)
        return "list", item
    if isinstance(annotation, type) and issubclass(annotation, StrEnum):
        return "enum", annotation
    simple: dict[Any, Kind] = {
        str: "str",
        int: "int",
        float: "float",
        bool: "bool",
        dt.date: "date",
        dt.time: "time",
    }
    return simple[annotation], None


def _not_in_future(info: FieldInfo) -> bool:
    """Whether a field's type holds a check of :data:`~openect.data.models.NOT_IN_FUTURE_CHECKS`
    (in the field's metadata or in an ``Annotated`` of its, possibly optional, type)."""
    found = list(info.metadata)
    todo = [info.annotation]
    while todo:
        annotation = todo.pop()
        if get_origin(annotation) is Annotated:
            inner, *metadata = get_args(annotation)
            found.extend(metadata)
            todo.append(inner)
        elif get_origin(annotation) in (Union, types.UnionType):
            todo.extend(get_args(annotation))
    return any(
        isinstance(meta, AfterValidator) and meta.func in NOT_IN_FUTURE_CHECKS for meta in found
    )


@cache
def columns(model: type[Record]) -> tuple[Column, ...]:
    """The columns of ``model``'s table, in data-model order."""
    out: list[Column] = []
    for name, info in model.model_fields.items():
        kind, enum = _kind(info.annotation)
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        bounds: dict[str, Any] = {}
        for meta in info.metadata:
            for key in ("gt", "ge", "lt", "le"):
                if isinstance(meta, getattr(at, key.capitalize())):
                    bounds[key] = getattr(meta, key)
            if hasattr(meta, "pattern") and meta.pattern is not None:
                bounds["pattern"] = meta.pattern
        unit = extra.get("unit")
        vocabulary = extra.get("allowed")
        reference = extra.get("references")
        since = extra.get("since")
        out.append(
            Column(
                name=name,
                kind=kind,
                required=info.is_required(),
                description=info.description,
                unit=str(unit) if unit is not None else None,
                references=str(reference) if reference is not None else None,
                enum=enum,
                vocabulary=str(vocabulary) if vocabulary is not None else None,
                free_text=bool(extra.get("free_text", False)),
                since=str(since) if since is not None else None,
                not_in_future=_not_in_future(info),
                **bounds,
            )
        )
    return tuple(out)


@cache
def column_index(model: type[Record]) -> dict[str, Column]:
    """Columns of ``model`` by name."""
    return {column.name: column for column in columns(model)}


def file_name(model: type[Record]) -> str:
    """CSV file name of a model's table, e.g. ``lesions.csv``."""
    return f"{model.table}.csv"


def describe() -> list[dict[str, Any]]:
    """The whole dataset schema as JSON-serialisable dicts (files, columns, rules)."""
    tables: list[dict[str, Any]] = []
    for model in ENTITIES:
        tables.append(
            {
                "file": file_name(model),
                "id": model.id_field,
                "description": (model.__doc__ or "").strip().splitlines()[0],
                "columns": [
                    {
                        "name": c.name,
                        "type": c.kind,
                        "required": c.required,
                        "allowed": c.allowed,
                        "unit": c.unit,
                        "references": c.references,
                        "description": c.description,
                        "since": c.since,
                    }
                    for c in columns(model)
                ],
            }
        )
    return tables


def to_markdown() -> str:
    """The dataset schema as a Markdown reference (``docs/dataset-schema.md``)."""
    lines = [
        "# Dataset columns",
        "",
        "Generated from the models in `openect.data.models` by "
        "`openect data schema --markdown`; do not edit by hand.",
        "",
    ]
    for table in describe():
        lines += [f"## {table['file']}", "", table["description"], ""]
        lines += ["| column | type | required | allowed | unit | references | description |"]
        lines += ["|---|---|---|---|---|---|---|"]
        for c in table["columns"]:
            cells = [
                f"`{c['name']}`",
                c["type"],
                "yes" if c["required"] else "",
                c["allowed"].replace("|", "\\|"),
                c["unit"] or "",
                c["references"] or "",
                (c["description"] or "")
                + (
                    f" (since schema {c['since']}; may be absent from older files)"
                    if c["since"]
                    else ""
                ),
            ]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)
