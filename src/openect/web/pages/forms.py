"""Forms generated from models: never a second copy of a field list or a bound.

* :func:`record_form_class`: a form of a data-model record (one field per column, with
  label, unit and choices), in clinical words (:mod:`openect.web.pages.form_words`;
  CTCAE v5.0 terms and grades and EQ-5D-3L levels as choices in words,
  :mod:`openect.web.pages.clinical_fields`). Validation is the registry services' (the
  same messages as the command line): a :class:`~openect.errors.RecordInvalidError` is
  mapped back onto the form's fields by :func:`add_errors`.
* :func:`model_field`: the form field of one field of any pydantic model (e.g. the
  session planner's inputs), with the model's bounds (``ge``/``gt``/``le``/``lt``), its
  description as label, its enum as choices and its default as initial value;
  :func:`flag_choices` the yes/no fields of a model as checkbox choices. The model's own
  errors are put on the fields by :func:`add_field_errors`.
"""

from __future__ import annotations

import datetime as dt
import re
import types
from collections.abc import Iterable, Mapping
from enum import Enum
from functools import cache
from typing import Annotated, Any, Union, get_args, get_origin

import annotated_types as at
from django import forms
from django.core.validators import BaseValidator
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from openect.data.field_errors import FieldError
from openect.data.models import ENTITIES, Record, registry_today
from openect.data.schema import Column, columns
from openect.errors import RecordInvalidError
from openect.formatting import words
from openect.outcomes.eq5d import eq5d_dimensions
from openect.web.pages.clinical_fields import (
    OTHER_TERM,
    AdverseEventTerms,
    ctcae_grade_field,
    ctcae_term_field,
    eq5d_field,
    other_term_field,
)
from openect.web.pages.form_words import choice_words, words_of

#: Value format of ``<input type="date">`` (whatever the language's date format).
ISO_DATE = "%Y-%m-%d"


#: Units as people write them (the data model writes them in ASCII).
UNITS_SHOWN = {"us": "µs", "m2": "m²", "IU/m2": "IU/m²", "IU|mg|mL": "IU, mg or mL"}
#: Words of column names written as acronyms.
ACRONYMS = {
    "bsa": "BSA",
    "ecog": "ECOG",
    "braf": "BRAF",
    "dlco": "DLCO",
    "nrs": "NRS",
    "iu": "IU",
}


def _name(column: Column) -> str:
    """The column's name in words without its unit suffix: ``dose per m²``, ``DLCO date``."""
    text = column.name.replace("_", " ")
    unit = column.unit or ""
    suffix = " " + unit.lower().replace("/", " ")
    if unit and text.endswith(suffix):
        text = text[: -len(suffix)]
    return " ".join(ACRONYMS.get(word, UNITS_SHOWN.get(word, word)) for word in text.split())


def _label(column: Column) -> str:
    """``Dose per m² (IU/m²)``, ``Pulse duration (µs)``: the name in words without its
    unit suffix, then the unit as people write it."""
    text = _name(column)
    label = text[:1].upper() + text[1:]
    unit = column.unit or ""
    return f"{label} ({UNITS_SHOWN.get(unit, unit)})" if unit else label


def form_field(column: Column) -> forms.Field:
    """The form field of one data-model column."""
    common: dict[str, Any] = {
        "required": column.required and column.kind != "bool",
        "label": _label(column),
        "help_text": column.description or "",
    }
    if column.kind == "enum" and column.enum is not None:
        named = column.enum.__name__
        choices = [("", "—")] + [(m.value, choice_words(named, m.value)) for m in column.enum]
        return forms.ChoiceField(choices=choices, **common)
    if column.kind == "list" and column.enum is not None:
        named = column.enum.__name__
        return forms.MultipleChoiceField(
            choices=[(m.value, choice_words(named, m.value)) for m in column.enum],
            widget=forms.CheckboxSelectMultiple,
            **{**common, "required": False},
        )
    if column.kind == "bool":
        return forms.NullBooleanField(
            widget=forms.Select(choices=[("unknown", "unknown"), ("true", "yes"), ("false", "no")]),
            **common,
        )
    # a date (a year of birth) after the registry's today is refused by the data model;
    # the browser's picker offers none (``max``), the message stays the registry's
    latest = registry_today().date if column.not_in_future else None
    if column.kind == "int":
        if latest is not None:
            return forms.IntegerField(**common, widget=forms.NumberInput({"max": latest.year}))
        return forms.IntegerField(**common)
    if column.kind == "float":
        return forms.FloatField(**common, widget=forms.NumberInput(attrs={"step": "any"}))
    if column.kind == "date":
        attrs = {"type": "date"} | ({"max": latest.isoformat()} if latest is not None else {})
        return forms.DateField(**common, widget=forms.DateInput(attrs=attrs, format="%Y-%m-%d"))
    if column.kind == "time":
        return forms.TimeField(
            **common, widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
        )
    return forms.CharField(**common, max_length=500 if column.free_text else 64)


def clinical_field(record: type[Record], column: Column) -> forms.Field:
    """The form field of ``column`` of ``record`` in clinical words: its label and help
    text (:func:`~openect.web.pages.form_words.words_of`), and a choice in words for a
    CTCAE term or grade and an EQ-5D-3L level."""
    field = form_field(column)
    said = words_of(record.table, column.name)
    if said is not None:
        field.label = said.label
        if said.help is not None:
            field.help_text = said.help
    label, help_text = str(field.label), str(field.help_text)
    if record.table == "adverse_events" and column.name == "term":
        return ctcae_term_field(label, help_text)
    if record.table == "adverse_events" and column.name == "grade":
        return ctcae_grade_field(label, help_text, field.required)
    if record.table == "patient_reported" and column.name in eq5d_dimensions():
        return eq5d_field(eq5d_dimensions()[column.name])
    return field


def record_form_class(
    record: type[Record], exclude: Iterable[str] = (), hidden: Iterable[str] = ()
) -> type[forms.Form]:
    """A Django form class with a field per column of ``record`` (minus ``exclude``), in
    clinical words (:func:`clinical_field`). An adverse event's term is a CTCAE v5.0 term
    or ``Other, specify`` with its words (:class:`AdverseEventTerms`)."""
    skip, hide = set(exclude), set(hidden)
    fields: dict[str, forms.Field] = {}
    for column in columns(record):
        if column.name in skip:
            continue
        field = clinical_field(record, column)
        if column.name in hide:
            field.widget = forms.HiddenInput()
        fields[column.name] = field
        if record.table == "adverse_events" and column.name == "term" and column.name not in hide:
            fields[OTHER_TERM] = other_term_field()
    base = AdverseEventTerms if OTHER_TERM in fields else forms.Form
    return type(f"{record.__name__}Form", (base,), fields)


def cleaned_values(form: forms.Form) -> dict[str, Any]:
    """The form's values as record values (empty text as None, lists as lists)."""
    out: dict[str, Any] = {}
    for name, value in form.cleaned_data.items():
        out[name] = None if value in ("", None) else value
    return out


#: Records in words where their class name says it less well.
NOUNS = {"patient_reported": "patient-reported outcome"}


def _noun(record: type[Record]) -> str:
    """A record in words: ``AdverseEvent`` -> ``adverse event``."""
    return NOUNS.get(record.table) or re.sub(r"(?<!^)(?=[A-Z])", " ", record.__name__).lower()


@cache
def _column_words() -> tuple[re.Pattern[str], dict[str, str]]:
    """Column names of every record (with ``_``) and their words, longest first."""
    names: dict[str, str] = {}
    for record in ENTITIES:
        for column in columns(record):
            if "_" in column.name:
                names[column.name] = _name(column)
    ordered = sorted(names, key=len, reverse=True)
    return re.compile(r"\b(" + "|".join(map(re.escape, ordered)) + r")\b"), names


def in_words(message: str) -> str:
    """A registry message in the words of the form: column names as their labels say
    them, files of the dataset as the records they hold (``longer than
    longest_diameter_mm`` -> ``longer than longest diameter``, ``no such row in
    lesions.csv`` -> ``no such lesion``)."""
    nouns = {record.table: _noun(record) for record in ENTITIES}
    message = re.sub(
        r"no such row in (\w+?)(?:\.csv)?\b",
        lambda m: f"no such {nouns.get(m.group(1), words(m.group(1)))}",
        message,
    )
    message = re.sub(r"\b(\w+)\.csv\b", lambda m: nouns.get(m.group(1), words(m.group(1))), message)
    pattern, names = _column_words()
    return pattern.sub(lambda m: names[m.group(1)], message)


def add_errors(form: forms.Form, error: RecordInvalidError) -> None:
    """Put each problem of ``error`` on its field (or on the form when it has no field),
    in the form's words (:func:`in_words`).

    A problem the registry found in another record of the patient (its message begins
    with that record's file, ``patients.csv: ...``) goes on the form, naming the
    record and its field; one of this kind of record, on the field."""
    tables = {record.table: record for record in ENTITIES}
    for column, value, message in error.issues:
        other: type[Record] | None = None
        found = re.match(r"(\w+)\.csv: ", message)
        if found is not None and found.group(1) in tables:
            message = message[found.end() :]
            if found.group(1) != error.entity:
                other = tables[found.group(1)]
        text = in_words(message)
        if value is not None and not re.search(rf"(^|\s){re.escape(value)} is ", text):
            text += f" (value: {value})"  # unless the message says it ("2031 is ...")
        if other is None and column in form.fields:
            form.add_error(column, text)
            continue
        if other is not None:
            index = {c.name: c for c in columns(other)}
            field = f", {_name(index[column])}" if column in index else ""
            text = f"{_noun(other).capitalize()}{field}: {text}"
        form.add_error(None, text)


# ----------------------------------------------------------------------------- pydantic
class GreaterThanValidator(BaseValidator):
    """The value must be greater than ``limit_value`` (pydantic's ``gt``)."""

    message = "Ensure this value is greater than %(limit_value)s."
    code = "min_value"

    def compare(self, a: Any, b: Any) -> bool:
        """Invalid when ``a <= b``."""
        return bool(a <= b)


class LessThanValidator(BaseValidator):
    """The value must be less than ``limit_value`` (pydantic's ``lt``)."""

    message = "Ensure this value is less than %(limit_value)s."
    code = "max_value"

    def compare(self, a: Any, b: Any) -> bool:
        """Invalid when ``a >= b``."""
        return bool(a >= b)


def bounds(info: FieldInfo) -> dict[str, float]:
    """The numeric bounds of a pydantic field: ``{"ge": 50, "le": 250}``."""
    out: dict[str, float] = {}
    for meta in info.metadata:
        for key, kind in (("gt", at.Gt), ("ge", at.Ge), ("lt", at.Lt), ("le", at.Le)):
            if isinstance(meta, kind):
                out[key] = getattr(meta, key)
    return out


def _unwrap(annotation: Any) -> Any:
    """The type of a field's annotation, without ``Annotated`` and ``| None``."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _unwrap(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        inner = [arg for arg in get_args(annotation) if arg is not type(None)]
        return _unwrap(inner[0]) if len(inner) == 1 else str
    return annotation


def label_of(name: str, info: FieldInfo) -> str:
    """A field's label: its description, else its name in words (``Margin mm``)."""
    text = info.description or words(name)
    return text[:1].upper() + text[1:]


def model_field(
    model: type[BaseModel], name: str, empty_label: str = "—", **overrides: Any
) -> forms.Field:
    """The form field of field ``name`` of pydantic ``model``.

    Bounds from the field's ``ge``/``gt``/``le``/``lt`` (``min_value``/``max_value``, or a
    validator for the strict ones), label from its description, choices from its enum (an
    optional enum first offers ``empty_label``), initial value from its default; required
    when the model requires it. ``overrides`` are passed to the Django field (e.g.
    ``label``, ``help_text``, ``required``) and win over the model's.
    """
    info = model.model_fields[name]
    kind = _unwrap(info.annotation)
    default = None if info.default is PydanticUndefined else info.default
    common: dict[str, Any] = {
        "label": label_of(name, info),
        "required": info.is_required(),
        "initial": default.value if isinstance(default, Enum) else default,
    }
    limits = bounds(info)
    if isinstance(kind, type) and issubclass(kind, Enum):
        choices = [(m.value, words(m.value)) for m in kind]
        if default is None:  # optional, or required without a default: nothing chosen yet
            choices = [("", empty_label), *choices]
        return forms.ChoiceField(**{"choices": choices, **common, **overrides})
    if kind is bool:
        return forms.BooleanField(**{**common, "required": False, **overrides})
    if kind in (int, float):
        validators: list[BaseValidator] = []
        numeric: dict[str, Any] = {}
        if "ge" in limits:
            numeric["min_value"] = limits["ge"]
        if "le" in limits:
            numeric["max_value"] = limits["le"]
        if "gt" in limits:
            validators.append(GreaterThanValidator(limits["gt"]))
        if "lt" in limits:
            validators.append(LessThanValidator(limits["lt"]))
        field_class = forms.IntegerField if kind is int else forms.FloatField
        widget = forms.NumberInput({"step": "1" if kind is int else "any"})
        field = field_class(**{"widget": widget, **numeric, **common, **overrides})
        field.validators.extend(validators)
        if "gt" in limits:
            field.widget.attrs.setdefault("min", limits["gt"])
        if "lt" in limits:
            field.widget.attrs.setdefault("max", limits["lt"])
        return field
    if kind is dt.date:
        widget = forms.DateInput(attrs={"type": "date"}, format=ISO_DATE)
        return forms.DateField(**{"widget": widget, **common, **overrides})
    return forms.CharField(**{**common, **overrides})


def flag_choices(model: type[BaseModel]) -> list[tuple[str, str]]:
    """The yes/no fields of ``model`` as checkbox choices (name, description or words)."""
    return [
        (name, label_of(name, info))
        for name, info in model.model_fields.items()
        if _unwrap(info.annotation) is bool
    ]


def model_values(form: forms.Form, model: type[BaseModel]) -> dict[str, Any]:
    """The valid form's values of ``model``'s fields, without the empty ones (so that the
    model's defaults apply)."""
    return {
        name: value
        for name, value in form.cleaned_data.items()
        if name in model.model_fields and value not in ("", None, [])
    }


def add_field_errors(
    form: forms.Form, errors: Iterable[FieldError], fields: Mapping[str, str] | None = None
) -> list[str]:
    """Put each error on its form field: the field named by the error's last path part
    (``patient.height_cm`` -> ``height_cm``), or by ``fields`` (path -> form field).
    Returns the errors of no field of the form, as text (``str(FieldError)``)."""
    rest: list[str] = []
    for error in errors:
        path = error.field or ""
        name = (fields or {}).get(path) or path.rsplit(".", 1)[-1]
        if name and name in form.fields:
            form.add_error(name, error.message)
        else:
            rest.append(str(error))
    return rest
