"""The administration pages (``/manage/``): users, centres and API tokens.

Only administrators reach them (403 for clinicians, data managers and analysts on every
URL and method, the sign-in page for nobody signed in, the second factor first for an
administrator); every change is audited with the administrator as actor; bad input is
answered 422 naming the field, with nothing written; a token's secret is shown once.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from openect.data.models import Centre
from openect.registry import services
from openect.registry.access import Actor
from openect.registry.accounts import set_user
from openect.registry.models import AuditEntry, Membership, Role
from openect.web.models import ApiToken, hash_token
from second_factor import verify_session

pytestmark = pytest.mark.django_db

SETUP = Actor("setup", Role.ADMIN)
PASSWORD = "correct-horse-battery"
NEW_PASSWORD = "plum-lantern-quarry-77"
BIG = "x" * 10_240

#: Every URL of the pages with the method that does something there.
URLS: list[tuple[str, str]] = [
    ("get", "/manage/"),
    ("get", "/manage/users/"),
    ("get", "/manage/new-user/"),
    ("post", "/manage/new-user/"),
    ("get", "/manage/users/dr.one/"),
    ("post", "/manage/users/dr.one/role/"),
    ("post", "/manage/users/dr.one/active/"),
    ("post", "/manage/users/dr.one/second-factor/reset/"),
    ("get", "/manage/centres/"),
    ("post", "/manage/centres/"),
    ("get", "/manage/centres/C01/"),
    ("post", "/manage/centres/C01/"),
    ("get", "/manage/tokens/"),
    ("post", "/manage/tokens/"),
    ("post", "/manage/tokens/1/revoke/"),
]


@pytest.fixture(autouse=True)
def _fast_password_hashes(settings: Any) -> None:
    """A fast hasher for these tests' many users (the policy and checks are the same)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def registry() -> None:
    """Two centres and a clinician of C01 with a token."""
    for centre_id, name, country in (("C01", "Centre one", "GB"), ("C02", "Centre two", "SI")):
        services.create(SETUP, Centre(centre_id=centre_id, name=name, country=country))
    set_user(SETUP, "dr.one", "clinician", "C01", PASSWORD)
    ApiToken.issue(get_user_model().objects.get(username="dr.one"), "lab")


def _client(username: str, role: str, centre: str | None = None) -> Client:
    set_user(SETUP, username, role, centre, PASSWORD)
    user = get_user_model().objects.get(username=username)
    client = Client()
    client.force_login(user)
    if role == "admin":
        verify_session(client, user)
    return client


@pytest.fixture
def admin(registry: None) -> Client:
    return _client("boss", "admin")


def _audit(entity: str, record_id: str) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(entity=entity, record_id=record_id).order_by("id"))


def _text(response: Any) -> str:
    return str(response.content.decode())


def _field_error(response: Any, field: str) -> str:
    """The message shown under ``field`` of a refused form (quotes unescaped)."""
    found = re.search(rf'<p class="error" id="f-{field}-error">([^<]*)</p>', _text(response))
    assert found is not None, _text(response)[:3000]
    return found.group(1).replace("&#x27;", "'")


# ----------------------------------------------------------------------- who may
@pytest.mark.parametrize(
    ("role", "centre"), [("clinician", "C01"), ("data_manager", "C02"), ("analyst", None)]
)
def test_every_page_is_403_for_anyone_but_an_administrator(
    registry: None, role: str, centre: str | None
) -> None:
    client = _client(f"someone.{role}", role, centre)
    audited = AuditEntry.objects.count()
    token = ApiToken.every.get()
    for method, url in URLS:
        url = url.replace("/1/", f"/{token.pk}/")
        data = {"username": "intruder", "role": "admin", "password": NEW_PASSWORD,
                "password_again": NEW_PASSWORD, "active": "false", "centre_id": "C09",
                "name": "x", "user": "dr.one"}  # fmt: skip
        response = getattr(client, method)(url, data) if method == "post" else client.get(url)
        assert response.status_code == 403, (role, method, url, response.status_code)
    assert AuditEntry.objects.count() == audited
    assert not get_user_model().objects.filter(username="intruder").exists()
    assert ApiToken.every.get().revoked is None
    assert get_user_model().objects.get(username="dr.one").is_active
    assert "Administration" not in _text(client.get("/"))


def test_nobody_signed_in_is_sent_to_sign_in(registry: None) -> None:
    for method, url in URLS:
        response = getattr(Client(), method)(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/login/"), url


def test_an_administrator_needs_the_second_factor_first(registry: None) -> None:
    set_user(SETUP, "new.admin", "admin", None, PASSWORD)
    client = Client()
    client.force_login(get_user_model().objects.get(username="new.admin"))
    response = client.get("/manage/users/")
    assert response.status_code == 302
    assert response["Location"].startswith("/account/")
    assert client.post("/manage/new-user/", {"username": "x"}).status_code == 302
    assert not get_user_model().objects.filter(username="x").exists()


def test_every_url_answers_only_its_methods(admin: Client) -> None:
    from openect.web.pages import admin_urls

    assert len(admin_urls.urlpatterns) == len({url for _, url in URLS})
    for pattern in admin_urls.urlpatterns:
        allowed = set(pattern.callback.allowed_methods)
        assert allowed in ({"GET", "HEAD"}, {"POST"}, {"GET", "HEAD", "POST"}), pattern.name
    for method, url in URLS:
        response = admin.put(url)
        assert response.status_code == 405, url
        assert method.upper() in response["Allow"], url
    assert admin.get("/manage/tokens/1/revoke/").status_code == 405


def test_forms_need_the_csrf_token(admin: Client) -> None:
    strict = Client(enforce_csrf_checks=True)
    strict.cookies = admin.cookies
    data = {"username": "dr.csrf", "role": "analyst", "password": NEW_PASSWORD,
            "password_again": NEW_PASSWORD}  # fmt: skip
    assert strict.post("/manage/new-user/", data).status_code == 403
    assert not get_user_model().objects.filter(username="dr.csrf").exists()
    page = strict.get("/manage/new-user/")
    assert 'name="csrfmiddlewaretoken"' in _text(page)


def test_the_administration_link_is_shown_to_administrators(admin: Client) -> None:
    assert 'href="/manage/users/">Administration</a>' in _text(admin.get("/manage/users/"))


def test_unknown_users_centres_and_tokens_are_404(admin: Client) -> None:
    assert admin.get("/manage/users/nobody/").status_code == 404
    assert admin.post("/manage/users/nobody/role/", {"role": "analyst"}).status_code == 404
    assert admin.post("/manage/users/nobody/active/", {"active": "false"}).status_code == 404
    assert not get_user_model().objects.filter(username="nobody").exists()
    assert admin.get("/manage/centres/C99/").status_code == 404
    assert admin.post("/manage/tokens/999999/revoke/").status_code == 404


# ----------------------------------------------------------------------- users
def test_the_users_list_shows_role_centre_second_factor_and_sign_in(admin: Client) -> None:
    page = admin.get("/manage/users/")
    assert page.status_code == 200
    rows = re.findall(r"<tr>(.*?)</tr>", _text(page), re.S)
    dr = next(r for r in rows if "dr.one" in r)
    assert "clinician" in dr
    assert "C01" in dr
    assert "never" in dr
    assert "none" in dr
    boss = next(r for r in rows if ">boss<" in r)
    assert "admin" in boss
    assert "set up" in boss
    assert "never" not in boss


def test_an_administrator_creates_a_user_audited(admin: Client) -> None:
    response = admin.post(
        "/manage/new-user/",
        {"username": "dr.two", "role": "clinician", "centre": "C02",
         "password": NEW_PASSWORD, "password_again": NEW_PASSWORD},
    )  # fmt: skip
    assert response.status_code == 302
    assert response["Location"] == "/manage/users/dr.two/"
    user = get_user_model().objects.get(username="dr.two")
    assert user.check_password(NEW_PASSWORD)
    assert user.is_active
    membership = Membership.objects.get(user=user)
    assert (membership.role, membership.centre_id) == ("clinician", "C02")
    (entry,) = _audit("users", "dr.two")
    assert (entry.actor, entry.role, entry.action) == ("boss", "admin", "create")
    assert NEW_PASSWORD not in str(entry.after) + str(entry.reason)
    assert "dr.two" in _text(admin.get("/manage/users/dr.two/"))


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"username": ""}, "username", "username: required"),
        ({"username": "DR.ONE"}, "username", "already taken"),
        ({"username": "dr one"}, "username", "letters, digits"),
        ({"username": BIG}, "username", "allowed at most 150"),
        ({"role": "superuser"}, "role", "unknown; allowed clinician, data_manager"),
        ({"role": "clinician", "centre": ""}, "centre", "centre: required for role clinician"),
        ({"role": "admin", "centre": "C01"}, "centre", "not allowed for role admin"),
        ({"centre": "C09"}, "centre", "no such centre"),
        ({"centre": BIG}, "centre", "allowed at most 64"),
        ({"password": "short", "password_again": "short"}, "password", "minimum length"),
        ({"password": "1234567890123", "password_again": "1234567890123"}, "password",
         "numbers only"),
        ({"password_again": "something-else-long"}, "password_again", "not the same"),
        ({"password": "", "password_again": ""}, "password", "password: required"),
    ],
)  # fmt: skip
def test_bad_input_for_a_new_user_names_the_field_and_writes_nothing(
    admin: Client, changes: dict[str, str], field: str, words: str
) -> None:
    data = {"username": "dr.three", "role": "clinician", "centre": "C01",
            "password": NEW_PASSWORD, "password_again": NEW_PASSWORD} | changes  # fmt: skip
    users = get_user_model().objects.count()
    audited = AuditEntry.objects.count()
    response = admin.post("/manage/new-user/", data)
    assert response.status_code == 422
    text = _text(response)
    assert words in _field_error(response, field)
    assert len(text) < 60_000  # a 10 kB value is named, not repeated
    assert get_user_model().objects.count() == users
    assert AuditEntry.objects.count() == audited


def test_an_administrator_changes_a_role_audited(admin: Client) -> None:
    response = admin.post("/manage/users/dr.one/role/", {"role": "data_manager", "centre": "C02"})
    assert response.status_code == 302
    membership = Membership.objects.get(user__username="dr.one")
    assert (membership.role, membership.centre_id) == ("data_manager", "C02")
    entry = _audit("users", "dr.one")[-1]
    assert (entry.actor, entry.action) == ("boss", "update")
    assert entry.before == {"role": "clinician", "centre_id": "C01"}
    assert entry.after == {"role": "data_manager", "centre_id": "C02"}
    bad = admin.post("/manage/users/dr.one/role/", {"role": "root", "centre": ""})
    assert bad.status_code == 422
    assert "role=&#x27;root&#x27;: unknown" in _text(bad)
    own = admin.post("/manage/users/boss/role/", {"role": "analyst", "centre": ""})
    assert own.status_code == 422
    assert "your own role" in _text(own)
    assert Membership.objects.get(user__username="boss").role == "admin"


def test_deactivating_ends_sign_in_and_tokens_and_reactivating_undoes_it(
    admin: Client,
) -> None:
    token = ApiToken.every.get()
    session = Client()
    session.force_login(get_user_model().objects.get(username="dr.one"))
    assert session.get("/patients/").status_code == 200
    assert admin.post("/manage/users/dr.one/active/", {"active": "false"}).status_code == 302
    assert session.get("/patients/").status_code == 302  # the open session has ended
    user = get_user_model().objects.get(username="dr.one")
    assert not user.is_active
    assert ApiToken.every.get().status == "revoked"
    assert not Client().login(username="dr.one", password=PASSWORD)
    entry = _audit("users", "dr.one")[-1]
    assert (entry.actor, entry.before, entry.after) == (
        "boss", {"is_active": True}, {"is_active": False}
    )  # fmt: skip
    assert "(deactivated)" in _text(admin.get("/manage/users/"))
    assert admin.post("/manage/users/dr.one/active/", {"active": "true"}).status_code == 302
    assert get_user_model().objects.get(username="dr.one").is_active
    assert Client().login(username="dr.one", password=PASSWORD)
    assert _audit("users", "dr.one")[-1].after == {"is_active": True}
    assert ApiToken.every.get(pk=token.pk).status == "revoked"  # stays revoked
    assert get_user_model().objects.filter(username="dr.one").count() == 1  # never deleted


def test_an_administrator_cannot_deactivate_themselves(admin: Client) -> None:
    response = admin.post("/manage/users/boss/active/", {"active": "false"})
    assert response.status_code == 422
    assert "cannot deactivate yourself" in _text(response)
    assert get_user_model().objects.get(username="boss").is_active
    odd = admin.post("/manage/users/dr.one/active/", {"active": BIG})
    assert odd.status_code == 422
    assert "allowed at most 5" in _text(odd)
    assert get_user_model().objects.get(username="dr.one").is_active


def test_resetting_the_second_factor_removes_the_device_audited(admin: Client) -> None:
    user = get_user_model().objects.get(username="dr.one")
    TOTPDevice.objects.create(user=user, name="app", confirmed=True)
    assert admin.post("/manage/users/dr.one/second-factor/reset/").status_code == 302
    assert not TOTPDevice.objects.filter(user=user).exists()
    entry = _audit("users", "dr.one")[-1]
    assert (entry.actor, entry.before, entry.after) == (
        "boss", {"second_factor_devices": 1}, {"second_factor_devices": 0}
    )  # fmt: skip
    audited = AuditEntry.objects.count()
    assert admin.post("/manage/users/dr.one/second-factor/reset/").status_code == 302
    assert AuditEntry.objects.count() == audited  # nothing to reset, nothing audited
    own = admin.post("/manage/users/boss/second-factor/reset/")
    assert own.status_code == 400
    assert TOTPDevice.objects.filter(user__username="boss", confirmed=True).exists()


# ----------------------------------------------------------------------- centres
def test_an_administrator_creates_and_changes_a_centre_audited(admin: Client) -> None:
    page = admin.get("/manage/centres/")
    assert page.status_code == 200
    assert "Centre one" in _text(page)
    assert "Slovenia" in _text(page)
    response = admin.post(
        "/manage/centres/", {"centre_id": "C03", "name": "Centre three", "country": "it"}
    )
    assert response.status_code == 302
    assert services.get(SETUP, Centre, "C03").country == "IT"
    (created,) = _audit("centres", "C03")
    assert (created.actor, created.role, created.action) == ("boss", "admin", "create")
    edit = admin.post("/manage/centres/C03/", {"name": "Centre three (Padova)", "country": "IT"})
    assert edit.status_code == 302
    assert services.get(SETUP, Centre, "C03").name == "Centre three (Padova)"
    changed = _audit("centres", "C03")[-1]
    assert (changed.actor, changed.action) == ("boss", "update")
    assert 'value="Centre three (Padova)"' in _text(admin.get("/manage/centres/C03/"))


@pytest.mark.parametrize(
    ("data", "field", "words"),
    [
        ({"country": "ZZZ"}, "country", "not an ISO 3166-1 alpha-2 code"),
        ({"country": "ZZ"}, "country", "not an ISO 3166-1 alpha-2 code"),
        ({"country": "1A"}, "country", "not an ISO 3166-1 alpha-2 code"),
        ({"country": BIG}, "country", "allowed at most 16"),
        ({"name": ""}, "name", "name: required"),
        ({"name": BIG}, "name", "allowed at most 200"),
        ({"centre_id": ""}, "centre_id", "centre_id: required"),
        ({"centre_id": "C01"}, "centre_id", "already in use"),
        ({"centre_id": "-bad id"}, "centre_id", "centre_id="),
        ({"centre_id": BIG}, "centre_id", "allowed at most 64"),
    ],
)
def test_bad_input_for_a_centre_names_the_field_and_writes_nothing(
    admin: Client, data: dict[str, str], field: str, words: str
) -> None:
    audited = AuditEntry.objects.count()
    response = admin.post(
        "/manage/centres/", {"centre_id": "C04", "name": "Centre four", "country": "FR"} | data
    )
    assert response.status_code == 422
    assert words in _field_error(response, field)
    assert len(_text(response)) < 80_000
    assert AuditEntry.objects.count() == audited
    assert not services.list_records(SETUP, Centre, centre_id="C04")
    if field in ("name", "country"):
        edit = admin.post("/manage/centres/C01/", {"name": "Centre one", "country": "GB"} | data)
        assert edit.status_code == 422
        assert f'id="f-{field}-error"' in _text(edit)
        assert services.get(SETUP, Centre, "C01").country == "GB"
        assert AuditEntry.objects.count() == audited


# ----------------------------------------------------------------------- tokens
def test_a_token_is_shown_once_and_revoked_audited(admin: Client) -> None:
    page = admin.post("/manage/tokens/", {"user": "dr.one", "label": "lab export"})
    assert page.status_code == 200
    secret = re.search(r'id="issued-token" readonly value="(oect_[^"]+)"', _text(page))
    assert secret is not None
    row = ApiToken.every.get(digest=hash_token(secret.group(1)))
    assert (row.user.get_username(), row.name) == ("dr.one", "lab export")
    listing = _text(admin.get("/manage/tokens/"))
    assert secret.group(1) not in listing
    assert "lab export" in listing
    assert secret.group(1) not in _text(admin.get("/manage/users/dr.one/"))
    (issued,) = _audit("api_tokens", str(row.pk))
    assert (issued.actor, issued.role, issued.action) == ("boss", "admin", "create")
    assert issued.after["user"] == "dr.one"
    assert secret.group(1) not in str(issued.after)
    api = Client(HTTP_AUTHORIZATION=f"Bearer {secret.group(1)}")
    assert api.get("/api/patients/").status_code == 200
    assert admin.post(f"/manage/tokens/{row.pk}/revoke/").status_code == 302
    assert ApiToken.every.get(pk=row.pk).status == "revoked"
    assert api.get("/api/patients/").status_code == 401
    revoked = _audit("api_tokens", str(row.pk))[-1]
    assert (revoked.actor, revoked.action, revoked.after["status"]) == ("boss", "update", "revoked")
    audited = AuditEntry.objects.count()
    assert admin.post(f"/manage/tokens/{row.pk}/revoke/").status_code == 302
    assert AuditEntry.objects.count() == audited  # already revoked: nothing more


def test_a_token_with_an_expiry_date_lasts_until_then(admin: Client) -> None:
    import datetime as dt

    from django.utils import timezone

    until = timezone.now().date() + dt.timedelta(days=10)
    page = admin.post("/manage/tokens/", {"user": "dr.one", "expires": until.isoformat()})
    assert page.status_code == 200
    row = ApiToken.every.order_by("-pk").first()
    assert row is not None
    assert row.expires.date() == until
    assert row.name == "api"


@pytest.mark.parametrize(
    ("data", "field", "words"),
    [
        ({"expires": "2020-01-01"}, "expires", "today or in the past"),
        ({"expires": "2999-01-01"}, "expires", "too far ahead"),
        ({"expires": "tomorrow"}, "expires", "not a date"),
        ({"user": ""}, "user", "user: required"),
        ({"user": "nobody"}, "user", "no such active user"),
        ({"user": BIG}, "user", "allowed at most 150"),
        ({"label": BIG}, "label", "allowed at most 100"),
    ],
)
def test_bad_input_for_a_token_names_the_field_and_issues_nothing(
    admin: Client, data: dict[str, str], field: str, words: str
) -> None:
    tokens = ApiToken.every.count()
    audited = AuditEntry.objects.count()
    response = admin.post("/manage/tokens/", {"user": "dr.one", "label": "x"} | data)
    assert response.status_code == 422
    assert words in _field_error(response, field)
    assert 'id="issued-token"' not in _text(response)
    assert ApiToken.every.count() == tokens
    assert AuditEntry.objects.count() == audited


def test_the_token_list_filters_by_user_and_status(admin: Client) -> None:
    boss = get_user_model().objects.get(username="boss")
    ApiToken.issue(boss, "own")
    ApiToken.every.filter(user=boss).revoke()
    mine = _text(admin.get("/manage/tokens/?user=boss"))
    assert ">own<" in mine
    assert ">lab<" not in mine
    active = _text(admin.get("/manage/tokens/?status=active"))
    assert ">lab<" in active
    assert ">own<" not in active


# ----------------------------------------------------------------------- in a browser
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
#: Where the documentation's screenshots come from: (page, viewport, file name).
SHOTS = [
    ("/manage/users/", (1280, 900), "manage-users"),
    ("/manage/users/", (768, 1024), "manage-users-tablet"),
    ("/manage/users/dr.one/", (390, 844), "manage-user-phone"),
    ("/manage/centres/", (1280, 900), "manage-centres"),
    ("/manage/tokens/", (1280, 900), "manage-tokens"),
]


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium not installed")
def test_the_users_list_fits_a_phone(live_server: Any, settings: Any) -> None:
    """At 390 x 844 the users list scrolls in its own region, never the page sideways;
    a refused new user shows the field's message; no page breaks the site's policy."""
    from playwright.sync_api import sync_playwright

    from concurrent_jobs import empty_append_only_tables

    try:
        for centre_id, name, country in (("C01", "Centre one", "GB"), ("C02", "Centre two", "SI")):
            services.create(SETUP, Centre(centre_id=centre_id, name=name, country=country))
        set_user(SETUP, "dr.one", "clinician", "C01", PASSWORD)
        set_user(SETUP, "manager.two", "data_manager", "C02", PASSWORD)
        set_user(SETUP, "analyst", "analyst", None, PASSWORD)
        ApiToken.issue(get_user_model().objects.get(username="analyst"), "statistics")
        admin = _client("boss", "admin")
        cookie = admin.cookies[settings.SESSION_COOKIE_NAME].value
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=["--headless", "--no-sandbox"]
            )
            context = browser.new_context(viewport={"width": 390, "height": 844})
            context.add_cookies(
                [{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}]
            )
            page = context.new_page()
            problems: list[str] = []
            page.add_init_script(
                "document.addEventListener('securitypolicyviolation', e => console.error("
                "'CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI));"
            )
            page.on(
                "console",
                lambda m: problems.append(m.text) if m.text.startswith("CSP") else None,
            )
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.goto(f"{live_server.url}/manage/users/")
            assert page.get_by_role("heading", name="Users").is_visible()
            assert page.get_by_role("link", name="dr.one").is_visible()
            assert page.get_by_role("link", name="Administration").count() == 1
            wide = page.evaluate("document.documentElement.scrollWidth")
            assert wide <= 390, f"the page scrolls sideways: {wide} px"
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / "manage-users-phone.png"), full_page=True)
            page.get_by_role("link", name="New user").click()
            page.get_by_label("User name").fill("DR.ONE")
            page.get_by_label("Role").select_option("clinician")
            page.get_by_role("button", name="Create user").click()
            assert (
                page.locator("#f-username-error")
                .inner_text()
                .endswith("already taken (by 'dr.one'); choose another name")
            )
            assert page.locator("#f-password-error").inner_text() == "password: required"
            page.screenshot(path=str(SCREENSHOTS / "manage-user-new-phone.png"), full_page=True)
            for url, (width, height), name in SHOTS:
                page.set_viewport_size({"width": width, "height": height})
                page.goto(f"{live_server.url}{url}")
                page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
                assert page.evaluate("document.documentElement.scrollWidth") <= width, url
            browser.close()
        assert not problems, problems
    finally:
        empty_append_only_tables()
