"""Pseudonymous patient identifiers: HMAC-SHA256 of centre and hospital number with a key.

The key is held outside the database: ``OPENECT_PSEUDONYM_KEY`` (the key itself, at
least 32 characters) or ``OPENECT_PSEUDONYM_KEY_FILE`` (a file holding it; by default
``$XDG_CONFIG_HOME/openect/pseudonym.key``, i.e. ``~/.config/openect/pseudonym.key``),
both read through :func:`openect.settings.get_settings`. The file is read each time a
key is needed, so that a key created after start-up is found.
The same hospital number and key always give the same pseudonym, so a centre finds a
patient again without the registry ever storing or logging the hospital number.

The registry keeps a check value of its key (:func:`check_value`: an HMAC of a fixed
label with the key, never the key) from the first use on. Where the registry's database
is set up (the server, the services), :func:`pseudonym` refuses another key once a
patient has been registered by pseudonym: the same person would otherwise be registered
twice, under two ids. ``openect registry pseudonym`` computes without a database and
checks nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from pathlib import Path

from openect.errors import ConfigurationError
from openect.settings import MIN_PSEUDONYM_KEY_LENGTH, default_pseudonym_key_file, get_settings

KEY_ENV = "OPENECT_PSEUDONYM_KEY"
KEY_FILE_ENV = "OPENECT_PSEUDONYM_KEY_FILE"
#: Shortest accepted key (characters).
MIN_KEY_LENGTH = MIN_PSEUDONYM_KEY_LENGTH
#: Pseudonyms look like ``PX-`` and 24 hexadecimal digits (96 bits of the HMAC).
PREFIX = "PX-"
DIGITS = 24
#: What the check value of a key is the HMAC of (fixed; changing it breaks every check).
CHECK_LABEL = b"openect pseudonymisation key check v1"
#: Name of the check value's row in ``openect_key_check``.
CHECK_NAME = "pseudonym_key"
#: Where key rotation is described.
ROTATION_DOC = "docs/registry.md, section 'Changing the key'"


class PseudonymKeyError(ConfigurationError):
    """No usable pseudonymisation key."""


def default_key_file() -> Path:
    """Where the key file is looked for when ``OPENECT_PSEUDONYM_KEY_FILE`` is not set."""
    return default_pseudonym_key_file()


def load_key() -> bytes:
    """The centre key from the settings or the key file; PseudonymKeyError if none.

    Invalid settings are a PseudonymKeyError too (its message names the variables).
    """
    try:
        settings = get_settings()
    except ConfigurationError as error:
        raise PseudonymKeyError(str(error)) from None
    value = settings.pseudonym_key.get_secret_value() if settings.pseudonym_key else None
    source = KEY_ENV
    if not value:
        path = settings.pseudonym_key_file
        source = str(path)
        if not path.is_file():
            raise PseudonymKeyError(
                f"no pseudonymisation key: set {KEY_ENV} or put the key in {path} "
                f"(create one with: openect registry key --out {path})"
            )
        value = path.read_text(encoding="utf-8").strip()
    if len(value) < MIN_KEY_LENGTH:
        raise PseudonymKeyError(
            f"pseudonymisation key from {source}: {len(value)} characters; "
            f"allowed >= {MIN_KEY_LENGTH}"
        )
    return value.encode("utf-8")


def new_key() -> str:
    """A new random key (64 hexadecimal characters, 256 bits)."""
    return secrets.token_hex(32)


def normalise(hospital_number: str) -> str:
    """Hospital number as hashed: surrounding blanks removed, upper case."""
    value = hospital_number.strip().upper()
    if not value:
        raise ValueError("hospital number: empty; allowed a non-empty identifier")
    return value


def pseudonym(hospital_number: str, centre_id: str, key: bytes | None = None) -> str:
    """The patient id of ``hospital_number`` at ``centre_id`` under ``key``.

    The centre is part of the hashed message, so that two hospitals' equal numbers
    (different people) never give the same id, and one centre cannot test whether a
    number is registered at another. ``key`` defaults to :func:`load_key`.
    """
    if not centre_id or not centre_id.strip():
        raise ValueError("centre_id: empty; the pseudonym is specific to a centre")
    secret = key if key is not None else load_key()
    check_registry_key(secret)
    message = f"{centre_id.strip()}\x00{normalise(hospital_number)}".encode()
    digest = hmac.new(secret, message, hashlib.sha256)
    return PREFIX + digest.hexdigest()[:DIGITS]


def check_value(key: bytes) -> str:
    """The check value of ``key``: HMAC-SHA256 of :data:`CHECK_LABEL` (hex); it tells
    two keys apart without revealing either."""
    return hmac.new(key, CHECK_LABEL, hashlib.sha256).hexdigest()


def _registry_database() -> bool:
    """True when Django is set up with the registry app (its database is then the
    registry's)."""
    from django.apps import apps
    from django.conf import settings

    return bool(settings.configured) and apps.ready and apps.is_installed("openect.registry")


def check_registry_key(key: bytes) -> None:
    """Refuse ``key`` if it is not the key of the registry (where one is set up).

    The check value is recorded at first use, and replaced while no patient has a
    pseudonym yet (a wrong key can still be corrected then); once one has,
    another key raises :class:`PseudonymKeyError` naming the problem and the fix.
    """
    if not _registry_database():
        return
    from openect.data.models import Patient
    from openect.registry.models import PseudonymKeyCheck
    from openect.registry.records import registry_model

    value = check_value(key)
    stored = (
        PseudonymKeyCheck.objects.filter(pk=CHECK_NAME)
        .values_list("check_value", flat=True)
        .first()
    )
    if stored == value:
        return
    if stored is not None and (
        registry_model(Patient).objects.filter(patient_id__startswith=PREFIX).exists()
    ):
        raise PseudonymKeyError(
            "pseudonymisation key: not the key this registry's patients were registered "
            f"with (its check value differs from the one the registry recorded); with it, "
            "a patient would not be found again and would be registered twice. Start with "
            f"the registry's key ({KEY_ENV}, or the file named by {KEY_FILE_ENV}); to move "
            f"a registry to a new key see {ROTATION_DOC}"
        )
    PseudonymKeyCheck.objects.update_or_create(
        pk=CHECK_NAME, defaults={"check_value": value, "recorded_at": dt.datetime.now(dt.UTC)}
    )
