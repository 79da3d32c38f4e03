"""Sign-in: the password policy of ``registry user`` and the throttling of failed sign-ins."""

from __future__ import annotations

import io
import sys

import pytest
from django.contrib.auth import get_user_model

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
