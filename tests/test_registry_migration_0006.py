"""Migration 0006 (dataset schema 1.1) keeps an existing registry's data.

A registry is built at migration 0005 with rows in every table (written with the
historical models of 0005, as a registry of that version held them), then migrated to
0006: every old row and value is still there, the new columns are empty, the changed
checks hold (``calcium_chloride``, ``ect_elsewhere``, the new bounds) and the services
read the rows as records.

Runs on SQLite, and on PostgreSQL with OPENECT_REGISTRY_TEST_BACKEND=postgresql.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.management import call_command
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

from concurrent_jobs import empty_append_only_tables
from openect.data.dataset import Dataset
from openect.data.models import ENTITIES, Patient, Record, Session, SystemicTherapy, added_in
from openect.data.schema import columns
from openect.registry import services
from openect.registry.access import Actor
from openect.registry.models import Role
from openect.registry.records import registry_model, to_row_values

pytestmark = pytest.mark.django_db(transaction=True)

APP = "registry"
BEFORE = (APP, "0005_access_log")
AFTER = (APP, "0006_clinical_safety")
ADMIN = Actor("admin", Role.ADMIN)
#: The columns 0006 adds, by entity (schema 1.1).
NEW = {record: set(added_in(record, "1.0")) - set(added_in(record, "1.1")) for record in ENTITIES}
#: The columns of later migrations (schema 1.2 on), absent at 0006.
LATER = {record: set(added_in(record, "1.1")) for record in ENTITIES}


@pytest.fixture(autouse=True)
def _empty_audit_on_sqlite(transactional_db: None) -> Iterator[None]:
    """SQLite: empty the append-only audit table and access log after the test."""
    yield
    empty_append_only_tables()


@pytest.fixture
def at_0005() -> Iterator[MigrationExecutor]:
    """The test database migrated back to 0005; migrated forward to the latest after."""
    call_command("migrate", *BEFORE, verbosity=0)
    try:
        yield MigrationExecutor(connection)
    finally:
        call_command("migrate", APP, verbosity=0)


def old_values(record: Record) -> dict[str, Any]:
    """A record's registry column values without the columns added in 0006 and later."""
    values = to_row_values(record)
    left_out = NEW[type(record)] | LATER[type(record)]
    return {name: value for name, value in values.items() if name not in left_out}


def fill_at_0005(executor: MigrationExecutor, dataset: Dataset) -> None:
    """Every record of ``dataset`` as a row of the 0005 tables (historical models)."""
    apps = executor.loader.project_state(BEFORE).apps
    for record_type in ENTITIES:
        model = apps.get_model(APP, registry_model(record_type).__name__)
        names = {f.attname for f in model._meta.concrete_fields}
        for position, record in enumerate(dataset.records(record_type)):
            values = old_values(record)
            assert set(values) <= names, record_type.table  # the 0005 table has them all
            model.objects.create(position=position, **values)


def rows_at_0006(record_type: type[Record]) -> list[dict[str, Any]]:
    """The rows of a table as the 0006 tables hold them (historical model)."""
    apps = MigrationExecutor(connection).loader.project_state(AFTER).apps
    model = apps.get_model(APP, registry_model(record_type).__name__)
    names = [c.name for c in columns(record_type) if c.name not in LATER[record_type]]
    return list(model.objects.order_by("position").values(*names))


def without_later_columns(records: list[Record]) -> list[dict[str, Any]]:
    """Records as dicts without the columns of later migrations."""
    return [r.model_dump(exclude=LATER[type(r)]) for r in records]


def test_migration_0006_keeps_every_row_and_value(
    at_0005: MigrationExecutor, dataset: Dataset
) -> None:
    executor = at_0005
    assert executor.loader.applied_migrations.keys() >= {BEFORE}
    assert AFTER not in executor.loader.applied_migrations
    with connection.cursor() as cursor:
        patient_columns = {
            c.name
            for c in connection.introspection.get_table_description(cursor, "openect_patients")
        }
    assert "dlco_percent_predicted" not in patient_columns
    fill_at_0005(executor, dataset)

    call_command("migrate", *AFTER, verbosity=0)

    for record_type in ENTITIES:
        records = dataset.records(record_type)
        rows = rows_at_0006(record_type)
        assert len(rows) == len(records), record_type.table
        for row, record in zip(rows, records, strict=True):
            for name, value in old_values(record).items():
                assert row[name] == value, (record_type.table, record.id, name)
            for name in NEW[record_type]:
                assert row[name] is None, (record_type.table, record.id, name)
    # the services (on the latest tables) read them as the same records, the new fields
    # empty
    call_command("migrate", APP, verbosity=0)
    for record_type in ENTITIES:
        listed = without_later_columns(services.list_records(ADMIN, record_type))
        assert listed == without_later_columns(dataset.records(record_type)), record_type.table
    assert NEW[Patient] == {"dlco_percent_predicted", "dlco_date", "chest_imaging_date"}
    assert NEW[Session] == {"pain_during_nrs", "pain_after_nrs", "analgesia"}
    assert NEW[SystemicTherapy] == {"bleomycin_iu"}


def test_after_0006_the_new_values_are_stored_and_checked(
    at_0005: MigrationExecutor, dataset: Dataset
) -> None:
    fill_at_0005(at_0005, dataset)
    call_command("migrate", *AFTER, verbosity=0)
    call_command("migrate", APP, verbosity=0)  # the services work on the latest tables

    services.update(
        ADMIN,
        Patient,
        "P1",
        {"dlco_percent_predicted": 81.0, "dlco_date": dt.date(2020, 2, 1)},
        reason="lung function",
    )
    services.update(
        ADMIN,
        Session,
        "P2-S1",
        {
            "drug": "calcium_chloride",
            "dose": 6.5,
            "pain_during_nrs": 4,
            "pain_after_nrs": 1,
            "analgesia": ["local_anaesthetic"],
        },
        reason="calcium electroporation",
    )
    services.update(
        ADMIN,
        SystemicTherapy,
        "T1",
        {"agent_class": "ect_elsewhere", "bleomycin_iu": 30_000.0},
        reason="ECT elsewhere",
    )
    session = services.get(ADMIN, Session, "P2-S1")
    assert (session.drug.value, session.dose, session.analgesia) == (  # type: ignore[attr-defined]
        "calcium_chloride", 6.5, ["local_anaesthetic"],
    )  # fmt: skip
    assert services.get(ADMIN, SystemicTherapy, "T1").bleomycin_iu == 30_000.0  # type: ignore[attr-defined]
    assert services.get(ADMIN, Patient, "P1").dlco_percent_predicted == 81.0  # type: ignore[attr-defined]

    # the database's own checks of the new bounds (below the services' validation)
    table = registry_model(Session)._meta.db_table
    for column, value in (("pain_during_nrs", 11), ("pain_after_nrs", -1)):
        with (
            pytest.raises(IntegrityError),
            transaction.atomic(using=DEFAULT_DB_ALIAS),
            connection.cursor() as cursor,
        ):
            cursor.execute(
                f"UPDATE {table} SET {column} = %s WHERE session_id = %s", [value, "P1-S1"]
            )
    therapies = registry_model(SystemicTherapy)._meta.db_table
    with (
        pytest.raises(IntegrityError),
        transaction.atomic(using=DEFAULT_DB_ALIAS),
        connection.cursor() as cursor,
    ):
        cursor.execute(f"UPDATE {therapies} SET bleomycin_iu = 2000001 WHERE therapy_id = 'T1'")
