"""Import a CSV dataset into the registry and export the registry as a dataset.

Import is all-or-nothing: the dataset is validated as a whole first (every problem
reported, nothing written), then every row is created, updated or left alone in one
transaction, each create and update audited. Re-importing the same data changes
nothing. Rows keep their file order (``position``), so that an import followed by an
export gives the same files byte for byte.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Max

from openect import __version__
from openect.data.dataset import Dataset, DatasetInfo
from openect.data.models import ENTITIES, Centre, Patient, Record
from openect.data.validation import ValidationReport, check_dataset
from openect.errors import AccessDeniedError, InputError
from openect.registry.access import Actor, readable
from openect.registry.guard import service_write
from openect.registry.models import AuditAction, AuditEntry, DatasetSource, Role
from openect.registry.records import (
    centre_path,
    column_names,
    from_row_values,
    registry_model,
    to_json,
    to_row_values,
)
from openect.registry.services import audit

#: Rows per INSERT batch.
BATCH = 2000


class ImportRejectedError(InputError):
    """The dataset was not imported (nothing written); ``report`` lists every problem."""

    def __init__(self, report: ValidationReport, headline: str | None = None) -> None:
        self.report = report
        count = len(report.issues)
        first = report.issues[0] if report.issues else None
        text = headline or f"{count} problem(s); nothing imported"
        if first is not None and headline is None:
            text += f"; first: {first}"
        super().__init__(text)


@dataclass
class ImportSummary:
    """What an import did, per table: rows created, updated and unchanged."""

    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    unchanged: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable summary."""
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "total_created": sum(self.created.values()),
            "total_updated": sum(self.updated.values()),
        }


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _centre_of_records(dataset: Dataset) -> dict[str, dict[str, str]]:
    """Centre of every record of every table, through the patients."""
    patient_centre = {p.patient_id: p.centre_id for p in dataset.patients}
    lesion_patient = {x.lesion_id: x.patient_id for x in dataset.lesions}
    session_patient = {x.session_id: x.patient_id for x in dataset.sessions}
    out: dict[str, dict[str, str]] = {}
    for record in ENTITIES:
        key = record.id_field
        rows: dict[str, str] = {}
        for item in dataset.records(record):
            ident = str(getattr(item, key))
            if record is Centre:
                rows[ident] = ident
            elif isinstance(item, Patient):
                rows[ident] = str(item.centre_id)
            elif hasattr(item, "patient_id"):
                rows[ident] = patient_centre.get(str(item.patient_id), "")
            elif hasattr(item, "session_id"):
                patient = session_patient.get(str(item.session_id), "")
                rows[ident] = patient_centre.get(patient, "")
            else:
                patient = lesion_patient.get(str(getattr(item, "lesion_id")), "")  # noqa: B009
                rows[ident] = patient_centre.get(patient, "")
        out[record.table] = rows
    return out


def _check_scope(actor: Actor, dataset: Dataset, centre_id: str | None) -> None:
    centres = {p.centre_id for p in dataset.patients}
    if centre_id is not None:
        others = sorted(
            (p.patient_id, p.centre_id) for p in dataset.patients if p.centre_id != centre_id
        )
        if others:
            patient, centre = others[0]
            raise AccessDeniedError(
                f"--centre {centre_id}: the dataset has {len(others)} patient(s) of other "
                f"centres (e.g. {patient} of {centre}); nothing imported"
            )
    if actor.role is Role.ADMIN:
        return
    if actor.role is Role.ANALYST:
        raise AccessDeniedError(f"user {actor.username!r} (analyst) may not import data")
    outside = sorted(c for c in centres if c != actor.centre_id)
    if outside:
        raise AccessDeniedError(
            f"user {actor.username!r} ({actor.role.value}, centre {actor.centre_id}) may not "
            f"import patients of centre {outside[0]}; nothing imported"
        )
    foreign = [c.centre_id for c in dataset.centres if c.centre_id != actor.centre_id]
    if foreign:
        raise AccessDeniedError(
            f"user {actor.username!r} may not import centre rows other than "
            f"{actor.centre_id} (found {foreign[0]}); nothing imported"
        )


def import_dataset(
    actor: Actor,
    dataset: Dataset,
    centre_id: str | None = None,
    reason: str | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> ImportSummary:
    """Import ``dataset`` (all or nothing); ImportRejectedError or AccessDeniedError if not.

    ``centre_id`` requires every patient to belong to that centre. Rows already in the
    registry with the same values are left alone; with other values they are updated
    (audited); new rows are created (audited). ``progress(table, done, total)`` is
    called as tables are written.
    """
    issues = check_dataset(dataset)
    if issues:
        raise ImportRejectedError(ValidationReport(issues=list(issues), counts=dataset.counts()))
    _check_scope(actor, dataset, centre_id)
    centres = _centre_of_records(dataset)
    summary = ImportSummary()
    now = dt.datetime.now(dt.UTC)
    why = reason or "dataset import"
    with transaction.atomic(), service_write("import"):
        for record in ENTITIES:
            items = dataset.records(record)
            _import_table(actor, record, items, centres[record.table], summary, now, why)
            if progress is not None:
                progress(record.table, len(items), len(items))
        info = json.dumps(dataset.info.model_dump(mode="json"), ensure_ascii=False)
        if not DatasetSource.objects.filter(info=info).exists():
            source = DatasetSource.objects.create(
                actor=actor.username, info=info, rows=dataset.counts()
            )
            AuditEntry.objects.bulk_create(
                [
                    AuditEntry(
                        at=now,
                        actor=actor.username,
                        role=str(actor.role),
                        action=str(AuditAction.IMPORT),
                        entity="dataset_sources",
                        record_id=str(source.pk),
                        centre_id=centre_id,
                        before=None,
                        after={"dataset.json": json.loads(info), "rows": dataset.counts()},
                        reason=why,
                    )
                ]
            )
    return summary


def _import_table(
    actor: Actor,
    record: type[Record],
    items: list[Any],
    centre_of: dict[str, str],
    summary: ImportSummary,
    now: dt.datetime,
    reason: str,
) -> None:
    model = registry_model(record)
    names = column_names(record)
    key = record.id_field
    values = [to_row_values(item) for item in items]
    ids = [str(v[key]) for v in values]
    existing: dict[str, dict[str, Any]] = {}
    for chunk in _chunks(ids, BATCH):
        for row in model.objects.filter(pk__in=list(chunk)).values(*names):
            existing[str(row[key])] = row
    if existing and actor.role is not Role.ADMIN:
        path = centre_path(record)
        allowed = set(
            model.objects.filter(pk__in=list(existing), **{path: actor.centre_id}).values_list(
                "pk", flat=True
            )
        )
        clash = sorted(set(existing) - allowed)
        if clash:
            raise AccessDeniedError(
                f"{record.table}: {key}={clash[0]!r} already exists for another centre; "
                "nothing imported"
            )
    top = model.objects.aggregate(top=Max("position"))["top"]
    position = 0 if top is None else int(top) + 1
    new_rows, entries = [], []
    created = updated = unchanged = 0
    for ident, row_values in zip(ids, values, strict=True):
        old = existing.get(ident)
        if old is None:
            new_rows.append(model(**row_values, position=position))
            position += 1
            entries.append(
                audit(
                    actor,
                    AuditAction.CREATE,
                    record,
                    ident,
                    centre_of.get(ident) or None,
                    None,
                    row_values,
                    reason,
                    now,
                )
            )
            created += 1
        elif old != row_values:
            model.objects.filter(pk=ident).update(**row_values)
            entries.append(
                audit(
                    actor,
                    AuditAction.UPDATE,
                    record,
                    ident,
                    centre_of.get(ident) or None,
                    old,
                    row_values,
                    reason,
                    now,
                )
            )
            updated += 1
        else:
            unchanged += 1
        if len(new_rows) >= BATCH:
            model.objects.bulk_create(new_rows)
            new_rows = []
        if len(entries) >= BATCH:
            AuditEntry.objects.bulk_create(entries)
            entries = []
    if new_rows:
        model.objects.bulk_create(new_rows)
    if entries:
        AuditEntry.objects.bulk_create(entries)
    summary.created[record.table] = created
    summary.updated[record.table] = updated
    summary.unchanged[record.table] = unchanged


def export_dataset(actor: Actor) -> Dataset:
    """The registry (as the actor may read it) as a dataset, rows in registry order.

    ``dataset.json`` is the imported one when the registry came from one import, else a
    new one naming this program; it is marked synthetic if any import was.
    """
    dataset = Dataset(info=_export_info())
    for record in ENTITIES:
        names = column_names(record)
        rows = readable(actor, record).order_by("position", "pk").values(*names)
        items = [from_row_values(record, row) for row in rows.iterator(chunk_size=BATCH)]
        if not actor.sees_free_text:
            from openect.registry.services import redacted

            items = [redacted(actor, item) for item in items]
        setattr(dataset, record.table, items)
    return dataset


def _export_info() -> DatasetInfo:
    sources = [
        json.loads(text)
        for text in DatasetSource.objects.order_by("id").values_list("info", flat=True)
    ]
    if len(sources) == 1:
        return DatasetInfo.model_validate(sources[0])
    synthetic = any(bool(s.get("synthetic")) for s in sources)
    return DatasetInfo(
        generator=f"openect {__version__} (registry export)",
        synthetic=synthetic,
        description=("SYNTHETIC data, not real patients (registry export)." if synthetic else None),
    )


def audit_entries(entity: str | None = None, record_id: str | None = None) -> list[dict[str, Any]]:
    """Audit entries, oldest first, optionally for one entity table and/or record id."""
    rows = AuditEntry.objects.order_by("id")
    if entity is not None:
        rows = rows.filter(entity=entity)
    if record_id is not None:
        rows = rows.filter(record_id=record_id)
    return [
        {
            "id": e.id,
            "at": e.at.isoformat(),
            "actor": e.actor,
            "role": e.role,
            "action": e.action,
            "entity": e.entity,
            "record_id": e.record_id,
            "centre_id": e.centre_id,
            "before": e.before,
            "after": e.after,
            "reason": e.reason,
        }
        for e in rows
    ]


__all__ = [
    "ImportRejectedError",
    "ImportSummary",
    "export_dataset",
    "import_dataset",
    "to_json",
]
