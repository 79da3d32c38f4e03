"""Registry tables, generated from the canonical models of :mod:`openect.data`.

One Django model per entity of the data model, built from
:func:`openect.data.schema.columns` (never a second field list): the id column is the
primary key, references are foreign keys (``PROTECT``: a referenced row cannot be
deleted), enums are checked choices, bounds become ``CHECK`` constraints, and the
row rules that compare two columns of a row are constraints too. ``position`` keeps the
order rows were imported or created in, so that an export reproduces the imported
files byte for byte.

Besides the entities: :class:`AuditEntry` (append-only audit trail),
:class:`Membership` (a user's role and centre) and :class:`DatasetSource` (the
``dataset.json`` of each import).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from openect.data.models import (
    ENTITIES,
    Assessment,
    Lesion,
    Patient,
    Record,
    SystemicTherapy,
)
from openect.data.schema import Column, columns
from openect.registry.guard import GuardedModel, check_write

#: Longest identifier (the data model's ID pattern allows 64 characters).
ID_LENGTH = 64

#: Row rules comparing two columns, enforced by the database too: (left, op, right).
ROW_RULES: dict[type[Record], list[tuple[str, str, str]]] = {
    Lesion: [("perpendicular_diameter_mm", "lte", "longest_diameter_mm")],
    Assessment: [("perpendicular_diameter_mm", "lte", "longest_diameter_mm")],
    SystemicTherapy: [("end_date", "gte", "start_date")],
    Patient: [("death_date", "gte", "last_contact_date")],
}


def model_name(record: type[Record]) -> str:
    """Django model name of a data-model entity (same class name)."""
    return record.__name__


def _field(column: Column, record: type[Record]) -> tuple[str, models.Field[Any, Any]]:
    """The Django field (attribute name, field) of one column."""
    null = not column.required
    if column.name == record.id_field:
        return column.name, models.CharField(
            max_length=ID_LENGTH, primary_key=True, db_column=column.name
        )
    if column.references is not None:
        target = next(m for m in ENTITIES if m.table == column.references)
        name = column.name.removesuffix("_id")
        return name, models.ForeignKey(
            model_name(target),
            on_delete=models.PROTECT,
            null=null,
            blank=null,
            db_column=column.name,
            related_name="+",
            db_index=True,
        )
    if column.kind == "enum" and column.enum is not None:
        choices = [(m.value, m.value) for m in column.enum]
        length = max(len(m.value) for m in column.enum)
        return column.name, models.CharField(max_length=length, choices=choices, null=null)
    if column.kind == "list":
        return column.name, models.TextField(null=null)
    if column.kind == "str":
        if column.pattern is not None:
            return column.name, models.CharField(max_length=ID_LENGTH, null=null)
        return column.name, models.TextField(null=null)
    simple: dict[str, type[models.Field[Any, Any]]] = {
        "int": models.IntegerField,
        "float": models.FloatField,
        "bool": models.BooleanField,
        "date": models.DateField,
        "time": models.TimeField,
    }
    return column.name, simple[column.kind](null=null)


def _constraints(record: type[Record]) -> list[models.BaseConstraint]:
    """CHECK constraints for bounds, enum values and the row rules of ``record``."""
    out: list[models.BaseConstraint] = []
    table = record.table
    for column in columns(record):
        checks: list[Q] = []
        for bound, lookup in (("gt", "gt"), ("ge", "gte"), ("lt", "lt"), ("le", "lte")):
            value = getattr(column, bound)
            if value is not None:
                checks.append(Q(**{f"{column.name}__{lookup}": value}))
        if column.kind == "enum" and column.enum is not None:
            checks.append(Q(**{f"{column.name}__in": [m.value for m in column.enum]}))
        if not checks:
            continue
        condition = checks[0]
        for check in checks[1:]:
            condition &= check
        if not column.required:
            condition |= Q(**{f"{column.name}__isnull": True})
        out.append(
            models.CheckConstraint(condition=condition, name=f"{table}_{column.name}_allowed")
        )
    for left, op, right in ROW_RULES.get(record, []):
        condition = (
            Q(**{f"{left}__{op}": F(right)})
            | Q(**{f"{left}__isnull": True})
            | Q(**{f"{right}__isnull": True})
        )
        out.append(models.CheckConstraint(condition=condition, name=f"{table}_{left}_{op}_{right}"))
    return out


def _build(record: type[Record]) -> type[GuardedModel]:
    attrs: dict[str, Any] = {"__module__": __name__, "__doc__": record.__doc__}
    for column in columns(record):
        name, field = _field(column, record)
        attrs[name] = field
    attrs["position"] = models.BigIntegerField(
        db_index=True, help_text="Order of import or creation (export order)"
    )
    meta = type(
        "Meta",
        (),
        {
            "db_table": f"openect_{record.table}",
            "ordering": ["position"],
            "constraints": _constraints(record),
        },
    )
    attrs["Meta"] = meta
    model: type[GuardedModel] = type(model_name(record), (GuardedModel,), attrs)
    return model


#: Registry model of each data-model entity, in dataset order.
REGISTRY_MODELS: dict[type[Record], type[GuardedModel]] = {
    record: _build(record) for record in ENTITIES
}
globals().update({model.__name__: model for model in REGISTRY_MODELS.values()})


class Role(StrEnum):
    """What a registry user may do."""

    CLINICIAN = "clinician"
    DATA_MANAGER = "data_manager"
    ANALYST = "analyst"
    ADMIN = "admin"


ROLE_LABELS: dict[Role, str] = {
    Role.CLINICIAN: "clinician (read/write own centre)",
    Role.DATA_MANAGER: "data manager (read/write own centre)",
    Role.ANALYST: "analyst (read pooled, pseudonymised, no free text)",
    Role.ADMIN: "administrator (all centres)",
}


class Membership(models.Model):
    """A user's role and, for clinicians and data managers, their centre."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="openect_membership"
    )
    role = models.CharField(max_length=16, choices=[(r.value, ROLE_LABELS[r]) for r in Role])
    centre_id = models.CharField(max_length=ID_LENGTH, null=True, blank=True)

    class Meta:
        db_table = "openect_membership"
        constraints = (
            models.CheckConstraint(
                condition=Q(role__in=["analyst", "admin"]) | Q(centre_id__isnull=False),
                name="membership_centre_for_centre_roles",
            ),
        )


class DatasetSource(GuardedModel):
    """The ``dataset.json`` of one import (kept to write it back on export)."""

    imported_at = models.DateTimeField(auto_now_add=True)
    actor = models.CharField(max_length=150)
    info = models.TextField(help_text="dataset.json as imported (JSON text, key order kept)")
    rows = models.JSONField(help_text="Rows per table in the imported dataset")
    position = models.BigIntegerField(default=0)

    class Meta:
        db_table = "openect_dataset_source"
        ordering = ("id",)


class AuditAction(StrEnum):
    """Kinds of audited change."""

    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    IMPORT = "import"
    RESTORE = "restore"


class AuditQuerySet(models.QuerySet):
    """Audit rows can be added (by the services) but never changed or removed."""

    def update(self, **kwargs: Any) -> int:
        raise PermissionError("audit entries are append-only: they cannot be changed")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise PermissionError("audit entries are append-only: they cannot be deleted")

    def bulk_update(self, objs: Any, *args: Any, **kwargs: Any) -> Any:
        raise PermissionError("audit entries are append-only: they cannot be changed")

    def bulk_create(self, objs: Any, *args: Any, **kwargs: Any) -> Any:
        check_write("AuditEntry.objects.bulk_create")
        return super().bulk_create(objs, *args, **kwargs)


class AuditEntry(models.Model):
    """One audited change of one registry row: who, when, what, before, after, why.

    Append-only: the model refuses updates and deletes, and database triggers refuse
    ``UPDATE`` and ``DELETE`` on the table (migration 0002).
    """

    at = models.DateTimeField(db_index=True)
    actor = models.CharField(max_length=150, db_index=True)
    role = models.CharField(max_length=16)
    action = models.CharField(
        max_length=8, choices=[(a.value, a.value.capitalize()) for a in AuditAction]
    )
    entity = models.CharField(max_length=32)
    record_id = models.CharField(max_length=ID_LENGTH, db_index=True)
    centre_id = models.CharField(max_length=ID_LENGTH, null=True, db_index=True)
    before = models.JSONField(null=True)
    after = models.JSONField(null=True)
    reason = models.TextField(null=True)

    objects = models.Manager.from_queryset(AuditQuerySet)()

    class Meta:
        db_table = "openect_audit"
        ordering = ("id",)

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise PermissionError("audit entries are append-only: they cannot be changed")
        check_write("AuditEntry.save")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise PermissionError("audit entries are append-only: they cannot be deleted")
