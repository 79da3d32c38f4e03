"""Import a CSV dataset into the registry and export the registry as a dataset.

Import is all-or-nothing: the dataset is validated as a whole first (every problem
reported, nothing written), then checked against the registry (an import never changes
the owner of a stored record nor touches another centre's record) and validated once
more merged with the registry (the same rules as ``openect data validate``), then every
row is created, updated or left alone in one transaction, each create and update
audited. Re-importing the same data changes
nothing. Rows keep their file order (``position``), so that an import followed by an
export gives the same files byte for byte.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Max

from openect import __version__
from openect.data.dataset import Dataset, DatasetInfo
from openect.data.models import ENTITIES, Centre, Patient, Record, references
from openect.data.schema import file_name
from openect.data.validation import ValidationIssue, ValidationReport, check_dataset
from openect.errors import AccessDeniedError, InputError
from openect.registry.access import Actor, readable
from openect.registry.guard import service_write
from openect.registry.models import AuditAction, AuditEntry, DatasetSource, Role, VoidedRecord
from openect.registry.records import (
    centre_path,
    column_names,
    from_row_values,
    patient_path,
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


class ImportDeniedError(AccessDeniedError):
    """Rows of the dataset touch records the import may not change (another centre's,
    or a stored record's owner); nothing written. ``report`` names file, row and column.
    """

    def __init__(self, report: ValidationReport) -> None:
        self.report = report
        first = report.issues[0]
        more = len(report.issues) - 1
        suffix = f" (and {more} more)" if more else ""
        super().__init__(f"{first}{suffix}; nothing imported")


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


def _lines(dataset: Dataset, lines: Mapping[str, Sequence[int]] | None) -> dict[str, Sequence[int]]:
    """CSV line number of every record: the reader's where known, else list index + 2."""
    out: dict[str, Sequence[int]] = {}
    for record in ENTITIES:
        known = lines.get(record.table) if lines is not None else None
        count = len(dataset.records(record))
        out[record.table] = (
            known if known is not None and len(known) == count else range(2, count + 2)
        )
    return out


def _stored_rows(dataset: Dataset) -> dict[str, dict[str, dict[str, Any]]]:
    """Registry column values of every stored record that the dataset has a row for."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for record in ENTITIES:
        model = registry_model(record)
        names = column_names(record)
        key = record.id_field
        ids = [str(getattr(item, key)) for item in dataset.records(record)]
        rows: dict[str, dict[str, Any]] = {}
        for chunk in _chunks(ids, BATCH):
            for row in model.objects.filter(pk__in=list(chunk)).values(*names):
                rows[str(row[key])] = row
        out[record.table] = rows
    return out


def _stored_centres(record: type[Record], ids: Sequence[str]) -> dict[str, str | None]:
    """The centre of each stored record of ``ids`` (through its references)."""
    model = registry_model(record)
    path = centre_path(record)
    out: dict[str, str | None] = {}
    for chunk in _chunks(list(ids), BATCH):
        for ident, centre in model.objects.filter(pk__in=list(chunk)).values_list("pk", path):
            out[str(ident)] = None if centre is None else str(centre)
    return out


def _check_stored(
    actor: Actor,
    dataset: Dataset,
    centre_id: str | None,
    stored: dict[str, dict[str, dict[str, Any]]],
    lines: Mapping[str, Sequence[int]],
) -> None:
    """Refuse rows that would change another centre's record or a stored record's owner.

    The scope is ``centre_id`` (``--centre``), else the centre of a centre user; an
    administrator without ``--centre`` may import every centre but still never moves a
    record. ImportDeniedError (another centre's record) or ImportRejectedError (a move)
    names file, row and column of every such row.
    """
    scope = (
        centre_id
        if centre_id is not None
        else (None if actor.role is Role.ADMIN else actor.centre_id)
    )
    denied: list[ValidationIssue] = []
    issues: list[ValidationIssue] = []
    for record in ENTITIES:
        rows = stored[record.table]
        if not rows:
            continue
        name = file_name(record)
        key = record.id_field
        refs = list(references(record))
        centres = _stored_centres(record, list(rows)) if scope is not None else {}
        for item, line in zip(dataset.records(record), lines[record.table], strict=True):
            ident = str(getattr(item, key))
            old = rows.get(ident)
            if old is None:
                continue
            if scope is not None and centres.get(ident) != scope:
                if record is Centre and old == to_row_values(item):
                    continue  # an unchanged row of another centre changes nothing
                owner = centres.get(ident)
                whose = f" ({owner})" if actor.role is Role.ADMIN and owner else ""
                denied.append(
                    ValidationIssue(
                        name,
                        line,
                        key,
                        ident,
                        f"already exists for another centre{whose}; an import of centre "
                        f"{scope} may not change it",
                    )
                )
                continue
            new = to_row_values(item)
            for column in refs:
                if old[column] != new[column]:
                    issues.append(
                        ValidationIssue(
                            name,
                            line,
                            column,
                            _text(new[column]),
                            f"{record.table} {ident} belongs to {column} {_text(old[column])}; "
                            "an import never changes the owner of a stored record",
                        )
                    )
    if denied:
        raise ImportDeniedError(ValidationReport(issues=denied, counts=dataset.counts()))
    if issues:
        raise ImportRejectedError(ValidationReport(issues=issues, counts=dataset.counts()))


def _check_voided(dataset: Dataset, lines: Mapping[str, Sequence[int]]) -> None:
    """Refuse rows that carry the identifier of a voided record (ImportRejectedError
    with file, row and column): a voided record is restored, never imported over."""
    issues: list[ValidationIssue] = []
    for record in ENTITIES:
        items = dataset.records(record)
        key = record.id_field
        ids = [str(getattr(item, key)) for item in items]
        voided: set[str] = set()
        for chunk in _chunks(ids, BATCH):
            voided.update(
                VoidedRecord.objects.filter(
                    entity=record.table, record_id__in=list(chunk)
                ).values_list("record_id", flat=True)
            )
        for ident, line in zip(ids, lines[record.table], strict=True):
            if ident in voided:
                issues.append(
                    ValidationIssue(
                        file_name(record),
                        line,
                        key,
                        ident,
                        "the identifier of a voided record: restore it in the registry "
                        "(openect registry unvoid) or give the row another identifier",
                    )
                )
    if issues:
        raise ImportRejectedError(ValidationReport(issues=issues, counts=dataset.counts()))


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _merged(
    dataset: Dataset,
    lines: Mapping[str, Sequence[int]],
) -> tuple[Dataset, dict[str, list[int]], dict[int, Record]]:
    """The registry records of every patient the file touches, with the file's rows.

    File rows replace the stored rows of the same id (in place) and new rows follow.
    Returns the merged dataset, the line numbers (a negative mark for a stored row not
    in the file) and the stored records not in the file by their mark.
    """
    patients: set[str] = {p.patient_id for p in dataset.patients}
    lesion_owner = {x.lesion_id: x.patient_id for x in dataset.lesions}
    session_owner = {x.session_id: x.patient_id for x in dataset.sessions}
    for record in ENTITIES:
        for item in dataset.records(record):
            if isinstance(item, Patient | Centre):
                continue
            patient = getattr(item, "patient_id", None)
            if patient is None and hasattr(item, "session_id"):
                patient = session_owner.get(str(getattr(item, "session_id")))  # noqa: B009
            if patient is None and hasattr(item, "lesion_id"):
                patient = lesion_owner.get(str(getattr(item, "lesion_id")))  # noqa: B009
            if patient is not None:
                patients.add(str(patient))
    merged = Dataset(info=dataset.info)
    numbers: dict[str, list[int]] = {}
    registry_only: dict[int, Record] = {}
    for record in ENTITIES:
        names = column_names(record)
        key = record.id_field
        path = patient_path(record)
        items: list[Record] = []
        found: list[int] = []
        in_file = {
            str(getattr(item, key)): (item, line)
            for item, line in zip(dataset.records(record), lines[record.table], strict=True)
        }
        for row in _rows_of_patients(record, names, path, sorted(patients)):
            ident = str(row[key])
            if ident in in_file:
                item, line = in_file.pop(ident)
                items.append(item)
                found.append(line)
            else:
                stored_item = from_row_values(record, row)
                mark = -1 - len(registry_only)
                registry_only[mark] = stored_item
                items.append(stored_item)
                found.append(mark)
        for item, line in in_file.values():
            items.append(item)
            found.append(line)
        setattr(merged, record.table, items)
        numbers[record.table] = found
    return merged, numbers, registry_only


def _rows_of_patients(
    record: type[Record], names: list[str], path: str | None, patients: list[str]
) -> list[dict[str, Any]]:
    """Registry rows of ``record`` (all centres; of ``patients`` through ``path``), in
    registry order; queried in batches of patients."""
    model = registry_model(record)
    if path is None:
        return list(model.objects.order_by("position", "pk").values(*names))
    rows: list[dict[str, Any]] = []
    for chunk in _chunks(patients, BATCH):
        rows.extend(model.objects.filter(**{f"{path}__in": list(chunk)}).values(*names, "position"))
    rows.sort(key=lambda row: (row["position"], str(row[record.id_field])))
    return rows


def _check_merged(
    dataset: Dataset,
    stored: dict[str, dict[str, dict[str, Any]]],
    lines: Mapping[str, Sequence[int]],
) -> None:
    """Validate the registry merged with the file; ImportRejectedError if it breaks a rule.

    A problem found on a stored record that the file does not hold is reported on the
    file's row that caused it: the first new or changed row of the same patient.
    """
    merged, numbers, registry_only = _merged(dataset, lines)
    issues = check_dataset(merged, lines=numbers)
    if not issues:
        return
    by_line: dict[tuple[str, int], Record] = {}
    for record in ENTITIES:
        for item, line in zip(merged.records(record), numbers[record.table], strict=True):
            if line > 0:
                by_line[(file_name(record), line)] = item
    changed = _changed_rows(dataset, stored, lines)
    owner = _owners(merged)
    out: list[ValidationIssue] = []
    for issue in issues:
        if issue.row is None or issue.row > 0:  # a row of the file
            out.append(issue)
            continue
        subject = registry_only.get(issue.row)
        patient = owner.get(id(subject)) if subject is not None else None
        culprit = next((c for c in changed if c[3] == patient), None) if patient else None
        what = f"stored {issue.file.removesuffix('.csv')} row"
        if subject is not None:
            what += f" {subject.id}"
        text = (
            f"conflicts with the registry: {what}: {issue.column}={issue.value!r}: {issue.message}"
        )
        if culprit is None:
            out.append(ValidationIssue(issue.file, None, issue.column, issue.value, text))
            continue
        file, line, columns_changed, _ = culprit
        column = next((c for c in columns_changed if c in issue.message), None)
        column = column or (columns_changed[0] if columns_changed else None)
        row_item = by_line.get((file, line))
        value = _text(getattr(row_item, column, None)) if row_item is not None and column else None
        out.append(ValidationIssue(file, line, column, value, text))
    raise ImportRejectedError(ValidationReport(issues=out, counts=dataset.counts()))


def _owners(merged: Dataset) -> dict[int, str]:
    """The patient of every record of ``merged`` by ``id()``."""
    lesion_owner = {x.lesion_id: x.patient_id for x in merged.lesions}
    session_owner = {x.session_id: x.patient_id for x in merged.sessions}
    out: dict[int, str] = {}
    for record in ENTITIES:
        for item in merged.records(record):
            if isinstance(item, Centre):
                continue
            patient = getattr(item, "patient_id", None)
            if patient is None and getattr(item, "session_id", None) is not None:
                patient = session_owner.get(str(getattr(item, "session_id")))  # noqa: B009
            if patient is None and hasattr(item, "lesion_id"):
                patient = lesion_owner.get(str(getattr(item, "lesion_id")))  # noqa: B009
            if patient is not None:
                out[id(item)] = str(patient)
    return out


def _changed_rows(
    dataset: Dataset,
    stored: dict[str, dict[str, dict[str, Any]]],
    lines: Mapping[str, Sequence[int]],
) -> list[tuple[str, int, list[str], str | None]]:
    """New or changed rows of the file: (file, line, changed columns, patient)."""
    owner = _owners(dataset)
    out: list[tuple[str, int, list[str], str | None]] = []
    for record in ENTITIES:
        rows = stored[record.table]
        for item, line in zip(dataset.records(record), lines[record.table], strict=True):
            new = to_row_values(item)
            old = rows.get(str(getattr(item, record.id_field)))
            names = [c for c in new if old is None or old[c] != new[c]]
            if old is not None and not names:
                continue
            if old is None:
                names = []
            out.append((file_name(record), line, names, owner.get(id(item))))
    return out


def _numbered(
    dataset: Dataset,
    stored: dict[str, dict[str, dict[str, Any]]],
    lines: Mapping[str, Sequence[int]],
) -> Dataset:
    """``dataset`` with every patient numbered within the centre (the ``0042`` of
    ``C01-0042``): a number the file leaves empty is the stored patient's, else the
    centre's next after the registry's and the file's, in file order.

    ImportRejectedError (file, row, column) when two patients of a centre would have the
    same number, in the file or with a stored patient the file does not hold.
    """
    if not dataset.patients:
        return dataset
    rows = stored[Patient.table]
    in_file = {p.patient_id for p in dataset.patients}
    centres = sorted({p.centre_id for p in dataset.patients})
    holder: dict[tuple[str, int], str] = {}
    found = (
        registry_model(Patient)
        .objects.filter(centre_id__in=centres, patient_number__isnull=False)
        .values_list("centre_id", "patient_number", "patient_id")
    )
    for centre, number, ident in found:
        if str(ident) not in in_file:
            holder[(str(centre), int(number))] = str(ident)
    given: list[int | None] = []
    issues: list[ValidationIssue] = []
    name = file_name(Patient)
    for item, line in zip(dataset.patients, lines[Patient.table], strict=True):
        old = rows.get(item.patient_id)
        number = item.patient_number
        if number is None and old is not None:
            number = old["patient_number"]
        given.append(number)
        if number is None:
            continue
        other = holder.setdefault((item.centre_id, number), item.patient_id)
        if other != item.patient_id:
            issues.append(
                ValidationIssue(
                    name,
                    line,
                    "patient_number",
                    str(number),
                    f"already the number of patient {other} of centre {item.centre_id}; "
                    "allowed a number no other patient of the centre has, or empty (the "
                    "registry numbers it)",
                )
            )
    if issues:
        raise ImportRejectedError(ValidationReport(issues=issues, counts=dataset.counts()))
    top: dict[str, int] = {}
    for centre, number in holder:
        top[centre] = max(top.get(centre, 0), number)
    patients: list[Patient] = []
    for item, number in zip(dataset.patients, given, strict=True):
        if number is None:
            number = top[item.centre_id] = top.get(item.centre_id, 0) + 1
        if number != item.patient_number:
            item = item.model_copy(update={"patient_number": number})
        patients.append(item)
    return dataclasses.replace(dataset, patients=patients)


def import_dataset(
    actor: Actor,
    dataset: Dataset,
    centre_id: str | None = None,
    reason: str | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    lines: Mapping[str, Sequence[int]] | None = None,
) -> ImportSummary:
    """Import ``dataset`` (all or nothing); ImportRejectedError or AccessDeniedError if not.

    ``centre_id`` requires every patient to belong to that centre and refuses rows of
    records stored for another centre. No import changes the owner (the reference
    columns) of a stored record (ImportDeniedError, with file, row and column). The
    registry merged with the file must pass the dataset rules (ImportRejectedError).
    Rows already in the registry with the same values are left alone; with other values
    they are updated (audited); new rows are created (audited). ``progress(table,
    done, total)`` is called as tables are written. ``lines`` are the CSV line numbers
    of the records (default: list index + 2).
    """
    issues = check_dataset(dataset)
    if issues:
        raise ImportRejectedError(ValidationReport(issues=list(issues), counts=dataset.counts()))
    _check_scope(actor, dataset, centre_id)
    numbers = _lines(dataset, lines)
    centres = _centre_of_records(dataset)
    summary = ImportSummary()
    now = dt.datetime.now(dt.UTC)
    why = reason or "dataset import"
    with transaction.atomic(), service_write("import"):
        stored = _stored_rows(dataset)
        _check_stored(actor, dataset, centre_id, stored, numbers)
        _check_voided(dataset, numbers)
        dataset = _numbered(dataset, stored, numbers)
        _check_merged(dataset, stored, numbers)
        for record in ENTITIES:
            items = dataset.records(record)
            _import_table(
                actor, record, items, stored[record.table], centres[record.table], summary, now, why
            )
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
    existing: dict[str, dict[str, Any]],
    centre_of: dict[str, str],
    summary: ImportSummary,
    now: dt.datetime,
    reason: str,
) -> None:
    model = registry_model(record)
    key = record.id_field
    values = [to_row_values(item) for item in items]
    ids = [str(v[key]) for v in values]
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
    "ImportDeniedError",
    "ImportRejectedError",
    "ImportSummary",
    "export_dataset",
    "import_dataset",
    "to_json",
]
