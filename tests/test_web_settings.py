"""The web application's production settings: no debug pages, CSRF, cookies, headers."""

from __future__ import annotations

import pytest
from django.test import Client

from openect.cli import main
from openect.web.settings import build_settings

pytestmark = pytest.mark.django_db


def test_unknown_pages_are_plain_404s_without_debug_information() -> None:
    response = Client().get("/no/such/page/")
    assert response.status_code == 404
    text = response.content.decode()
    assert "Traceback" not in text
    assert "DEBUG = True" not in text
    assert "URLconf" not in text


def test_sign_in_needs_the_csrf_token() -> None:
    client = Client(enforce_csrf_checks=True)
    page = client.get("/login/")
    assert page.status_code == 200
    assert 'name="csrfmiddlewaretoken"' in page.content.decode()
    assert client.post("/login/", {"username": "x", "password": "y"}).status_code == 403


def test_security_headers() -> None:
    response = Client().get("/login/")
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


def test_pages_require_sign_in() -> None:
    response = Client().get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_https_settings_make_cookies_secure() -> None:
    plain = build_settings("sqlite:///:memory:", debug=False, https=False)
    secure = build_settings("sqlite:///:memory:", debug=False, https=True)
    assert plain["DEBUG"] is False
    assert plain["SESSION_COOKIE_HTTPONLY"] is True
    assert plain["SESSION_COOKIE_SECURE"] is False
    for key in ("SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SECURE_SSL_REDIRECT"):
        assert secure[key] is True
    assert secure["SECURE_HSTS_SECONDS"] > 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--port", "80"], "--port=80: out of range; allowed 1024 to 65535"),
        (["--threads", "0"], "--threads=0: out of range; allowed 1 to 64"),
    ],
)
def test_serve_rejects_bad_options(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main(["serve", *args]) == 2
    assert message in capsys.readouterr().err


def test_the_test_client_host_is_allowed_only_explicitly(monkeypatch: pytest.MonkeyPatch) -> None:
    from django.conf import settings

    from openect.settings import load_settings

    assert "testserver" in settings.ALLOWED_HOSTS  # tests/conftest.py asks for it
    monkeypatch.delenv("OPENECT_ALLOWED_HOSTS", raising=False)
    defaults = build_settings("sqlite:///:memory:", settings=load_settings())
    assert "testserver" not in defaults["ALLOWED_HOSTS"]


def test_a_bad_setting_stops_the_start(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from openect.errors import ConfigurationError
    from openect.settings import get_settings

    monkeypatch.setenv("OPENECT_HTTPS", "yes please")
    get_settings.cache_clear()
    with pytest.raises(ConfigurationError, match="OPENECT_HTTPS='yes please': not a boolean"):
        build_settings("sqlite:///:memory:")
    assert main(["serve", "--port", "8765"]) == 2
    assert "OPENECT_HTTPS='yes please': not a boolean" in capsys.readouterr().err
