"""Schemas and error handling shared by the API routers.

Request and response schemas are the data model's pydantic records or models derived
from them with :func:`pydantic.create_model` (never a second field list). Errors have
one shape: ``{"detail": "message"}`` for 400, 401, 403, 404, 409 and 503, and
``{"detail": [{"loc": [...], "msg": "...", "value": "..."}]}`` for 422, worded as
``openect data validate`` words them (e.g. ``out of range; allowed: > 0 and <= 500 mm``).
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import types
from collections.abc import Callable, Mapping, Sequence
from enum import Enum, StrEnum
from typing import Any, Literal, Optional, Union, get_args, get_origin

from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI, Schema
from ninja.errors import ValidationError as NinjaValidationError
from pydantic import BaseModel, ConfigDict, Field, create_model
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from openect.data.field_errors import error_message
from openect.data.models import ENTITIES, Record
from openect.data.schema import Column, column_index, columns
from openect.errors import (
    OpenECTError,
    RecordInvalidError,
    http_status,
)
from openect.protocol.rules import shipped_rule_sets
from openect.registry.access import Actor
from openect.registry.pseudonym import PseudonymKeyError

#: Largest page of a list endpoint.
MAX_LIMIT = 1000
#: Page size when ``limit`` is not given.
DEFAULT_LIMIT = 100

#: Request fields whose value must never be echoed in an error (or logged).
SECRET_FIELDS = frozenset({"hospital_number"})


# ----------------------------------------------------------------------------- errors
class ErrorItem(Schema):
    """One problem with the input: where, what is wrong and allowed, and the value given."""

    loc: list[str | int] = Field(
        description="Field path in the request body (e.g. ['longest_diameter_mm'] or "
        "['lesions', 0, 'thickness_mm']), or ['query', NAME] / ['path', NAME]"
    )
    msg: str = Field(description="What is wrong and what is allowed")
    value: str | None = Field(None, description="The value given, as text (None if absent)")


class InvalidInput(Schema):
    """422: the input breaks a rule of the data model or the planner; nothing was written."""

    detail: list[ErrorItem]


class Message(Schema):
    """Any other error: a sentence saying what went wrong."""

    detail: str


#: Error responses every operation may give (authentication, missing role, bad input).
COMMON_ERRORS: dict[int, type[Schema]] = {
    400: Message,
    401: Message,
    403: Message,
    422: InvalidInput,
}


def responses(ok: Mapping[int, Any], *extra: int) -> dict[int, Any]:
    """The ``response=`` of an operation: its success schemas plus the error schemas."""
    out: dict[int, Any] = dict(ok)
    out.update(COMMON_ERRORS)
    for status in extra:
        out[status] = Message
    return out


def actor_of(request: HttpRequest) -> Actor:
    """The registry actor of the authenticated caller (AccessDeniedError without a role)."""
    user = getattr(request, "auth", None) or getattr(request, "user", None)
    return Actor.of(user)


#: Body models of each operation, by its URL name and union tag ("" without a union).
_BODY_MODELS: dict[str, dict[str, type[BaseModel]]] = {}


def register_body(url_name: str, model: type[BaseModel], **tagged: type[BaseModel]) -> None:
    """Remember the body model of the operation named ``url_name`` (see :func:`install`).

    ``tagged`` are the members of a tagged union body, by tag.
    """
    _BODY_MODELS[url_name] = {"": model, **tagged}


def _unwrap(annotation: Any) -> list[Any]:
    """The non-None members of an annotation (unions and lists opened up)."""
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        return [m for arg in get_args(annotation) if arg is not type(None) for m in _unwrap(arg)]
    if origin in (list, tuple, Sequence):
        return [m for arg in get_args(annotation) for m in _unwrap(arg)]
    return [annotation]


class _Place:
    """Where a location inside a body model points: the field and the cleaned path."""

    def __init__(self, model: type[BaseModel] | None, path: Sequence[str | int]) -> None:
        self.owner: type[BaseModel] | None = None
        self.name: str | None = None
        self.info: FieldInfo | None = None
        #: the path without union tags and model names
        self.path: list[str | int] = []
        current = model
        for part in path:
            if isinstance(part, int):
                self.path.append(part)
                continue
            if current is None:
                self.path.append(part)
                self.owner = self.name = self.info = None
                continue
            info = current.model_fields.get(part)
            if info is None:
                continue  # a union tag or a model name
            self.path.append(part)
            self.owner, self.name, self.info = current, part, info
            inner = [m for m in _unwrap(info.annotation) if isinstance(m, type)]
            models = [m for m in inner if issubclass(m, BaseModel)]
            current = models[0] if len(models) == 1 else None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


#: Models derived from a record (PATCH bodies, registration): their columns' wording.
_SOURCE_RECORD: dict[type[BaseModel], type[Record]] = {}


def derived_from(model: type[BaseModel], record: type[Record]) -> type[BaseModel]:
    """Note that ``model``'s fields are columns of ``record`` (for error wording)."""
    _SOURCE_RECORD[model] = record
    return model


def column_of(model: type[BaseModel], name: str, info: FieldInfo) -> Column:
    """The :class:`~openect.data.schema.Column` of any model field (for the wording).

    Fields of a data-model entity (also in models derived from one) use its columns; others
    get a column with their bounds, enum and unit.
    """
    source = _SOURCE_RECORD.get(model) or next(
        (base for base in model.__mro__ if base in ENTITIES), None
    )
    if source is not None:
        index = column_index(source)
        if name in index:
            return index[name]
    enum: type[StrEnum] | None = None
    kind: Literal["str", "int", "float", "bool", "date", "time", "enum", "list"] = "str"
    for member in _unwrap(info.annotation):
        if isinstance(member, type) and issubclass(member, StrEnum):
            enum, kind = member, "enum"
        elif member is bool:
            kind = "bool"
        elif member is int:
            kind = "int"
        elif member is float:
            kind = "float"
        elif member is dt.date:
            kind = "date"
        elif member is dt.time:
            kind = "time"
    bounds: dict[str, float | None] = {"gt": None, "ge": None, "lt": None, "le": None}
    for meta in info.metadata:
        for key in bounds:
            if hasattr(meta, key):
                bounds[key] = _number(getattr(meta, key))
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    unit = extra.get("unit")
    return Column(
        name=name,
        kind=kind,
        required=info.is_required(),
        description=info.description,
        unit=str(unit) if unit is not None else None,
        references=None,
        enum=enum,
        gt=bounds["gt"],
        ge=bounds["ge"],
        lt=bounds["lt"],
        le=bounds["le"],
    )


#: Longest value echoed in a 422 response (characters); longer values are cut with "…".
ECHO_LIMIT = 64


def _text(value: Any) -> str | None:
    """``value`` as echoed in an error item: text, at most :data:`ECHO_LIMIT` characters."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value
    else:
        try:
            text = json.dumps(value, default=str, ensure_ascii=False)
        except (TypeError, ValueError):
            text = str(value)
    return text if len(text) <= ECHO_LIMIT else text[: ECHO_LIMIT - 1] + "…"


_MISSING = object()


def _value_at(data: Any, path: Sequence[str | int]) -> Any:
    """The value at ``path`` in parsed JSON ``data``; ``_MISSING`` if there is none."""
    for part in path:
        if isinstance(data, list) and isinstance(part, int) and -len(data) <= part < len(data):
            data = data[part]
            continue
        if not isinstance(data, dict) or part not in data:
            return _MISSING
        data = data[part]
    return data


def _body_of(request: HttpRequest) -> Any:
    try:
        return json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError):
        return None


def _validation_items(request: HttpRequest, errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """ninja's validation errors as :class:`ErrorItem` dicts, in the data model's wording."""
    match = getattr(request, "resolver_match", None)
    variants = _BODY_MODELS.get(getattr(match, "url_name", None) or "", {})
    body: Any = _MISSING
    items = []
    for error in errors:
        loc = [part for part in error.get("loc", ()) if isinstance(part, str | int)]
        detail: ErrorDetails = {
            "type": str(error.get("type", "")),
            "loc": tuple(loc),
            "msg": str(error.get("msg", "")),
            "input": None,
        }
        if "ctx" in error:
            detail["ctx"] = error["ctx"]
        if not loc or loc[0] != "body":
            items.append(_parameter_item(request, detail, loc))
            continue
        path = loc[2:]  # "body", the parameter's name, then the field path
        model = variants.get("")
        if path and isinstance(path[0], str) and path[0] in variants:
            model, path = variants[path[0]], path[1:]
        if body is _MISSING:
            body = _body_of(request)
        place = _Place(model, path)
        found = _value_at(body, place.path)
        value = None if found is _MISSING else found
        if detail["type"] == "extra_forbidden":
            parent = _Place(model, path[:-1])
            owner = parent.info and [
                m
                for m in _unwrap(parent.info.annotation)
                if isinstance(m, type) and issubclass(m, BaseModel)
            ]
            allowed = owner[0] if owner else (model if len(path) <= 1 else None)
            message = (
                "unknown field; allowed: " + ", ".join(allowed.model_fields)
                if allowed is not None
                else "unknown field"
            )
            place.path = parent.path + path[-1:]
            value = None  # an unknown field's value is never echoed (it may be anything)
        elif place.owner is not None and place.name is not None and place.info is not None:
            column = column_of(place.owner, place.name, place.info)
            if found is None and column.required and detail["type"] != "missing":
                message = error_message({**detail, "type": "missing"}, column)
            else:
                message = error_message(detail, column)
        else:
            message = error_message(detail, None)
        if place.name in SECRET_FIELDS or (place.path and place.path[-1] in SECRET_FIELDS):
            value = None
        value = _without_secrets(value)
        items.append({"loc": place.path or ["body"], "msg": message, "value": _text(value)})
    return items


def _without_secrets(value: Any) -> Any:
    """``value`` with every :data:`SECRET_FIELDS` key inside it removed (never echoed)."""
    if isinstance(value, dict):
        return {k: _without_secrets(v) for k, v in value.items() if k not in SECRET_FIELDS}
    if isinstance(value, list):
        return [_without_secrets(v) for v in value]
    return value


def _parameter_item(
    request: HttpRequest, detail: ErrorDetails, loc: list[str | int]
) -> dict[str, Any]:
    """The :class:`ErrorItem` of a query or path parameter (the bound it broke as allowed)."""
    name = str(loc[-1]) if len(loc) > 1 else ""
    value: Any = None
    if loc and loc[0] == "query":
        value = request.GET.get(name)
    elif loc and loc[0] == "path":
        match = getattr(request, "resolver_match", None)
        value = getattr(match, "kwargs", {}).get(name)
    ctx = detail.get("ctx") or {}
    bounds = {key: _number(ctx.get(key)) for key in ("gt", "ge", "lt", "le")}
    column = None
    if any(bound is not None for bound in bounds.values()):
        column = Column(
            name=name,
            kind="float",
            required=False,
            description=None,
            unit=None,
            references=None,
            enum=None,
            gt=bounds["gt"],
            ge=bounds["ge"],
            lt=bounds["lt"],
            le=bounds["le"],
        )
    return {"loc": loc, "msg": error_message(detail, column), "value": _text(value)}


def invalid(items: list[dict[str, Any]]) -> dict[str, Any]:
    """The body of a 422 response."""
    return {"detail": items}


def record_issues(error: RecordInvalidError) -> list[dict[str, Any]]:
    """The issues of a RecordInvalidError as :class:`ErrorItem` dicts."""
    return [
        {"loc": [column] if column else [], "msg": message, "value": _text(value)}
        for column, value, message in error.issues
    ]


#: A time of day as the data model writes it (JSON Schema's ``time`` format needs an offset).
TIME_OF_DAY = r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?$"


def local_times(node: Any) -> Any:
    """An OpenAPI document with every ``format: time`` replaced by :data:`TIME_OF_DAY`.

    The registry's times are local times of day without a time zone ("09:15:00");
    JSON Schema's ``time`` format (RFC 3339) requires one.
    """
    if isinstance(node, dict):
        out = {key: local_times(value) for key, value in node.items()}
        if out.get("format") == "time" and out.get("type") == "string":
            del out["format"]
            out["pattern"] = TIME_OF_DAY
        return out
    if isinstance(node, list):
        return [local_times(item) for item in node]
    return node


def install(api: NinjaAPI) -> None:
    """Map the registry's and ninja's exceptions to the API's error responses, and
    describe times of day as the data model writes them in the OpenAPI document."""
    generate = api.get_openapi_schema

    def get_openapi_schema(*args: Any, **kwargs: Any) -> Any:
        return local_times(generate(*args, **kwargs))

    api.get_openapi_schema = get_openapi_schema  # type: ignore[method-assign]

    def detail(
        status: Callable[[OpenECTError], int], text: Callable[[Exception], str] = str
    ) -> Any:
        def handler(request: HttpRequest, error: Any) -> HttpResponse:
            return api.create_response(request, {"detail": text(error)}, status=status(error))

        return handler

    def no_key(error: Exception) -> str:
        return f"patient registration is not available on this server: {error}"

    def on_invalid_record(request: HttpRequest, error: Any) -> HttpResponse:
        return api.create_response(request, invalid(record_issues(error)), status=422)

    def on_validation(request: HttpRequest, error: Any) -> HttpResponse:
        items = _validation_items(request, list(error.errors))
        return api.create_response(request, invalid(items), status=422)

    api.add_exception_handler(RecordInvalidError, on_invalid_record)
    api.add_exception_handler(PseudonymKeyError, detail(http_status, no_key))
    api.add_exception_handler(OpenECTError, detail(http_status))
    api.add_exception_handler(NinjaValidationError, on_validation)


# ----------------------------------------------------------------------------- derived models
def optional_copy(info: FieldInfo) -> FieldInfo:
    """``info`` with every constraint kept but no longer required (default None)."""
    out = copy.copy(info)
    out.default = None
    out.default_factory = None
    return out


def changes_model(record: type[Record]) -> type[BaseModel]:
    """PATCH body of ``record``: every column but the identifier, each optional."""
    fields: dict[str, Any] = {
        name: (info.annotation, optional_copy(info))
        for name, info in record.model_fields.items()
        if name != record.id_field
    }
    model = create_model(
        f"{record.__name__}Changes",
        __config__=ConfigDict(extra="forbid", allow_inf_nan=False),
        __doc__=f"Columns of {record.table} to change (others keep their values).",
        **fields,
    )
    return derived_from(model, record)


def creation_model(record: type[Record]) -> type[BaseModel]:
    """POST body of ``record``: its columns, the identifier optional where the registry
    numbers it under its parent (``P1-L3``; see ``services.create_numbered``)."""
    if record.id_parent is None:
        return record
    fields: dict[str, Any] = {
        name: (Optional[info.annotation], optional_copy(info))  # noqa: UP045
        if name == record.id_field
        else (info.annotation, info)
        for name, info in record.model_fields.items()
    }
    model = create_model(
        f"New{record.__name__}",
        __config__=ConfigDict(extra="forbid", allow_inf_nan=False),
        __doc__=f"A new row of {record.table}. Leave `{record.id_field}` out and the "
        f"registry numbers it: `<{record.id_parent}>-{record.id_prefix}<n>`.",
        **fields,
    )
    return derived_from(model, record)


def filter_model(record: type[Record]) -> type[BaseModel] | None:
    """Query filters of ``record``'s list: one optional parameter per reference column."""
    fields: dict[str, Any] = {
        c.name: (
            str | None,
            Field(
                None, max_length=200, description=f"Only rows with this {c.name} ({c.references})"
            ),
        )
        for c in columns(record)
        if c.references is not None
    }
    if not fields:
        return None
    return create_model(f"{record.__name__}Filters", **fields)


def page_model(item: type[BaseModel], name: str) -> type[BaseModel]:
    """A page of a list: ``count`` (all matching rows), ``limit``, ``offset``, ``items``."""
    return create_model(
        name,
        __doc__="One page of the rows in your scope, in registry order.",
        count=(int, Field(description="Number of matching rows in your scope (all pages)")),
        limit=(int, Field(description="Page size asked for")),
        offset=(int, Field(description="Rows skipped before this page")),
        items=(list[item], Field(description="The rows of this page")),  # type: ignore[valid-type]
    )


def _rule_set_enum() -> type[StrEnum]:
    names = shipped_rule_sets()
    return StrEnum("RuleSetId", {name.upper().replace("-", "_"): name for name in names})  # type: ignore[return-value]


#: Rule sets the API accepts: those shipped with OpenECT (never a file path).
RuleSetId: type[StrEnum] = _rule_set_enum()


def naive_times(table: str, values: Mapping[str, Any]) -> None:
    """Refuse times of day with a time zone (the registry stores local times of day)."""
    issues: list[tuple[str | None, str | None, str]] = []
    for name, value in values.items():
        if isinstance(value, dt.time) and value.tzinfo is not None:
            issues.append(
                (
                    name,
                    value.isoformat(),
                    "has a time zone; allowed: a time of day HH:MM or HH:MM:SS",
                )
            )
    if issues:
        raise RecordInvalidError(table, issues)


def enum_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` with enum members as their text (as the services' callers give them)."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, Enum):
            value = value.value
        elif isinstance(value, list):
            value = [v.value if isinstance(v, Enum) else v for v in value]
        out[key] = value
    return out


__all__ = [
    "COMMON_ERRORS",
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "ErrorItem",
    "InvalidInput",
    "Message",
    "RuleSetId",
    "actor_of",
    "changes_model",
    "column_of",
    "derived_from",
    "enum_values",
    "filter_model",
    "install",
    "invalid",
    "naive_times",
    "optional_copy",
    "page_model",
    "record_issues",
    "register_body",
    "responses",
]
