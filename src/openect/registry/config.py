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
    """Django ``DATABASES['default']`` for ``url``; ValueError naming it when unsupported."""
    import dj_database_url

    if not url.startswith(DATABASE_SCHEMES):
        raise ValueError(f"database URL {url!r}: unsupported; {DATABASE_ALLOWED}")
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
