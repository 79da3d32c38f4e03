"""The worklist (the clinician's home page), finding a patient by hospital number, and the
patients' short labels on the pages.

Scope: another centre's user sees none of a centre's patients on the worklist and
cannot tell from the find page whether a hospital number is registered at another
centre; analysts have neither (403). Reads are in the access log; the hospital number is
never in a page, an address, the access log or the audit trail. Bad input is refused
(400) naming the field.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from openect.data.dataset import Dataset
from openect.data.models import Patient, Session
from openect.registry import pseudonym, services
from openect.registry.access import Actor
from openect.registry.accounts import set_user
from openect.registry.models import AccessEntry, AuditEntry, Role
from openect.registry.transfer import import_dataset
from openect.response.evaluation import LANDMARK_DAYS, LANDMARK_WINDOW_DAYS
from openect.response.follow_up import load_schedule
from openect.settings import get_settings

pytestmark = pytest.mark.django_db

ADMIN = Actor("admin", Role.ADMIN)
KEY = "test-pseudonym-key-" + "w" * 30
NUMBER = "MRN-424242"
FIND_QUERY = "find by hospital number (number not logged): {} found"


# ------------------------------------------------------------------ fixtures
@pytest.fixture
def key(monkeypatch: pytest.MonkeyPatch) -> bytes:
    monkeypatch.setenv(pseudonym.KEY_ENV, KEY)
    get_settings.cache_clear()
    return KEY.encode()


@pytest.fixture
def no_key(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    monkeypatch.delenv(pseudonym.KEY_ENV, raising=False)
    monkeypatch.setenv(pseudonym.KEY_FILE_ENV, f"{tmp_path}/missing.key")
    get_settings.cache_clear()


@pytest.fixture
def registry(dataset: Dataset) -> Dataset:
    """The small dataset: P1 (C01, alive), P2 (C02, deceased), numbered 1 each."""
    import_dataset(ADMIN, dataset)
    return dataset


def signed_in(username: str, role: str, centre: str | None) -> Client:
    set_user(ADMIN, username, role, centre)
    client = Client()
    user = get_user_model().objects.get(username=username)
    client.force_login(user)
    if role == "admin":
        try:
            from second_factor import verify_session
        except ImportError:  # no second factor asked for
            return client
        verify_session(client, user)
    return client


def text(response: object) -> str:
    body = html.unescape(response.content.decode())  # type: ignore[attr-defined]
    # without the random CSRF token, which may hold any short text by chance
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", body)


def main_part(response: object) -> str:
    body = text(response)
    return body[body.index("<main") : body.index("</main>")]


def today() -> dt.date:
    return timezone.localdate()


def days_ago(n: int) -> dt.date:
    return today() - dt.timedelta(days=n)


def add_patient(dataset: Dataset, patient_id: str, centre: str, **values: object) -> Patient:
    base = dataset.patients[0]
    patient = base.model_copy(
        update={
            "patient_id": patient_id,
            "centre_id": centre,
            "patient_number": None,
            "last_contact_date": None,
            **values,
        }
    )
    return services.create(ADMIN, patient)


def add_session(dataset: Dataset, patient_id: str, number: int, date: dt.date) -> Session:
    session = dataset.sessions[1].model_copy(  # intratumoural, no body size needed
        update={
            "session_id": f"{patient_id}-S{number}",
            "patient_id": patient_id,
            "session_number": number,
            "session_date": date,
        }
    )
    return services.record_session(ADMIN, session)[0]  # the last contact follows


@pytest.fixture
def clinic(registry: Dataset) -> Dataset:
    """Patients of C01 and C02 at every point of the follow-up schedule.

    C01: P1 (session 50 days ago: due), W3 (120 days ago: overdue), W4 (70 days ago,
    assessed 10 days ago: done), W5 (died after a session 50 days ago: not listed), W6
    (a session today). C02: W7 (session 50 days ago: due).
    """
    add_session(registry, "P1", 2, days_ago(50))
    add_patient(registry, "W3", "C01")
    add_session(registry, "W3", 1, days_ago(120))
    add_patient(registry, "W4", "C01")
    add_session(registry, "W4", 1, days_ago(70))
    services.create(
        ADMIN,
        registry.lesions[2].model_copy(
            update={"lesion_id": "W4-L1", "patient_id": "W4", "baseline_date": days_ago(71)}
        ),
    )
    services.create(
        ADMIN,
        registry.assessments[0].model_copy(
            update={
                "assessment_id": "W4-L1-V1",
                "lesion_id": "W4-L1",
                "assessment_date": days_ago(10),
            }
        ),
    )
    add_patient(registry, "W5", "C01")
    add_session(registry, "W5", 1, days_ago(50))
    services.update(ADMIN, Patient, "W5", {"death_date": days_ago(5), "death_cause": "melanoma"})
    add_patient(registry, "W6", "C01")
    add_session(registry, "W6", 1, today())
    add_patient(registry, "W7", "C02")
    add_session(registry, "W7", 1, days_ago(50))
    return registry


def section(page: str, heading_id: str) -> str:
    """The text of the worklist's section headed ``heading_id``."""
    start = page.index(f'id="{heading_id}"')
    end = page.find("</section>", start)
    return page[start:end]


# ------------------------------------------------------------------ the schedule
def test_the_follow_up_visit_is_the_landmark_of_the_analyses() -> None:
    (visit,) = load_schedule()
    assert visit.days == LANDMARK_DAYS
    assert visit.window_days == LANDMARK_WINDOW_DAYS
    assert visit.status == "to_verify"
    assert "Marty" in visit.source


# ------------------------------------------------------------------ worklist
def test_a_clinicians_home_is_the_worklist_of_their_centre(clinic: Dataset) -> None:
    doctor = signed_in("doc.c01", "clinician", "C01")
    response = doctor.get("/")
    assert response.status_code == 200
    page = main_part(response)
    assert "<h1>Worklist" in page
    sessions = section(page, "wl-sessions")
    assert 'href="/patients/W6/"' in sessions
    assert 'href="/sessions/W6-S1/record/"' in sessions
    assert "Today" in sessions
    due = section(page, "wl-due")
    assert 'href="/patients/P1/"' in due
    assert "C01-0001" in due
    assert 'href="/patients/W3/"' in due
    assert "20 days overdue" in due
    assert due.index("W3") < due.index("P1")  # overdue first
    assert "W4" not in due  # assessed in the window
    assert "W5" not in page  # deceased
    assert "to verify" in due  # the schedule's status
    recent = section(page, "wl-recent")
    assert 'href="/patients/P1/"' in recent
    # another centre's patients: nowhere
    assert "W7" not in text(response)
    assert "C02-" not in page
    # the same page at /worklist/, and linked from the menu
    assert main_part(doctor.get("/worklist/")) == page
    assert 'href="/worklist/"' in text(response)
    entry = AccessEntry.objects.filter(actor="doc.c01", action="list").latest("id")
    assert (entry.entity, entry.query, entry.centre_id) == ("patients", "worklist", "C01")


def test_another_centre_sees_only_its_own_worklist(clinic: Dataset) -> None:
    other = signed_in("doc.c02", "clinician", "C02")
    page = main_part(other.get("/"))
    assert 'href="/patients/W7/"' in section(page, "wl-due")
    for patient in ("P1", "W3", "W4", "W5", "W6"):
        assert f"/patients/{patient}/" not in page, patient
    assert "C01-" not in page


def test_the_worklist_by_role(clinic: Dataset) -> None:
    analyst = signed_in("ana", "analyst", None)
    assert analyst.get("/worklist/").status_code == 403
    assert "Worklist" not in text(analyst.get("/"))  # the patient list, no menu entry
    manager = signed_in("dm.c01", "data_manager", "C01")
    assert "<h1>Patients</h1>" in text(manager.get("/"))  # a data manager's home: the list
    assert "W3" in section(main_part(manager.get("/worklist/")), "wl-due")
    admin = signed_in("boss", "admin", None)
    due = section(main_part(admin.get("/worklist/")), "wl-due")
    assert "W3" in due
    assert "W7" in due


def test_the_worklist_takes_no_input_and_refuses_bad_requests(clinic: Dataset) -> None:
    doctor = signed_in("doc.c01", "clinician", "C01")
    assert doctor.get("/worklist/?page=-1&sort=nonsense").status_code == 200  # ignored
    assert doctor.get("/worklist/?q=%00").status_code == 400
    for method in ("post", "put", "delete"):
        assert getattr(doctor, method)("/worklist/").status_code == 405
    assert Client().get("/worklist/").status_code == 302  # sign-in first


def test_the_worklist_is_served_again_and_logged_again(clinic: Dataset) -> None:
    doctor = signed_in("doc.c01", "clinician", "C01")
    first = doctor.get("/worklist/")
    again = doctor.get("/worklist/")
    assert again["X-OpenECT-Cache"] == "hit"
    assert again.content == first.content
    entries = AccessEntry.objects.filter(actor="doc.c01", query="worklist")
    assert entries.count() == 2


# ------------------------------------------------------------------ find by hospital number
def test_a_patient_is_found_again_by_hospital_number(registry: Dataset, key: bytes) -> None:
    doctor = signed_in("doc.c01", "clinician", "C01")
    assert 'action="/patients/find/"' in text(doctor.get("/patients/"))
    assert 'action="/patients/find/"' in text(doctor.get("/"))
    registered = services.register_patient(
        Actor("doc.c01", Role.CLINICIAN, "C01"),
        NUMBER,
        registry.patients[0].model_dump(exclude={"patient_id", "patient_number"}),
        key=key,
    )
    response = doctor.post("/patients/find/", {"hospital_number": f"  {NUMBER.lower()} "})
    assert response.status_code == 302
    assert response["Location"] == f"/patients/{registered.patient_id}/"
    page = doctor.get(response["Location"])
    assert "found by hospital number" in text(page)
    assert "C01-0002" in text(page)  # the label beside the pseudonym
    entry = AccessEntry.objects.filter(actor="doc.c01", action="list").latest("id")
    assert entry.query == FIND_QUERY.format(1)
    everything = json.dumps(
        [list(AccessEntry.objects.values()), list(AuditEntry.objects.values())], default=str
    )
    assert NUMBER not in everything
    assert NUMBER.lower() not in everything


def test_another_centre_cannot_tell_a_number_is_registered(registry: Dataset, key: bytes) -> None:
    services.register_patient(
        ADMIN,
        NUMBER,
        registry.patients[0].model_dump(exclude={"patient_id", "patient_number"}),
        key=key,
    )
    other = signed_in("doc.c02", "clinician", "C02")
    registered = other.post("/patients/find/", {"hospital_number": NUMBER})
    unknown = other.post("/patients/find/", {"hospital_number": "MRN-NEVER-SEEN"})
    assert registered.status_code == unknown.status_code == 200
    assert main_part(registered) == main_part(unknown)
    assert "No patient of centre C02 is registered under this hospital number" in text(unknown)
    assert "PX-" not in main_part(registered)
    assert NUMBER not in text(registered)
    entry = AccessEntry.objects.filter(actor="doc.c02", action="list").latest("id")
    assert entry.query == FIND_QUERY.format(0)


def test_an_administrator_finds_the_number_at_each_centre(registry: Dataset, key: bytes) -> None:
    values = registry.patients[0].model_dump(exclude={"patient_id", "patient_number", "centre_id"})
    one = services.register_patient(ADMIN, NUMBER, {**values, "centre_id": "C01"}, key=key)
    two = services.register_patient(ADMIN, NUMBER, {**values, "centre_id": "C02"}, key=key)
    admin = signed_in("boss", "admin", None)
    page = main_part(admin.post("/patients/find/", {"hospital_number": NUMBER}))
    assert f"/patients/{one.patient_id}/" in page
    assert f"/patients/{two.patient_id}/" in page
    assert "C01-0002" in page
    assert "C02-0002" in page


def test_finding_by_hospital_number_refuses_bad_input(registry: Dataset, key: bytes) -> None:
    doctor = signed_in("doc.c01", "clinician", "C01")
    assert doctor.get("/patients/find/").status_code == 200
    for bad, message in (
        ("", "This field is required."),
        ("   ", "This field is required."),
        ("X" * 65, "Ensure this value has at most 64 characters"),
    ):
        response = doctor.post("/patients/find/", {"hospital_number": bad})
        assert response.status_code == 400, bad
        assert message in text(response), bad
        if bad.strip():
            assert bad not in text(response)  # never written back
    assert doctor.post("/patients/find/", {"hospital_number": "MRN\x00-1"}).status_code == 400
    assert doctor.put("/patients/find/").status_code == 405
    assert not AccessEntry.objects.filter(actor="doc.c01", query__startswith="find").exists()


def test_analysts_and_servers_without_a_key_do_not_find(registry: Dataset, no_key: None) -> None:
    analyst = signed_in("ana", "analyst", None)
    assert analyst.get("/patients/find/").status_code == 403
    assert analyst.post("/patients/find/", {"hospital_number": NUMBER}).status_code == 403
    doctor = signed_in("doc.c01", "clinician", "C01")
    assert 'action="/patients/find/"' not in text(doctor.get("/patients/"))
    assert "No pseudonymisation key is configured" in text(doctor.get("/patients/find/"))
    assert doctor.post("/patients/find/", {"hospital_number": NUMBER}).status_code == 503


def test_already_registered_links_the_patient_only_in_scope(registry: Dataset, key: bytes) -> None:
    doctor = signed_in("doc.c01", "clinician", "C01")
    values = {
        "sex": "F", "birth_year": "1960", "primary_tumour": "melanoma", "stage": "",
        "braf_status": "", "ecog": "", "visceral_metastases": "unknown",
        "last_contact_date": "", "death_date": "", "death_cause": "",
    }  # fmt: skip
    created = doctor.post("/patients/new/", {**values, "hospital_number": NUMBER})
    assert created.status_code == 302
    patient_id = created["Location"].strip("/").rsplit("/", 1)[-1]
    again = text(doctor.post("/patients/new/", {**values, "hospital_number": NUMBER}))
    assert "This hospital number is already registered" in again
    assert f'href="/patients/{patient_id}/"' in again
    assert "C01-0002" in again
    # a clinician of C02 registers the same number at C02: another person, no link to C01's
    other = signed_in("doc.c02", "clinician", "C02")
    first = other.post("/patients/new/", {**values, "hospital_number": NUMBER})
    assert first.status_code == 302
    assert patient_id not in first["Location"]


# ------------------------------------------------------------------ labels on the pages
def test_labels_stand_beside_the_pseudonym(registry: Dataset) -> None:
    doctor = signed_in("doc.c01", "clinician", "C01")
    listed = text(doctor.get("/patients/"))
    row = re.search(r'<th scope="row"><a href="/patients/P1/">(.*?)</a>', listed, re.S)
    assert row is not None
    assert re.sub(r"<[^>]+>|\s+", " ", row.group(1)).split() == ["C01-0001", "P1"]
    header = re.search(r"<h1>(.*?)</h1>", text(doctor.get("/patients/P1/")), re.S)
    assert header is not None
    assert re.sub(r"<[^>]+>|\s+", " ", header.group(1)).split() == ["Patient", "C01-0001", "P1"]
    assert "<title>Patient C01-0001" in text(doctor.get("/patients/P1/"))
    edit = text(doctor.get("/patients/P1/edit/"))
    assert re.search(r'name="patient_number"[^>]*disabled', edit)  # the registry's to give
    assert 'name="patient_number"' not in text(doctor.get("/patients/new/"))
