"""Bounded retry of the registry's write transactions when the database says "try again".

Two cases are retried, and only these:

* SQLite is busy: ``database is locked`` / ``database table is locked`` (SQLITE_BUSY,
  SQLITE_LOCKED) after the busy timeout (:data:`openect.registry.config.SQLITE_BUSY_TIMEOUT_S`)
  ran out, or where SQLite does not wait (a stale WAL snapshot). Up to
  :data:`SQLITE_ATTEMPTS` attempts in all.
* PostgreSQL aborted the transaction to resolve a lock conflict: deadlock detected
  (SQLSTATE ``40P01``) or serialisation failure (``40001``). One retry
  (:data:`POSTGRESQL_ATTEMPTS` attempts in all).

Any other error (a refused record, a constraint, a lost connection) is raised at once.
The whole function - its transaction included - runs again, after a short randomised
backoff (:data:`BACKOFF_S`, doubled each time). A function called inside an outer
transaction is never retried here: the outer transaction is rolled back as a whole and
its owner decides.
"""

from __future__ import annotations

import functools
import logging
import random
import sqlite3
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from django.db import DEFAULT_DB_ALIAS, DatabaseError, OperationalError, transaction

P = ParamSpec("P")
T = TypeVar("T")

#: Attempts in all (first try included) when SQLite is busy or locked.
SQLITE_ATTEMPTS = 3
#: Attempts in all on a PostgreSQL deadlock or serialisation failure (one retry).
POSTGRESQL_ATTEMPTS = 2
#: First backoff before a retry (s); doubled for each further retry, times 0.5-1.5.
BACKOFF_S = 0.05
#: SQLSTATEs PostgreSQL gives a transaction aborted to resolve a lock conflict.
RETRY_SQLSTATES = frozenset({"40P01", "40001"})  # deadlock_detected, serialization_failure
#: SQLite primary result codes of a busy or locked database.
SQLITE_BUSY_CODES = frozenset({5, 6})  # SQLITE_BUSY, SQLITE_LOCKED
#: Message words of a busy SQLite database (where the result code is not given).
SQLITE_BUSY_WORDS = ("database is locked", "database table is locked", "database is busy")

logger = logging.getLogger(__name__)


def retry_reason(error: BaseException) -> str | None:
    """Why ``error`` may be retried (``"busy"``, ``"deadlock"``), or None if it may not."""
    if not isinstance(error, DatabaseError | sqlite3.DatabaseError):
        return None
    cause = error.__cause__ if error.__cause__ is not None else error
    state = getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)
    if state is not None:
        return "deadlock" if state in RETRY_SQLSTATES else None
    if not isinstance(error, OperationalError | sqlite3.OperationalError):
        return None
    code = getattr(cause, "sqlite_errorcode", None)
    if isinstance(code, int):
        return "busy" if code & 0xFF in SQLITE_BUSY_CODES else None
    message = str(error).lower()
    return "busy" if any(words in message for words in SQLITE_BUSY_WORDS) else None


def attempts_for(reason: str) -> int:
    """Attempts in all for a retry ``reason`` of :func:`retry_reason`."""
    return SQLITE_ATTEMPTS if reason == "busy" else POSTGRESQL_ATTEMPTS


def retry_write(function: Callable[P, T]) -> Callable[P, T]:
    """Run ``function`` (which opens its own ``transaction.atomic()``) again when the
    database asks for it (see the module); never inside an outer transaction."""

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        if transaction.get_connection(DEFAULT_DB_ALIAS).in_atomic_block:
            return function(*args, **kwargs)  # the outer transaction's owner decides
        attempt = 1
        while True:
            try:
                return function(*args, **kwargs)
            except (DatabaseError, sqlite3.DatabaseError) as error:
                reason = retry_reason(error)
                if reason is None or attempt >= attempts_for(reason):
                    raise
                pause = BACKOFF_S * 2 ** (attempt - 1) * random.uniform(0.5, 1.5)
                logger.info(
                    "%s: database %s (%s); attempt %d of %d in %.0f ms",
                    function.__qualname__,
                    reason,
                    error,
                    attempt + 1,
                    attempts_for(reason),
                    pause * 1000.0,
                )
                time.sleep(pause)
                attempt += 1

    return wrapper
