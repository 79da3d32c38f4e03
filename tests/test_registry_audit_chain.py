"""The audit trail shows tampering: no way round its append-only triggers, a hash chain
that ``openect registry audit --verify`` walks, and a check value of the pseudonym key.

Runs on SQLite, and on PostgreSQL with OPENECT_REGISTRY_TEST_BACKEND=postgresql.
"""

from __future__ import annotations

import importlib
import itertools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction

from concurrent_jobs import run_together
from openect.cli import main
from openect.data.dataset import Dataset
from openect.data.models import Assessment, Lesion
from openect.registry import pseudonym, services
from openect.registry.access import Actor
from openect.registry.backup import backup, restore, snapshot
from openect.registry.guard import service_write
from openect.registry.models import GENESIS, AuditEntry, Role, chain_digest, verify_chain
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
    names = ", ".join(f.column for f in AuditEntry._meta.concrete_fields)
    changed = names.replace("actor", "'intruder'")
    for verb in ("INSERT OR REPLACE INTO", "REPLACE INTO"):
        refused(
            f"{verb} openect_audit ({names}) "
            f"SELECT {changed} FROM openect_audit WHERE id = {entry.pk}"
        )
    assert AuditEntry.objects.get(pk=entry.pk).actor == entry.actor
    assert not AuditEntry.objects.filter(actor="intruder").exists()


def test_upsert_of_an_audit_entry_is_refused(registry: Dataset) -> None:
    entry = AuditEntry.objects.order_by("id").first()
    assert entry is not None
    names = ", ".join(f.column for f in AuditEntry._meta.concrete_fields)
    refused(
        f"INSERT INTO openect_audit ({names}) SELECT {names} FROM openect_audit "
        f"WHERE id = {entry.pk} ON CONFLICT (id) DO UPDATE SET actor = 'intruder'"
    )
    assert not AuditEntry.objects.filter(actor="intruder").exists()


# ----------------------------------------------------------------- the hash chain
def as_owner(*statements: str) -> None:
    """Run ``statements`` as an attacker owning the database would: set the audit
    table's triggers aside, change it, put them back."""
    append_only = importlib.import_module("openect.registry.migrations.0002_audit_append_only")
    tamper = importlib.import_module("openect.registry.migrations.0003_audit_tamper_evident")
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            for sql in append_only.SQLITE_REVERSE + tamper.SQLITE_REVERSE:
                cursor.execute(sql)
        else:
            cursor.execute("ALTER TABLE openect_audit DISABLE TRIGGER USER")
        for sql in statements:
            cursor.execute(sql)
        if connection.vendor == "sqlite":
            for sql in append_only.SQLITE + tamper.SQLITE:
                cursor.execute(sql)
        else:
            cursor.execute("ALTER TABLE openect_audit ENABLE TRIGGER USER")


def verify_command(capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    """``openect registry audit --verify --json`` on the test database: (exit, report)."""
    capsys.readouterr()
    code = main(["registry", "audit", "--verify", "--json"])
    return code, json.loads(capsys.readouterr().out)


def ids() -> list[int]:
    return list(AuditEntry.objects.order_by("id").values_list("id", flat=True))


def test_every_entry_is_chained_to_the_one_before(
    registry: Dataset, capsys: pytest.CaptureFixture[str]
) -> None:
    services.update(ADMIN, Lesion, "P1-L1", {"thickness_mm": 5.0}, reason="measured")
    entries = list(AuditEntry.objects.order_by("id"))
    assert entries[0].previous == GENESIS
    for earlier, later in itertools.pairwise(entries):
        assert later.previous == earlier.digest
    for entry in entries:
        assert len(entry.digest) == 64
    code, report = verify_command(capsys)
    assert code == 0
    assert report == {
        "intact": True,
        "entries": len(entries),
        "head": entries[-1].digest,
        "broken": None,
        "anchor": None,
        "anchor_entry": None,
    }


def test_an_empty_trail_is_intact(capsys: pytest.CaptureFixture[str]) -> None:
    code, report = verify_command(capsys)
    assert (code, report["intact"], report["entries"], report["head"]) == (0, True, 0, GENESIS)


def test_an_entry_edited_behind_the_triggers_is_named(
    registry: Dataset, capsys: pytest.CaptureFixture[str]
) -> None:
    target = AuditEntry.objects.filter(entity="lesions", record_id="P1-L2").get()
    as_owner(f"UPDATE openect_audit SET actor = 'someone else' WHERE id = {target.pk}")
    code, report = verify_command(capsys)
    assert code == 2
    assert report["intact"] is False
    assert report["broken"]["id"] == target.pk
    assert (report["broken"]["entity"], report["broken"]["record_id"]) == ("lesions", "P1-L2")
    assert report["broken"]["problem"] == "edited"
    capsys.readouterr()
    assert main(["registry", "audit", "--verify"]) == 2
    shown = capsys.readouterr().out
    for words in (f"entry {target.pk}", "P1-L2", "edited"):
        assert words in shown


def test_a_trail_cut_at_its_end_shows_against_a_head_kept_elsewhere(
    registry: Dataset, capsys: pytest.CaptureFixture[str]
) -> None:
    """Removing the newest entries leaves a valid chain: only the head digest printed
    earlier (and kept outside the database) shows it."""
    capsys.readouterr()
    assert main(["registry", "audit", "--verify", "--json"]) == 0
    kept = json.loads(capsys.readouterr().out)["head"]
    services.update(ADMIN, Lesion, "P1-L1", {"thickness_mm": 5.0}, reason="later change")
    assert main(["registry", "audit", "--verify", "--head", kept]) == 0  # still in the trail
    assert "nothing before it was removed or rewritten" in capsys.readouterr().out
    newest = ids()[-1]
    as_owner(f"DELETE FROM openect_audit WHERE id >= {newest - 1}")  # the last two entries
    code, report = verify_command(capsys)
    assert (code, report["intact"]) == (0, True)  # the chain alone cannot tell
    assert main(["registry", "audit", "--verify", "--head", kept]) == 2
    shown = capsys.readouterr().out
    assert "no entry has the head digest kept earlier" in shown
    assert kept in shown


def test_a_head_that_is_no_digest_is_refused_with_exit_2(
    capsys: pytest.CaptureFixture[str],
) -> None:
    capsys.readouterr()
    assert main(["registry", "audit", "--verify", "--head", "abc"]) == 2
    assert "--head='abc': allowed: a SHA-256 digest, 64 hexadecimal digits" in (
        capsys.readouterr().err
    )
    assert main(["registry", "audit", "--head", "0" * 64]) == 2
    assert "--head: only with --verify" in capsys.readouterr().err


def test_a_deleted_entry_is_named(registry: Dataset, capsys: pytest.CaptureFixture[str]) -> None:
    order = ids()
    as_owner(f"DELETE FROM openect_audit WHERE id = {order[3]}")
    code, report = verify_command(capsys)
    assert code == 2
    assert report["broken"]["id"] == order[4]  # the entry after the gap
    assert report["broken"]["problem"] == "missing"


def test_reordered_entries_are_named(registry: Dataset, capsys: pytest.CaptureFixture[str]) -> None:
    order = ids()
    spare = order[-1] + 1000
    as_owner(
        f"UPDATE openect_audit SET id = {spare} WHERE id = {order[2]}",
        f"UPDATE openect_audit SET id = {order[2]} WHERE id = {order[3]}",
        f"UPDATE openect_audit SET id = {order[3]} WHERE id = {spare}",
    )
    code, report = verify_command(capsys)
    assert code == 2
    assert report["broken"]["id"] == order[2]
    assert report["broken"]["problem"] == "order"


def test_a_forged_entry_with_a_wrong_digest_is_named(
    registry: Dataset, capsys: pytest.CaptureFixture[str]
) -> None:
    head = AuditEntry.objects.order_by("-id").first()
    assert head is not None
    with connection.cursor() as cursor:  # an insert passes the triggers; the chain shows it
        cursor.execute(
            "INSERT INTO openect_audit (at, actor, role, action, entity, record_id, "
            "previous, digest) SELECT at, 'forger', role, 'delete', 'lesions', 'P1-L1', "
            f"digest, '{'f' * 64}' FROM openect_audit WHERE id = {head.pk}"
        )
    forged = AuditEntry.objects.get(actor="forger")
    code, report = verify_command(capsys)
    assert code == 2
    assert report["broken"]["id"] == forged.pk
    assert report["broken"]["problem"] == "edited"


def test_the_digest_covers_every_field() -> None:
    values: dict[str, Any] = {
        "at": "2024-01-01T00:00:00.000000Z",
        "actor": "a",
        "role": "admin",
        "action": "update",
        "entity": "lesions",
        "record_id": "P1-L1",
        "centre_id": "C01",
        "before": {"x": 1.0},
        "after": {"x": 2.5},
        "reason": "why",
    }
    digest = chain_digest(values, GENESIS)
    assert digest == chain_digest(dict(reversed(list(values.items()))), GENESIS)
    assert chain_digest({**values, "before": {"x": 1}}, GENESIS) == digest  # 1.0 reads back 1
    for name in values:
        assert chain_digest({**values, name: "other"}, GENESIS) != digest, name
    assert chain_digest(values, "1" * 64) != digest


def test_backup_and_restore_keep_the_chain_verifiable(registry: Dataset, tmp_path: Path) -> None:
    from openect.registry.models import PseudonymKeyCheck

    services.update(ADMIN, Lesion, "P1-L1", {"thickness_mm": 5.0}, reason="measured")
    pseudonym.pseudonym("MRN-1", "C01", b"k" * 40)  # records the key's check value
    original = list(AuditEntry.objects.order_by("id").values_list("previous", "digest"))
    file = tmp_path / "registry.json.gz"
    backup(ADMIN, file)
    assert snapshot()["audit"]["columns"][-2:] == ["previous", "digest"]
    as_owner("DELETE FROM openect_audit")  # an empty registry for the restore
    with service_write("test: empty the registry"):
        from openect.data.models import ENTITIES
        from openect.registry.models import DatasetSource
        from openect.registry.records import registry_model

        for record in reversed(ENTITIES):
            registry_model(record).objects.all().delete()
        DatasetSource.objects.all().delete()
    PseudonymKeyCheck.objects.all().delete()
    from django.contrib.auth import get_user_model

    get_user_model().objects.all().delete()
    restore(ADMIN, file)
    restored = list(AuditEntry.objects.order_by("id").values_list("previous", "digest"))
    assert restored[: len(original)] == original  # written as they were
    assert len(restored) == len(original) + 1  # and the restore entry chained after them
    assert restored[-1][0] == original[-1][1]
    assert verify_chain().intact
    assert PseudonymKeyCheck.objects.get().check_value == pseudonym.check_value(b"k" * 40)


def test_migration_0003_chains_the_entries_of_an_existing_registry(registry: Dataset) -> None:
    migration = importlib.import_module("openect.registry.migrations.0003_audit_tamper_evident")
    stored = list(AuditEntry.objects.order_by("id").values_list("digest", flat=True))
    as_owner("UPDATE openect_audit SET previous = '', digest = ''")  # as before 0003
    assert not verify_chain().intact

    class Editor:
        """What the migration uses of a schema editor."""

        def __init__(self) -> None:
            self.connection = connection

        def execute(self, sql: str) -> None:
            with connection.cursor() as cursor:
                cursor.execute(sql)

    if connection.vendor == "postgresql":
        Editor().execute(migration.POSTGRESQL_REVERSE[0])  # the migration creates it
    else:
        Editor().execute(migration.SQLITE_REVERSE[0])
    from django.apps import apps

    migration.chain_existing_entries(apps, Editor())
    assert list(AuditEntry.objects.order_by("id").values_list("digest", flat=True)) == stored
    assert verify_chain().intact


# ----------------------------------------------------------------- concurrent writers
@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_keep_one_valid_chain(dataset: Dataset) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers: PostgreSQL (SQLite writes one transaction at a time)")
    import_dataset(ADMIN, dataset)
    doctor = Actor("doctor", Role.CLINICIAN, "C01")
    manager = Actor("manager", Role.DATA_MANAGER, "C01")
    first = services.get(doctor, Assessment, "P1-L1-V1")
    second = services.get(doctor, Assessment, "P1-L2-V1")
    rounds = 15

    def add(actor: Actor, template: Any, prefix: str) -> Callable[[], None]:
        def job() -> None:
            for i in range(rounds):
                services.create(
                    actor, template.model_copy(update={"assessment_id": f"{prefix}-{i}"})
                )

        return job

    def measure() -> None:
        for i in range(rounds):
            services.update(doctor, Lesion, "P1-L1", {"thickness_mm": 1.0 + i})

    before = AuditEntry.objects.count()
    run_together(add(doctor, first, "P1-L1-A"), add(manager, second, "P1-L2-B"), measure)
    assert AuditEntry.objects.count() == before + 3 * rounds
    report = verify_chain()
    assert report.intact, report.broken
    assert report.entries == before + 3 * rounds


# ----------------------------------------------------------------- the key's check value
KEY_A = "a" * 40
KEY_B = "b" * 40
PATIENT = {"centre_id": "C01", "sex": "F", "birth_year": 1960, "primary_tumour": "melanoma"}


def test_another_pseudonym_key_is_refused_with_the_fix(
    registry: Dataset, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from openect.registry.models import PseudonymKeyCheck
    from openect.settings import get_settings

    doctor = Actor("doctor", Role.CLINICIAN, "C01")

    def start_with(key: str) -> None:  # a server or command started with this key
        monkeypatch.setenv(pseudonym.KEY_ENV, key)
        get_settings.cache_clear()

    start_with(KEY_A)
    first = services.register_patient(doctor, "MRN-1", PATIENT)
    stored = PseudonymKeyCheck.objects.get()
    assert stored.check_value == pseudonym.check_value(KEY_A.encode())
    assert KEY_A not in stored.check_value  # a check value, never the key

    start_with(KEY_B)
    before = services.count(ADMIN, "patients")
    for attempt in (
        lambda: services.register_patient(doctor, "MRN-1", PATIENT),
        lambda: services.register_patient(doctor, "MRN-2", PATIENT, key=KEY_B.encode()),
        lambda: pseudonym.pseudonym("MRN-1", "C01"),  # a look-up
    ):
        with pytest.raises(pseudonym.PseudonymKeyError) as caught:
            attempt()
        message = str(caught.value)
        assert "not the key this registry's patients were registered with" in message
        assert pseudonym.KEY_ENV in message
        assert "Changing the key" in message
        assert KEY_B not in message
    assert services.count(ADMIN, "patients") == before  # the same person not registered twice

    start_with(KEY_A)
    assert pseudonym.pseudonym("MRN-1", "C01") == first.patient_id
    with pytest.raises(services.RecordInvalidError, match="already registered at this centre"):
        services.register_patient(doctor, "MRN-1", PATIENT)

    file = tmp_path / "backup.json"  # a backup carries the check value
    backup(ADMIN, file)
    assert json.loads(file.read_text())["key_checks"][0]["check_value"] == stored.check_value


def test_the_key_may_be_corrected_until_a_patient_has_a_pseudonym(
    registry: Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    from openect.registry.models import PseudonymKeyCheck
    from openect.settings import get_settings

    pseudonym.pseudonym("MRN-1", "C01", KEY_A.encode())  # first use: A recorded
    assert PseudonymKeyCheck.objects.get().check_value == pseudonym.check_value(KEY_A.encode())
    monkeypatch.setenv(pseudonym.KEY_ENV, KEY_B)
    get_settings.cache_clear()
    created = services.register_patient(ADMIN, "MRN-1", PATIENT)  # no pseudonym yet: B
    assert created.patient_id == pseudonym.pseudonym("MRN-1", "C01", KEY_B.encode())
    assert PseudonymKeyCheck.objects.get().check_value == pseudonym.check_value(KEY_B.encode())
    with pytest.raises(pseudonym.PseudonymKeyError):
        pseudonym.pseudonym("MRN-1", "C01", KEY_A.encode())
