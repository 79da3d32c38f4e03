"""Migrations 0008 (voided records), 0009 to 0012 (dataset schema 1.3: an intratumoural
application's own injection time, a centre's time zone, an assessment's note and new
lesion in the field, finer body sites and a lesion's location detail) keep an existing
registry's data.

A registry is built at migration 0007 with rows in every table (written with the
historical models of 0007, as a registry of that version held them), then migrated to
0008: every row and value is still there, the services read the same records, and a
record can then be voided and restored. The dataset format does not change with it (a
voided record is never exported).

Runs on SQLite, and on PostgreSQL with OPENECT_REGISTRY_TEST_BACKEND=postgresql.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from concurrent_jobs import empty_append_only_tables
from openect.data.dataset import Dataset
from openect.data.models import (
    ENTITIES,
    Application,
    Assessment,
    Centre,
    Lesion,
    Session,
    added_in,
)
from openect.data.schema import columns
from openect.registry import services
from openect.registry.access import Actor
from openect.registry.models import Role
from openect.registry.records import registry_model, to_row_values

pytestmark = pytest.mark.django_db(transaction=True)

APP = "registry"
BEFORE = (APP, "0007_patient_number")
AFTER = (APP, "0008_voided_records")
ADMIN = Actor("admin", Role.ADMIN)


@pytest.fixture(autouse=True)
def _empty_audit_on_sqlite(transactional_db: None) -> Iterator[None]:
    """SQLite: empty the append-only audit table and access log after the test."""
    yield
    empty_append_only_tables()


@pytest.fixture
def at_0007() -> Iterator[MigrationExecutor]:
    """The test database migrated back to 0007; migrated forward to the latest after."""
    call_command("migrate", *BEFORE, verbosity=0)
    try:
        yield MigrationExecutor(connection)
    finally:
        call_command("migrate", APP, verbosity=0)


def tables() -> set[str]:
    with connection.cursor() as cursor:
        return set(connection.introspection.table_names(cursor))


def test_migration_0008_keeps_every_row_and_then_voids(
    at_0007: MigrationExecutor, dataset: Dataset
) -> None:
    assert "openect_voided" not in tables()
    apps = at_0007.loader.project_state(BEFORE).apps
    for record_type in ENTITIES:
        model = apps.get_model(APP, registry_model(record_type).__name__)
        later = set(added_in(record_type, "1.2"))  # columns of later migrations
        for position, record in enumerate(dataset.records(record_type)):
            values = to_row_values(record)
            model.objects.create(
                position=position, **{k: v for k, v in values.items() if k not in later}
            )

    call_command("migrate", *AFTER, verbosity=0)
    assert "openect_voided" in tables()
    call_command("migrate", APP, verbosity=0)  # the services are of the latest schema
    for record_type in ENTITIES:
        names = [c.name for c in columns(record_type)]
        rows: list[dict[str, Any]] = list(
            registry_model(record_type).objects.order_by("position").values(*names)
        )
        assert rows == [to_row_values(r) for r in dataset.records(record_type)], record_type
    assert services.list_records(ADMIN, Session) == dataset.sessions
    services.void(ADMIN, Session, "P1-S1", "entered twice")
    assert [s.session_id for s in services.list_records(ADMIN, Session)] == ["P2-S1"]
    services.unvoid(ADMIN, Session, "P1-S1", "it was not")
    assert services.list_records(ADMIN, Session) == dataset.sessions

    call_command("migrate", *BEFORE, verbosity=0)  # and back: the table goes
    assert "openect_voided" not in tables()


def columns_of(table: str) -> set[str]:
    with connection.cursor() as cursor:
        return {c.name for c in connection.introspection.get_table_description(cursor, table)}


def test_migrations_0009_0010_add_the_schema_1_3_columns_and_keep_every_row(
    dataset: Dataset,
) -> None:
    call_command("migrate", *AFTER, verbosity=0)  # a registry of 0008 (schema 1.2)
    try:
        apps = MigrationExecutor(connection).loader.project_state(AFTER).apps
        for record_type in ENTITIES:
            model = apps.get_model(APP, registry_model(record_type).__name__)
            later = set(added_in(record_type, "1.2"))
            assert {f.attname for f in model._meta.concrete_fields}.isdisjoint(later)
            for position, record in enumerate(dataset.records(record_type)):
                values = to_row_values(record)
                model.objects.create(
                    position=position, **{k: v for k, v in values.items() if k not in later}
                )
        assert added_in(Application, "1.2") == ("injection_end_time",)
        assert added_in(Centre, "1.2") == ("time_zone",)
        assert added_in(Assessment, "1.2") == ("note", "new_lesion_in_field")
        assert added_in(Lesion, "1.2") == ("location_detail",)

        call_command("migrate", APP, verbosity=0)

        for record_type in ENTITIES:
            assert services.list_records(ADMIN, record_type) == dataset.records(record_type)
        assert all(a.injection_end_time is None for a in services.list_records(ADMIN, Application))
        assert all(c.time_zone is None for c in services.list_records(ADMIN, Centre))
        # the finer body sites are taken after 0012
        lesion = services.get(ADMIN, Lesion, "P1-L1")
        services.update(
            ADMIN,
            Lesion,
            "P1-L1",
            {"body_site": "trunk_anterior_left", "location_detail": "below the left clavicle"},
        )
        assert services.get(ADMIN, Lesion, "P1-L1").body_site == "trunk_anterior_left"
        services.update(
            ADMIN, Lesion, "P1-L1", {"body_site": lesion.body_site, "location_detail": None}
        )
        call_command("migrate", *AFTER, verbosity=0)  # and back: the columns go
        assert "injection_end_time" not in columns_of("openect_applications")
        assert "time_zone" not in columns_of("openect_centres")
        assert "note" not in columns_of("openect_assessments")
        assert "location_detail" not in columns_of("openect_lesions")
    finally:
        call_command("migrate", APP, verbosity=0)
