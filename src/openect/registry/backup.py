"""Backup and restore of a whole registry as one portable JSON file (gzip when ``.gz``).

The file holds every registry row in registry order, the voided records (version 3),
the audit trail, the imported
``dataset.json`` records, the users with their roles (password hashes, never
passwords) and the check value of the pseudonymisation key (never the key). It does
not depend on the database engine: a SQLite registry restores into PostgreSQL and
back. Restore needs an empty registry and runs in one transaction; it
brings back the audit trail as it was - with each entry's chain digests, so that
``openect registry audit --verify`` passes on the restored registry as on the original -
and adds one audit entry, chained after them, saying what was restored, from which file.
A version 1 file (before the chain) is restored too; its entries are chained anew.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import tempfile
from pathlib import Path
from typing import IO, Any

from django.contrib.auth import get_user_model
from django.db import transaction

from openect import __version__
from openect.data.models import ENTITIES, Patient
from openect.errors import AccessDeniedError, InputError
from openect.registry.access import Actor
from openect.registry.guard import service_write
from openect.registry.models import (
    CHAIN_FIELDS,
    AuditAction,
    AuditEntry,
    DatasetSource,
    Membership,
    PseudonymKeyCheck,
    Role,
    VoidedRecord,
)
from openect.registry.records import column_names, registry_model, to_json

FORMAT = "openect-registry-backup"
VERSION = 3
#: Versions restore reads (1: audit entries without chain digests; 2: no voided records).
READABLE_VERSIONS = (1, 2, 3)
#: Columns of a voided record in a backup.
VOIDED_FIELDS = (
    "entity",
    "record_id",
    "centre_id",
    "patient_id",
    "values",
    "position",
    "sequence",
    "root",
    "voided_at",
    "voided_by",
    "reason",
)
#: Columns of an audit entry in a backup: the chained content, then the chain.
AUDIT_FIELDS = (*CHAIN_FIELDS, "previous", "digest")


def _open(path: Path, mode: str) -> IO[str]:
    if path.suffix == ".gz":
        return gzip.open(path, mode + "t", encoding="utf-8")  # type: ignore[return-value]
    return open(path, mode, encoding="utf-8")


def snapshot() -> dict[str, Any]:
    """Every registry row, the audit trail, dataset sources and users, as JSON data."""
    tables: dict[str, Any] = {}
    for record in ENTITIES:
        names = column_names(record)
        rows = registry_model(record).objects.order_by("position", "pk").values(*names)
        tables[record.table] = {
            "columns": names,
            "rows": [list(to_json(row).values()) for row in rows.iterator(chunk_size=5000)],
        }
    audit = [
        [e["at"].isoformat()] + [e[name] for name in AUDIT_FIELDS[1:]]
        for e in AuditEntry.objects.order_by("id").values(*AUDIT_FIELDS).iterator(chunk_size=5000)
    ]
    voided = [
        {**row, "voided_at": row["voided_at"].isoformat()}
        for row in VoidedRecord.objects.order_by("id").values(*VOIDED_FIELDS)
    ]
    users = []
    for user in get_user_model().objects.order_by("id"):
        membership = Membership.objects.filter(user=user).first()
        users.append(
            {
                "username": user.get_username(),
                "password": user.password,
                "is_active": user.is_active,
                "role": membership.role if membership else None,
                "centre_id": membership.centre_id if membership else None,
            }
        )
    return {
        "format": FORMAT,
        "version": VERSION,
        "software": f"openect {__version__}",
        "created": dt.datetime.now(dt.UTC).isoformat(),
        "tables": tables,
        "audit": {"columns": list(AUDIT_FIELDS), "rows": audit},
        "voided": voided,
        "dataset_sources": [
            {"actor": s.actor, "info": s.info, "rows": s.rows}
            for s in DatasetSource.objects.order_by("id")
        ],
        "users": users,
        "key_checks": [
            {"name": c.name, "check_value": c.check_value, "recorded_at": c.recorded_at.isoformat()}
            for c in PseudonymKeyCheck.objects.order_by("name")
        ],
    }


def backup(actor: Actor, path: str | os.PathLike[str]) -> dict[str, int]:
    """Write the whole registry to ``path`` (atomic); return rows per table. Admins only."""
    if actor.role is not Role.ADMIN:
        raise AccessDeniedError(f"user {actor.username!r} ({actor.role.value}) may not back up")
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with transaction.atomic():  # one consistent view
        data = snapshot()
    handle, staging = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    os.close(handle)
    try:
        with _open(Path(staging + target.suffix), "w") as out:
            json.dump(data, out, ensure_ascii=False)
        os.replace(staging + target.suffix, target)
    finally:
        for leftover in (staging, staging + target.suffix):
            if os.path.exists(leftover):
                os.remove(leftover)
    counts = {name: len(table["rows"]) for name, table in data["tables"].items()}
    counts["audit"] = len(data["audit"]["rows"])
    counts["voided"] = len(data["voided"])
    return counts


def _is_empty() -> bool:
    return not any(registry_model(r).objects.exists() for r in ENTITIES) and not (
        AuditEntry.objects.exists() or VoidedRecord.objects.exists()
    )


def _number_patients() -> None:
    """Number the patients of a backup made before their numbers (schema 1.2) as
    migration 0007 numbers them: per centre after its highest, in registry order."""
    model = registry_model(Patient)
    missing = list(
        model.objects.filter(patient_number__isnull=True).order_by("position", "patient_id")
    )
    if not missing:
        return
    top: dict[str, int] = {}
    for centre, number in model.objects.filter(patient_number__isnull=False).values_list(
        "centre_id", "patient_number"
    ):
        top[str(centre)] = max(top.get(str(centre), 0), int(number))
    for row in missing:
        top[row.centre_id] = top.get(row.centre_id, 0) + 1
        row.patient_number = top[row.centre_id]
    model.objects.bulk_update(missing, ["patient_number"], batch_size=2000)


def restore(actor: Actor, path: str | os.PathLike[str]) -> dict[str, int]:
    """Restore a backup into an empty registry (one transaction); return rows per table."""
    if actor.role is not Role.ADMIN:
        raise AccessDeniedError(f"user {actor.username!r} ({actor.role.value}) may not restore")
    source = Path(path)
    try:
        with _open(source, "r") as handle:
            data = json.load(handle)
    except (OSError, ValueError) as error:
        raise InputError(f"FILE={str(source)!r}: not a readable backup ({error})") from error
    if data.get("format") != FORMAT or data.get("version") not in READABLE_VERSIONS:
        raise InputError(
            f"FILE={str(source)!r}: format {data.get('format')!r} version "
            f"{data.get('version')!r}; allowed {FORMAT} version "
            + " or ".join(str(v) for v in READABLE_VERSIONS)
        )
    if not _is_empty():
        raise InputError(
            "restore needs an empty registry: initialise a new database "
            "(openect registry init --database URL) and restore into it"
        )
    counts: dict[str, int] = {}
    with transaction.atomic(), service_write("restore"):
        for record in ENTITIES:
            table = data["tables"][record.table]
            model = registry_model(record)
            fields = {f.column: f for f in model._meta.concrete_fields}
            objects = []
            for position, row in enumerate(table["rows"]):
                values = {}
                for name, value in zip(table["columns"], row, strict=True):
                    field = fields[name]
                    values[field.attname] = field.to_python(value) if value is not None else None
                objects.append(model(**values, position=position))
            model.objects.bulk_create(objects, batch_size=2000)
            counts[record.table] = len(objects)
        _number_patients()
        audit_columns = data["audit"]["columns"]
        entries = []
        for row in data["audit"]["rows"]:
            values = dict(zip(audit_columns, row, strict=True))
            values["at"] = dt.datetime.fromisoformat(values["at"])
            entries.append(AuditEntry(**values))
        AuditEntry.objects.bulk_create(
            entries, batch_size=2000, as_stored="digest" in audit_columns
        )
        counts["audit"] = len(entries)
        voided = [
            VoidedRecord(**{**row, "voided_at": dt.datetime.fromisoformat(row["voided_at"])})
            for row in data.get("voided", [])
        ]
        VoidedRecord.objects.bulk_create(voided, batch_size=2000)
        counts["voided"] = len(voided)
        for source_row in data["dataset_sources"]:
            DatasetSource.objects.create(**source_row)
        users = get_user_model()
        for user_row in data["users"]:
            user = users(username=user_row["username"], is_active=user_row["is_active"])
            user.password = user_row["password"]
            user.save()
            if user_row["role"]:
                Membership.objects.create(
                    user=user, role=user_row["role"], centre_id=user_row["centre_id"]
                )
        for check in data.get("key_checks", []):  # the pseudonymisation key's check value
            PseudonymKeyCheck.objects.update_or_create(
                pk=check["name"],
                defaults={
                    "check_value": check["check_value"],
                    "recorded_at": dt.datetime.fromisoformat(check["recorded_at"]),
                },
            )
        AuditEntry(
            at=dt.datetime.now(dt.UTC),
            actor=actor.username,
            role=actor.role.value,
            action=str(AuditAction.RESTORE),
            entity="registry",
            record_id="*",
            after={"file": source.name, "created": data.get("created"), "rows": counts},
            reason="restore from backup",
        ).save()
    return counts
