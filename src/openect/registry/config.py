"""Database configuration of the registry: SQLite by default, any database by URL.

The registry uses Django's ORM without a web project: :func:`configure` sets Django up
for a database given as a URL (``sqlite:///path/file.sqlite3`` or
``postgresql://user@host:port/name``), from the argument, else ``DATABASE_URL``, else
an embedded SQLite file in the user's data directory
(``$XDG_DATA_HOME/openect/registry.sqlite3``, by default
``~/.local/share/openect/registry.sqlite3``). The web application has its own settings
module that includes the same app.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

#: Environment variable holding the database URL.
DATABASE_URL_ENV = "DATABASE_URL"


def default_database_path() -> Path:
    """The embedded SQLite file in the user's data directory."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "openect" / "registry.sqlite3"


def database_url(url: str | None = None) -> str:
    """The database URL in force: ``url``, else ``$DATABASE_URL``, else the SQLite default."""
    if url:
        return url
    env = os.environ.get(DATABASE_URL_ENV)
    if env:
        return env
    return f"sqlite:///{default_database_path()}"


def database_settings(url: str) -> dict[str, Any]:
    """Django ``DATABASES['default']`` for ``url``; ValueError naming it when unsupported."""
    import dj_database_url

    if not url.startswith(("sqlite://", "postgres://", "postgresql://")):
        raise ValueError(
            f"database URL {url!r}: unsupported; allowed sqlite:///path/file.sqlite3 "
            "or postgresql://user@host:port/name"
        )
    settings: dict[str, Any] = dict(dj_database_url.parse(url))
    if settings["ENGINE"].endswith("sqlite3"):
        name = str(settings["NAME"])
        if name and name != ":memory:":
            Path(name).parent.mkdir(parents=True, exist_ok=True)
        settings["OPTIONS"] = {"timeout": 30}
    return settings


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
