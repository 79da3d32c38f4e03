"""Voiding from the pages: a record entered in error is voided with a reason (what goes
with it shown first), listed among the patient's voided records and restored; the last
application of a session is undone in one tap; sessions and applications are edited
with a reason. Scope and bad input for each page."""

from __future__ import annotations

import html
from typing import Any

import pytest
from django.http import HttpResponse
from django.test import Client
from django.urls import reverse

from openect.data.dataset import Dataset
from openect.data.models import Application, Assessment, Session
from openect.registry import services
from openect.registry.access import Actor
from openect.registry.models import AuditEntry, Role, VoidedRecord
from openect.registry.transfer import import_dataset
from openect.web.pages.voiding import UNDO_REASON
from web_clients import add_session_p1_s2, signed_in

pytestmark = pytest.mark.django_db

ADMIN = Actor("admin", Role.ADMIN)


@pytest.fixture
def registry(dataset: Dataset) -> Dataset:
    """The small dataset plus P1's session P1-S2 (bolus ended at 10:00)."""
    import_dataset(ADMIN, dataset)
    add_session_p1_s2()
    return dataset


@pytest.fixture
def clinician(registry: Dataset) -> Client:
    return signed_in("dr.one", "clinician", "C01")


def text(response: HttpResponse) -> str:
    return html.unescape(response.content.decode())


VOID_SESSION = reverse("record-void", args=["P1", "sessions", "P1-S1"])
VOIDED = reverse("patient-voided", args=["P1"])
UNDO = reverse("application-undo", args=["P1-S2"])
NEW = reverse("application-new", args=["P1-S2"])


def application(time: str) -> dict[str, str]:
    return {
        "window": "standard",
        "lesion_id": "P1-L2",
        "time": time,
        "electrode": "hexagonal",
        "device_code": "",
        "voltage_v": "730",
        "pulses": "96",
        "frequency_hz": "5000",
        "pulse_duration_us": "100",
        "complete": "true",
    }


def test_void_a_session_shows_what_goes_then_voids_and_restores(clinician: Client) -> None:
    page = text(clinician.get(VOID_SESSION))
    assert "Void session of 2020-03-02 P1-S1" in page
    assert "applications P1-S1-A1" in page
    assert "adverse events AE1" in page
    refused = clinician.post(VOID_SESSION, {"reason": "  "})
    assert refused.status_code == 200
    assert "Reason: This field is required." in text(refused)
    assert services.count(ADMIN, Session, session_id="P1-S1") == 1  # nothing voided

    done = clinician.post(VOID_SESSION, {"reason": "recorded for the wrong patient"}, follow=True)
    assert done.redirect_chain[-1][0] == "/patients/P1/"
    assert "Voided session of" in text(done)
    assert "and 3 record(s) with it" in text(done)
    assert services.count(ADMIN, Session, session_id="P1-S1") == 0
    assert "P1-S1-A1" not in text(clinician.get("/patients/P1/"))
    entry = AuditEntry.objects.filter(action="void", record_id="P1-S1").get()
    assert (entry.actor, entry.reason) == ("dr.one", "recorded for the wrong patient")

    listed = text(clinician.get(VOIDED))
    assert "P1-S1" in listed
    assert "recorded for the wrong patient" in listed
    restore = reverse("record-unvoid", args=["P1", "sessions", "P1-S1"])
    assert clinician.post(restore, {"reason": ""}).status_code == 302
    assert services.count(ADMIN, Session, session_id="P1-S1") == 0  # no reason, no restore
    back = clinician.post(restore, {"reason": "it was the right patient"}, follow=True)
    assert "Restored session" in text(back)
    assert services.count(ADMIN, Application, session_id="P1-S1") == 2
    assert "No voided record." in text(clinician.get(VOIDED))


def test_the_edit_form_links_to_void(clinician: Client) -> None:
    page = text(clinician.get(reverse("assessment-edit", args=["P1", "P1-L1-V1"])))
    assert 'href="/patients/P1/void/assessments/P1-L1-V1/"' in page


def test_undo_voids_only_my_last_application(clinician: Client) -> None:
    assert clinician.post(NEW, application("10:12")).status_code == 302
    assert clinician.post(NEW, application("10:13")).status_code == 302
    page = text(clinician.get(reverse("session-record", args=["P1-S2"])))
    assert "Undo A2" in page
    done = clinician.post(UNDO, {"window": "standard", "application_id": "P1-S2-A2"}, follow=True)
    assert "Application P1-S2-A2 undone" in text(done)
    assert [
        a.application_id for a in services.list_records(ADMIN, Application, session_id="P1-S2")
    ] == ["P1-S2-A1"]
    assert VoidedRecord.objects.get(record_id="P1-S2-A2").reason == UNDO_REASON
    # one action only: a second tap does not void the one before
    again = clinician.post(UNDO, {"window": "standard"}, follow=True)
    assert "Nothing to undo" in text(again)
    assert services.count(ADMIN, Application, session_id="P1-S2") == 1
    # a new application does not take the voided one's number
    assert clinician.post(NEW, application("10:14")).status_code == 302
    assert services.count(ADMIN, Application, application_id="P1-S2-A3") == 1
    # another clinician of the centre has nothing of theirs to undo
    colleague = signed_in("dr.two", "clinician", "C01")
    assert "Nothing to undo" in text(colleague.post(UNDO, {}, follow=True))
    assert services.count(ADMIN, Application, session_id="P1-S2") == 2


def test_sessions_and_applications_are_edited_with_a_reason(clinician: Client) -> None:
    url = reverse("application-edit", args=["P1", "P1-S1-A1"])
    form = text(clinician.get(url))
    assert "Edit application P1-S1-A1" in form
    assert "Reason for the change" in form
    values = {
        "application_id": "P1-S1-A1",
        "session_id": "P1-S1",
        "lesion_id": "P1-L1",
        "time": "10:20",
        "electrode": "plate",
        "voltage_v": "1000",
        "pulses": "8",
        "frequency_hz": "5000",
        "pulse_duration_us": "100",
        "current_a": "2.1",
        "complete": "true",
        "reason": "current read off the generator log",
    }
    saved = clinician.post(url, values)
    assert saved.status_code == 302
    assert saved["Location"] == "/sessions/P1-S1/record/"
    assert services.get(ADMIN, Application, "P1-S1-A1").current_a == 2.1
    entry = AuditEntry.objects.filter(action="update", record_id="P1-S1-A1").latest("id")
    assert entry.reason == "current read off the generator log"
    bad = clinician.post(url, values | {"voltage_v": "1e309"})
    assert bad.status_code == 422
    assert services.get(ADMIN, Application, "P1-S1-A1").voltage_v == 1000
    session_form = text(clinician.get(reverse("session-edit", args=["P1", "P1-S1"])))
    assert "Edit session P1-S1" in session_form


@pytest.mark.parametrize(
    "url",
    [
        VOID_SESSION,
        VOIDED,
        reverse("session-edit", args=["P1", "P1-S1"]),
        reverse("application-edit", args=["P1", "P1-S1-A1"]),
    ],
)
def test_another_centre_finds_nothing(registry: Dataset, url: str) -> None:
    other = signed_in("dm.two", "data_manager", "C02")
    assert other.get(url).status_code == 404
    assert other.post(url, {"reason": "not mine"}).status_code in (404, 405)
    assert services.count(ADMIN, Session, session_id="P1-S1") == 1


def test_another_centre_cannot_restore_or_undo(clinician: Client) -> None:
    clinician.post(VOID_SESSION, {"reason": "wrong patient"})
    other = signed_in("dm.two", "data_manager", "C02")
    restore = reverse("record-unvoid", args=["P1", "sessions", "P1-S1"])
    assert other.post(restore, {"reason": "mine now"}).status_code == 404
    assert other.post(UNDO, {}).status_code == 404
    assert VoidedRecord.objects.filter(record_id="P1-S1").exists()


def test_an_analyst_may_not_void(registry: Dataset) -> None:
    analyst = signed_in("ana", "analyst")
    assert analyst.post(VOID_SESSION, {"reason": "no"}).status_code == 403
    assert services.count(ADMIN, Session, session_id="P1-S1") == 1


@pytest.mark.parametrize(
    ("url", "status"),
    [
        (reverse("record-void", args=["P1", "centres", "C01"]), 404),
        (reverse("record-void", args=["P1", "no_such_table", "x"]), 404),
        (reverse("record-void", args=["P1", "sessions", "P2-S1"]), 404),  # not P1's
        (reverse("record-void", args=["P1", "lesions", "P1-L1%27%3B--"]), 404),
        (reverse("record-unvoid", args=["P1", "sessions", "P1-S1"]), 404),  # not voided
    ],
)
def test_bad_addresses_are_refused(clinician: Client, url: str, status: int) -> None:
    assert clinician.post(url, {"reason": "x"}).status_code == status


def test_a_reason_too_long_is_refused_on_its_field(clinician: Client) -> None:
    url = reverse("record-void", args=["P1", "assessments", "P1-L1-V1"])
    refused = clinician.post(url, {"reason": "x" * 501})
    assert refused.status_code == 200
    assert "Ensure this value has at most 500 characters (it has 501)." in text(refused)
    assert services.count(ADMIN, Assessment, assessment_id="P1-L1-V1") == 1


# ------------------------------------------------------------------ the API
def api_for(username: str, role: str, centre: str | None = None) -> Any:
    from test_web_api import Api, user_with_token

    return Api(user_with_token(username, role, centre))


def test_the_api_voids_and_restores(registry: Dataset) -> None:
    api = api_for("doc.api", "clinician", "C01")
    body = {"table": "sessions", "record_id": "P1-S1", "reason": "wrong patient"}
    voided = api.post("/api/voids", body)
    assert voided.status_code == 200, voided.content
    assert voided.json()["records"][-1] == {"table": "sessions", "record_id": "P1-S1"}
    assert api.get("/api/sessions/P1-S1").status_code == 404
    assert api.post("/api/voids", body).status_code == 404  # gone already
    restored = api.post("/api/voids/restore", body | {"reason": "right patient"})
    assert restored.status_code == 200, restored.content
    assert restored.json()["records"][0] == {"table": "sessions", "record_id": "P1-S1"}
    assert api.get("/api/sessions/P1-S1").status_code == 200


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"table": "centres", "record_id": "C01", "reason": "x"}, 422),
        ({"table": "sessions", "record_id": "P1-S1"}, 422),  # no reason
        ({"table": "sessions", "record_id": "P1-S1", "reason": ""}, 422),
        ({"table": "sessions", "record_id": "P1-S1", "reason": "x" * 501}, 422),
        ({"table": "sessions", "record_id": "", "reason": "x"}, 422),
        ({"table": "sessions", "record_id": "P2-S1", "reason": "not mine"}, 404),
    ],
)
def test_the_api_refuses_bad_void_requests(
    registry: Dataset, body: dict[str, str], status: int
) -> None:
    api = api_for("doc.api", "clinician", "C01")
    response = api.post("/api/voids", body)
    assert response.status_code == status, response.content
    assert services.count(ADMIN, Session) == 3  # nothing voided


def test_the_api_lets_no_analyst_void(registry: Dataset) -> None:
    api = api_for("ana.api", "analyst")
    body = {"table": "sessions", "record_id": "P1-S1", "reason": "no"}
    assert api.post("/api/voids", body).status_code == 403
