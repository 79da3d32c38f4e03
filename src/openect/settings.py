"""OpenECT's settings: every ``OPENECT_*`` environment variable, validated once.

:class:`Settings` declares each variable with its type, default and meaning;
:func:`get_settings` reads the environment once per process (tests reset it with
``get_settings.cache_clear()``). A bad value is refused at start-up with a
:class:`~openect.errors.ConfigurationError` that names every bad variable as
``NAME=value: problem; allowed ...`` (secrets masked), never silently replaced by a default.

Secrets (the database URL, the signing key, the pseudonymisation key) are
:class:`~pydantic.SecretStr` and may be given in a file instead: ``NAME_FILE`` names a
file whose content (surrounding blanks removed) is the value. Giving both is an error.
``openect config show`` prints the settings in force; :func:`to_markdown` gives the
reference table of ``docs/settings.md``.
"""

from __future__ import annotations

import functools
import os
import zoneinfo
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    AliasChoices,
    BeforeValidator,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from openect.errors import ConfigurationError

__all__ = [
    "DEFAULT_ALLOWED_HOSTS",
    "ENV_PREFIX",
    "FLAG_VALUES",
    "MASK",
    "PASSWORD_VALIDATORS",
    "InvalidSettingsError",
    "Settings",
    "get_settings",
    "load_settings",
    "masked_url",
    "rows",
    "to_markdown",
]

#: Prefix of OpenECT's environment variables.
ENV_PREFIX = "OPENECT_"
#: Host names the web application answers to by default (local use only).
DEFAULT_ALLOWED_HOSTS = ("localhost", "127.0.0.1", "[::1]")
#: Accepted spellings of a boolean (any case), true first.
FLAG_VALUES: dict[str, bool] = {
    "true": True,
    "1": True,
    "yes": True,
    "on": True,
    "false": False,
    "0": False,
    "no": False,
    "off": False,
}
FLAG_ALLOWED = "allowed true/false, 1/0, yes/no, on/off"
#: What is shown in place of a secret.
MASK = "********"
#: Database URL schemes the registry supports.
DATABASE_SCHEMES = ("sqlite://", "postgres://", "postgresql://")
DATABASE_ALLOWED = "allowed sqlite:///path/file.sqlite3 or postgresql://user@host:port/name"
#: Fields holding a secret, and the field naming the file that may hold it instead.
SECRET_FILES = {
    "database_url": "database_url_file",
    "secret_key": "secret_key_file",
    "pseudonym_key": "pseudonym_key_file",
}
#: The password policy: Django's ``AUTH_PASSWORD_VALIDATORS`` of the web application,
#: also applied by ``openect registry user`` (whose Django settings are the registry's).
PASSWORD_VALIDATORS: tuple[dict[str, Any], ...] = (
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
)
#: Shortest accepted pseudonymisation key (characters).
MIN_PSEUDONYM_KEY_LENGTH = 32


class InvalidSettingsError(ConfigurationError):
    """One or more settings are invalid; ``problems`` has one line per bad variable."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("invalid settings: " + "; ".join(problems))


def _xdg(variable: str, *fallback: str) -> Path:
    """``$variable`` if set (XDG base directories), else ``~/<fallback>``."""
    base = os.environ.get(variable)
    return Path(base) if base else Path.home().joinpath(*fallback)


def default_data_dir() -> Path:
    """``$XDG_DATA_HOME/openect``, by default ``~/.local/share/openect``."""
    return _xdg("XDG_DATA_HOME", ".local", "share") / "openect"


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/openect``, by default ``~/.cache/openect``."""
    return _xdg("XDG_CACHE_HOME", ".cache") / "openect"


def default_pseudonym_key_file() -> Path:
    """``$XDG_CONFIG_HOME/openect/pseudonym.key``, by default ``~/.config/openect/...``."""
    return _xdg("XDG_CONFIG_HOME", ".config") / "openect" / "pseudonym.key"


def _flag(value: object) -> object:
    """A boolean from one of :data:`FLAG_VALUES` (any case); anything else is refused."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in FLAG_VALUES:
        return FLAG_VALUES[value.strip().lower()]
    raise PydanticCustomError("flag", f"not a boolean; {FLAG_ALLOWED}")


def _hosts(value: object) -> object:
    """A list of host names from a comma-separated string (blanks around names ignored)."""
    if isinstance(value, str):
        value = value.split(",")
    if isinstance(value, list | tuple):
        names = [str(name).strip() for name in value]
        names = [name for name in names if name]
        if not names:
            raise PydanticCustomError("hosts", "no host name; allowed comma-separated host names")
        return names
    return value


Flag = Annotated[bool, BeforeValidator(_flag)]
Hosts = Annotated[list[str], NoDecode, BeforeValidator(_hosts)]


def _problem(text: str) -> PydanticCustomError:
    """An error whose message is ``text`` as written (it names the variables itself)."""
    return PydanticCustomError("setting", "{text}", {"text": text})


def _read_secret(variable: str, path: Path) -> str:
    """The stripped content of the file ``path`` named by ``variable``; error naming it."""
    try:
        return path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise _problem(
            f"{variable}={str(path)!r}: cannot read the file ({reason}); "
            "allowed a readable file holding the value"
        ) from None


def masked_url(url: str) -> str:
    """``url`` with its password, if any, replaced by :data:`MASK`."""
    if "://" not in url or "@" not in url:
        return url
    scheme, rest = url.split("://", 1)
    credentials, host = rest.rsplit("@", 1)
    if ":" not in credentials:
        return url
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:{MASK}@{host}"


def _extra(shown_type: str, shown_default: str) -> dict[str, Any]:
    """Documentation of a field: its type and default as written in ``docs/settings.md``."""
    return {"shown_type": shown_type, "shown_default": shown_default}


class Settings(BaseSettings):
    """Every setting of OpenECT, from ``OPENECT_*`` environment variables (and ``DATABASE_URL``).

    Field order matters: a secret's ``_FILE`` field comes before the secret, whose
    validator reads the file.
    """

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_ignore_empty=True,
        hide_input_in_errors=True,
        populate_by_name=True,
        frozen=True,
        extra="ignore",
        validate_default=False,  # a _FILE field's validator runs only when it is given
    )

    data_dir: Path = Field(
        default_factory=default_data_dir,
        description="Folder of OpenECT's own files: the embedded SQLite registry "
        "(`registry.sqlite3`), the web signing key (`secret.key`) and collected static files.",
        json_schema_extra=_extra("path", "`$XDG_DATA_HOME/openect` (`~/.local/share/openect`)"),
    )
    database_url_file: Path | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_URL_FILE", "OPENECT_DATABASE_URL_FILE"),
        description="A file holding the database URL (instead of `DATABASE_URL`).",
        json_schema_extra=_extra("path", "none"),
    )
    database_url: SecretStr | None = Field(
        default=None,
        validate_default=True,
        validation_alias=AliasChoices("DATABASE_URL", "OPENECT_DATABASE_URL"),
        description="The registry database: `sqlite:///path/file.sqlite3` or "
        "`postgresql://user:password@host:port/name` (`--database` overrides it).",
        json_schema_extra=_extra("URL (secret)", "the embedded SQLite file in the data folder"),
    )
    secret_key_file: Path | None = Field(
        default=None,
        description="A file holding the signing key (instead of `OPENECT_SECRET_KEY`).",
        json_schema_extra=_extra("path", "none"),
    )
    secret_key: SecretStr | None = Field(
        default=None,
        validate_default=True,
        description="The web application's signing key of sessions and CSRF tokens.",
        json_schema_extra=_extra("secret", "random, kept in `secret.key` in the data folder"),
    )
    allowed_hosts: Hosts = Field(
        default_factory=lambda: list(DEFAULT_ALLOWED_HOSTS),
        description="Host names the web application answers to, comma-separated.",
        json_schema_extra=_extra("host names", f"`{','.join(DEFAULT_ALLOWED_HOSTS)}`"),
    )
    https: Flag = Field(
        default=False,
        description="Served behind HTTPS: secure cookies, HSTS, redirect to HTTPS.",
        json_schema_extra=_extra("boolean", "false"),
    )
    debug: Flag = Field(
        default=False,
        description="Show Django's debug pages (never in production).",
        json_schema_extra=_extra("boolean", "false"),
    )
    time_zone: str = Field(
        default="UTC",
        description="Local time zone of the pages, of 'now' and of 'today' (no clinical date "
        "may be later) (an IANA name, e.g. `Europe/Ljubljana`).",
        json_schema_extra=_extra("time zone", "`UTC`"),
    )
    pseudonym_key: SecretStr | None = Field(
        default=None,
        description="The centre's pseudonymisation key (at least 32 characters): patient "
        "ids are keyed hashes of hospital numbers.",
        json_schema_extra=_extra("secret", "read from `OPENECT_PSEUDONYM_KEY_FILE`"),
    )
    pseudonym_key_file: Path = Field(
        default_factory=default_pseudonym_key_file,
        description="A file holding the pseudonymisation key (instead of "
        "`OPENECT_PSEUDONYM_KEY`); read when a key is needed, so it may be created later "
        "(`openect registry key`).",
        json_schema_extra=_extra(
            "path", "`$XDG_CONFIG_HOME/openect/pseudonym.key` (`~/.config/openect/...`)"
        ),
    )
    cache_dir: Path = Field(
        default_factory=default_cache_dir,
        description="Folder of cached computations (electrode footprints of the planner).",
        json_schema_extra=_extra("path", "`$XDG_CACHE_HOME/openect` (`~/.cache/openect`)"),
    )

    token_days: int = Field(
        default=90,
        ge=1,
        le=3650,
        description="Days an API token stays valid after it is issued (1 to 3650).",
        json_schema_extra=_extra("whole number", "`90`"),
    )
    login_failure_limit: int = Field(
        default=5,
        ge=1,
        le=100,
        description="Failed sign-ins of one user name from one address, or of any name "
        "from one address, after which sign-in is refused (429) for the cool-off time.",
        json_schema_extra=_extra("whole number", "`5`"),
    )
    login_cooloff_minutes: int = Field(
        default=15,
        ge=1,
        le=1440,
        description="Minutes sign-in stays refused after too many failures (1 to 1440).",
        json_schema_extra=_extra("whole number", "`15`"),
    )
    second_factor_managers: Flag = Field(
        default=False,
        description="Data managers must also enrol a second factor (TOTP) before they "
        "reach any page; administrators always must.",
        json_schema_extra=_extra("boolean", "false"),
    )
    access_log_days: int = Field(
        default=730,
        ge=1,
        le=3650,
        description="Days entries of the access log (who read which patient's data) are "
        "kept before `openect registry access-log --purge` may delete them (1 to 3650; a "
        "local policy choice: two years is common in hospitals).",
        json_schema_extra=_extra("whole number", "`730`"),
    )

    _sources: dict[str, str] = PrivateAttr(default_factory=dict)

    # ------------------------------------------------------------------ validators
    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        value = _secret_or_file(value, info, "database_url")
        if value is not None and not value.get_secret_value().startswith(DATABASE_SCHEMES):
            raise PydanticCustomError("database_url", f"unsupported scheme; {DATABASE_ALLOWED}")
        return value

    @field_validator("secret_key")
    @classmethod
    def _secret_key(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        return _secret_or_file(value, info, "secret_key")

    @field_validator("pseudonym_key")
    @classmethod
    def _pseudonym_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_PSEUDONYM_KEY_LENGTH:
            raise PydanticCustomError(
                "key_length",
                f"{len(value.get_secret_value())} characters; "
                f"allowed at least {MIN_PSEUDONYM_KEY_LENGTH}",
            )
        return value

    @field_validator("pseudonym_key_file")
    @classmethod
    def _pseudonym_key_file(cls, value: Path, info: ValidationInfo) -> Path:
        # Runs only when the file is given (defaults are not validated).
        if info.data.get("pseudonym_key") is not None:
            raise _both("pseudonym_key", value)
        return value

    @field_validator("time_zone")
    @classmethod
    def _time_zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise PydanticCustomError(
                "time_zone",
                "unknown time zone; allowed an IANA time zone name such as Europe/Ljubljana or UTC",
            ) from None
        return value

    def model_post_init(self, context: Any, /) -> None:
        """Note where each value came from (for ``openect config show``)."""
        environ = {name.upper(): value for name, value in os.environ.items() if value}
        for name in type(self).model_fields:
            given = [env for env in env_names(name) if env in environ]
            file_field = SECRET_FILES.get(name)
            if name in self.model_fields_set:
                self._sources[name] = "environment" if given else "argument"
            elif file_field and name != "pseudonym_key" and getattr(self, file_field):
                self._sources[name] = f"file {getattr(self, file_field)}"
            else:
                self._sources[name] = "default"

    # ------------------------------------------------------------------ access
    def source(self, name: str) -> str:
        """Where the field ``name`` came from: environment, file PATH, argument or default."""
        return self._sources.get(name, "default")


def _secret_or_file(value: SecretStr | None, info: ValidationInfo, name: str) -> SecretStr | None:
    """``value``, or the content of the file of its ``_FILE`` field; both given is an error."""
    path = info.data.get(SECRET_FILES[name])
    if path is None:
        return value
    if value is not None:
        raise _both(name, path)
    return SecretStr(_read_secret(env_name(SECRET_FILES[name]), path))


def _both(name: str, path: Path) -> PydanticCustomError:
    """The error of a secret given both as a value and as a file."""
    value_name = env_name(name)
    file_name = env_name(SECRET_FILES[name])
    return _problem(
        f"{value_name}={MASK} and {file_name}={str(path)!r}: both set; "
        f"allowed one of {value_name} or {file_name}"
    )


def env_names(name: str) -> tuple[str, ...]:
    """The environment variables of the field ``name`` (the first is the usual one)."""
    field = Settings.model_fields[name]
    alias = field.validation_alias
    if isinstance(alias, AliasChoices):
        return tuple(str(choice) for choice in alias.choices)
    if isinstance(alias, str):
        return (alias,)
    return (f"{ENV_PREFIX}{name}".upper(),)


def env_name(name: str) -> str:
    """The environment variable of the field ``name`` that is set, else the usual one."""
    names = env_names(name)
    given = {key.upper() for key, value in os.environ.items() if value}
    return next((env for env in names if env in given), names[0])


def _field_of(location: str) -> str | None:
    """The field whose name or environment variable is ``location``."""
    for name in Settings.model_fields:
        if location == name or location.upper() in env_names(name):
            return name
    return None


def _shown(name: str, value: object) -> str:
    """``value`` of the field ``name`` as it may be printed (secrets masked)."""
    if name == "database_url":
        return repr(masked_url(str(value)))
    if name in SECRET_FILES:
        return MASK
    return repr(value) if isinstance(value, str) else str(value)


def _problems(error: ValidationError) -> list[str]:
    """One ``NAME=value: problem; allowed ...`` line per error of ``error``."""
    out: list[str] = []
    for item in error.errors(include_url=False):
        if item["type"] == "setting":
            out.append(str((item.get("ctx") or {})["text"]))
            continue
        location = str(item["loc"][0]) if item["loc"] else ""
        name = _field_of(location)
        if name is None:
            out.append(f"{location or 'settings'}: {item['msg']}")
            continue
        variable = env_name(name)
        message = str(item["msg"]).removeprefix("Value error, ")
        out.append(f"{variable}={_shown(name, item.get('input'))}: {message}")
    return out


def load_settings(**values: Any) -> Settings:
    """Read and check the settings now (``values`` override the environment).

    Raises :class:`InvalidSettingsError` (a ConfigurationError) listing every bad variable.
    """
    try:
        return Settings(**values)
    except ValidationError as error:
        raise InvalidSettingsError(_problems(error)) from None


@functools.cache
def get_settings() -> Settings:
    """The settings of this process, read once (``get_settings.cache_clear()`` to re-read)."""
    return load_settings()


# ---------------------------------------------------------------------- showing them
def rows(settings: Settings) -> Iterator[dict[str, Any]]:
    """The settings in force, one dict each (``name``, ``value``, ``source``), secrets masked.

    A secret's ``_FILE`` field is folded into the secret's source.
    """
    files = {file for secret, file in SECRET_FILES.items() if secret != "pseudonym_key"}
    for name in Settings.model_fields:
        if name in files:
            continue
        value: Any = getattr(settings, name)
        source = settings.source(name)
        if name == "database_url":
            value = masked_url(value.get_secret_value()) if value is not None else None
            if value is None:
                value = f"sqlite:///{settings.data_dir / 'registry.sqlite3'}"
        elif isinstance(value, SecretStr):
            value = MASK
        elif value is None and name == "secret_key":
            value = f"(random, kept in {settings.data_dir / 'secret.key'})"
        elif value is None and name == "pseudonym_key":
            value = "(not set: the key file is used)"
        elif name == "pseudonym_key_file":
            present = "present" if value.is_file() else "missing"
            value = str(value)
            source = f"{source} (file {present})"
        elif isinstance(value, Path):
            value = str(value)
        yield {"name": env_names(name)[0], "value": value, "source": source}


def _documented(name: str, field: FieldInfo) -> tuple[str, str, str, str]:
    """The documentation row of the field ``name``: variable, type, default, meaning."""
    names = env_names(name)
    variable = f"`{names[0]}`" + "".join(f" (or `{other}`)" for other in names[1:])
    extra = field.json_schema_extra if isinstance(field.json_schema_extra, Mapping) else {}
    return (
        variable,
        str(extra.get("shown_type", "")),
        str(extra.get("shown_default", "")),
        field.description or "",
    )


def _documentation_order() -> list[str]:
    """The fields in declaration order, each ``_FILE`` field right after its secret."""
    files = set(SECRET_FILES.values())
    order: list[str] = []
    for name in Settings.model_fields:
        if name in files:
            continue
        order.append(name)
        if name in SECRET_FILES:
            order.append(SECRET_FILES[name])
    return order


def to_markdown() -> str:
    """The reference table of every variable (``docs/settings.md`` contains it)."""
    lines = ["| variable | type | default | meaning |", "|---|---|---|---|"]
    for name in _documentation_order():
        lines.append("| " + " | ".join(_documented(name, Settings.model_fields[name])) + " |")
    return "\n".join(lines) + "\n"
