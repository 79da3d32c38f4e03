"""Migration 0007 (dataset schema 1.2) numbers an existing registry's patients.

A registry is built at migration 0006 with rows in every table (written with the
historical models of 0006, as a registry of that version held them; the patients in an
order that is not their ids' order), then migrated to 0007: each centre's patients are
numbered 1, 2, ... in the order they were imported or created, every other row and value
is still there, the new checks hold (a number at most once per centre, from 1) and the
services go on numbering after the highest.

Runs on SQLite, and on PostgreSQL with OPENECT_REGISTRY_TEST_BACKEND=postgresql.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.management import call_command
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

from concurrent_jobs import empty_append_only_tables
from openect.data.dataset import Dataset
from openect.data.models import ENTITIES, Patient, Record, added_in
from openect.data.schema import columns
from openect.registry import services
from openect.registry.access import Actor
from openect.registry.models import Role
from openect.registry.records import registry_model, to_row_values

pytestmark = pytest.mark.django_db(transaction=True)

APP = "registry"
BEFORE = (APP, "0006_clinical_safety")
AFTER = (APP, "0007_patient_number")
ADMIN = Actor("admin", Role.ADMIN)
#: The columns 0007 adds, by entity (schema 1.2).
NEW = {record: set(added_in(record, "1.1")) for record in ENTITIES}
#: Patients in the order the 0006 registry got them (not their ids' order), and the
#: numbers 0007 gives them: per centre, in that order.
ORDER = ["P4", "P1", "P2", "P3", "P5"]
NUMBERS = {"P4": 1, "P1": 2, "P3": 3, "P2": 1, "P5": 2}


@pytest.fixture(autouse=True)
def _empty_audit_on_sqlite(transactional_db: None) -> Iterator[None]:
    """SQLite: empty the append-only audit table and access log after the test."""
    yield
    empty_append_only_tables()


@pytest.fixture
def at_0006() -> Iterator[MigrationExecutor]:
    """The test database migrated back to 0006; migrated forward to the latest after."""
    call_command("migrate", *BEFORE, verbosity=0)
    try:
        yield MigrationExecutor(connection)
    finally:
        call_command("migrate", APP, verbosity=0)


@pytest.fixture
def registry_0006(dataset: Dataset) -> Dataset:
    """The small dataset with three more patients: C01 has P1, P3, P4; C02 P2, P5."""
    extra = [
        dataset.patients[0].model_copy(update={"patient_id": "P3", "birth_year": 1961}),
        dataset.patients[0].model_copy(update={"patient_id": "P4", "ecog": 0}),
        dataset.patients[1].model_copy(update={"patient_id": "P5", "stage": "IV-M1a"}),
    ]
    by_id = {p.patient_id: p for p in [*dataset.patients, *extra]}
    dataset.patients = [by_id[pid] for pid in ORDER]
    return dataset


def old_values(record: Record) -> dict[str, Any]:
    """A record's registry column values without the columns added in 0007."""
    values = to_row_values(record)
    return {name: value for name, value in values.items() if name not in NEW[type(record)]}


def fill_at_0006(executor: MigrationExecutor, dataset: Dataset) -> None:
    """Every record of ``dataset`` as a row of the 0006 tables (historical models)."""
    apps = executor.loader.project_state(BEFORE).apps
    for record_type in ENTITIES:
        model = apps.get_model(APP, registry_model(record_type).__name__)
        names = {f.attname for f in model._meta.concrete_fields}
        for position, record in enumerate(dataset.records(record_type)):
            values = old_values(record)
            assert set(values) <= names, record_type.table  # the 0006 table has them all
            model.objects.create(position=position, **values)


def rows_now(record_type: type[Record]) -> list[dict[str, Any]]:
    """The rows of the 0007 tables (the columns of schema 1.2, not those added later)."""
    later = set(added_in(record_type, "1.2"))
    names = [c.name for c in columns(record_type) if c.name not in later]
    return list(registry_model(record_type).objects.order_by("position").values(*names))


def test_migration_0007_numbers_each_centres_patients_in_creation_order(
    at_0006: MigrationExecutor, registry_0006: Dataset
) -> None:
    executor = at_0006
    assert AFTER not in executor.loader.applied_migrations
    with connection.cursor() as cursor:
        patient_columns = {
            c.name
            for c in connection.introspection.get_table_description(cursor, "openect_patients")
        }
    assert "patient_number" not in patient_columns
    fill_at_0006(executor, registry_0006)

    call_command("migrate", *AFTER, verbosity=0)

    for record_type in ENTITIES:
        records = registry_0006.records(record_type)
        rows = rows_now(record_type)
        assert len(rows) == len(records), record_type.table
        for row, record in zip(rows, records, strict=True):
            for name, value in old_values(record).items():
                assert row[name] == value, (record_type.table, record.id, name)
    numbers = {row["patient_id"]: row["patient_number"] for row in rows_now(Patient)}
    assert numbers == NUMBERS
    assert NEW[Patient] - set(added_in(Patient, "1.2")) == {"patient_number"}
    assert all(not set(NEW[r]) - set(added_in(r, "1.2")) for r in ENTITIES if r is not Patient)
    # the services (of the latest schema) read them as the same records, now numbered,
    # with their labels
    call_command("migrate", APP, verbosity=0)
    listed = {p.patient_id: p for p in services.list_records(ADMIN, Patient)}
    for record in registry_0006.patients:
        assert listed[record.patient_id] == record.model_copy(
            update={"patient_number": NUMBERS[record.patient_id]}
        )
    assert listed["P4"].label == "C01-0001"  # type: ignore[attr-defined]
    assert listed["P5"].label == "C02-0002"  # type: ignore[attr-defined]


def test_after_0007_numbers_are_checked_and_new_patients_numbered_after_the_highest(
    at_0006: MigrationExecutor, registry_0006: Dataset
) -> None:
    fill_at_0006(at_0006, registry_0006)
    call_command("migrate", *AFTER, verbosity=0)
    call_command("migrate", APP, verbosity=0)  # the services are of the latest schema

    new = registry_0006.patients[1].model_copy(update={"patient_id": "C01-P1"})
    created = services.create(ADMIN, new.model_copy(update={"patient_number": None}))
    assert (created.patient_number, created.label) == (4, "C01-0004")

    # the database's own checks: one number per centre, from 1
    table = registry_model(Patient)._meta.db_table
    for number, patient in ((2, "P4"), (0, "P4")):
        with (
            pytest.raises(IntegrityError),
            transaction.atomic(using=DEFAULT_DB_ALIAS),
            connection.cursor() as cursor,
        ):
            cursor.execute(
                f"UPDATE {table} SET patient_number = %s WHERE patient_id = %s", [number, patient]
            )
    with connection.cursor() as cursor:  # the same number at another centre is another patient
        cursor.execute(f"SELECT patient_number FROM {table} WHERE patient_id = 'P2'")
        assert cursor.fetchone()[0] == 1


def test_migration_0007_can_be_undone(at_0006: MigrationExecutor, registry_0006: Dataset) -> None:
    fill_at_0006(at_0006, registry_0006)
    call_command("migrate", *AFTER, verbosity=0)
    call_command("migrate", *BEFORE, verbosity=0)
    with connection.cursor() as cursor:
        patient_columns = {
            c.name
            for c in connection.introspection.get_table_description(cursor, "openect_patients")
        }
    assert "patient_number" not in patient_columns
    apps = MigrationExecutor(connection).loader.project_state(BEFORE).apps
    assert apps.get_model(APP, "Patient").objects.count() == len(ORDER)
