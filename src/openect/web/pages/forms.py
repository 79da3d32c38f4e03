"""Forms generated from the data model: one field per column, with label, unit and choices.

Validation is the registry services' (the same messages as the command line): a
:class:`~openect.registry.services.RecordInvalidError` is mapped back onto the form's
fields by :func:`add_errors`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import forms

from openect.data.models import Record
from openect.data.schema import Column, columns
from openect.registry.services import RecordInvalidError


def _label(column: Column) -> str:
    text = column.name.replace("_", " ")
    for suffix in (" mm", " cm", " kg", " m2", " v", " a", " hz", " us", " ml min"):
        if text.endswith(suffix):
            text = text[: -len(suffix)]
    label = text[:1].upper() + text[1:]
    return f"{label} ({column.unit})" if column.unit else label


def form_field(column: Column) -> forms.Field:
    """The form field of one data-model column."""
    common: dict[str, Any] = {
        "required": column.required and column.kind != "bool",
        "label": _label(column),
        "help_text": column.description or "",
    }
    if column.kind == "enum" and column.enum is not None:
        choices = [("", "—")] + [(m.value, m.value.replace("_", " ")) for m in column.enum]
        return forms.ChoiceField(choices=choices, **common)
    if column.kind == "list" and column.enum is not None:
        return forms.MultipleChoiceField(
            choices=[(m.value, m.value) for m in column.enum],
            widget=forms.CheckboxSelectMultiple,
            **{**common, "required": False},
        )
    if column.kind == "bool":
        return forms.NullBooleanField(
            widget=forms.Select(choices=[("unknown", "unknown"), ("true", "yes"), ("false", "no")]),
            **common,
        )
    if column.kind == "int":
        return forms.IntegerField(**common)
    if column.kind == "float":
        return forms.FloatField(**common, widget=forms.NumberInput(attrs={"step": "any"}))
    if column.kind == "date":
        return forms.DateField(
            **common, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
        )
    if column.kind == "time":
        return forms.TimeField(
            **common, widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
        )
    return forms.CharField(**common, max_length=500 if column.free_text else 64)


def record_form_class(
    record: type[Record], exclude: Iterable[str] = (), hidden: Iterable[str] = ()
) -> type[forms.Form]:
    """A Django form class with a field per column of ``record`` (minus ``exclude``)."""
    skip, hide = set(exclude), set(hidden)
    fields: dict[str, forms.Field] = {}
    for column in columns(record):
        if column.name in skip:
            continue
        field = form_field(column)
        if column.name in hide:
            field.widget = forms.HiddenInput()
        fields[column.name] = field
    return type(f"{record.__name__}Form", (forms.Form,), fields)


def cleaned_values(form: forms.Form) -> dict[str, Any]:
    """The form's values as record values (empty text as None, lists as lists)."""
    out: dict[str, Any] = {}
    for name, value in form.cleaned_data.items():
        out[name] = None if value in ("", None) else value
    return out


def add_errors(form: forms.Form, error: RecordInvalidError) -> None:
    """Put each problem of ``error`` on its field (or on the form when it has no field)."""
    for column, value, message in error.issues:
        text = message if value is None else f"{message} (value: {value})"
        form.add_error(column if column in form.fields else None, text)
