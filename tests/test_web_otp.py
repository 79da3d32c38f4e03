"""The second factor (TOTP): set up on the account page, the sign-in's code step, the
pages and API closed to a password-only session, throttling, and the command line."""

from __future__ import annotations

import json
import re
import time
from base64 import b32decode
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from openect.cli import main
from openect.data.dataset import Dataset
from openect.registry.access import Actor
from openect.registry.accounts import set_user
from openect.registry.models import AuditEntry, Role
from openect.registry.transfer import import_dataset
from openect.web.models import ApiToken

pytestmark = pytest.mark.django_db

ADMIN = Actor("admin", Role.ADMIN)
PASSWORD = "correct-horse-battery"

#: Every kind of page, and the API documentation.
PAGES = ("/", "/patients/P1/", "/dashboard/", "/audit/", "/export/", "/admin/tokens/", "/api/docs")


@pytest.fixture
def registry(dataset: Dataset) -> Dataset:
    """The small dataset: P1 (centre C01), P2 (C02)."""
    import_dataset(ADMIN, dataset)
    return dataset


def _user(username: str, role: str, centre: str | None = None) -> Any:
    set_user(ADMIN, username, role, centre, PASSWORD)
    return get_user_model().objects.get(username=username)


def _password_only(username: str) -> Client:
    """A browser after the password step (the sign-in form)."""
    client = Client()
    response = client.post("/login/", {"username": username, "password": PASSWORD})
    assert response.status_code == 302
    return client


def _code(device: TOTPDevice, later: int = 0) -> str:
    """The device's code now (or ``later`` time steps on)."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + later * device.step
    return f"{totp.token():06d}"


def _device(user: Any) -> TOTPDevice:
    found: TOTPDevice = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    return found


def _unthrottle(device: TOTPDevice) -> None:
    TOTPDevice.objects.filter(pk=device.pk).update(
        throttling_failure_count=0, throttling_failure_timestamp=None
    )


# ------------------------------------------------------------------ administrators
def test_an_administrator_without_a_device_reaches_only_the_set_up_page(
    registry: Dataset,
) -> None:
    _user("boss", "admin")
    client = _password_only("boss")
    for page in PAGES:
        response = client.get(page)
        assert response.status_code == 302, page
        assert response["Location"].startswith("/account/?next="), page
    assert client.get("/api/patients/").status_code == 401
    assert client.get("/api/patients/P1").status_code == 401
    setup = client.get("/account/")
    assert setup.status_code == 200
    text = setup.content.decode()
    assert "needs a second factor" in text
    assert "otpauth://totp/OpenECT%3Aboss?secret=" in text
    assert 'id="secret"' in text
    assert '<img src="data:image/svg+xml' in text  # the QR code
    assert "/patients/" not in text  # no navigation to pages it cannot reach
    assert _secret(client.get("/account/").content.decode()) == _secret(text)  # same key
    assert client.post("/logout/").status_code == 302
    assert client.get("/account/").status_code == 302  # signed out: to the sign-in


def test_the_set_up_page_keeps_its_secret_and_confirms_with_a_right_code(
    registry: Dataset,
) -> None:
    boss = _user("boss", "admin")
    client = _password_only("boss")
    first = client.get("/account/?next=/patients/P1/").content.decode()
    assert client.get("/account/").content.decode().count(_secret(first)) == 1
    device = TOTPDevice.objects.get(user=boss)
    assert not device.confirmed
    assert b32decode(_secret(first)) == device.bin_key
    wrong = client.post("/account/", {"code": _wrong(device), "next": "/patients/P1/"})
    assert wrong.status_code == 422
    assert "code: not accepted (wrong, expired or already used)" in wrong.content.decode()
    assert not TOTPDevice.objects.get(pk=device.pk).confirmed
    malformed = client.post("/account/", {"code": "12ab"})
    assert malformed.status_code == 422
    assert "code: enter the 6 digits" in malformed.content.decode()
    _unthrottle(device)
    done = client.post("/account/", {"code": _code(device), "next": "/patients/P1/"})
    assert done.status_code == 302
    assert done["Location"] == "/patients/P1/"
    assert TOTPDevice.objects.get(pk=device.pk).confirmed
    for page in PAGES:
        assert client.get(page).status_code == 200, page
    assert client.get("/api/patients/").status_code == 200
    entry = AuditEntry.objects.filter(entity="users", record_id="boss").order_by("pk").last()
    assert entry is not None
    assert entry.after == {"second_factor_devices": 1}
    assert device.key not in json.dumps([entry.before, entry.after, entry.reason])
    status = client.get("/account/").content.decode()
    assert "Set up on" in status
    assert _secret(first) not in status  # the secret is shown only while setting up


def _secret(page: str) -> str:
    found = re.search(r'id="secret" readonly value="([A-Z2-7 ]+)"', page)
    assert found is not None
    return found.group(1).replace(" ", "")


def _wrong(device: TOTPDevice) -> str:
    """A code the device does not accept now (none of the codes around now)."""
    near = {_code(device, step) for step in range(-2, 3)}
    return next(c for c in ("000000", "111111", "222222", "333333", "444444") if c not in near)


# ------------------------------------------------------------------ the code step
def test_signing_in_with_a_device_needs_the_code(registry: Dataset) -> None:
    boss = _user("boss", "admin")
    device = _device(boss)
    client = _password_only("boss")
    assert client.get("/").status_code == 302
    assert client.get("/")["Location"] == "/login/code/?next=%2F"
    for page in (*PAGES, "/account/"):
        response = client.get(page)
        assert response.status_code == 302, page
        assert response["Location"].startswith("/login/code/"), page
    assert client.get("/api/patients/").status_code == 401
    step = client.get("/login/code/?next=/dashboard/")
    assert step.status_code == 200
    assert 'autocomplete="one-time-code"' in step.content.decode()
    wrong = client.post("/login/code/", {"code": _wrong(device), "next": "/dashboard/"})
    assert wrong.status_code == 422
    assert "code: not accepted (wrong, expired or already used)" in wrong.content.decode()
    assert client.get("/dashboard/").status_code == 302
    _unthrottle(device)
    code = _code(device)
    right = client.post("/login/code/", {"code": code[:3] + " " + code[3:], "next": "/dashboard/"})
    assert right.status_code == 302
    assert right["Location"] == "/dashboard/"
    assert client.get("/dashboard/").status_code == 200
    assert client.get("/patients/P1/").status_code == 200
    # the same code again, in another sign-in: refused (each code is used once)
    again = _password_only("boss")
    reused = again.post("/login/code/", {"code": code})
    assert reused.status_code == 422
    assert "already used" in reused.content.decode()
    assert again.get("/").status_code == 302


def test_the_code_step_cannot_be_skipped_for_a_patient_page_or_the_api(
    registry: Dataset,
) -> None:
    doc = _user("doc.c01", "clinician", "C01")
    _device(doc)
    client = _password_only("doc.c01")
    page = client.get("/patients/P1/")
    assert page.status_code == 302
    assert page["Location"] == "/login/code/?next=%2Fpatients%2FP1%2F"
    assert b"P1" not in page.content
    for call in ("/api/patients/", "/api/patients/P1", "/api/lesions/"):
        assert client.get(call).status_code == 401, call
    created = client.post("/api/centres/", {"centre_id": "C09"}, content_type="application/json")
    assert created.status_code == 401
    # an API token is a credential of its own: not concerned by the second factor
    token = ApiToken.issue(doc, "script")
    assert Client(HTTP_AUTHORIZATION=f"Bearer {token}").get("/api/patients/").status_code == 200


def test_wrong_codes_are_throttled_by_the_device(registry: Dataset) -> None:
    boss = _user("boss", "admin")
    device = _device(boss)
    client = _password_only("boss")
    assert client.post("/login/code/", {"code": _wrong(device)}).status_code == 422
    throttled = client.post("/login/code/", {"code": _code(device)})  # even the right one
    assert throttled.status_code == 429
    assert "too many wrong codes; try again in" in throttled.content.decode()
    assert client.get("/").status_code == 302
    TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_count=3)
    waiting = client.post("/login/code/", {"code": _code(device)})
    assert "try again in 4 second(s)" in waiting.content.decode()
    assert TOTPDevice.objects.get(pk=device.pk).throttling_failure_count == 3
    _unthrottle(device)
    assert client.post("/login/code/", {"code": _code(device)}).status_code == 302
    assert client.get("/").status_code == 200


@pytest.fixture
def axes_on(settings: Any) -> None:
    """Sign-in throttling on (the suite turns it off), device throttling off."""
    from openect.web.settings import build_settings

    configured = build_settings("sqlite:///:memory:")
    for name, value in configured.items():
        if name.startswith("AXES_") or name == "AUTHENTICATION_BACKENDS":
            setattr(settings, name, value)
    settings.OTP_TOTP_THROTTLE_FACTOR = 0


def test_wrong_codes_count_as_failed_sign_ins(registry: Dataset, axes_on: None) -> None:
    boss = _user("boss", "admin")
    device = _device(boss)
    client = _password_only("boss")
    for _ in range(4):
        assert client.post("/login/code/", {"code": _wrong(device)}).status_code == 422
    paused = client.post("/login/code/", {"code": _wrong(device)})
    assert paused.status_code == 429
    assert "Too many failed sign-ins" in paused.content.decode()
    assert client.get("/login/code/").status_code == 302  # signed out
    assert client.get("/login/code/")["Location"].startswith("/login/")
    refused = Client().post("/login/", {"username": "boss", "password": PASSWORD})
    assert refused.status_code == 429


# ------------------------------------------------------------------ other roles
def test_a_data_manager_with_a_device_needs_the_code(registry: Dataset) -> None:
    manager = _user("desk.c01", "data_manager", "C01")
    client = _password_only("desk.c01")
    assert client.get("/patients/P1/").status_code == 200  # not required: none set up
    assert "Optional for your role" in client.get("/account/").content.decode()
    device = TOTPDevice.objects.get(user=manager)
    assert client.post("/account/", {"code": _code(device)}).status_code == 302
    later = _password_only("desk.c01")
    assert later.get("/patients/P1/")["Location"].startswith("/login/code/")
    assert later.get("/api/patients/").status_code == 401
    assert later.post("/login/code/", {"code": _code(device, 1)}).status_code == 302
    assert later.get("/patients/P1/").status_code == 200


def test_data_managers_must_set_one_up_when_configured(
    registry: Dataset, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from openect.settings import get_settings
    from openect.web.settings import build_settings

    assert build_settings("sqlite:///:memory:")["OPENECT_SECOND_FACTOR_ROLES"] == ["admin"]
    monkeypatch.setenv("OPENECT_SECOND_FACTOR_MANAGERS", "true")
    get_settings.cache_clear()
    roles = build_settings("sqlite:///:memory:")["OPENECT_SECOND_FACTOR_ROLES"]
    assert roles == ["admin", "data_manager"]
    settings.OPENECT_SECOND_FACTOR_ROLES = roles
    _user("desk.c01", "data_manager", "C01")
    _user("doc.c01", "clinician", "C01")
    assert _password_only("desk.c01").get("/patients/P1/")["Location"].startswith("/account/")
    assert _password_only("doc.c01").get("/patients/P1/").status_code == 200


def test_a_clinician_without_a_device_signs_in_as_before(registry: Dataset) -> None:
    _user("doc.c01", "clinician", "C01")
    client = _password_only("doc.c01")
    assert client.get("/").status_code == 200
    assert client.get("/patients/P1/").status_code == 200
    assert client.get("/api/patients/").status_code == 200
    assert client.get("/login/code/").status_code == 302  # nothing to ask
    assert not TOTPDevice.objects.exists()


def test_the_middleware_and_apps_are_configured() -> None:
    from openect.web.settings import build_settings

    configured = build_settings("sqlite:///:memory:")
    middleware = configured["MIDDLEWARE"]
    auth = middleware.index("django.contrib.auth.middleware.AuthenticationMiddleware")
    otp = middleware.index("django_otp.middleware.OTPMiddleware")
    ours = middleware.index("openect.web.pages.second_factor.SecondFactorMiddleware")
    cache = middleware.index("openect.web.cache.RegistryPageCacheMiddleware")
    assert auth < otp < ours < cache
    assert "django_otp.plugins.otp_totp" in configured["INSTALLED_APPS"]
    assert configured["OTP_TOTP_THROTTLE_FACTOR"] >= 1


# ------------------------------------------------------------------ command line
def test_otp_reset_removes_the_device_and_is_audited(
    registry: Dataset, capsys: pytest.CaptureFixture[str]
) -> None:
    boss = _user("boss", "admin")
    _user("doc.c01", "clinician", "C01")
    device = _device(boss)
    client = _password_only("boss")
    assert client.post("/login/code/", {"code": _code(device)}).status_code == 302
    assert client.get("/").status_code == 200
    assert main(["web", "otp-status", "--json"]) == 0
    listed = {row["user"]: row for row in json.loads(capsys.readouterr().out)["users"]}
    assert listed["boss"]["second_factor"] == "confirmed"
    assert listed["boss"]["required"] is True
    assert listed["doc.c01"] == {
        "user": "doc.c01", "role": "clinician", "required": False,
        "second_factor": "none", "since": None, "last_used": None,
    }  # fmt: skip
    assert main(["web", "otp-reset", "boss"]) == 0
    assert "Second factor of boss removed" in capsys.readouterr().out
    assert not TOTPDevice.objects.filter(user=boss).exists()
    assert client.get("/")["Location"].startswith("/account/")  # set up a new one
    entry = AuditEntry.objects.filter(record_id="boss").order_by("pk").last()
    assert entry is not None
    assert entry.actor.startswith("cli:")
    assert entry.after == {"second_factor_devices": 0}
    assert main(["web", "otp-reset", "doc.c01"]) == 0
    assert "nothing to reset" in capsys.readouterr().out
    assert main(["web", "otp-status"]) == 0
    out = capsys.readouterr()
    assert "boss" in out.out
    assert "Required but not set up" in out.err


def test_otp_reset_refuses_an_unknown_user_with_exit_2(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["web", "otp-reset", "nobody"]) == 2
    assert "USERNAME='nobody': no such user" in capsys.readouterr().err
    assert main(["web", "otp-status", "--user", "nobody"]) == 2
    assert "--user='nobody': no such active user" in capsys.readouterr().err
