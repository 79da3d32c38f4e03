"""API tokens: expiry, revocation (command line, admin page, password change,
deactivation), listing without the secret, and the admin page's scope."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from openect.cli import main
from openect.registry.access import Actor
from openect.registry.accounts import set_user
from openect.registry.models import Role
from openect.web.models import ApiToken, hash_token
from second_factor import verify_session

pytestmark = pytest.mark.django_db

ADMIN = Actor("admin", Role.ADMIN)
PASSWORD = "correct-horse-battery"


def _token(username: str = "api.user", days: int | None = None) -> str:
    set_user(ADMIN, username, "analyst", password=PASSWORD)
    return ApiToken.issue(get_user_model().objects.get(username=username), "test", days)


def _status(token: str) -> int:
    return int(Client(HTTP_AUTHORIZATION=f"Bearer {token}").get("/api/patients/").status_code)


def _signed_in(username: str, role: str, centre: str | None = None) -> Client:
    set_user(ADMIN, username, role, centre, PASSWORD)
    client = Client()
    user = get_user_model().objects.get(username=username)
    client.force_login(user)
    if role == "admin":
        verify_session(client, user)  # administrators reach no page without it
    return client


def test_a_new_token_expires_after_the_configured_days(monkeypatch: pytest.MonkeyPatch) -> None:
    from django.conf import settings

    from openect.settings import get_settings
    from openect.web.settings import build_settings

    monkeypatch.setenv("OPENECT_TOKEN_DAYS", "30")
    get_settings.cache_clear()
    assert build_settings("sqlite:///:memory:")["OPENECT_TOKEN_DAYS"] == 30
    monkeypatch.setattr(settings, "OPENECT_TOKEN_DAYS", 30)
    token = _token()
    row = ApiToken.every.get(digest=hash_token(token))
    assert abs(row.expires - (timezone.now() + dt.timedelta(days=30))) < dt.timedelta(minutes=1)
    assert _status(token) == 200


def test_an_expired_token_is_401() -> None:
    token = _token()
    assert _status(token) == 200
    ApiToken.every.update(expires=timezone.now() - dt.timedelta(seconds=1))
    assert _status(token) == 401


def test_a_revoked_token_is_401() -> None:
    token = _token()
    ApiToken.every.filter(digest=hash_token(token)).revoke()
    assert _status(token) == 401


def test_a_password_change_revokes_the_users_tokens() -> None:
    token = _token()
    other = _token("someone.else")
    set_user(ADMIN, "api.user", "analyst", password="another-long-passphrase")
    assert _status(token) == 401
    assert _status(other) == 200
    set_user(ADMIN, "someone.else", "data_manager", "C01")  # role change: tokens kept
    assert _status(other) == 200


def test_deactivating_a_user_revokes_their_tokens() -> None:
    token = _token()
    user = get_user_model().objects.get(username="api.user")
    user.is_active = False
    user.save()
    user.is_active = True
    user.save()
    assert _status(token) == 401
    assert ApiToken.every.get(digest=hash_token(token)).status == "revoked"


def test_the_command_line_lists_and_revokes_tokens_never_showing_the_secret(
    capsys: pytest.CaptureFixture[str],
) -> None:
    token = _token()
    _token("someone.else")
    assert main(["web", "tokens", "--user", "api.user", "--json"]) == 0
    out = capsys.readouterr().out
    assert token not in out
    assert hash_token(token) not in out
    listed = json.loads(out)["tokens"]
    assert [t["user"] for t in listed] == ["api.user"]
    assert set(listed[0]) == {"id", "user", "label", "created", "expires", "last_used", "status"}
    assert listed[0]["status"] == "active"
    assert main(["web", "token-revoke", str(listed[0]["id"])]) == 0
    assert "revoked" in capsys.readouterr().out
    assert _status(token) == 401
    assert main(["web", "token-revoke", "999999"]) == 2
    assert "ID=999999: no such token" in capsys.readouterr().err
    assert main(["web", "tokens"]) == 0
    table = capsys.readouterr().out
    assert "someone.else" in table
    assert "oect_" not in table


def test_the_command_line_issues_a_token_with_its_expiry(
    capsys: pytest.CaptureFixture[str],
) -> None:
    set_user(ADMIN, "api.user", "analyst", password=PASSWORD)
    assert main(["web", "token", "api.user", "--days", "7", "--json"]) == 0
    issued = json.loads(capsys.readouterr().out)
    expires = dt.datetime.fromisoformat(issued["expires"])
    assert abs(expires - (timezone.now() + dt.timedelta(days=7))) < dt.timedelta(minutes=1)
    assert _status(issued["token"]) == 200
    assert main(["web", "token", "api.user", "--days", "0"]) == 2


def test_the_admin_page_lists_issues_once_and_revokes() -> None:
    admin = _signed_in("boss", "admin")
    old = _token()
    page = admin.get("/admin/tokens/")
    assert page.status_code == 200
    assert b"api.user" in page.content
    assert old.encode() not in page.content
    issued = admin.post("/admin/tokens/", {"user": "api.user", "label": "lab export", "days": "5"})
    assert issued.status_code == 200
    token = re.search(r'value="(oect_[^"]+)"', issued.content.decode())
    assert token is not None
    assert _status(token.group(1)) == 200
    assert token.group(1).encode() not in admin.get("/admin/tokens/").content  # shown once
    row = ApiToken.every.get(digest=hash_token(token.group(1)))
    assert row.name == "lab export"
    done = admin.post(f"/admin/tokens/{row.pk}/revoke/")
    assert done.status_code == 302
    assert _status(token.group(1)) == 401
    assert _status(old) == 200
    assert admin.post("/admin/tokens/", {"user": "nobody", "label": "x"}).status_code == 422
    assert admin.post("/admin/tokens/", {"user": "api.user", "days": "0"}).status_code == 422
    assert admin.get(f"/admin/tokens/{row.pk}/revoke/").status_code == 405


@pytest.mark.parametrize(
    ("role", "centre"), [("clinician", "C01"), ("data_manager", "C01"), ("analyst", None)]
)
def test_only_administrators_reach_the_token_page(role: str, centre: str | None) -> None:
    token = _token()
    row = ApiToken.every.get(digest=hash_token(token))
    client = _signed_in("not.admin", role, centre)
    assert client.get("/admin/tokens/").status_code == 403
    assert client.post("/admin/tokens/", {"user": "not.admin"}).status_code == 403
    assert client.post(f"/admin/tokens/{row.pk}/revoke/").status_code == 403
    assert ApiToken.every.filter(user__username="not.admin").count() == 0
    assert _status(token) == 200
    assert b"/admin/tokens/" not in client.get("/dashboard/").content
    anonymous = Client().get("/admin/tokens/")
    assert anonymous.status_code == 302
