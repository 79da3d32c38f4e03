"""Sign-in: the password policy of ``registry user`` and the throttling of failed sign-ins."""

from __future__ import annotations

import datetime as dt
import io
import sys
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from openect.cli import main
from openect.data.dataset import Dataset
from openect.registry.access import Actor
from openect.registry.accounts import check_centre, set_user
from openect.registry.models import Role
from openect.registry.transfer import import_dataset

pytestmark = pytest.mark.django_db

ADMIN = Actor("admin", Role.ADMIN)
PASSWORD = "correct-horse-battery"


@pytest.mark.parametrize(
    ("password", "rule"),
    [
        ("short-pw1", "minimum length"),
        ("password1234", "common password"),
        ("392817465019283", "numbers only"),
        ("dr.lee.surgeon", "similar to the user's attributes"),
    ],
)
def test_a_password_breaking_the_policy_is_refused_naming_the_rule(
    password: str, rule: str
) -> None:
    with pytest.raises(ValueError, match=rf"password: refused \({rule}") as caught:
        set_user(ADMIN, "dr.lee.surgeon", "analyst", password=password)
    assert password not in str(caught.value)
    assert not get_user_model().objects.filter(username="dr.lee.surgeon").exists()


@pytest.mark.parametrize("password", ["correct-horse-battery", "a-long-test-password"])
def test_the_test_suites_passwords_pass_the_policy(password: str) -> None:
    set_user(ADMIN, "dr.one", "clinician", "C01", password)
    assert get_user_model().objects.get(username="dr.one").check_password(password)


def _registry_user(monkeypatch: pytest.MonkeyPatch, *args: str, stdin: str = "") -> int:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    return main(["registry", "user", *args])


def test_registry_user_refuses_a_weak_password_with_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    done = _registry_user(
        monkeypatch, "dr.x", "--role", "analyst", "--password-stdin", stdin="12345678\n"
    )
    assert done == 2
    err = capsys.readouterr().err
    assert "password: refused (minimum length" in err
    assert "numbers only" in err
    assert "12345678" not in err


def test_registry_user_refuses_an_unknown_centre_naming_the_known_ones(
    dataset: Dataset, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import_dataset(ADMIN, dataset)
    done = _registry_user(
        monkeypatch, "dr.x", "--role", "clinician", "--centre", "C09", "--password-stdin",
        stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert done == 2
    assert "centre='C09': no such centre in the registry; known: C01, C02" in (
        capsys.readouterr().err
    )
    assert not get_user_model().objects.filter(username="dr.x").exists()
    ok = _registry_user(
        monkeypatch, "dr.x", "--role", "clinician", "--centre", "C02", "--password-stdin",
        stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert ok == 0
    assert get_user_model().objects.get(username="dr.x").check_password(PASSWORD)


def test_a_registry_without_centres_accepts_any_centre() -> None:
    check_centre("C01")  # users may be set up before the first import


# ----------------------------------------------------------------------- throttling
@pytest.fixture
def throttled(settings: Any) -> None:
    """Sign-in throttling on (the suite turns it off for Client.login), as configured."""
    from openect.web.settings import build_settings

    configured = build_settings("sqlite:///:memory:")
    for name, value in configured.items():
        if name.startswith("AXES_") or name == "AUTHENTICATION_BACKENDS":
            setattr(settings, name, value)
    assert settings.AXES_ENABLED is True
    set_user(ADMIN, "dr.one", "clinician", "C01", PASSWORD)
    set_user(ADMIN, "dr.two", "clinician", "C02", PASSWORD)


def _sign_in(username: str, password: str, address: str = "10.0.0.1") -> Any:
    return Client(REMOTE_ADDR=address).post("/login/", {"username": username, "password": password})


def test_five_failures_lock_the_account_and_the_address(throttled: None) -> None:
    from axes.models import AccessAttempt, AccessFailureLog

    for _ in range(4):
        assert _sign_in("dr.one", "wrong-password-x").status_code == 200
    locked = _sign_in("dr.one", "wrong-password-x")
    assert locked.status_code == 429
    text = locked.content.decode()
    assert "Too many failed sign-ins" in text
    assert "15 minutes" in text
    assert _sign_in("dr.one", "wrong-password-x").status_code == 429  # the sixth
    assert _sign_in("dr.one", PASSWORD).status_code == 429  # even the right password
    assert _sign_in("dr.two", PASSWORD).status_code == 429  # same address, other account
    assert _sign_in("dr.one", PASSWORD, "10.9.9.9").status_code == 429  # other address
    assert _sign_in("dr.two", PASSWORD, "10.9.9.9").status_code == 302  # neither
    assert AccessFailureLog.objects.filter(username="dr.one").count() >= 5
    assert PASSWORD not in str(list(AccessAttempt.objects.values()))


def test_behind_the_https_proxy_the_address_it_appended_is_throttled(
    throttled: None, settings: Any
) -> None:
    """With OPENECT_HTTPS the proxy appends the client's address to X-Forwarded-For: that
    address is counted, not the proxy's (every user's REMOTE_ADDR) nor one the client
    wrote itself in front of it."""
    settings.AXES_IPWARE_META_PRECEDENCE_ORDER = ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR")
    settings.AXES_IPWARE_PROXY_COUNT = 1

    def via_proxy(username: str, password: str, forwarded: str) -> Any:
        client = Client(REMOTE_ADDR="10.0.0.254", HTTP_X_FORWARDED_FOR=forwarded)
        return client.post("/login/", {"username": username, "password": password})

    for n in range(5):  # a client forging a new first address each time
        answer = via_proxy("dr.one", "wrong-password-x", f"6.6.6.{n}, 203.0.113.9")
    assert answer.status_code == 429
    assert via_proxy("dr.two", PASSWORD, "203.0.113.9").status_code == 429  # same client
    assert via_proxy("dr.two", PASSWORD, "198.51.100.7").status_code == 302  # another one


def test_the_lock_ends_after_the_cool_off(throttled: None) -> None:
    from axes.models import AccessAttempt

    for _ in range(5):
        _sign_in("dr.one", "wrong-password-x")
    assert _sign_in("dr.one", PASSWORD).status_code == 429
    earlier = timezone.now() - dt.timedelta(minutes=16)
    AccessAttempt.objects.update(attempt_time=earlier)
    AccessAttempt.objects.filter(expiration__isnull=False).delete()
    assert _sign_in("dr.one", PASSWORD).status_code == 302


def test_a_success_resets_the_count_and_is_logged(throttled: None) -> None:
    from axes.models import AccessLog

    for _ in range(4):
        assert _sign_in("dr.one", "wrong-password-x").status_code == 200
    assert _sign_in("dr.one", PASSWORD).status_code == 302
    for _ in range(4):
        assert _sign_in("dr.one", "wrong-password-x").status_code == 200
    assert _sign_in("dr.one", PASSWORD).status_code == 302
    assert AccessLog.objects.filter(username="dr.one").count() == 2


def test_the_limit_and_cool_off_follow_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from openect.settings import get_settings
    from openect.web.settings import build_settings

    monkeypatch.setenv("OPENECT_LOGIN_FAILURE_LIMIT", "3")
    monkeypatch.setenv("OPENECT_LOGIN_COOLOFF_MINUTES", "60")
    get_settings.cache_clear()
    configured = build_settings("sqlite:///:memory:")
    assert configured["AXES_FAILURE_LIMIT"] == 3
    assert configured["AXES_COOLOFF_TIME"] == dt.timedelta(minutes=60)
    assert configured["AXES_IPWARE_META_PRECEDENCE_ORDER"] == ("REMOTE_ADDR",)
    behind_proxy = build_settings("sqlite:///:memory:", https=True)
    assert behind_proxy["AXES_IPWARE_PROXY_COUNT"] == 1


def test_the_api_token_check_is_not_throttled(throttled: None) -> None:
    from openect.web.models import ApiToken

    token = ApiToken.issue(get_user_model().objects.get(username="dr.one"), "test")
    for _ in range(8):
        bad = Client(REMOTE_ADDR="10.0.0.1", HTTP_AUTHORIZATION="Bearer oect_wrong")
        assert bad.get("/api/patients/").status_code == 401
    good = Client(REMOTE_ADDR="10.0.0.1", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert good.get("/api/patients/").status_code == 200
