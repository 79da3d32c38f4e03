"""The access log in the registry: append-only in the database until each entry's
retention has passed, purged only when it has, seen by administrators and by data
managers for their centre only; ``openect registry access-log`` and the export's entry.

Runs on SQLite, and on PostgreSQL with OPENECT_REGISTRY_TEST_BACKEND=postgresql.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import pytest
from django.db import DatabaseError, connection, transaction

from openect.cli import main
from openect.data.dataset import Dataset
from openect.errors import AccessDeniedError, InputError
from openect.registry import access_log
from openect.registry.access import Actor
from openect.registry.access_log import AccessAction, Channel, Filters, Read
from openect.registry.models import AccessEntry, AuditEntry, Role, verify_chain
from openect.registry.transfer import import_dataset
from openect.settings import get_settings

pytestmark = pytest.mark.django_db

ADMIN = Actor("admin", Role.ADMIN)
DOCTOR_C01 = Actor("doc.c01", Role.CLINICIAN, "C01")
MANAGER_C01 = Actor("manager.c01", Role.DATA_MANAGER, "C01")
MANAGER_C02 = Actor("manager.c02", Role.DATA_MANAGER, "C02")
ANALYST = Actor("analyst", Role.ANALYST)
NOW = dt.datetime.now(dt.UTC)


def entry(at: dt.datetime, keep_until: dt.datetime, actor: str = "old.reader") -> AccessEntry:
    """An entry written at ``at`` and kept until ``keep_until``."""
    made = AccessEntry(
        at=at,
        actor=actor,
        role="clinician",
        actor_centre_id="C01",
        action="view",
        entity="patients",
        record_id="P1",
        centre_id="C01",
        address="10.0.0.5",
        channel="page",
        keep_until=keep_until,
    )
    made.save()
    return made


@pytest.fixture
def recent() -> AccessEntry:
    """An entry written now (kept for the retention in force)."""
    return access_log.record(DOCTOR_C01, Read(AccessAction.VIEW, "patients", "P1", "", "C01"),
                             Channel.PAGE, "10.0.0.1")  # fmt: skip


def refused(sql: str, params: list[object] | None = None) -> None:
    """``sql`` is refused by the database as an append-only violation."""
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql, params or [])


# ----------------------------------------------------------------- recording
def test_an_entry_holds_who_what_whose_and_from_where(recent: AccessEntry) -> None:
    stored = AccessEntry.objects.get(pk=recent.pk)
    assert (stored.actor, stored.role, stored.actor_centre_id) == ("doc.c01", "clinician", "C01")
    assert (stored.action, stored.entity, stored.record_id) == ("view", "patients", "P1")
    assert (stored.centre_id, stored.address, stored.channel) == ("C01", "10.0.0.1", "page")
    kept = stored.keep_until - stored.at
    assert kept == dt.timedelta(days=730)  # the default retention


def test_the_retention_in_force_is_written_with_each_entry(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENECT_ACCESS_LOG_DAYS", "30")
    made = access_log.record(ADMIN, Read(AccessAction.LIST, "lesions", query="x=1"), Channel.API)
    assert made.keep_until - made.at == dt.timedelta(days=30)


def test_a_read_that_cannot_be_logged_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(self: AccessEntry, *args: object, **kwargs: object) -> None:
        raise DatabaseError("disk full")

    monkeypatch.setattr(AccessEntry, "save", broken)
    with pytest.raises(access_log.AccessLogUnavailableError, match="cannot be written"):
        access_log.record(DOCTOR_C01, Read(AccessAction.VIEW, "patients", "P1"), Channel.PAGE)
    quiet = access_log.record_quietly("x", Read(AccessAction.SIGN_OUT, "users", "x"), Channel.PAGE)
    assert quiet is None


# ----------------------------------------------------------------- append-only
def test_the_model_refuses_changes_and_deletes(recent: AccessEntry) -> None:
    with pytest.raises(PermissionError):
        recent.save()
    with pytest.raises(PermissionError):
        recent.delete()
    with pytest.raises(PermissionError):
        AccessEntry.objects.all().update(actor="intruder")
    with pytest.raises(PermissionError):
        AccessEntry.objects.all().delete()


def test_update_is_refused_by_the_database(recent: AccessEntry) -> None:
    refused("UPDATE openect_access_log SET actor = 'intruder' WHERE id = %s", [recent.pk])
    refused("UPDATE openect_access_log SET keep_until = at WHERE id = %s", [recent.pk])
    assert AccessEntry.objects.get(pk=recent.pk).actor == "doc.c01"


def test_delete_of_an_entry_within_its_retention_is_refused(recent: AccessEntry) -> None:
    old_but_kept = entry(NOW - dt.timedelta(days=900), NOW + dt.timedelta(days=5))
    refused("DELETE FROM openect_access_log WHERE id = %s", [recent.pk])
    refused("DELETE FROM openect_access_log WHERE id = %s", [old_but_kept.pk])
    refused("DELETE FROM openect_access_log")
    assert AccessEntry.objects.count() == 2


def test_upsert_over_an_entry_is_refused(recent: AccessEntry) -> None:
    names = ", ".join(f.column for f in AccessEntry._meta.concrete_fields)
    refused(
        f"INSERT INTO openect_access_log ({names}) SELECT {names} FROM openect_access_log "
        f"WHERE id = {recent.pk} ON CONFLICT (id) DO UPDATE SET actor = 'intruder'"
    )
    assert not AccessEntry.objects.filter(actor="intruder").exists()


def test_insert_or_replace_of_an_entry_is_refused_on_sqlite(recent: AccessEntry) -> None:
    if connection.vendor != "sqlite":
        pytest.skip("INSERT OR REPLACE: SQLite only")
    names = ", ".join(f.column for f in AccessEntry._meta.concrete_fields)
    changed = names.replace("actor,", "'intruder',", 1)
    for verb in ("INSERT OR REPLACE INTO", "REPLACE INTO"):
        refused(
            f"{verb} openect_access_log ({names}) "
            f"SELECT {changed} FROM openect_access_log WHERE id = {recent.pk}"
        )
    assert AccessEntry.objects.get(pk=recent.pk).actor == "doc.c01"


def test_truncate_is_refused_on_postgresql(recent: AccessEntry) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("TRUNCATE: PostgreSQL only")
    refused("TRUNCATE openect_access_log")
    refused("TRUNCATE openect_access_log CASCADE")
    assert AccessEntry.objects.filter(pk=recent.pk).exists()


def test_truncate_passes_only_with_the_audit_guard_set_aside_by_the_owner(
    recent: AccessEntry,
) -> None:
    """The test database's flush (the tables' owner) empties both tables at once."""
    if connection.vendor != "postgresql":
        pytest.skip("TRUNCATE: PostgreSQL only")
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("ALTER TABLE openect_audit DISABLE TRIGGER openect_audit_no_truncate")
        cursor.execute("TRUNCATE openect_access_log")
        cursor.execute("ALTER TABLE openect_audit ENABLE TRIGGER openect_audit_no_truncate")
        transaction.set_rollback(True)
    assert AccessEntry.objects.filter(pk=recent.pk).exists()


# ----------------------------------------------------------------- retention
def test_purge_removes_only_entries_past_their_retention(recent: AccessEntry) -> None:
    expired = entry(NOW - dt.timedelta(days=800), NOW - dt.timedelta(days=70))
    kept_longer = entry(NOW - dt.timedelta(days=800), NOW + dt.timedelta(days=300))
    assert access_log.purge() == 1
    left = set(AccessEntry.objects.values_list("pk", flat=True))
    assert left == {recent.pk, kept_longer.pk}
    assert expired.pk not in left


def test_a_longer_retention_keeps_entries_a_shorter_one_would_purge() -> None:
    written = entry(NOW - dt.timedelta(days=800), NOW - dt.timedelta(days=70))
    assert access_log.purge(days=1000) == 0
    assert access_log.purge(days=730) == 1
    assert not AccessEntry.objects.filter(pk=written.pk).exists()


def test_the_purge_command_applies_the_retention_setting(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, recent: AccessEntry
) -> None:
    entry(NOW - dt.timedelta(days=400), NOW - dt.timedelta(days=35))
    monkeypatch.setenv("OPENECT_ACCESS_LOG_DAYS", "365")
    get_settings.cache_clear()
    capsys.readouterr()
    assert main(["registry", "access-log", "--purge", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"purged": 1, "retention_days": 365}
    assert list(AccessEntry.objects.values_list("pk", flat=True)) == [recent.pk]


# ----------------------------------------------------------------- who sees what
@pytest.fixture
def mixed() -> dict[str, AccessEntry]:
    """Entries about C01's and C02's data, by users of C01, C02 and without a centre."""

    def log(actor: Actor, centre: str | None, action: AccessAction = AccessAction.VIEW,
            record_id: str = "P1") -> AccessEntry:  # fmt: skip
        return access_log.record(actor, Read(action, "patients", record_id, "", centre),
                                 Channel.PAGE, "10.1.1.1")  # fmt: skip

    return {
        "doctor_reads_c01": log(DOCTOR_C01, "C01"),
        "admin_reads_c01": log(ADMIN, "C01"),
        "analyst_reads_c01": log(ANALYST, "C01"),
        "manager2_reads_c02": log(MANAGER_C02, "C02", record_id="P2"),
        "admin_reads_c02": log(ADMIN, "C02", record_id="P2"),
        "doctor_signs_in": access_log.record(
            DOCTOR_C01, Read(AccessAction.SIGN_IN, "users", "doc.c01"), Channel.PAGE
        ),
    }


def seen(actor: Actor) -> set[int]:
    return set(access_log.visible_entries(actor).values_list("pk", flat=True))


def test_administrators_see_every_entry(mixed: dict[str, AccessEntry]) -> None:
    assert seen(ADMIN) == {e.pk for e in mixed.values()}


def test_a_data_manager_sees_their_centres_part_only(mixed: dict[str, AccessEntry]) -> None:
    c01 = {"doctor_reads_c01", "admin_reads_c01", "analyst_reads_c01", "doctor_signs_in"}
    assert seen(MANAGER_C01) == {mixed[name].pk for name in c01}
    c02 = {"manager2_reads_c02", "admin_reads_c02"}
    assert seen(MANAGER_C02) == {mixed[name].pk for name in c02}
    assert not seen(MANAGER_C02) & {mixed[name].pk for name in c01}


@pytest.mark.parametrize("actor", [DOCTOR_C01, ANALYST], ids=["clinician", "analyst"])
def test_clinicians_and_analysts_see_nothing(actor: Actor, mixed: dict[str, AccessEntry]) -> None:
    with pytest.raises(AccessDeniedError, match="may not read the access log"):
        access_log.visible_entries(actor)


def test_filters_by_user_action_and_days(mixed: dict[str, AccessEntry]) -> None:
    today = NOW.date().isoformat()
    names = {"action": "action", "since": "since", "until": "until"}
    rows = access_log.visible_entries(ADMIN)
    by_user = access_log.filter_entries(rows, Filters.parse({"user": "admin"}, names))
    assert {e.actor for e in by_user} == {"admin"}
    signs = access_log.filter_entries(rows, Filters.parse({"action": "sign_in"}, names))
    assert [e.pk for e in signs] == [mixed["doctor_signs_in"].pk]
    today_only = Filters.parse({"since": today, "until": today}, names)
    assert access_log.filter_entries(rows, today_only).count() == len(mixed)
    tomorrow = (NOW.date() + dt.timedelta(days=1)).isoformat()
    assert access_log.filter_entries(rows, Filters.parse({"since": tomorrow}, names)).count() == 0


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"since": "2024-13-01"}, "--since='2024-13-01': not a date; allowed a day written"),
        ({"until": "yesterday"}, "--until='yesterday': not a date"),
        ({"action": "peek"}, "--action='peek': unknown action; allowed view, list"),
        ({"since": "2024-02-02", "until": "2024-02-01"}, "--until='2024-02-01': before --since"),
    ],
)
def test_bad_filters_name_the_field_and_value(given: dict[str, str], message: str) -> None:
    names = {"action": "--action", "since": "--since", "until": "--until"}
    with pytest.raises(InputError, match=message.replace("(", r"\(")):
        Filters.parse(given, names)


# ----------------------------------------------------------------- command line
def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["registry", "access-log", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_the_command_lists_filters_and_writes_csv(
    capsys: pytest.CaptureFixture[str], mixed: dict[str, AccessEntry], tmp_path: Path,
    dataset: Dataset,
) -> None:  # fmt: skip
    import_dataset(ADMIN, dataset)
    code, out, _ = run(capsys, "--centre", "C02", "--json")
    assert code == 0
    listed = json.loads(out)
    assert listed["total"] == 2
    assert {e["record_id"] for e in listed["entries"]} == {"P2"}
    code, out, _ = run(capsys, "--user", "doc.c01", "--action", "sign_in", "--json")
    assert [e["action"] for e in json.loads(out)["entries"]] == ["sign_in"]
    target = tmp_path / "log.csv"
    code, _, _ = run(capsys, "--since", NOW.date().isoformat(), "--csv", str(target))
    assert code == 0
    rows = list(csv.DictReader(target.open(encoding="utf-8")))
    assert len(rows) == len(mixed)
    assert set(rows[0]) >= {"at", "actor", "action", "record_id", "centre_id", "address"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--since", "2024-02-30"), "--since='2024-02-30': not a date"),
        (("--until", "soon"), "--until='soon': not a date"),
        (("--centre", "C99"), "--centre='C99': unknown centre; allowed C01, C02"),
        (("--action", "peek"), "--action='peek': unknown action"),
        (("--purge", "--user", "x"), "--purge: applies the retention to the whole log"),
    ],
)
def test_bad_input_to_the_command_exits_2_naming_it(
    capsys: pytest.CaptureFixture[str], dataset: Dataset, args: tuple[str, ...], message: str
) -> None:
    import_dataset(ADMIN, dataset)
    code, _, err = run(capsys, *args)
    assert code == 2
    assert message in err


def test_csv_cells_that_would_run_as_a_formula_are_neutralised(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    access_log.record("=HYPERLINK(\"http://x\")", Read(AccessAction.SIGN_IN_FAILED, "users",
                      "=1+1"), Channel.PAGE, "10.0.0.9")  # fmt: skip
    target = tmp_path / "log.csv"
    assert run(capsys, "--csv", str(target))[0] == 0
    text = target.read_text(encoding="utf-8")
    assert "'=HYPERLINK" in text
    assert ",'=1+1," in text


def test_the_export_command_is_in_the_access_log_and_the_audit_trail(
    capsys: pytest.CaptureFixture[str], dataset: Dataset, tmp_path: Path
) -> None:
    import_dataset(ADMIN, dataset)
    capsys.readouterr()
    assert main(["registry", "export", str(tmp_path / "out")]) == 0
    logged = AccessEntry.objects.get(action="export")
    assert logged.actor.startswith("cli:")
    assert (logged.channel, logged.entity, logged.record_id) == ("cli", "registry", "all-centres")
    audited = AuditEntry.objects.get(action="export")
    assert audited.actor == logged.actor
    assert audited.entity == "registry"
    assert audited.after is not None
    assert (audited.after if isinstance(audited.after, dict) else json.loads(audited.after))[
        "rows"
    ]["patients"] == 2
    assert verify_chain().intact
