"""The access log in the web application: every read of patient-level data (pages, the
page cache, exports, the outcomes report), sign-ins, sign-outs and API tokens write one
entry with who, what and the address; the ``/access-log/`` page for administrators and
data managers (their centre's part), its filters and its CSV."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import DatabaseError
from django.test import Client

from openect.data.dataset import Dataset
from openect.registry.access import Actor
from openect.registry.accounts import set_user
from openect.registry.models import AccessEntry, AuditEntry, Role
from openect.registry.transfer import import_dataset
from openect.web.models import ApiToken

pytestmark = pytest.mark.django_db

ADMIN = Actor("admin", Role.ADMIN)
PASSWORD = "copper-needles-at-dawn"


@pytest.fixture(autouse=True)
def registry(dataset: Dataset) -> Dataset:
    """The small dataset (P1 of C01, P2 of C02), imported."""
    import_dataset(ADMIN, dataset)
    return dataset


def signed_in(username: str, role: str, centre: str | None, address: str = "10.0.0.7") -> Client:
    """A client signed in as a new user with ``role``; administrators with their second
    factor verified where the application asks for one."""
    set_user(ADMIN, username, role, centre)
    client = Client(REMOTE_ADDR=address)
    user = get_user_model().objects.get(username=username)
    client.force_login(user)
    if role == "admin":
        try:
            from second_factor import verify_session
        except ImportError:  # no second factor asked for
            return client
        verify_session(client, user)
    return client


def reads(**given: Any) -> list[AccessEntry]:
    """Entries other than sign-ins (which ``force_login`` writes too)."""
    return list(AccessEntry.objects.filter(**given).exclude(action="sign_in").order_by("id"))


def the_only(**given: Any) -> AccessEntry:
    found = reads(**given)
    assert len(found) == 1, [(e.action, e.entity, e.record_id) for e in found]
    return found[0]


# ----------------------------------------------------------------- recording points
@pytest.mark.parametrize(
    ("url", "entity", "record_id"),
    [
        ("/patients/P1/", "patients", "P1"),
        ("/patients/P1/lesions/P1-L1/", "lesions", "P1-L1"),
        ("/patients/P1/plan/", "patients", "P1"),
        ("/sessions/P1-S1/record/", "sessions", "P1-S1"),
    ],
)
def test_a_patient_level_page_writes_one_entry(url: str, entity: str, record_id: str) -> None:
    client = signed_in("doc.c01", "clinician", "C01", address="10.0.0.7")
    assert client.get(url).status_code == 200
    entry = the_only()
    assert (entry.actor, entry.role, entry.actor_centre_id) == ("doc.c01", "clinician", "C01")
    assert (entry.action, entry.entity, entry.record_id) == ("view", entity, record_id)
    assert (entry.centre_id, entry.address, entry.channel) == ("C01", "10.0.0.7", "page")


def test_another_centres_patient_is_not_logged_as_read() -> None:
    client = signed_in("doc.c02", "clinician", "C02")
    assert client.get("/patients/P1/").status_code == 404
    assert reads() == []


def test_the_patient_list_is_logged_with_its_query() -> None:
    client = signed_in("analyst", "analyst", None)
    assert client.get("/patients/?tumour=melanoma").status_code == 200
    entry = the_only()
    assert (entry.action, entry.entity, entry.query) == ("list", "patients", "tumour=melanoma")


def test_a_page_served_from_the_cache_is_logged_again_from_its_address() -> None:
    set_user(ADMIN, "doc.c01", "clinician", "C01")
    user = get_user_model().objects.get(username="doc.c01")
    client = Client(REMOTE_ADDR="10.0.0.1")
    client.force_login(user)
    assert "X-OpenECT-Cache" not in client.get("/patients/P1/")
    again = client.get("/patients/P1/", REMOTE_ADDR="10.0.0.2")
    assert again["X-OpenECT-Cache"] == "hit"
    first, second = reads()
    assert (first.record_id, first.address) == ("P1", "10.0.0.1")
    assert (second.record_id, second.address, second.centre_id) == ("P1", "10.0.0.2", "C01")
    assert second.at > first.at


def test_a_read_that_cannot_be_logged_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    client = signed_in("doc.c01", "clinician", "C01")

    def broken(self: AccessEntry, *args: object, **kwargs: object) -> None:
        raise DatabaseError("disk full")

    monkeypatch.setattr(AccessEntry, "save", broken)
    answer = client.get("/patients/P1/")
    assert answer.status_code == 503
    assert b"access log" in answer.content
    assert b"Test centre one" not in answer.content


def test_a_cached_page_is_not_served_when_its_read_cannot_be_logged(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = signed_in("doc.c01", "clinician", "C01")
    assert client.get("/patients/P1/").status_code == 200

    def broken(self: AccessEntry, *args: object, **kwargs: object) -> None:
        raise DatabaseError("disk full")

    monkeypatch.setattr(AccessEntry, "save", broken)
    assert client.get("/patients/P1/").status_code == 503


def test_the_outcomes_report_of_a_centre_is_logged() -> None:
    client = signed_in("manager.c01", "data_manager", "C01")
    assert client.get("/dashboard/").status_code == 200
    entry = the_only()
    assert (entry.action, entry.entity, entry.record_id, entry.centre_id) == (
        "report",
        "outcomes",
        "C01",
        "C01",
    )


def test_the_web_export_is_in_the_access_log_and_the_audit_trail() -> None:
    client = signed_in("manager.c01", "data_manager", "C01", address="10.0.0.8")
    assert client.get("/export/").status_code == 200
    assert reads() == []  # the page saying what the export holds is no export
    assert client.post("/export/").status_code == 200
    entry = the_only()
    assert (entry.action, entry.entity, entry.record_id) == ("export", "registry", "C01")
    assert (entry.centre_id, entry.address, entry.channel) == ("C01", "10.0.0.8", "page")
    audited = AuditEntry.objects.get(action="export")
    assert (audited.actor, audited.centre_id, audited.entity) == ("manager.c01", "C01", "registry")


def test_the_client_address_behind_the_https_proxy_is_the_one_it_appended(
    settings: Any,
) -> None:
    settings.AXES_IPWARE_META_PRECEDENCE_ORDER = ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR")
    settings.AXES_IPWARE_PROXY_COUNT = 1
    client = signed_in("doc.c01", "clinician", "C01", address="192.168.0.1")
    forged = "6.6.6.6, 203.0.113.9"
    assert client.get("/patients/P1/", HTTP_X_FORWARDED_FOR=forged).status_code == 200
    assert the_only().address == "203.0.113.9"


# ----------------------------------------------------------------- accounts and tokens
def test_sign_in_failed_sign_in_and_sign_out_are_logged_with_the_address() -> None:
    set_user(ADMIN, "doc.c01", "clinician", "C01", password=PASSWORD)
    client = Client(REMOTE_ADDR="10.9.9.9")
    client.post("/login/", {"username": "doc.c01", "password": "not-the-password"})
    failed = AccessEntry.objects.get(action="sign_in_failed")
    assert (failed.actor, failed.address, failed.role) == ("doc.c01", "10.9.9.9", "")
    assert "not-the-password" not in str(failed.__dict__)
    client.post("/login/", {"username": "doc.c01", "password": PASSWORD})
    signed = AccessEntry.objects.get(action="sign_in")
    assert (signed.actor, signed.role, signed.actor_centre_id) == ("doc.c01", "clinician", "C01")
    assert signed.address == "10.9.9.9"
    client.post("/logout/")
    out = AccessEntry.objects.get(action="sign_out")
    assert (out.actor, out.address) == ("doc.c01", "10.9.9.9")


def test_tokens_issued_and_revoked_are_logged() -> None:
    set_user(ADMIN, "api.c01", "clinician", "C01")
    user = get_user_model().objects.get(username="api.c01")
    ApiToken.issue(user, "robot")
    token = ApiToken.every.get(user=user)
    issued = AccessEntry.objects.get(action="token_issued")
    assert (issued.actor, issued.entity, issued.record_id) == ("api.c01", "api_tokens",
                                                               str(token.pk))  # fmt: skip
    assert (issued.query, issued.channel, issued.centre_id) == ("label=robot", "cli", None)
    ApiToken.every.filter(pk=token.pk).revoke()
    ApiToken.every.filter(pk=token.pk).revoke()  # already revoked: nothing more
    revoked = AccessEntry.objects.get(action="token_revoked")
    assert revoked.record_id == str(token.pk)


def test_a_token_issued_on_the_admin_page_is_logged_with_the_address() -> None:
    set_user(ADMIN, "api.c01", "clinician", "C01")
    admin = signed_in("root", "admin", None, address="10.2.2.2")
    answer = admin.post("/admin/tokens/", {"user": "api.c01", "label": "lab", "days": "5"})
    assert answer.status_code == 200
    issued = AccessEntry.objects.get(action="token_issued")
    assert (issued.channel, issued.address, issued.actor) == ("page", "10.2.2.2", "api.c01")


# ----------------------------------------------------------------- the page
@pytest.fixture
def logged() -> None:
    """Reads of C01's and C02's patients by their clinicians and by an administrator."""
    signed_in("doc.c01", "clinician", "C01").get("/patients/P1/")
    signed_in("doc.c02", "clinician", "C02").get("/patients/P2/")
    signed_in("boss", "admin", None, address="10.3.3.3").get("/patients/P1/")
    assert AccessEntry.objects.filter(actor="boss", action="view").exists()


def rows_of(client: Client, query: str = "") -> list[dict[str, str]]:
    answer = client.get(f"/access-log/?format=csv{'&' + query if query else ''}")
    assert answer.status_code == 200
    assert answer["Content-Disposition"].startswith("attachment;")
    return list(csv.DictReader(io.StringIO(answer.content.decode("utf-8"))))


def test_administrators_see_every_entry(logged: None) -> None:
    admin = signed_in("root", "admin", None)
    page = admin.get("/access-log/")
    assert page.status_code == 200
    assert b"doc.c02" in page.content
    read = {(r["actor"], r["record_id"]) for r in rows_of(admin, "action=view")}
    assert read == {("doc.c01", "P1"), ("doc.c02", "P2"), ("boss", "P1")}


def test_a_data_manager_sees_only_their_centres_part(logged: None) -> None:
    manager = signed_in("manager.c01", "data_manager", "C01")
    page = manager.get("/access-log/")
    assert page.status_code == 200
    assert b"doc.c01" in page.content
    assert b"boss" in page.content
    assert b"doc.c02" not in page.content
    rows = rows_of(manager)
    assert {r["record_id"] for r in rows if r["action"] == "view"} == {"P1"}
    assert all("doc.c02" not in r.values() for r in rows)


def test_another_centres_manager_cannot_see_entries_about_c01_data(logged: None) -> None:
    manager = signed_in("manager.c02", "data_manager", "C02")
    rows = rows_of(manager)
    assert {(r["actor"], r["record_id"]) for r in rows if r["action"] == "view"} == {
        ("doc.c02", "P2")
    }
    assert all(r["centre_id"] != "C01" for r in rows)
    page = manager.get("/access-log/?user=doc.c01")
    assert page.status_code == 200
    table = page.content.decode().partition("<tbody>")[2].partition("</tbody>")[0]
    assert "P1" not in table  # (not the whole page: a random token may hold "P1")
    assert "doc.c01" not in table


@pytest.mark.parametrize(("role", "centre"), [("clinician", "C01"), ("analyst", None)])
def test_clinicians_and_analysts_are_refused_the_page(
    logged: None, role: str, centre: str | None
) -> None:
    client = signed_in(f"someone.{role}", role, centre)
    for url in ("/access-log/", "/access-log/?format=csv"):
        answer = client.get(url)
        assert answer.status_code == 403
        assert b"doc.c01" not in answer.content
    assert b'href="/access-log/"' not in client.get("/audit/").content


def test_the_page_is_linked_for_administrators_and_data_managers() -> None:
    manager = signed_in("manager.c01", "data_manager", "C01")
    assert b'href="/access-log/"' in manager.get("/audit/").content


def test_filters_by_user_action_and_days(logged: None) -> None:
    manager = signed_in("manager.c01", "data_manager", "C01")
    assert {r["actor"] for r in rows_of(manager, "user=boss")} == {"boss"}
    assert {r["action"] for r in rows_of(manager, "action=sign_in")} == {"sign_in"}
    assert rows_of(manager, "since=2000-01-01&until=2000-12-31") == []
    assert rows_of(manager, "since=2000-01-01")  # up to today


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("since=2024-02-30", "since=&#x27;2024-02-30&#x27;: not a date"),
        ("until=tomorrow", "until=&#x27;tomorrow&#x27;: not a date"),
        ("action=peek", "action=&#x27;peek&#x27;: unknown action; allowed view"),
        ("since=2024-03-02&until=2024-03-01", "until=&#x27;2024-03-01&#x27;: before since"),
        ("format=xlsx", "format=&#x27;xlsx&#x27;: unknown; allowed html, csv"),
    ],
)
def test_bad_filters_are_answered_400_naming_field_and_value(query: str, message: str) -> None:
    manager = signed_in("manager.c01", "data_manager", "C01")
    answer = manager.get(f"/access-log/?{query}")
    assert answer.status_code == 400
    assert message in answer.content.decode("utf-8")


def test_the_csv_neutralises_formula_cells() -> None:
    Client(REMOTE_ADDR="10.0.0.1").post("/login/", {"username": "=cmd|' /C calc'!A0",
                                                    "password": "x"})  # fmt: skip
    admin = signed_in("root", "admin", None)
    answer = admin.get("/access-log/?format=csv&action=sign_in_failed")
    text = answer.content.decode("utf-8")
    assert "'=cmd|" in text
    assert "\n=cmd" not in text
    assert ",=cmd" not in text


# ----------------------------------------------------------------- the API
def token_client(username: str, role: str, centre: str | None, address: str) -> Client:
    set_user(ADMIN, username, role, centre)
    token = ApiToken.issue(get_user_model().objects.get(username=username), "test")
    return Client(REMOTE_ADDR=address, HTTP_AUTHORIZATION=f"Bearer {token}")


def test_an_api_item_read_writes_one_entry() -> None:
    client = token_client("api.c01", "clinician", "C01", "10.4.4.4")
    assert client.get("/api/lesions/P1-L1").status_code == 200
    entry = the_only(action="view")
    assert (entry.actor, entry.entity, entry.record_id) == ("api.c01", "lesions", "P1-L1")
    assert (entry.centre_id, entry.address, entry.channel) == ("C01", "10.4.4.4", "api")


def test_an_api_list_read_writes_one_entry_with_its_query() -> None:
    client = token_client("api.any", "analyst", None, "10.4.4.5")
    assert client.get("/api/assessments/?lesion_id=P1-L1&limit=5").status_code == 200
    entry = the_only(action="list")
    assert (entry.entity, entry.record_id) == ("assessments", "")
    assert entry.query == "lesion_id=P1-L1&limit=5"
    assert (entry.centre_id, entry.address, entry.channel) == ("C01", "10.4.4.5", "api")
    assert client.get("/api/patients/").status_code == 200
    assert reads(action="list", entity="patients")[0].centre_id is None  # several centres


def test_an_api_list_served_from_the_cache_is_logged_again() -> None:
    client = token_client("api.c01", "clinician", "C01", "10.4.4.6")
    assert client.get("/api/lesions/").status_code == 200
    assert client.get("/api/lesions/")["X-OpenECT-Cache"] == "hit"
    assert [e.entity for e in reads(action="list")] == ["lesions", "lesions"]


def test_api_reads_outside_the_scope_and_of_centres_are_not_logged() -> None:
    client = token_client("api.c02", "clinician", "C02", "10.4.4.7")
    assert client.get("/api/lesions/P1-L1").status_code == 404
    assert client.get("/api/centres/").status_code == 200
    assert reads(action__in=["view", "list"]) == []


def test_an_api_read_that_cannot_be_logged_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    client = token_client("api.c01", "clinician", "C01", "10.4.4.8")

    def broken(self: AccessEntry, *args: object, **kwargs: object) -> None:
        raise DatabaseError("disk full")

    monkeypatch.setattr(AccessEntry, "save", broken)
    answer = client.get("/api/lesions/P1-L1")
    assert answer.status_code == 503
    assert b"P1-L1" not in answer.content
