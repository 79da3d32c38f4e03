"""Registry tables, generated from the canonical models of :mod:`openect.data`.

One Django model per entity of the data model, built from
:func:`openect.data.schema.columns` (never a second field list): the id column is the
primary key, references are foreign keys (``PROTECT``: a referenced row cannot be
deleted), enums are checked choices, bounds become ``CHECK`` constraints, and the
row rules that compare two columns of a row are constraints too. ``position`` keeps the
order rows were imported or created in, so that an export reproduces the imported
files byte for byte.

Besides the entities: :class:`AuditEntry` (append-only, hash-chained audit trail),
:class:`AccessEntry` (the access log: who read which patient's data; append-only until
its retention has passed), :class:`Membership` (a user's role and centre),
:class:`DatasetSource` (the ``dataset.json`` of each import),
:class:`PseudonymKeyCheck` (a check value of the pseudonymisation key) and
:class:`VoidedRecord` (a record voided with a reason: out of every read, kept to restore).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, models, transaction
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
#: Columns whose values are unique together (nulls apart), enforced by the database: a
#: patient's number within the centre (``C01-0042``).
UNIQUE_TOGETHER: dict[type[Record], list[tuple[str, ...]]] = {
    Patient: [("centre_id", "patient_number")],
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
    for together in UNIQUE_TOGETHER.get(record, []):
        fields = [_field_name(record, name) for name in together]
        out.append(
            models.UniqueConstraint(fields=fields, name=f"{table}_{'_'.join(together)}_unique")
        )
    return out


def _field_name(record: type[Record], column_name: str) -> str:
    """The Django field name of a column (a reference ``centre_id`` is the field ``centre``)."""
    column = next(c for c in columns(record) if c.name == column_name)
    return _field(column, record)[0]


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


class VoidedRecord(GuardedModel):
    """A record voided (entered in error) with a reason: its row, as it was, moved out of
    its table, so that no page, export or analysis reads it; the audit trail holds the
    void too. Restoring puts the row back (:func:`openect.registry.services.unvoid`).

    ``root`` names the record the void was asked for (``table/id``): voiding a session
    voids its applications with it, and restoring the session restores them.
    """

    entity = models.CharField(max_length=32)
    record_id = models.CharField(max_length=ID_LENGTH, db_index=True)
    centre_id = models.CharField(max_length=ID_LENGTH, null=True, db_index=True)
    patient_id = models.CharField(max_length=ID_LENGTH, null=True, db_index=True)
    values = models.JSONField(help_text="The row's column values (JSON), as they were")
    position = models.BigIntegerField(help_text="The row's registry position (export order)")
    sequence = models.IntegerField(help_text="Order within the void (dependants first)")
    root = models.CharField(max_length=2 * ID_LENGTH + 1)
    voided_at = models.DateTimeField()
    voided_by = models.CharField(max_length=150)
    reason = models.TextField()

    class Meta:
        db_table = "openect_voided"
        ordering = ("voided_at", "sequence")
        constraints = (
            models.UniqueConstraint(fields=("entity", "record_id"), name="voided_record_unique"),
        )


class AuditAction(StrEnum):
    """Kinds of audited change."""

    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    IMPORT = "import"
    RESTORE = "restore"
    EXPORT = "export"
    VOID = "void"
    UNVOID = "unvoid"


class AuditQuerySet(models.QuerySet):
    """Audit rows can be added (by the services) but never changed or removed."""

    def update(self, **kwargs: Any) -> int:
        raise PermissionError("audit entries are append-only: they cannot be changed")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise PermissionError("audit entries are append-only: they cannot be deleted")

    def bulk_update(self, objs: Any, *args: Any, **kwargs: Any) -> Any:
        raise PermissionError("audit entries are append-only: they cannot be changed")

    def bulk_create(
        self, objs: Iterable[AuditEntry], *args: Any, as_stored: bool = False, **kwargs: Any
    ) -> list[AuditEntry]:
        """Append ``objs`` to the chain in their order (one transaction, chain head locked).

        ``as_stored``: the entries carry ``previous`` and ``digest`` as they were stored
        (a restore); they are written as they are.
        """
        check_write("AuditEntry.objects.bulk_create")
        entries = list(objs)
        with transaction.atomic(using=self.db):
            if not as_stored:
                link(entries, self.db)
            created: list[AuditEntry] = super().bulk_create(entries, *args, **kwargs)
        return created


class AuditEntry(models.Model):
    """One audited change of one registry row: who, when, what, before, after, why.

    Append-only: the model refuses updates and deletes, and database triggers refuse
    ``UPDATE``, ``DELETE``, ``TRUNCATE`` (PostgreSQL) and ``INSERT OR REPLACE`` (SQLite)
    on the table (migrations 0002, 0003). Hash-chained: ``digest`` is the SHA-256 of the
    entry's content and ``previous``, the digest of the entry before it (in id order),
    so that an edited, removed or reordered entry shows (:func:`verify_chain`).
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
    previous = models.CharField(
        max_length=64, default="", help_text="Digest of the entry before (chain link)"
    )
    digest = models.CharField(
        max_length=64, default="", help_text="SHA-256 of this entry's content and previous"
    )

    objects = models.Manager.from_queryset(AuditQuerySet)()

    class Meta:
        db_table = "openect_audit"
        ordering = ("id",)

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Append the entry to the chain (chain head locked in the writing transaction)."""
        if self.pk is not None:
            raise PermissionError("audit entries are append-only: they cannot be changed")
        check_write("AuditEntry.save")
        using = kwargs.get("using") or DEFAULT_DB_ALIAS
        with transaction.atomic(using=using):
            link([self], using)
            super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise PermissionError("audit entries are append-only: they cannot be deleted")


class AccessAction(StrEnum):
    """What an access-log entry records (a closed vocabulary)."""

    VIEW = "view"
    LIST = "list"
    EXPORT = "export"
    REPORT = "report"
    SIGN_IN = "sign_in"
    SIGN_IN_FAILED = "sign_in_failed"
    SIGN_OUT = "sign_out"
    TOKEN_ISSUED = "token_issued"
    TOKEN_REVOKED = "token_revoked"


class Channel(StrEnum):
    """How the data were reached."""

    PAGE = "page"
    API = "api"
    CLI = "cli"


class AccessQuerySet(models.QuerySet):
    """Access-log rows can be added but never changed; they are removed only by
    :meth:`purge_expired`, once their retention has passed."""

    def update(self, **kwargs: Any) -> int:
        raise PermissionError("access log entries are append-only: they cannot be changed")

    def bulk_update(self, objs: Any, *args: Any, **kwargs: Any) -> Any:
        raise PermissionError("access log entries are append-only: they cannot be changed")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise PermissionError(
            "access log entries are removed only by `openect registry access-log --purge`, "
            "once their retention has passed"
        )

    def purge_expired(self, now: dt.datetime) -> int:
        """Delete the rows of this query whose ``keep_until`` is before ``now``; return
        how many (the database's trigger refuses any other row)."""
        expired = self.filter(keep_until__lt=now)
        deleted, _ = models.QuerySet.delete(expired)
        return int(deleted)


class AccessEntry(models.Model):
    """One access to patient-level data, or one sign-in, sign-out or token event: who
    (user name, role, centre), when (UTC), what (action, table, record id or the query
    of a list), whose data (the centre of the data read), from where (address, channel).

    Append-only: the model refuses changes, and database triggers (migration 0005) refuse
    ``UPDATE``, ``TRUNCATE`` (PostgreSQL), an insert over an existing entry (SQLite) and
    the ``DELETE`` of an entry whose ``keep_until`` has not passed. ``keep_until`` is
    set when the entry is written (``at`` plus ``OPENECT_ACCESS_LOG_DAYS``), so that a
    later, shorter setting cannot shorten the life of entries already written.
    """

    at = models.DateTimeField(db_index=True)
    actor = models.CharField(max_length=150, db_index=True, help_text="User name")
    role = models.CharField(max_length=16, blank=True, help_text="Role (blank: none)")
    actor_centre_id = models.CharField(
        max_length=ID_LENGTH, null=True, help_text="Centre of the user (none: all centres)"
    )
    action = models.CharField(
        max_length=16, choices=[(a.value, a.value.replace("_", " ")) for a in AccessAction]
    )
    entity = models.CharField(max_length=32, blank=True, help_text="Table (or what) read")
    record_id = models.CharField(max_length=200, blank=True, db_index=True)
    query = models.CharField(max_length=500, blank=True, help_text="Filters of a list read")
    centre_id = models.CharField(
        max_length=ID_LENGTH,
        null=True,
        db_index=True,
        help_text="Centre of the data read (none: several or all centres)",
    )
    address = models.GenericIPAddressField(null=True, help_text="Client address")
    channel = models.CharField(max_length=8, choices=[(c.value, c.value) for c in Channel])
    keep_until = models.DateTimeField(
        db_index=True, help_text="Kept at least until then (at + retention when written)"
    )

    objects = models.Manager.from_queryset(AccessQuerySet)()

    class Meta:
        db_table = "openect_access_log"
        ordering = ("id",)
        constraints = (
            models.CheckConstraint(
                condition=Q(action__in=[a.value for a in AccessAction]),
                name="access_log_action_allowed",
            ),
            models.CheckConstraint(
                condition=Q(channel__in=[c.value for c in Channel]),
                name="access_log_channel_allowed",
            ),
            models.CheckConstraint(
                condition=Q(keep_until__gt=F("at")), name="access_log_kept_after_written"
            ),
        )

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Append the entry (an entry once written is never saved again)."""
        if self.pk is not None:
            raise PermissionError("access log entries are append-only: they cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise PermissionError(
            "access log entries are removed only by `openect registry access-log --purge`"
        )


class PseudonymKeyCheck(models.Model):
    """A check value of the registry's pseudonymisation key (never the key): HMAC-SHA256
    of a fixed label with the key, stored at first use (:mod:`openect.registry.pseudonym`)
    so that a server or command started with another key is refused."""

    name = models.CharField(max_length=32, primary_key=True)
    check_value = models.CharField(max_length=64, help_text="HMAC-SHA256(key, label), hex")
    recorded_at = models.DateTimeField()

    class Meta:
        db_table = "openect_key_check"


# ----------------------------------------------------------------- the audit hash chain
#: Fields of an audit entry covered by its digest (with ``previous``), in this order.
CHAIN_FIELDS = (
    "at",
    "actor",
    "role",
    "action",
    "entity",
    "record_id",
    "centre_id",
    "before",
    "after",
    "reason",
)
#: ``previous`` of the first entry of a registry.
GENESIS = "0" * 64
#: Key of the PostgreSQL transaction-level advisory lock on the chain head ("openect").
CHAIN_LOCK = 0x6F70656E656374


def _canonical(value: Any) -> Any:
    """``value`` as JSON data that reads back the same from either database: integral
    floats as integers (PostgreSQL's ``jsonb`` may give 1e16 back as an integer),
    datetimes in UTC with microseconds."""
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
        return aware.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, bool) or value is None or isinstance(value, int | str):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    return _canonical(json.loads(json.dumps(value)))


def chain_digest(values: Mapping[str, Any], previous: str) -> str:
    """SHA-256 (hex) of an entry's :data:`CHAIN_FIELDS` in ``values`` and ``previous``,
    as canonical JSON (keys sorted, no blanks, UTF-8)."""
    content = {name: _canonical(values.get(name)) for name in CHAIN_FIELDS}
    content["previous"] = previous
    text = json.dumps(
        content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def entry_values(entry: Any) -> dict[str, Any]:
    """The :data:`CHAIN_FIELDS` of an entry (a model instance, historical ones too)."""
    return {name: getattr(entry, name) for name in CHAIN_FIELDS}


def chain_head(using: str = DEFAULT_DB_ALIAS) -> str:
    """Digest of the newest entry (:data:`GENESIS` for an empty trail)."""
    last = AuditEntry.objects.using(using).order_by("-id").values_list("digest", flat=True)
    return last.first() or GENESIS


def lock_chain(using: str = DEFAULT_DB_ALIAS) -> None:
    """Hold the chain head until the transaction ends (PostgreSQL; SQLite's immediate
    transactions already write one at a time). Re-entrant.

    The services take it first in each write transaction, before any row lock: Django's
    foreign keys are checked at commit (deferred), so a writer that took it only at its
    audit entry would hold it while waiting for another writer's row lock.
    """
    connection = connections[using]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CHAIN_LOCK])


def link(entries: list[AuditEntry], using: str = DEFAULT_DB_ALIAS) -> None:
    """Set ``previous`` and ``digest`` of new ``entries``, in order, after the chain head.

    Call inside the writing transaction: on PostgreSQL it takes a transaction-level
    advisory lock (:data:`CHAIN_LOCK`) before reading the head, so that concurrent writers
    chain in commit order; SQLite's immediate transactions already write one at a time.
    """
    lock_chain(using)
    previous = chain_head(using)
    for entry in entries:
        entry.previous = previous
        entry.digest = chain_digest(entry_values(entry), previous)
        previous = entry.digest


@dataclass(frozen=True)
class ChainBreak:
    """The first entry at which the audit chain is broken, and how."""

    id: int
    entity: str
    record_id: str
    problem: str  # "edited", "missing" or "order"
    detail: str


@dataclass(frozen=True)
class ChainReport:
    """Result of :func:`verify_chain`."""

    entries: int
    head: str
    broken: ChainBreak | None
    #: A head digest kept outside the database, when one was given to check.
    anchor: str | None = None
    #: The entry (id) whose digest the anchor is; None when it is not in the trail.
    anchor_entry: int | None = None

    @property
    def anchor_missing(self) -> bool:
        """True when a kept head digest was given and no entry of the trail has it: the
        entries after it were removed, or the trail was rewritten."""
        return self.anchor is not None and self.anchor_entry is None

    @property
    def intact(self) -> bool:
        """True when every entry matches its digest and follows the one before it, and a
        kept head digest (if given) is still in the trail."""
        return self.broken is None and not self.anchor_missing

    def to_dict(self) -> dict[str, Any]:
        """JSON data of the report."""
        return {
            "intact": self.intact,
            "entries": self.entries,
            "head": self.head,
            "broken": None if self.broken is None else asdict(self.broken),
            "anchor": self.anchor,
            "anchor_entry": self.anchor_entry,
        }


def verify_chain(using: str = DEFAULT_DB_ALIAS, anchor: str | None = None) -> ChainReport:
    """Walk the audit chain in id order; name the first broken entry.

    * ``edited``: the entry's content (or its ``previous``) no longer gives its digest -
      changed after it was written, or written without the chain (forged);
    * ``order``: it follows another entry than the one before it;
    * ``missing``: the entry it follows is not in the trail (removed or rewritten).

    The removal of the newest entries, or a chain recomputed from the start, shows only
    against a head digest kept elsewhere (``openect registry audit --verify`` prints it):
    give it as ``anchor`` and the report says whether an entry of the intact trail still
    has it (:attr:`ChainReport.anchor_missing`).
    """
    expected = GENESIS
    count = 0
    anchor_entry: int | None = None
    fields = ("id", "previous", "digest", *CHAIN_FIELDS)
    rows = AuditEntry.objects.using(using).order_by("id").values(*fields)
    for row in rows.iterator(chunk_size=2000):
        count += 1
        problem = detail = None
        if chain_digest(row, row["previous"]) != row["digest"]:
            problem = "edited"
            detail = (
                "its content does not match its digest (changed after it was written, or forged)"
            )
        elif row["previous"] != expected:
            followed = (
                AuditEntry.objects.using(using)
                .filter(digest=row["previous"])
                .values_list("id", flat=True)
                .first()
            )
            if followed is not None or row["previous"] == GENESIS:
                problem = "order"
                detail = (
                    f"it follows entry {followed}"
                    if followed is not None
                    else "it is a first entry"
                ) + " but is stored after another (entries reordered)"
            else:
                problem = "missing"
                detail = (
                    "the entry it follows is not in the trail (removed, or rewritten with "
                    "its digest)"
                )
        if problem is not None and detail is not None:
            broken = ChainBreak(row["id"], row["entity"], row["record_id"], problem, detail)
            return ChainReport(count, expected, broken, anchor, anchor_entry)
        expected = row["digest"]
        if anchor is not None and expected == anchor:
            anchor_entry = row["id"]
    return ChainReport(count, expected, None, anchor, anchor_entry)
