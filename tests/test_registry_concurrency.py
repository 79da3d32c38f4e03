"""Concurrent writers lose nothing and never get a server error (SQLite and PostgreSQL).

Runs on the registry test database: SQLite (a real file) by default, PostgreSQL with
``OPENECT_REGISTRY_TEST_BACKEND=postgresql``. The web test starts a real WSGI server
(waitress, the server of ``openect serve --workers 1``) on 127.0.0.1 in a thread; each
request opens its own database connection, as in production.
"""

from __future__ import annotations

import copy
import http.client
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, connections, transaction

from concurrent_jobs import empty_append_only_tables, run_together
from openect.data.dataset import Dataset
from openect.data.models import Lesion, Patient
from openect.registry import services
from openect.registry.access import Actor
from openect.registry.accounts import set_user
from openect.registry.guard import service_write
from openect.registry.models import AuditEntry, Role
from openect.registry.records import registry_model
from openect.registry.transfer import import_dataset
from openect.web.models import ApiToken

pytestmark = pytest.mark.django_db(transaction=True)

ADMIN = Actor("admin", Role.ADMIN)
#: Concurrent HTTP writers, each on its own lesion.
WRITERS = 8
#: How long each HTTP writer writes (s), and at most how many writes it sends.
SECONDS = 3.0
MAX_WRITES = 120
#: Rounds of each of the two writers on one record.
ROUNDS = 20


@pytest.fixture(autouse=True)
def _empty_audit_on_sqlite(transactional_db: None) -> Iterator[None]:
    """SQLite: empty the append-only audit table and access log after the test."""
    yield
    empty_append_only_tables()


def as_dict(value: object) -> dict[str, Any]:
    """An audit entry's values (JSON text on SQLite, a mapping on PostgreSQL)."""
    loaded = json.loads(value) if isinstance(value, str | bytes) else value
    assert isinstance(loaded, dict)
    return loaded


def assert_audit_chain(record_id: str, writes: int) -> list[AuditEntry]:
    """Every write of ``record_id`` audited, each starting from what the previous left."""
    trail = list(AuditEntry.objects.filter(record_id=record_id, action="update").order_by("id"))
    assert len(trail) == writes, (record_id, len(trail), writes)
    for earlier, later in itertools.pairwise(trail):
        assert later.before == earlier.after, record_id
    return trail


@pytest.fixture
def lesions(dataset: Dataset) -> list[str]:
    """The small dataset plus one lesion of patient P1 per HTTP writer."""
    import_dataset(ADMIN, dataset)
    template = services.get(ADMIN, Lesion, "P1-L1")
    ids = [f"P1-W{i}" for i in range(WRITERS)]
    for ident in ids:
        services.create(ADMIN, template.model_copy(update={"lesion_id": ident}))
    return ids


@pytest.fixture
def server() -> Iterator[int]:
    """The web application under waitress on 127.0.0.1 (a free port), one thread per writer."""
    from django.core.wsgi import get_wsgi_application
    from waitress.server import create_server

    application = get_wsgi_application()
    wsgi = create_server(application, host="127.0.0.1", port=0, threads=WRITERS)
    port = int(wsgi.effective_port)
    thread = threading.Thread(target=wsgi.run, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        wsgi.close()
        thread.join(timeout=10)
        connections.close_all()


def api_token() -> str:
    """A clinician of centre C01 and a fresh API token of theirs."""
    set_user(ADMIN, "doc.c01", "clinician", "C01", "a-long-test-password")
    return ApiToken.issue(get_user_model().objects.get(username="doc.c01"), "concurrency")


def test_concurrent_api_writers_get_no_server_error_and_lose_nothing(
    lesions: list[str], server: int
) -> None:
    token = api_token()
    statuses: dict[str, list[int]] = {ident: [] for ident in lesions}
    written: dict[str, list[float]] = {ident: [] for ident in lesions}

    def writer(ident: str) -> Callable[[], None]:
        def job() -> None:
            client = http.client.HTTPConnection("127.0.0.1", server, timeout=60)
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
            deadline = time.monotonic() + SECONDS
            try:
                for n in range(MAX_WRITES):
                    if time.monotonic() > deadline:
                        break
                    thickness = 1.0 + (n + 1) / 10.0  # mm; a new value each time
                    body = json.dumps({"thickness_mm": thickness})
                    client.request("PATCH", f"/api/lesions/{ident}", body=body, headers=headers)
                    response = client.getresponse()
                    response.read()
                    statuses[ident].append(response.status)
                    if response.status == 200:
                        written[ident].append(thickness)
            finally:
                client.close()

        return job

    warm_up = http.client.HTTPConnection("127.0.0.1", server, timeout=60)
    warm_up.request(
        "GET", f"/api/lesions/{lesions[0]}", headers={"Authorization": f"Bearer {token}"}
    )
    assert warm_up.getresponse().status == 200  # the application is loaded
    warm_up.close()
    run_together(*(writer(ident) for ident in lesions))
    sent = sum(len(s) for s in statuses.values())
    failed = [s for codes in statuses.values() for s in codes if s != 200]
    print(f"{sent} writes by {WRITERS} writers in {SECONDS:.0f} s; {len(failed)} failed")
    assert not failed, f"{len(failed)} of {sent} writes failed: HTTP {sorted(set(failed))}"
    for ident in lesions:
        assert written[ident], ident
        trail = assert_audit_chain(ident, len(written[ident]))
        assert as_dict(trail[-1].after)["thickness_mm"] == written[ident][-1]
        final = services.get(ADMIN, Lesion, ident)
        assert final.thickness_mm == written[ident][-1]


def test_two_writers_on_one_record_lose_no_update(dataset: Dataset) -> None:
    import_dataset(ADMIN, dataset)
    doctor = Actor("doctor", Role.CLINICIAN, "C01")
    manager = Actor("manager", Role.DATA_MANAGER, "C01")

    def measure_thickness() -> None:  # each update reads the row, merges, writes it back
        for i in range(ROUNDS):
            services.update(doctor, Lesion, "P1-L1", {"thickness_mm": 1.0 + i})

    def mark_bleeding() -> None:
        for i in range(ROUNDS):
            services.update(manager, Lesion, "P1-L1", {"bleeding": i % 2 == 0})

    run_together(measure_thickness, mark_bleeding)
    final = services.get(doctor, Lesion, "P1-L1")
    assert final.thickness_mm == ROUNDS
    assert final.bleeding is ((ROUNDS - 1) % 2 == 0)
    trail = list(AuditEntry.objects.filter(record_id="P1-L1", action="update").order_by("id"))
    assert len(trail) >= ROUNDS
    for earlier, later in itertools.pairwise(trail):
        assert later.before == earlier.after


def test_a_lesion_update_during_an_import_holding_the_patient_succeeds(
    dataset: Dataset,
) -> None:
    """PostgreSQL: the import holds the patient row and then changes the lesion; the
    clinician's update of the lesion must neither deadlock nor fail."""
    if connection.vendor != "postgresql":
        pytest.skip("row locks: PostgreSQL only (SQLite has one writer at a time)")
    import_dataset(ADMIN, dataset)
    doctor = Actor("doctor", Role.CLINICIAN, "C01")
    changed = copy.deepcopy(dataset)
    changed.patients = [
        p.model_copy(update={"ecog": 2}) if p.patient_id == "P1" else p for p in changed.patients
    ]
    changed.lesions = [
        lesion.model_copy(update={"ulcerated": False}) if lesion.lesion_id == "P1-L1" else lesion
        for lesion in changed.lesions
    ]
    patient_held = threading.Event()

    def import_holding_the_patient() -> None:
        with transaction.atomic():
            with service_write("import"):  # what the import does first: change the patient
                registry_model(Patient).objects.filter(pk="P1").update(ecog=2)
            patient_held.set()
            time.sleep(0.5)  # the clinician's update now runs against the held patient
            import_dataset(ADMIN, changed)  # then the import changes the lesion rows

    def clinician_update() -> None:
        assert patient_held.wait(timeout=10)
        services.update(doctor, Lesion, "P1-L1", {"thickness_mm": 5.5}, reason="measured")

    run_together(import_holding_the_patient, clinician_update)
    mine = AuditEntry.objects.filter(record_id="P1-L1", actor="doctor", action="update").get()
    assert as_dict(mine.after)["thickness_mm"] == 5.5  # the clinician's save went through
    final: Any = services.get(doctor, Lesion, "P1-L1")
    assert final.ulcerated is False  # and so did the import, after it
    assert services.get(doctor, Patient, "P1").ecog == 2


# ----------------------------------------------------------------- settings and retry
def test_sqlite_files_use_wal_immediate_transactions_and_a_busy_timeout() -> None:
    from openect.registry.config import SQLITE_BUSY_TIMEOUT_S, database_settings

    options = database_settings("sqlite:////tmp/openect-x/registry.sqlite3")["OPTIONS"]
    assert options == {
        "timeout": SQLITE_BUSY_TIMEOUT_S,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL",
    }
    share = database_settings("sqlite:////tmp/openect-x/r.sqlite3?journal_mode=delete&timeout=5")
    assert share["OPTIONS"]["init_command"] == "PRAGMA journal_mode=DELETE"
    assert share["OPTIONS"]["timeout"] == 5.0
    assert "init_command" not in database_settings("sqlite://:memory:")["OPTIONS"]
    for bad in ("journal_mode=memory", "timeout=-1", "timeout=soon", "cache=shared"):
        with pytest.raises(ValueError, match="not allowed"):
            database_settings(f"sqlite:////tmp/openect-x/r.sqlite3?{bad}")
    if connection.vendor == "sqlite":  # the test database itself
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA journal_mode")
            assert cursor.fetchone()[0] == "wal"
            cursor.execute("PRAGMA busy_timeout")
            assert cursor.fetchone()[0] == SQLITE_BUSY_TIMEOUT_S * 1000


class FakePostgresError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


def database_error(kind: type[Exception], cause: Exception) -> Exception:
    error = kind(str(cause))
    error.__cause__ = cause
    return error


def test_only_busy_deadlock_and_serialisation_errors_are_retried() -> None:
    import sqlite3

    from django.db import IntegrityError, OperationalError

    from openect.registry.retry import retry_reason

    assert retry_reason(sqlite3.OperationalError("database is locked")) == "busy"
    locked = database_error(OperationalError, sqlite3.OperationalError("database is locked"))
    assert retry_reason(locked) == "busy"
    for state in ("40P01", "40001"):
        assert retry_reason(database_error(OperationalError, FakePostgresError(state))) == (
            "deadlock"
        )
    assert retry_reason(database_error(OperationalError, FakePostgresError("57P01"))) is None
    assert retry_reason(IntegrityError("UNIQUE constraint failed")) is None
    assert retry_reason(OperationalError("no such table: x")) is None
    assert retry_reason(ValueError("database is locked")) is None


def test_a_busy_write_is_retried_a_few_times_but_never_inside_a_transaction() -> None:
    from django.db import OperationalError

    from openect.registry.retry import SQLITE_ATTEMPTS, retry_write

    calls: list[int] = []

    @retry_write
    def always_busy() -> None:
        calls.append(1)
        raise OperationalError("database is locked")

    with pytest.raises(OperationalError):
        always_busy()
    assert len(calls) == SQLITE_ATTEMPTS
    calls.clear()
    with pytest.raises(OperationalError), transaction.atomic():
        always_busy()
    assert len(calls) == 1  # the outer transaction's owner decides

    @retry_write
    def refused() -> None:
        calls.append(1)
        raise OperationalError("no such table: openect_lesions")

    calls.clear()
    with pytest.raises(OperationalError):
        refused()
    assert len(calls) == 1
