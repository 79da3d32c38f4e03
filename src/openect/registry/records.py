"""Conversion between registry rows and the canonical records, and centre ownership."""

from __future__ import annotations

import datetime as dt
from enum import Enum
from functools import cache
from typing import Any

from openect.data.models import AS_STORED, ENTITIES, Centre, Record
from openect.data.schema import columns
from openect.errors import InputError
from openect.registry.guard import GuardedModel
from openect.registry.models import REGISTRY_MODELS


def entity(name: str | type[Record]) -> type[Record]:
    """The data-model entity named ``name`` (table name such as ``lesions``, or the class)."""
    if isinstance(name, type):
        return name
    for record in ENTITIES:
        if name in (record.table, record.__name__, record.__name__.lower()):
            return record
    allowed = ", ".join(r.table for r in ENTITIES)
    raise InputError(f"entity={name!r}: unknown; allowed {allowed}")


def registry_model(record: type[Record]) -> type[GuardedModel]:
    """The registry (Django) model of an entity."""
    return REGISTRY_MODELS[record]


def column_names(record: type[Record]) -> list[str]:
    """Column names of an entity; each is also the attribute name of its row."""
    return [c.name for c in columns(record)]


def to_row_values(record: Record) -> dict[str, Any]:
    """Field values of ``record`` as registry column values (enums as text, lists joined)."""
    out: dict[str, Any] = {}
    for column in columns(type(record)):
        value = getattr(record, column.name)
        if column.kind == "list":
            value = ";".join(item.value for item in value) if value else None
        elif isinstance(value, Enum):
            value = value.value
        out[column.name] = value
    return out


def from_row_values(record: type[Record], values: dict[str, Any]) -> Record:
    """The canonical record of registry column ``values`` (validated by the model; its
    dates are not judged again against today: see :data:`~openect.data.models.AS_STORED`)."""
    data = {}
    for column in columns(record):
        value = values.get(column.name)
        if column.kind == "list":
            value = [part for part in value.split(";") if part] if value else []
        data[column.name] = value
    return record.model_validate(data, context=AS_STORED)


def to_json(values: dict[str, Any]) -> dict[str, Any]:
    """Registry column values as JSON (dates and times in ISO 8601) for the audit trail."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dt.date | dt.time):
            value = value.isoformat()
        out[key] = value
    return out


@cache
def centre_path(record: type[Record]) -> str:
    """ORM lookup from a row of ``record`` to its centre id, e.g. ``lesion__patient__centre_id``.

    Follows the first reference column that leads to the centres table.
    """
    if record is Centre:
        return "centre_id"
    for column in columns(record):
        if column.references is None:
            continue
        target = entity(column.references)
        relation = column.name.removesuffix("_id")
        if target is Centre:
            return f"{relation}_id"
        try:
            return f"{relation}__{centre_path(target)}"
        except LookupError:
            continue
    raise LookupError(f"{record.__name__} has no reference leading to a centre")


def patient_path(record: type[Record]) -> str | None:
    """ORM lookup from a row of ``record`` to its patient id; None for centres."""
    path = centre_path(record)
    if record is Centre:
        return None
    if path == "centre_id":
        return "patient_id"
    parts = path.split("__")
    index = parts.index("patient")
    return "__".join(parts[:index]) + ("__" if index else "") + "patient_id"
