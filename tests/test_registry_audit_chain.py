"""The audit trail shows tampering: no way round its append-only triggers, a hash chain
that ``openect registry audit --verify`` walks, and a check value of the pseudonym key.

Runs on SQLite, and on PostgreSQL with OPENECT_REGISTRY_TEST_BACKEND=postgresql.
"""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from openect.data.dataset import Dataset
from openect.registry.access import Actor
from openect.registry.models import AuditEntry, Role
from openect.registry.transfer import import_dataset

pytestmark = pytest.mark.django_db

ADMIN = Actor("admin", Role.ADMIN)


@pytest.fixture
def registry(dataset: Dataset) -> Dataset:
    """The small hand-written dataset, imported (every row audited)."""
    import_dataset(ADMIN, dataset)
    return dataset


def refused(sql: str) -> None:
    """``sql`` is refused by the database as an append-only violation."""
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql)


# ----------------------------------------------------------------- no way round the triggers
def test_truncate_of_the_audit_table_is_refused_on_postgresql(registry: Dataset) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("TRUNCATE: PostgreSQL only")
    before = AuditEntry.objects.count()
    refused("TRUNCATE openect_audit")
    refused("TRUNCATE openect_audit CASCADE")
    assert AuditEntry.objects.count() == before


def test_insert_or_replace_of_an_audit_entry_is_refused_on_sqlite(registry: Dataset) -> None:
    if connection.vendor != "sqlite":
        pytest.skip("INSERT OR REPLACE: SQLite only")
    entry = AuditEntry.objects.order_by("id").first()
    assert entry is not None
    for verb in ("INSERT OR REPLACE INTO", "REPLACE INTO"):
        refused(
            f"{verb} openect_audit (id, at, actor, role, action, entity, record_id) "
            f"SELECT id, at, 'intruder', role, action, entity, record_id "
            f"FROM openect_audit WHERE id = {entry.pk}"
        )
    assert AuditEntry.objects.get(pk=entry.pk).actor == entry.actor
    assert not AuditEntry.objects.filter(actor="intruder").exists()


def test_upsert_of_an_audit_entry_is_refused(registry: Dataset) -> None:
    entry = AuditEntry.objects.order_by("id").first()
    assert entry is not None
    refused(
        "INSERT INTO openect_audit (id, at, actor, role, action, entity, record_id) "
        "SELECT id, at, actor, role, action, entity, record_id FROM openect_audit "
        f"WHERE id = {entry.pk} ON CONFLICT (id) DO UPDATE SET actor = 'intruder'"
    )
    assert not AuditEntry.objects.filter(actor="intruder").exists()
