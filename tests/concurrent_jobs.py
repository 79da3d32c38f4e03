"""Run registry writers at the same moment, each in its own thread and connection."""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable

from django.db import connection, connections


def run_together(*jobs: Callable[[], None], timeout_s: float = 60.0) -> None:
    """Start every job at once in its own thread (own connection); re-raise any failure."""
    barrier = threading.Barrier(len(jobs))
    failures: list[BaseException] = []

    def wrap(job: Callable[[], None]) -> None:
        try:
            barrier.wait()
            job()
        except BaseException as error:  # reported to the test below
            failures.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=wrap, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout_s)
    assert not any(thread.is_alive() for thread in threads), "a writer did not finish"
    assert not failures, [str(failure) for failure in failures]


def empty_append_only_tables() -> None:
    """SQLite: empty the append-only audit table and access log (their triggers refuse
    the ``DELETE`` of the test database's flush; PostgreSQL's ``TRUNCATE`` passes them).
    Does nothing on PostgreSQL."""
    if connection.vendor != "sqlite":
        return
    audit = importlib.import_module("openect.registry.migrations.0002_audit_append_only")
    access = importlib.import_module("openect.registry.migrations.0005_access_log")
    with connection.cursor() as cursor:
        for sql in audit.SQLITE_REVERSE + access.SQLITE_REVERSE:
            cursor.execute(sql)
        cursor.execute("DELETE FROM openect_audit")
        cursor.execute("DELETE FROM openect_access_log")
        for sql in audit.SQLITE + access.SQLITE:
            cursor.execute(sql)
