"""Pydantic validation errors as field errors: the one translator of OpenECT.

Every adapter (the CSV reader, the registry services, the web forms, the REST API and
the command line) words a broken rule the same way: the field, the value given and what
is allowed, e.g. ``longest_diameter_mm='0': out of range; allowed: > 0 and <= 500 mm``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from openect.data.models import ID_PATTERN, Record
from openect.data.schema import Column, column_index

#: Plain words for pydantic's error types of a column.
PARSE_MESSAGES = {
    "missing": "required; must not be empty",
    "float_parsing": "not a number",
    "finite_number": "not a finite number",
    "int_parsing": "not an integer",
    "int_from_float": "not an integer",
    "date_parsing": "not a date",
    "date_from_datetime_parsing": "not a date",
    "date_from_datetime_inexact": "not a date",
    "time_parsing": "not a time of day",
    "enum": "not an allowed value",
    "greater_than": "out of range",
    "greater_than_equal": "out of range",
    "less_than": "out of range",
    "less_than_equal": "out of range",
    "string_too_short": "too short",
    "string_too_long": "too long",
}


def error_message(error: ErrorDetails, column: Column | None) -> str:
    """The message of one pydantic error of a column, worded as everywhere in OpenECT.

    E.g. ``out of range; allowed: > 0 and <= 500 mm`` - shared by the CSV reader, the
    registry services, the web forms and the API.
    """
    kind = error["type"]
    if kind == "value_error":
        ctx = error.get("ctx") or {}
        return str(ctx.get("error", error["msg"]))
    if kind == "missing":
        return PARSE_MESSAGES[kind]
    if kind == "string_pattern_mismatch" and column is not None:
        if column.pattern == ID_PATTERN:
            return f"not a valid identifier; allowed: {column.allowed}"
        return f"does not match the allowed pattern; allowed: {column.allowed}"
    reason = PARSE_MESSAGES.get(kind, error["msg"])
    return reason if column is None else f"{reason}; allowed: {column.allowed}"


def _model_message(error: ErrorDetails) -> str:
    """The message of a pydantic error of a model that is not a data-model record:
    the rule's own message, or pydantic's (which names the bound)."""
    if error["type"] == "value_error":
        ctx = error.get("ctx") or {}
        return str(ctx.get("error", error["msg"]))
    return str(error["msg"])


def field_path(loc: tuple[int | str, ...]) -> str:
    """A pydantic location as a dotted path: ``lesions[0].longest_diameter_mm``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


@dataclass(frozen=True)
class FieldError:
    """One broken rule: the field (dotted path; None for the whole record), the value
    given (None when there is none to show) and the message."""

    field: str | None
    value: Any
    message: str

    @property
    def shown_value(self) -> str | None:
        """The value as text (None when absent, or a whole object or list)."""
        if self.value is None or isinstance(self.value, dict | list):
            return None
        return str(self.value)

    def __str__(self) -> str:
        """``FIELD=VALUE: message`` (``FIELD: message`` without a value)."""
        shown = self.shown_value
        where = (self.field or "") + ("" if shown is None else f"={shown!r}")
        return f"{where}: {self.message}" if where else self.message


def field_errors(
    error: ValidationError,
    model: type[BaseModel] | None = None,
    values: Mapping[str, Any] | None = None,
) -> list[FieldError]:
    """The field errors of ``error``, raised validating ``values`` as ``model``.

    For a data-model record (``model`` a :class:`Record`) the messages name the
    column's allowed range and unit; for other models (planning requests) they are the
    rule's or pydantic's own, which name the bound; ``values`` (when given) supply the value shown,
    else pydantic's input is shown.
    """
    record = isinstance(model, type) and issubclass(model, Record)
    index = column_index(model) if record else {}
    out: list[FieldError] = []
    for detail in error.errors(include_url=False):
        loc = tuple(detail["loc"])
        name = str(loc[0]) if loc else None
        column = index.get(name) if name else None
        if values is not None and len(loc) == 1 and name is not None:
            value = values.get(name)
        else:
            value = detail.get("input") if loc else None
        message = error_message(detail, column) if record else _model_message(detail)
        out.append(FieldError(field_path(loc) or None, value, message))
    return out
