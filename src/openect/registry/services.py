"""The registry's services: the only writers of registry rows, and scoped readers.

Every create, update and delete goes through :func:`create`, :func:`update` or
:func:`delete` (or :func:`~openect.registry.transfer.import_dataset` for a whole
dataset), which, in one transaction:

1. check the actor's scope (:mod:`openect.registry.access`; deny by default);
2. validate the row with its model (ranges, enums, rules within a row) and the
   patient's records as a whole with the dataset rules (references, ownership, date
   order) - the same checks and messages as ``openect data validate``;
3. write the row and an :class:`~openect.registry.models.AuditEntry` with who, when,
   what, the values before and after, and why.

A session, assessment or quality-of-life report dated after the patient's last contact
date (or when none is known) moves that date up to its own, in the same transaction and
with an audit entry of its own (:data:`CONTACTS`).

A record entered in error is voided with a reason (:func:`void`): its row (and the
rows that depend on it, e.g. a session's applications) moves out of its table into
:class:`~openect.registry.models.VoidedRecord`, so no page, export or analysis reads it,
while the audit trail keeps it; :func:`unvoid` puts it back. Identifiers of voided
records stay taken.

Reads (:func:`get`, :func:`list_records`) are scoped too; analysts see free-text
columns blanked.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any, TypeVar, cast, overload

from django.db import IntegrityError, transaction
from django.db.models import Max
from pydantic import ValidationError

from openect.data.dataset import Dataset
from openect.data.field_errors import field_errors
from openect.data.models import (
    ENTITIES,
    Assessment,
    Centre,
    Patient,
    PatientReported,
    Record,
    Session,
)
from openect.data.schema import columns
from openect.data.validation import check_dataset
from openect.errors import (
    AccessDeniedError,
    InputError,
    NotFoundError,
    RecordInUseError,
    RecordInvalidError,
)
from openect.registry import pseudonym as pseudonyms
from openect.registry.access import (
    Actor,
    readable,
    require_write,
    writable,
)
from openect.registry.guard import service_write
from openect.registry.models import AuditAction, AuditEntry, VoidedRecord, lock_chain
from openect.registry.records import (
    centre_path,
    column_names,
    entity,
    from_row_values,
    patient_path,
    registry_model,
    to_json,
    to_row_values,
)
from openect.registry.retry import retry_write

#: Log of refused writes (the database's own messages stay here, never shown to users).
LOG = logging.getLogger(__name__)
#: A data-model entity (the type of the record a service takes or returns).
R = TypeVar("R", bound=Record)

__all__ = [
    "AccessDeniedError",
    "Actor",
    "NotFoundError",
    "RecordInUseError",
    "RecordInvalidError",
    "check_namespace",
    "create",
    "create_numbered",
    "delete",
    "get",
    "list_records",
    "next_patient_number",
    "numbered_id",
    "patient_records",
    "record_session",
    "redacted",
    "register_patient",
    "unvoid",
    "update",
    "validated",
    "void",
    "void_preview",
    "voided_records",
]


# ------------------------------------------------------------------------- helpers
def _row_values(record: type[Record], row: Any) -> dict[str, Any]:
    return {name: getattr(row, name) for name in column_names(record)}


def _record_of(record: type[Record], row: Any) -> Record:
    return from_row_values(record, _row_values(record, row))


def redacted(actor: Actor, item: R) -> R:
    """``item`` as ``actor`` may see it: free-text columns blanked for analysts."""
    if actor.sees_free_text:
        return item
    blanked = {c.name: None for c in columns(type(item)) if c.free_text}
    return item.model_copy(update=blanked) if blanked else item


def validated(record: type[R], values: Mapping[str, Any]) -> R:
    """The record of ``values`` (registry row, form or request); RecordInvalidError names
    each bad column with its value and what is allowed. List columns may be given as
    ``;``-separated text."""
    data = dict(values)
    for column in columns(record):
        value = data.get(column.name)
        if column.kind == "list" and (value is None or isinstance(value, str)):
            data[column.name] = [part for part in (value or "").split(";") if part]
    try:
        return record.model_validate(data)
    except ValidationError as error:
        issues = [(e.field, e.shown_value, e.message) for e in field_errors(error, record, values)]
        raise RecordInvalidError(record.table, issues) from error


def _centre_of(actor: Actor, item: Record) -> str | None:
    """The centre a (new or changed) record belongs to, resolved through its references."""
    record = type(item)
    if record is Centre:
        return None
    if isinstance(item, Patient):
        return str(item.centre_id)
    path = centre_path(record)
    relation, _, rest = path.partition("__")
    parent_id = getattr(item, f"{relation}_id")
    parent = _reference_of(record, f"{relation}_id")
    found = (
        readable(actor, parent)  # another centre's row looks absent, as everywhere
        .filter(pk=parent_id)
        .values_list(rest or "centre_id", flat=True)
        .first()
    )
    if found is None:
        raise RecordInvalidError(
            record.table,
            [
                (
                    f"{relation}_id",
                    parent_id,
                    f"unknown {relation}_id: no such row in {parent.table}",
                )
            ],
        )
    return str(found)


def _patient_dataset(patient_id: str) -> Dataset:
    """Every record of one patient (and their centre) as a dataset."""
    dataset = Dataset()
    patient = registry_model(Patient).objects.filter(pk=patient_id).first()
    if patient is not None:
        centre = registry_model(Centre).objects.filter(pk=patient.centre_id).first()
        if centre is not None:
            dataset.centres.append(_record_of(Centre, centre))  # type: ignore[arg-type]
    for record in ENTITIES:
        path = patient_path(record)
        if path is None:
            continue
        rows = registry_model(record).objects.filter(**{path: patient_id})
        getattr(dataset, record.table).extend(_record_of(record, row) for row in rows)
    return dataset


def _check_patient(item: Record, replaced: str | None, removed: bool = False) -> None:
    """Run the dataset rules on the patient's records with ``item`` added/replaced/removed."""
    record = type(item)
    if record is Centre:
        return
    patient_id = item.patient_id if isinstance(item, Patient) else _patient_of(item)
    dataset = _patient_dataset(patient_id)
    if isinstance(item, Patient) and not dataset.centres:
        centre = registry_model(Centre).objects.filter(pk=item.centre_id).first()
        if centre is not None:
            dataset.centres.append(_record_of(Centre, centre))  # type: ignore[arg-type]
    rows: list[Record] = getattr(dataset, record.table)
    key = record.id_field
    kept = [r for r in rows if getattr(r, key) != (replaced or getattr(item, key))]
    if not removed:
        kept.append(item)
    setattr(dataset, record.table, kept)
    issues = check_dataset(dataset)
    if issues:
        raise RecordInvalidError(
            record.table,
            [(i.column, i.value, f"{i.file}: {i.message}") for i in issues],
        )


def _patient_of(item: Record) -> str:
    record = type(item)
    path = patient_path(record)
    assert path is not None
    relation, _, rest = path.partition("__")
    if not rest:
        return str(getattr(item, path))
    parent_column = f"{relation}_id"
    parent = _reference_of(record, parent_column)
    value = (
        registry_model(parent)
        .objects.filter(pk=getattr(item, parent_column))
        .values_list(rest, flat=True)
        .first()
    )
    if value is None:
        raise RecordInvalidError(
            record.table,
            [(parent_column, getattr(item, parent_column), f"unknown {parent_column}")],
        )
    return str(value)


def _reference_of(record: type[Record], column_name: str) -> type[Record]:
    """The entity a reference column of ``record`` points to."""
    target = next(c.references for c in columns(record) if c.name == column_name)
    assert target is not None
    return entity(target)


def audit(
    actor: Actor,
    action: str,
    record: type[Record],
    record_id: str,
    centre_id: str | None,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    reason: str | None,
    at: dt.datetime | None = None,
) -> AuditEntry:
    """An unsaved audit entry (saved by the caller inside the same transaction).

    Saving it (or ``AuditEntry.objects.bulk_create``) links it to the hash chain: its
    ``previous`` and ``digest`` are set then, with the chain head locked
    (:func:`openect.registry.models.link`).
    """
    return AuditEntry(
        at=at or dt.datetime.now(dt.UTC),
        actor=actor.username,
        role=actor.role.value,
        action=str(action),
        entity=record.table,
        record_id=record_id,
        centre_id=centre_id,
        before=None if before is None else to_json(before),
        after=None if after is None else to_json(after),
        reason=reason,
    )


#: Records that are a contact with the patient: their date column, and the record in
#: words for the audit reason of the last contact date they move.
CONTACTS: dict[type[Record], tuple[str, str]] = {
    Session: ("session_date", "session"),
    Assessment: ("assessment_date", "assessment"),
    PatientReported: ("report_date", "quality-of-life report"),
}


def _follow_last_contact(actor: Actor, item: Record) -> None:
    """Move the patient's last contact date up to the date of ``item`` (a session,
    assessment or quality-of-life report, see :data:`CONTACTS`) when it is later or
    unknown, with its own audit entry; inside the caller's transaction, before the
    patient's records are checked. A date after the patient's death is left to those
    checks (it is refused)."""
    spec = CONTACTS.get(type(item))
    if spec is None:
        return
    column, noun = spec
    date: dt.date = getattr(item, column)
    patient_id = _patient_of(item)
    found = (
        registry_model(Patient)
        .objects.filter(pk=patient_id)
        .values_list("last_contact_date", "death_date")
        .first()
    )
    if found is None:
        return
    last, death = found
    if (last is not None and date <= last) or (death is not None and date > death):
        return
    update(
        actor,
        Patient,
        patient_id,
        {"last_contact_date": date},
        reason=f"last contact follows the {noun} of {date.isoformat()}",
    )


def _next_position(record: type[Record]) -> int:
    top = registry_model(record).objects.aggregate(top=Max("position"))["top"]
    return 0 if top is None else int(top) + 1


# ------------------------------------------------------------------------- reads
@overload
def get(actor: Actor, record: type[R], record_id: str) -> R: ...
@overload
def get(actor: Actor, record: str, record_id: str) -> Record: ...
def get(actor: Actor, record: type[Record] | str, record_id: str) -> Record:
    """One record within the actor's scope; NotFoundError otherwise (also when out of scope).

    Typed: ``get(actor, Lesion, "P1-L1")`` is a :class:`Lesion`.
    """
    kind = entity(record)
    row = readable(actor, kind).filter(pk=record_id).first()
    if row is None:
        raise NotFoundError(f"{kind.table}: no {kind.id_field}={record_id!r} in your scope")
    return redacted(actor, _record_of(kind, row))


def list_records(
    actor: Actor,
    record: type[Record] | str,
    *,
    offset: int = 0,
    limit: int | None = None,
    **filters: Any,
) -> list[Record]:
    """Records of an entity within the actor's scope, in registry order.

    ``filters`` are column equalities, e.g. ``patient_id="P1"``; ``offset`` and ``limit``
    select a page (rows skipped, at most ``limit`` rows).
    """
    if offset < 0 or (limit is not None and limit < 0):
        raise InputError(f"offset={offset}, limit={limit}: allowed >= 0")
    kind = entity(record)
    known = set(column_names(kind))
    unknown = sorted(set(filters) - known)
    if unknown:
        raise InputError(
            f"filter {unknown[0]!r}: not a column of {kind.table}; "
            f"allowed {', '.join(sorted(known))}"
        )
    rows = readable(actor, kind).filter(**filters)
    rows = rows[offset:] if limit is None else rows[offset : offset + limit]
    return [redacted(actor, _record_of(kind, row)) for row in rows]


def count(actor: Actor, record: type[Record] | str, **filters: Any) -> int:
    """Number of records of an entity within the actor's scope."""
    return int(readable(actor, entity(record)).filter(**filters).count())


def _refused(record: type[Record], error: IntegrityError) -> RecordInvalidError:
    """The database's refusal of a write, without its own text (which may name other
    centres' rows or the schema): logged for the administrator, a plain message for the
    user."""
    LOG.warning("%s: the database refused a write: %s", record.table, error)
    return RecordInvalidError(
        record.table,
        [(None, None, "the database refused the record: a value conflicts with stored data")],
    )


# ------------------------------------------------------------------------- identifiers
def numbered_id(record: type[Record], parent_id: str) -> str:
    """The first free ``<parent_id>-<prefix><n>`` (n = 1, 2, ...) of ``record``'s table.

    Free in the whole registry, not only in a scope: the number says nothing of other
    centres' records, because no other centre can hold an id under this parent (see
    :func:`check_namespace`). Call inside the writing transaction, which holds the
    chain's lock, so that two concurrent writers never get the same number.
    """
    stem = f"{parent_id}-{record.id_prefix}"
    taken = set(
        registry_model(record).objects.filter(pk__startswith=stem).values_list("pk", flat=True)
    ) | set(
        VoidedRecord.objects.filter(entity=record.table, record_id__startswith=stem).values_list(
            "record_id", flat=True
        )
    )
    n = 1
    while f"{stem}{n}" in taken:
        n += 1
    return f"{stem}{n}"


def check_namespace(actor: Actor, item: Record) -> None:
    """Refuse an identifier chosen outside the actor's own namespace.

    A user of a centre names new records only under records of their centre: a patient
    ``<centre_id>-...``, a lesion, session, adverse event, report or therapy
    ``<patient_id>-...``, an application ``<session_id>-...``, an assessment
    ``<lesion_id>-...`` (the parent is in their scope, else the reference is refused).
    Two centres' namespaces are then disjoint, so a refusal because an identifier is in
    use can only concern the actor's own centre, and never tells whether another centre
    holds an identifier. Administrators and the command line (who see every centre) and
    imports keep free identifiers.
    """
    record = type(item)
    if actor.centre_id is None or record.id_parent is None:
        return
    parent = str(getattr(item, record.id_parent))
    if not item.id.startswith(f"{parent}-"):
        raise RecordInvalidError(
            record.table,
            [
                (
                    record.id_field,
                    item.id,
                    f"must begin with '{parent}-' (its {record.id_parent}); "
                    "leave it empty and the registry numbers it",
                )
            ],
        )


def with_new_id(record: type[Record], values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` with the record's identifier numbered under its parent when none is
    given (see :func:`numbered_id`); unchanged when it is given or has no parent."""
    out = dict(values)
    if out.get(record.id_field) in (None, "") and record.id_parent is not None:
        parent = out.get(record.id_parent)
        if isinstance(parent, str) and parent:
            out[record.id_field] = numbered_id(record, parent)
    return out


def _numbered_new(record: type[R], values: Mapping[str, Any]) -> R:
    """The new record of ``values`` (no id given), numbered under its parent; a missing
    id is not reported when something else is (e.g. the missing parent)."""
    try:
        return validated(record, with_new_id(record, values))
    except RecordInvalidError as error:
        others = [issue for issue in error.issues if issue[0] != record.id_field]
        if not others:
            raise
        raise RecordInvalidError(record.table, others) from None


def next_patient_number(centre_id: str) -> int:
    """The next number of a patient at ``centre_id`` (the centre's highest + 1, from 1):
    the ``0042`` of the label ``C01-0042``. Call inside the writing transaction, which
    holds the chain's lock, so that two writers never get the same number."""
    top = (
        registry_model(Patient)
        .objects.filter(centre_id=centre_id)
        .aggregate(top=Max("patient_number"))["top"]
    )
    return 1 if top is None else int(top) + 1


def _numbered_patient(item: R) -> R:
    """A new patient without a number, numbered at its centre; other records unchanged.

    A number given that another patient of the centre has is refused (the actor's own
    centre: nothing is said of another's)."""
    if not isinstance(item, Patient):
        return item
    if item.patient_number is None:
        number = next_patient_number(item.centre_id)
        return cast(R, item.model_copy(update={"patient_number": number}))
    taken = registry_model(Patient).objects.filter(
        centre_id=item.centre_id, patient_number=item.patient_number
    )
    if taken.exclude(pk=item.patient_id).exists():
        raise RecordInvalidError(
            Patient.table,
            [
                (
                    "patient_number",
                    str(item.patient_number),
                    "already the number of another patient of the centre; leave it empty "
                    "and the registry numbers it",
                )
            ],
        )
    return item


# ------------------------------------------------------------------------- writes
def create(actor: Actor, item: R, reason: str | None = None) -> R:
    """Create ``item`` (a canonical record) after checks; audited. Returns it."""
    return _create(actor, type(item), to_row_values(item), reason, namespaced=True)


def create_numbered(
    actor: Actor, record: type[R], values: Mapping[str, Any], reason: str | None = None
) -> R:
    """Create a ``record`` from ``values``, numbering its identifier under its parent
    (e.g. ``P1-L3``) when none is given; otherwise as :func:`create`."""
    return _create(actor, record, values, reason, numbered=True, namespaced=True)


@retry_write
def _create(
    actor: Actor,
    record: type[R],
    values: Mapping[str, Any],
    reason: str | None,
    *,
    namespaced: bool,
    numbered: bool = False,
    in_use: str = "already in use; leave it empty and the registry numbers it",
) -> R:
    """Create a ``record`` from ``values``: scope, namespace, rules, then the write."""
    to_number = numbered and values.get(record.id_field) in (None, "")
    # the row's own errors before any database work; a record to number is validated
    # once its number is made, in the transaction that holds the chain's lock
    ready = None if to_number else validated(record, values)
    with transaction.atomic():
        lock_chain()  # the audit chain's head first, then rows (see lock_chain)
        item = ready if ready is not None else _numbered_new(record, values)
        key = str(getattr(item, record.id_field))
        centre_id = _centre_of(actor, item)
        require_write(actor, centre_id, record.table)
        if namespaced:
            check_namespace(actor, item)
        # In use: said at once, in the same words whoever holds the id (a centre's
        # namespace holds only its own records; see check_namespace).
        if registry_model(record).objects.filter(pk=key).exists():
            raise RecordInvalidError(record.table, [(record.id_field, key, in_use)])
        if VoidedRecord.objects.filter(entity=record.table, record_id=key).exists():
            raise RecordInvalidError(record.table, [(record.id_field, key, VOIDED_ID)])
        item = _numbered_patient(item)
        _follow_last_contact(actor, item)
        _check_patient(item, replaced=None)
        row = to_row_values(item)
        with service_write(f"create {record.table}"):
            try:
                registry_model(record).objects.create(**row, position=_next_position(record))
            except IntegrityError as error:
                raise _refused(record, error) from error
            audit(actor, AuditAction.CREATE, record, key, centre_id, None, row, reason).save()
    return item


def _locked_row(actor: Actor, kind: type[Record], record_id: str, verb: str) -> Any:
    """The row the actor may ``verb``, locked for the transaction.

    Only the record's own row is locked (``of=("self",)``), not the patient or centre
    rows its scope filter joins: an import holding those must not deadlock with it.

    AccessDeniedError when the actor may read but not change it; NotFoundError when it
    is outside the actor's scope (it then looks absent).
    """
    row = writable(actor, kind).select_for_update(of=("self",)).filter(pk=record_id).first()
    if row is not None:
        return row
    if readable(actor, kind).filter(pk=record_id).exists():
        raise AccessDeniedError(
            f"user {actor.username!r} ({actor.role.value}) may not {verb} "
            f"{kind.table} {record_id!r}"
        )
    raise NotFoundError(f"{kind.table}: no {kind.id_field}={record_id!r} in your scope")


@retry_write
def update(
    actor: Actor,
    record: type[Record] | str,
    record_id: str,
    changes: Mapping[str, Any],
    reason: str | None = None,
) -> Record:
    """Change columns of one record after checks; audited with before and after values."""
    kind = entity(record)
    names = set(column_names(kind))
    unknown = sorted(set(changes) - names)
    if unknown:
        raise InputError(
            f"{kind.table}.{unknown[0]}: not a column; allowed {', '.join(sorted(names))}"
        )
    if kind.id_field in changes and changes[kind.id_field] != record_id:
        raise InputError(f"{kind.table}.{kind.id_field}: identifiers cannot be changed")
    with transaction.atomic():
        lock_chain()  # the audit chain's head first, then rows (see lock_chain)
        row = _locked_row(actor, kind, record_id, "change")
        before = _row_values(kind, row)
        current = _record_of(kind, row)
        moved = sorted(
            c.name
            for c in columns(kind)
            if c.references is not None
            and kind is not Patient
            and c.name in changes
            and changes[c.name] != before[c.name]
        )
        if moved:
            raise InputError(
                f"{kind.table}.{moved[0]}: the owner of a record cannot be changed (its "
                "other records would be left behind); delete it and create it again under "
                "the other owner"
            )
        merged = to_row_values(current) | dict(changes)
        if kind is Patient and merged.get("patient_number") is None:
            merged["patient_number"] = before["patient_number"]  # a number stays
        item = validated(kind, merged)
        centre_id = _centre_of(actor, item)
        require_write(actor, centre_id, kind.table)
        after = to_row_values(item)
        unchanged = after == to_row_values(current)
        if not unchanged:
            _follow_last_contact(actor, item)
        _check_patient(item, replaced=record_id)
        if unchanged:
            return item
        with service_write(f"update {kind.table}"):
            for name, value in after.items():
                setattr(row, name, value)
            try:
                row.save()
            except IntegrityError as error:
                raise _refused(kind, error) from error
            audit(
                actor, AuditAction.UPDATE, kind, record_id, centre_id, before, after, reason
            ).save()
    return item


@retry_write
def delete(
    actor: Actor, record: type[Record] | str, record_id: str, reason: str | None = None
) -> None:
    """Delete one record (refused while other records refer to it); audited."""
    kind = entity(record)
    with transaction.atomic():
        lock_chain()  # the audit chain's head first, then rows (see lock_chain)
        row = _locked_row(actor, kind, record_id, "delete")
        before = _row_values(kind, row)
        item = _record_of(kind, row)
        referrers = _referring(kind, record_id)
        if referrers:
            raise RecordInUseError(
                f"{kind.table} {record_id!r}: still referred to by "
                + ", ".join(f"{n} row(s) of {t}" for t, n in referrers)
                + "; delete those first"
            )
        centre_id = None if kind is Centre else _centre_of(actor, item)
        if kind is not Patient and kind is not Centre:
            _check_patient(item, replaced=record_id, removed=True)
        with service_write(f"delete {kind.table}"):
            row.delete()
            audit(
                actor, AuditAction.DELETE, kind, record_id, centre_id, before, None, reason
            ).save()


#: Why a new record may not take the identifier of a voided one.
VOIDED_ID = (
    "the identifier of a voided record (restore it, or leave the identifier empty and the "
    "registry numbers the record)"
)
#: Longest reason for a void or a restore (characters).
REASON_MAX = 500


def _void_reason(table: str, reason: str | None) -> str:
    """The reason of a void or restore, stripped; refused when blank or too long."""
    text = (reason or "").strip()
    if not text:
        raise RecordInvalidError(table, [("reason", reason, "required: say why (audited)")])
    if len(text) > REASON_MAX:
        raise RecordInvalidError(
            table, [("reason", f"{text[:20]}...", f"at most {REASON_MAX} characters")]
        )
    return text


def _dependants(
    kind: type[Record], record_id: str, seen: set[tuple[str, str]] | None = None, lock: bool = True
) -> list[tuple[type[Record], Any]]:
    """The rows that refer to ``record_id`` of ``kind``, and theirs, recursively, each
    once; those deepest in the chain of references first (the order they can be removed
    in)."""
    seen = set() if seen is None else seen
    out: list[tuple[type[Record], Any]] = []
    for other in ENTITIES:
        for column in columns(other):
            if column.references != kind.table:
                continue
            rows = registry_model(other).objects.filter(**{column.name: record_id})
            for row in rows.select_for_update(of=("self",)) if lock else rows:
                key = (other.table, str(row.pk))
                if key in seen:
                    continue
                seen.add(key)
                out.extend(_dependants(other, str(row.pk), seen, lock))
                out.append((other, row))
    return out


def void_preview(actor: Actor, record: type[Record] | str, record_id: str) -> list[tuple[str, str]]:
    """What :func:`void` would void (dependants first, the record last), writing nothing;
    NotFoundError out of scope, AccessDeniedError when the actor may not change it."""
    kind = entity(record)
    item = get(actor, kind, record_id)
    require_write(actor, _centre_of(actor, item), kind.table)
    found = _dependants(kind, record_id, lock=False)
    return [*((other.table, str(row.pk)) for other, row in found), (kind.table, record_id)]


@retry_write
def void(
    actor: Actor, record: type[Record] | str, record_id: str, reason: str | None
) -> list[tuple[str, str]]:
    """Void one record entered in error, with the records that depend on it (a lesion's
    assessments and applications, a session's applications, a patient's records); the
    reason is required. Returns the ``(table, id)`` voided, dependants first.

    Each row moves to :class:`~openect.registry.models.VoidedRecord` with an audit entry
    (``void``, the values before, the reason), in one transaction: afterwards no read,
    export or analysis sees it. Centres are not voided. Scope as for a change.
    """
    kind = entity(record)
    text = _void_reason(kind.table, reason)
    if kind is Centre:
        raise InputError("centres: a centre is not voided (its patients are)")
    with transaction.atomic():
        lock_chain()  # the audit chain's head first, then rows (see lock_chain)
        row = _locked_row(actor, kind, record_id, "void")
        item = _record_of(kind, row)
        centre_id = _centre_of(actor, item)
        require_write(actor, centre_id, kind.table)
        patient_id = item.patient_id if isinstance(item, Patient) else _patient_of(item)
        root = f"{kind.table}/{record_id}"
        now = dt.datetime.now(dt.UTC)
        done: list[tuple[str, str]] = []
        with service_write(f"void {kind.table}"):
            for sequence, (other, other_row) in enumerate(
                [*_dependants(kind, record_id), (kind, row)]
            ):
                ident = str(other_row.pk)
                before = _row_values(other, other_row)
                why = text if other is kind else f"voided with {root}: {text}"
                VoidedRecord.objects.create(
                    entity=other.table,
                    record_id=ident,
                    centre_id=centre_id,
                    patient_id=patient_id,
                    values=to_json(before),
                    position=other_row.position,
                    sequence=sequence,
                    root=root,
                    voided_at=now,
                    voided_by=actor.username,
                    reason=why,
                )
                other_row.delete()
                audit(
                    actor, AuditAction.VOID, other, ident, centre_id, before, None, why, at=now
                ).save()
                done.append((other.table, ident))
    return done


def voided_records(actor: Actor, patient_id: str) -> list[VoidedRecord]:
    """The voided records of one patient the actor may change (to restore), newest void
    first; NotFoundError when the patient (live or voided) is outside the actor's scope."""
    rows = VoidedRecord.objects.filter(patient_id=patient_id)
    centres = set(rows.values_list("centre_id", flat=True))
    if not centres:
        get(actor, Patient, patient_id)  # scope: absent and out of scope look the same
        return []
    if not any(actor.may_write(c) for c in centres):
        raise NotFoundError(f"patients: no patient_id={patient_id!r} in your scope")
    return list(rows.order_by("-voided_at", "sequence"))


@retry_write
def unvoid(
    actor: Actor, record: type[Record] | str, record_id: str, reason: str | None
) -> list[tuple[str, str]]:
    """Restore a voided record, with the records voided with it (when it was the record
    the void was asked for); the reason is required. Returns the ``(table, id)`` restored.

    The rows come back as they were (same identifier and registry order), checked again
    by the data model and the patient's records as a whole; refused while the record
    they belong to is itself voided. Audited (``unvoid``, the values, the reason).
    """
    kind = entity(record)
    text = _void_reason(kind.table, reason)
    with transaction.atomic():
        lock_chain()
        found = (
            VoidedRecord.objects.select_for_update()
            .filter(entity=kind.table, record_id=record_id)
            .first()
        )
        if found is None or not actor.may_write(found.centre_id):
            raise NotFoundError(
                f"{kind.table}: no voided {kind.id_field}={record_id!r} in your scope"
            )
        group = [found]
        if found.root == f"{kind.table}/{record_id}":
            group = list(
                VoidedRecord.objects.select_for_update()
                .filter(root=found.root, voided_at=found.voided_at)
                .order_by("-sequence")
            )
        done: list[tuple[str, str]] = []
        with service_write(f"unvoid {kind.table}"):
            for voided in group:
                other = entity(voided.entity)
                item = validated(other, dict(voided.values))
                _unvoid_parent_check(other, item)
                row = to_row_values(item)
                registry_model(other).objects.create(**row, position=voided.position)
                voided.delete()
                audit(
                    actor,
                    AuditAction.UNVOID,
                    other,
                    voided.record_id,
                    voided.centre_id,
                    None,
                    row,
                    text,
                ).save()
                done.append((other.table, voided.record_id))
        if found.patient_id is not None and kind is not Centre:
            patient = _record_of(Patient, registry_model(Patient).objects.get(pk=found.patient_id))
            _check_patient(patient, replaced=found.patient_id)
    return done


def _unvoid_parent_check(record: type[Record], item: Record) -> None:
    """Refuse to restore ``item`` while a record it refers to is absent (voided)."""
    for column in columns(record):
        target = column.references
        value = getattr(item, column.name)
        if target is None or value is None or column.name == record.id_field:
            continue
        if registry_model(entity(target)).objects.filter(pk=value).exists():
            continue
        voided = VoidedRecord.objects.filter(entity=target, record_id=value).exists()
        raise RecordInvalidError(
            record.table,
            [
                (
                    column.name,
                    str(value),
                    f"{target} {value} is voided: restore it first"
                    if voided
                    else f"no such row in {target}",
                )
            ],
        )


def _referring(record: type[Record], record_id: str) -> list[tuple[str, int]]:
    out = []
    for other in ENTITIES:
        for column in columns(other):
            if column.references == record.table:
                n = registry_model(other).objects.filter(**{column.name: record_id}).count()
                if n:
                    out.append((other.table, int(n)))
    return out


def register_patient(
    actor: Actor,
    hospital_number: str,
    values: Mapping[str, Any],
    key: bytes | None = None,
    reason: str | None = None,
) -> Patient:
    """Create a patient whose id is the pseudonym of ``hospital_number`` (never stored).

    ``values`` are the other patient columns. Raises RecordInvalidError if the patient is
    already registered.
    """
    if "patient_id" in values:
        raise InputError("patient_id: derived from the hospital number; do not give it")
    centre_id = str(values.get("centre_id") or "")
    if not centre_id:
        raise RecordInvalidError(
            Patient.table, [("centre_id", None, "required; must not be empty")]
        )
    patient_id = pseudonyms.pseudonym(hospital_number, centre_id, key)
    item = validated(Patient, {**values, "patient_id": patient_id})
    # The pseudonym is made by the registry: outside the centre's chosen namespace.
    return _create(
        actor,
        Patient,
        to_row_values(item),
        reason,
        namespaced=False,
        in_use="this hospital number is already registered at this centre",
    )


@retry_write
def record_session(
    actor: Actor, session: Session, reason: str | None = None
) -> tuple[Session, dt.date | None]:
    """Create ``session`` (:func:`create`: the patient's last contact date follows it, in
    the same transaction). Returns the session and the last contact date it replaced
    (None when it did not move)."""
    with transaction.atomic():
        last = get(actor, Patient, session.patient_id).last_contact_date
        created = create(actor, session, reason)
        now = get(actor, Patient, session.patient_id).last_contact_date
    return created, last if now != last else None


def patient_records(actor: Actor, patient_id: str) -> Dataset:
    """Every record of one patient (and their centre) the actor may read, as a dataset.

    NotFoundError when the patient is not in the actor's scope. Free text is blanked for
    analysts as everywhere.
    """
    get(actor, Patient, patient_id)  # scope check
    dataset = _patient_dataset(patient_id)
    if not actor.sees_free_text:
        for record in ENTITIES:
            items = getattr(dataset, record.table)
            setattr(dataset, record.table, [redacted(actor, item) for item in items])
    return dataset
