"""Database configuration of the registry: SQLite by default, any database by URL.

The registry uses Django's ORM without a web project: :func:`configure` sets Django up
for a database given as a URL (``sqlite:///path/file.sqlite3`` or
``postgresql://user@host:port/name``), from the argument, else the ``DATABASE_URL``
setting (or ``DATABASE_URL_FILE``, see :mod:`openect.settings`), else an embedded SQLite
file in the data directory (``OPENECT_DATA_DIR``, by default
``$XDG_DATA_HOME/openect``, i.e. ``~/.local/share/openect/registry.sqlite3``). The web
application has its own settings module that includes the same app.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from openect.settings import DATABASE_ALLOWED, DATABASE_SCHEMES, Settings, get_settings

#: Environment variable holding the database URL.
DATABASE_URL_ENV = "DATABASE_URL"

#: SQLite: how long a connection waits for another's write lock before "database is
#: locked" (s); applies at ``BEGIN IMMEDIATE`` and to single statements.
SQLITE_BUSY_TIMEOUT_S = 20.0
#: SQLite journal modes a URL may ask for (``?journal_mode=delete`` where the file is on
#: a network share, on which WAL does not work); WAL by default.
SQLITE_JOURNAL_MODES = frozenset({"wal", "delete", "truncate", "persist"})
#: Query parameters a SQLite URL may carry.
SQLITE_URL_OPTIONS = frozenset({"journal_mode", "timeout"})


def default_database_path(settings: Settings | None = None) -> Path:
    """The embedded SQLite file in the data directory (setting ``OPENECT_DATA_DIR``)."""
    return (settings if settings is not None else get_settings()).data_dir / "registry.sqlite3"


def database_url(url: str | None = None, settings: Settings | None = None) -> str:
    """The database URL in force: ``url``, else ``DATABASE_URL``, else the SQLite default.

    ``settings`` defaults to those of the process; ConfigurationError if they are invalid
    (and ``url`` is not given).
    """
    if url:
        return url
    settings = settings if settings is not None else get_settings()
    if settings.database_url is not None:
        return settings.database_url.get_secret_value()
    return f"sqlite:///{default_database_path(settings)}"


def database_settings(url: str) -> dict[str, Any]:
    """Django ``DATABASES['default']`` for ``url``; ValueError naming it when unsupported.

    SQLite files are set up for concurrent use (see :func:`sqlite_options`).
    """
    import dj_database_url

    if not url.startswith(DATABASE_SCHEMES):
        raise ValueError(f"database URL {url!r}: unsupported; {DATABASE_ALLOWED}")
    settings: dict[str, Any] = dict(dj_database_url.parse(url))
    if settings["ENGINE"].endswith("sqlite3"):
        name = str(settings["NAME"])
        if name and not _in_memory(name):
            Path(name).parent.mkdir(parents=True, exist_ok=True)
        settings["OPTIONS"] = sqlite_options(url, name, dict(settings.get("OPTIONS") or {}))
    return settings


def _in_memory(name: str) -> bool:
    return name == ":memory:" or "mode=memory" in name


def sqlite_options(url: str, name: str, given: dict[str, Any]) -> dict[str, Any]:
    """Django's SQLite ``OPTIONS`` for concurrent writers.

    * ``timeout``: the busy timeout (s), :data:`SQLITE_BUSY_TIMEOUT_S` unless the URL
      gives ``?timeout=S``; Django passes it to ``sqlite3.connect``.
    * ``transaction_mode`` ``IMMEDIATE``: every transaction takes the write lock at
      ``BEGIN``, where the busy timeout applies, instead of failing at once when a read
      turns into a write while another connection writes.
    * ``init_command`` ``PRAGMA journal_mode=WAL`` on each new connection (readers do not
      block the writer nor it them); not for in-memory databases. WAL needs the file on a
      local disk: ``?journal_mode=delete`` for a network share.

    ValueError names a query parameter or value that is not allowed.
    """
    unknown = sorted(set(given) - SQLITE_URL_OPTIONS)
    if unknown:
        raise ValueError(
            f"database URL {url!r}: parameter {unknown[0]!r} not allowed; "
            f"allowed: {', '.join(sorted(SQLITE_URL_OPTIONS))}"
        )
    journal = str(given.get("journal_mode", "wal")).lower()
    if journal not in SQLITE_JOURNAL_MODES:
        raise ValueError(
            f"database URL {url!r}: journal_mode={journal!r} not allowed; "
            f"allowed: {', '.join(sorted(SQLITE_JOURNAL_MODES))}"
        )
    try:
        timeout = float(given.get("timeout", SQLITE_BUSY_TIMEOUT_S))
    except ValueError:
        timeout = -1.0
    if not 0.0 <= timeout <= 600.0:
        raise ValueError(
            f"database URL {url!r}: timeout={given['timeout']!r} not allowed; allowed: 0 to 600 s"
        )
    options: dict[str, Any] = {"timeout": timeout, "transaction_mode": "IMMEDIATE"}
    if not _in_memory(name):
        options["init_command"] = f"PRAGMA journal_mode={journal.upper()}"
    return options


def django_settings(url: str) -> dict[str, Any]:
    """The settings of the registry used alone (command line, notebooks, tests)."""
    return {
        "DATABASES": {"default": database_settings(url)},
        "INSTALLED_APPS": [
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "openect.registry",
        ],
        "USE_TZ": True,
        "TIME_ZONE": "UTC",
        "DEFAULT_AUTO_FIELD": "django.db.models.BigAutoField",
        "SECRET_KEY": "openect-registry-without-web",  # no sessions or signing here
        "LOGGING_CONFIG": None,
    }


def configure(url: str | None = None) -> str:
    """Set Django up for the registry at ``url`` (see :func:`database_url`); return the URL.

    Does nothing if Django is already configured (e.g. by the web application).
    """
    import django
    from django.conf import settings

    resolved = database_url(url)
    if not settings.configured:
        settings.configure(**django_settings(resolved))
        django.setup()
    return resolved


def migrate(verbosity: int = 0) -> None:
    """Create or upgrade the registry tables (Django migrations) in the configured database."""
    from django.core.management import call_command

    call_command("migrate", verbosity=verbosity, interactive=False)
