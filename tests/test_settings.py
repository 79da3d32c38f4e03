"""OpenECT's settings: every OPENECT_* variable typed, validated once, secrets masked."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from openect.cli import main
from openect.errors import ConfigurationError
from openect.settings import (
    MASK,
    InvalidSettingsError,
    Settings,
    get_settings,
    load_settings,
    masked_url,
    rows,
    to_markdown,
)

SIGNING_KEY = "signing-key-never-shown-" + "s" * 40
CENTRE_KEY = "centre-key-never-shown-" + "c" * 40
PASSWORD = "db-password-never-shown"
POSTGRES = f"postgresql://openect:{PASSWORD}@db.example.org:5432/registry"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """No OPENECT_* or DATABASE_URL* variable; XDG folders under ``tmp_path``."""
    for name in list(os.environ):
        if name.upper().startswith(("OPENECT_", "DATABASE_URL")):
            monkeypatch.delenv(name)
    for variable, folder in (
        ("XDG_DATA_HOME", "data"),
        ("XDG_CACHE_HOME", "cache"),
        ("XDG_CONFIG_HOME", "config"),
    ):
        monkeypatch.setenv(variable, str(tmp_path / folder))
    get_settings.cache_clear()
    return monkeypatch


def secret_file(tmp_path: Path, name: str, content: str) -> Path:
    path = tmp_path / name
    path.write_text(f"  {content}\n", encoding="utf-8")
    return path


# ------------------------------------------------------------------------------ defaults
def test_defaults(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    settings = load_settings()
    assert settings.data_dir == tmp_path / "data" / "openect"
    assert settings.cache_dir == tmp_path / "cache" / "openect"
    assert settings.pseudonym_key_file == tmp_path / "config" / "openect" / "pseudonym.key"
    assert settings.database_url is None
    assert settings.secret_key is None
    assert settings.pseudonym_key is None
    assert settings.allowed_hosts == ["localhost", "127.0.0.1", "[::1]"]
    assert settings.https is False
    assert settings.debug is False
    assert settings.time_zone == "UTC"
    assert {settings.source(name) for name in Settings.model_fields} == {"default"}


def test_default_allowed_hosts_exclude_testserver(env: pytest.MonkeyPatch) -> None:
    from openect.web.settings import build_settings

    assert "testserver" not in load_settings().allowed_hosts
    options = build_settings("sqlite:///:memory:", settings=load_settings(secret_key="k" * 50))
    assert "testserver" not in options["ALLOWED_HOSTS"]
    assert options["ALLOWED_HOSTS"] == ["localhost", "127.0.0.1", "[::1]"]


def test_empty_variables_count_as_unset(env: pytest.MonkeyPatch) -> None:
    for name in ("OPENECT_HTTPS", "OPENECT_TIME_ZONE", "DATABASE_URL", "OPENECT_SECRET_KEY"):
        env.setenv(name, "")
    settings = load_settings()
    assert (settings.https, settings.time_zone, settings.database_url) == (False, "UTC", None)


# ------------------------------------------------------------------------------ parsing
def test_every_variable_is_parsed(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    values = {
        "OPENECT_DATA_DIR": str(tmp_path / "d"),
        "DATABASE_URL": POSTGRES,
        "OPENECT_SECRET_KEY": SIGNING_KEY,
        "OPENECT_ALLOWED_HOSTS": " ect.example.org, localhost ,",
        "OPENECT_HTTPS": "true",
        "OPENECT_DEBUG": "on",
        "OPENECT_TIME_ZONE": "Europe/Ljubljana",
        "OPENECT_PSEUDONYM_KEY": CENTRE_KEY,
        "OPENECT_CACHE_DIR": str(tmp_path / "c"),
    }
    for name, value in values.items():
        env.setenv(name, value)
    settings = load_settings()
    assert settings.data_dir == tmp_path / "d"
    assert settings.database_url is not None
    assert settings.database_url.get_secret_value() == POSTGRES
    assert settings.secret_key is not None
    assert settings.secret_key.get_secret_value() == SIGNING_KEY
    assert settings.allowed_hosts == ["ect.example.org", "localhost"]
    assert (settings.https, settings.debug) == (True, True)
    assert settings.time_zone == "Europe/Ljubljana"
    assert settings.pseudonym_key is not None
    assert settings.pseudonym_key.get_secret_value() == CENTRE_KEY
    assert settings.cache_dir == tmp_path / "c"
    shown = {row["name"]: row for row in rows(settings)}
    assert set(values) <= set(shown)
    assert all(shown[name]["source"] == "environment" for name in values)
    # secrets are SecretStr: their repr masks them
    assert SIGNING_KEY not in repr(settings)
    assert CENTRE_KEY not in repr(settings)
    assert PASSWORD not in repr(settings)


def test_openect_database_url_is_accepted_too(env: pytest.MonkeyPatch) -> None:
    env.setenv("OPENECT_DATABASE_URL", "sqlite:////tmp/x.sqlite3")
    settings = load_settings()
    assert settings.database_url is not None
    assert settings.database_url.get_secret_value() == "sqlite:////tmp/x.sqlite3"


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("true", True),
        ("TRUE", True),
        ("1", True),
        ("yes", True),
        ("On", True),
        ("false", False),
        ("0", False),
        ("no", False),
        (" off ", False),
    ],
)
def test_boolean_spellings(env: pytest.MonkeyPatch, text: str, value: bool) -> None:
    env.setenv("OPENECT_HTTPS", text)
    assert load_settings().https is value


@pytest.mark.parametrize("text", ["yes please", "2", "t", "enabled"])
def test_a_mistyped_boolean_is_refused(env: pytest.MonkeyPatch, text: str) -> None:
    env.setenv("OPENECT_HTTPS", text)
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    assert f"OPENECT_HTTPS={text!r}: not a boolean; allowed true/false, 1/0, yes/no, on/off" in (
        str(caught.value)
    )


def test_a_bad_time_zone_is_refused(env: pytest.MonkeyPatch) -> None:
    env.setenv("OPENECT_TIME_ZONE", "Mars/Olympus_Mons")
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    assert "OPENECT_TIME_ZONE='Mars/Olympus_Mons': unknown time zone; allowed" in str(caught.value)


def test_no_allowed_host_is_refused(env: pytest.MonkeyPatch) -> None:
    env.setenv("OPENECT_ALLOWED_HOSTS", " , ")
    with pytest.raises(ConfigurationError, match="OPENECT_ALLOWED_HOSTS=' , ': no host name"):
        load_settings()


def test_an_unsupported_database_is_refused_without_its_password(env: pytest.MonkeyPatch) -> None:
    env.setenv("DATABASE_URL", f"mysql://openect:{PASSWORD}@db/registry")
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    message = str(caught.value)
    assert f"DATABASE_URL='mysql://openect:{MASK}@db/registry': unsupported scheme" in message
    assert PASSWORD not in message


def test_every_bad_variable_is_listed_and_secrets_masked(env: pytest.MonkeyPatch) -> None:
    env.setenv("OPENECT_HTTPS", "yes please")
    env.setenv("OPENECT_DEBUG", "maybe")
    env.setenv("OPENECT_TIME_ZONE", "Nowhere/Town")
    env.setenv("OPENECT_PSEUDONYM_KEY", "short-secret")
    with pytest.raises(InvalidSettingsError) as caught:
        load_settings()
    error = caught.value
    assert len(error.problems) == 4
    assert [p.split("=")[0] for p in error.problems] == [
        "OPENECT_HTTPS",
        "OPENECT_DEBUG",
        "OPENECT_TIME_ZONE",
        "OPENECT_PSEUDONYM_KEY",
    ]
    assert f"OPENECT_PSEUDONYM_KEY={MASK}: 12 characters; allowed at least 32" in str(error)
    assert "short-secret" not in str(error)
    assert error.__cause__ is None
    assert error.__suppress_context__


# ------------------------------------------------------------------------------ _FILE
@pytest.mark.parametrize(
    ("variable", "file_variable", "field", "value"),
    [
        ("OPENECT_SECRET_KEY", "OPENECT_SECRET_KEY_FILE", "secret_key", SIGNING_KEY),
        ("DATABASE_URL", "DATABASE_URL_FILE", "database_url", POSTGRES),
        ("DATABASE_URL", "OPENECT_DATABASE_URL_FILE", "database_url", POSTGRES),
    ],
)
def test_a_secret_from_a_file(
    env: pytest.MonkeyPatch,
    tmp_path: Path,
    variable: str,
    file_variable: str,
    field: str,
    value: str,
) -> None:
    path = secret_file(tmp_path, "secret.txt", value)
    env.setenv(file_variable, str(path))
    settings = load_settings()
    assert getattr(settings, field).get_secret_value() == value  # stripped
    assert settings.source(field) == f"file {path}"

    env.setenv(variable, value)
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    message = str(caught.value)
    assert f"{variable}={MASK} and {file_variable}={str(path)!r}: both set" in message
    assert value not in message

    env.delenv(variable)
    env.setenv(file_variable, str(tmp_path / "missing.txt"))
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    assert f"{file_variable}={str(tmp_path / 'missing.txt')!r}: cannot read the file" in str(
        caught.value
    )


def test_the_pseudonym_key_file_is_read_when_needed(
    env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from openect.registry.pseudonym import PseudonymKeyError, load_key

    path = tmp_path / "centre.key"
    env.setenv("OPENECT_PSEUDONYM_KEY_FILE", str(path))
    assert load_settings().pseudonym_key_file == path  # a missing file is no start-up error
    with pytest.raises(PseudonymKeyError, match="no pseudonymisation key"):
        load_key()
    secret_file(tmp_path, "centre.key", CENTRE_KEY)
    assert load_key() == CENTRE_KEY.encode()

    env.setenv("OPENECT_PSEUDONYM_KEY", CENTRE_KEY)
    get_settings.cache_clear()
    with pytest.raises(PseudonymKeyError) as caught:
        load_key()
    message = str(caught.value)
    assert f"OPENECT_PSEUDONYM_KEY={MASK} and OPENECT_PSEUDONYM_KEY_FILE=" in message
    assert CENTRE_KEY not in message


# ------------------------------------------------------------------------------ read once
def test_settings_are_read_once(env: pytest.MonkeyPatch) -> None:
    first = get_settings()
    env.setenv("OPENECT_TIME_ZONE", "Europe/Ljubljana")
    assert get_settings() is first
    assert get_settings().time_zone == "UTC"
    get_settings.cache_clear()
    assert get_settings().time_zone == "Europe/Ljubljana"


def test_the_readers_use_the_settings(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from openect.planning.footprint import cache_dir
    from openect.registry.config import database_url, default_database_path
    from openect.web.settings import build_settings

    env.setenv("OPENECT_DATA_DIR", str(tmp_path / "d"))
    env.setenv("OPENECT_CACHE_DIR", str(tmp_path / "c"))
    env.setenv("OPENECT_TIME_ZONE", "Europe/Ljubljana")
    env.setenv("OPENECT_ALLOWED_HOSTS", "ect.example.org")
    env.setenv("OPENECT_HTTPS", "yes")
    secret = secret_file(tmp_path, "signing.key", SIGNING_KEY)
    env.setenv("OPENECT_SECRET_KEY_FILE", str(secret))
    assert default_database_path() == tmp_path / "d" / "registry.sqlite3"
    assert database_url() == f"sqlite:///{tmp_path / 'd' / 'registry.sqlite3'}"
    assert database_url("sqlite:///other.sqlite3") == "sqlite:///other.sqlite3"
    assert cache_dir() == tmp_path / "c" / "footprints"
    options = build_settings()
    assert options["TIME_ZONE"] == "Europe/Ljubljana"
    assert options["ALLOWED_HOSTS"] == ["ect.example.org"]
    assert options["SECRET_KEY"] == SIGNING_KEY
    assert options["SESSION_COOKIE_SECURE"] is True
    assert options["STATIC_ROOT"] == str(tmp_path / "d" / "static")
    assert options["DATABASES"]["default"]["NAME"] == str(tmp_path / "d" / "registry.sqlite3")
    overridden = build_settings(https=False, allowed_hosts=["testserver"])
    assert overridden["SESSION_COOKIE_SECURE"] is False
    assert overridden["ALLOWED_HOSTS"] == ["testserver"]


def test_masked_url() -> None:
    assert masked_url(POSTGRES) == f"postgresql://openect:{MASK}@db.example.org:5432/registry"
    assert masked_url("postgresql://openect@db/registry") == "postgresql://openect@db/registry"
    assert masked_url("sqlite:///a/b.sqlite3") == "sqlite:///a/b.sqlite3"


# ------------------------------------------------------------------------------ config show
def configure_secrets(env: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Every secret set: the signing key from a file, the others in the environment."""
    path = secret_file(tmp_path, "signing.key", SIGNING_KEY)
    env.setenv("OPENECT_SECRET_KEY_FILE", str(path))
    env.setenv("DATABASE_URL", POSTGRES)
    env.setenv("OPENECT_PSEUDONYM_KEY", CENTRE_KEY)
    env.setenv("OPENECT_HTTPS", "1")
    return path


def test_config_show_masks_secrets(
    env: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_secrets(env, tmp_path)
    assert main(["config", "show"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    for text in ("OPENECT_HTTPS", "OPENECT_SECRET_KEY", "environment", "default", MASK):
        assert text in out
    for secret in (SIGNING_KEY, CENTRE_KEY, PASSWORD):
        assert secret not in out


def test_config_show_json(
    env: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = configure_secrets(env, tmp_path)
    assert main(["config", "show", "--json"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    for secret in (SIGNING_KEY, CENTRE_KEY, PASSWORD):
        assert secret not in out
    shown = json.loads(out)
    assert shown["OPENECT_HTTPS"] == {"value": True, "source": "environment"}
    assert shown["OPENECT_DEBUG"] == {"value": False, "source": "default"}
    assert shown["OPENECT_SECRET_KEY"] == {"value": MASK, "source": f"file {path}"}
    assert shown["OPENECT_PSEUDONYM_KEY"] == {"value": MASK, "source": "environment"}
    assert shown["DATABASE_URL"]["value"] == masked_url(POSTGRES)
    assert shown["OPENECT_ALLOWED_HOSTS"]["value"] == ["localhost", "127.0.0.1", "[::1]"]
    assert "OPENECT_CACHE_DIR" in shown
    assert "OPENECT_SECRET_KEY_FILE" not in shown  # folded into the key's source


def test_config_show_refuses_a_bad_variable(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env.setenv("OPENECT_HTTPS", "yes please")
    env.setenv("OPENECT_PSEUDONYM_KEY", "short-secret")
    assert main(["config", "show"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("openect: error: ")
    assert err.count("\n") == 1
    assert "OPENECT_HTTPS='yes please': not a boolean; allowed true/false" in err
    assert "short-secret" not in err


# ------------------------------------------------------------------------------ docs
def test_settings_reference_in_docs_is_up_to_date() -> None:
    path = Path(__file__).parents[1] / "docs" / "settings.md"
    assert to_markdown() in path.read_text(encoding="utf-8"), (
        "regenerate the table of docs/settings.md with: "
        'python -c "from openect.settings import to_markdown; print(to_markdown())"'
    )


def test_every_variable_is_documented() -> None:
    table = to_markdown()
    for name in (
        "OPENECT_HTTPS",
        "OPENECT_SECRET_KEY_FILE",
        "DATABASE_URL_FILE",
        "OPENECT_DATA_DIR",
    ):
        assert f"`{name}`" in table
    assert len(table.splitlines()) == 2 + len(Settings.model_fields)
