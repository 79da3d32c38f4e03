"""The record forms speak clinical words: labels and help texts, choices in words, the
adverse event's term chosen from the CTCAE v5.0 list (or "Other, specify" with its words),
its grade with its meaning, and each EQ-5D-3L level with the questionnaire's sentence.

Django test client on the registry test database (see conftest.py): P1 belongs to centre
C01, P2 to C02.
"""

from __future__ import annotations

import html
import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from openect.data import enums
from openect.data.dataset import Dataset
from openect.data.models import ENTITIES, AdverseEvent, PatientReported
from openect.data.schema import columns
from openect.registry import services
from openect.registry.access import Actor
from openect.registry.accounts import set_user
from openect.registry.models import AuditEntry, Role
from openect.registry.transfer import import_dataset
from openect.web.pages.form_words import CHOICE_WORDS, LABELS

pytestmark = pytest.mark.django_db

ADMIN = Actor("admin", Role.ADMIN)
NEW_EVENT = "/patients/P1/adverse-events/new/"


@pytest.fixture
def registry(dataset: Dataset) -> Dataset:
    import_dataset(ADMIN, dataset)
    return dataset


def login(client: Client, username: str, centre: str) -> Client:
    set_user(ADMIN, username, "clinician", centre)
    client.force_login(get_user_model().objects.get(username=username))
    return client


@pytest.fixture
def clinician(client: Client, registry: Dataset) -> Client:
    return login(client, "doc.c01", "C01")


def page(client: Client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    return html.unescape(response.content.decode())


def label_of(body: str, name: str) -> str:
    found = re.search(rf'<label for="id_{name}"[^>]*>(.*?)</label>', body, re.S)
    assert found is not None, name
    return re.sub(r"<[^>]+>", "", found.group(1)).strip().rstrip(":")


def event(**changes: str) -> dict[str, str]:
    return {
        "event_id": "P1-AE2",
        "session_id": "P1-S1",
        "onset_date": "2020-03-04",
        "term": "Skin ulceration",
        "grade": "2",
        "serious": "false",
    } | changes


def writes() -> tuple[int, int]:
    return AuditEntry.objects.count(), services.count(ADMIN, AdverseEvent)


# ------------------------------------------------------------------ labels
def test_every_form_of_a_patient_speaks_clinical_words(clinician: Client) -> None:
    patient = page(clinician, "/patients/P1/edit/")
    assert label_of(patient, "braf_status") == "BRAF status"
    assert label_of(patient, "ecog") == "ECOG performance status (0-4)"
    assert label_of(patient, "death_cause") == "Cause of death"
    assert '<option value="scc_skin">cutaneous squamous cell carcinoma</option>' in patient
    lesion = page(clinician, "/patients/P1/lesions/new/")
    assert label_of(lesion, "longest_diameter_mm") == "Longest diameter (mm)"
    assert label_of(lesion, "baseline_date") == "Date of the baseline measurement"
    report = page(clinician, "/patients/P1/reports/new/")
    assert label_of(report, "pain_nrs") == "Pain (NRS 0-10)"
    assert label_of(report, "eq_vas") == "EQ VAS (0-100)"
    assert "0 = no pain, 10 = worst imaginable pain" in report
    therapy = page(clinician, "/patients/P1/therapies/new/")
    assert '<option value="anti_pd1">anti-PD-1</option>' in therapy
    plan = page(clinician, "/patients/P1/plan/")  # the session form of the session pages
    assert "Worst pain during the procedure (NRS 0-10)" in plan
    for body in (patient, lesion, report, therapy):
        for raw in ("Braf status", "Eq vas", "Eq5d", "Pain NRS<", "Ecog"):
            assert raw not in body, raw


def test_each_eq5d_3l_item_offers_the_meaning_of_its_levels(clinician: Client) -> None:
    report = page(clinician, "/patients/P1/reports/new/")
    assert label_of(report, "eq5d_mobility") == "EQ-5D-3L mobility"
    assert label_of(report, "eq5d_selfcare") == "EQ-5D-3L self-care"
    for option in (
        '<option value="1">1 – I have no problems in walking about</option>',
        '<option value="2">2 – I have some problems in walking about</option>',
        '<option value="3">3 – I am confined to bed</option>',
        '<option value="3">3 – I am unable to wash or dress myself</option>',
        '<option value="2">2 – I have moderate pain or discomfort</option>',
        '<option value="3">3 – I am extremely anxious or depressed</option>',
    ):
        assert option in report, option
    stored = page(clinician, "/patients/P1/reports/PR1/edit/")  # activity level 2
    select = re.search(r'<select name="eq5d_activity".*?</select>', stored, re.S)
    assert select is not None
    assert '<option value="2" selected>2 – I have some problems with performing' in (
        select.group(0)
    )


def test_a_report_saves_the_level_chosen_and_refuses_a_level_out_of_range(
    clinician: Client,
) -> None:
    values = {"report_id": "P1-PRO2", "report_date": "2020-05-01", "eq5d_mobility": "3"}
    assert clinician.post("/patients/P1/reports/new/", values).status_code == 302
    assert services.get(ADMIN, PatientReported, "P1-PRO2").eq5d_mobility == 3
    before = services.count(ADMIN, PatientReported)
    refused = clinician.post(
        "/patients/P1/reports/new/", {**values, "report_id": "P1-PRO3", "eq5d_mobility": "4"}
    )
    body = html.unescape(refused.content.decode())
    assert "EQ-5D-3L mobility: 4 is not an EQ-5D-3L mobility level; allowed: 1 to 3" in body
    assert services.count(ADMIN, PatientReported) == before


def test_the_words_belong_to_columns_and_values_of_the_data_model() -> None:
    known = {(record.table, c.name) for record in ENTITIES for c in columns(record)}
    assert set(LABELS) <= known, set(LABELS) - known
    for (enum_name, value), said in CHOICE_WORDS.items():
        assert value in {m.value for m in getattr(enums, enum_name)}, (enum_name, value)
        assert said.strip()


# ------------------------------------------------------------------ CTCAE terms
def test_the_term_is_a_ctcae_choice_by_organ_class_and_the_grade_says_its_meaning(
    clinician: Client,
) -> None:
    body = page(clinician, NEW_EVENT)
    assert label_of(body, "term") == "Adverse event (CTCAE v5.0 term)"
    term = re.search(r'<select name="term".*?</select>', body, re.S)
    assert term is not None
    assert '<optgroup label="Skin and subcutaneous tissue disorders">' in term.group(0)
    assert '<option value="Skin ulceration">Skin ulceration</option>' in term.group(0)
    assert '<option value="Other, specify">Other, specify</option>' in term.group(0)
    grade = re.search(r'<select name="grade".*?</select>', body, re.S)
    assert grade is not None
    for option in ("1 – Mild", "2 – Moderate", "3 – Severe", "4 – Life-threatening"):
        assert option in grade.group(0)
    assert '<option value="5">5 – Death</option>' in grade.group(0)
    assert label_of(body, "term_other") == "Other adverse event (specify)"


def test_a_listed_term_and_an_other_term_are_saved_as_the_one_term(clinician: Client) -> None:
    assert clinician.post(NEW_EVENT, event()).status_code == 302
    saved = services.get(ADMIN, AdverseEvent, "P1-AE2")
    assert (saved.term, saved.grade) == ("Skin ulceration", 2)
    entry = AuditEntry.objects.get(entity="adverse_events", record_id="P1-AE2")
    assert (entry.actor, entry.action) == ("doc.c01", "create")
    other = event(event_id="P1-AE3", term="Other, specify", term_other=" Electrode burn mark ")
    assert clinician.post(NEW_EVENT, other).status_code == 302
    assert services.get(ADMIN, AdverseEvent, "P1-AE3").term == "Electrode burn mark"
    typed = event(event_id="P1-AE4", term="Other, specify", term_other="PRURITUS")
    assert clinician.post(NEW_EVENT, typed).status_code == 302
    assert services.get(ADMIN, AdverseEvent, "P1-AE4").term == "Pruritus"  # the list's term


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"term": "Other, specify"}, "Other adverse event (specify): required with 'Other, "
         "specify': the adverse event in words"),
        ({"term": "Skin ulceration", "term_other": "blister"}, "'blister' given with the "
         "CTCAE term 'Skin ulceration'; leave it empty, or choose 'Other, specify'"),
        ({"term": "Cardiac arrhythmia"}, "Adverse event (CTCAE v5.0 term): Cardiac arrhythmia "
         "is not a CTCAE v5.0 term of this list"),
        ({"grade": "7"}, "CTCAE grade: 7 is not a CTCAE grade; allowed: 1 to 5"),
        ({"grade": ""}, "CTCAE grade: This field is required."),
    ],
)  # fmt: skip
def test_a_bad_term_or_grade_is_named_and_nothing_is_written(
    clinician: Client, changes: dict[str, str], message: str
) -> None:
    before = writes()
    response = clinician.post(NEW_EVENT, event(**changes))
    assert response.status_code == 422  # the form again, with the problem (as every form)
    body = html.unescape(response.content.decode())
    assert message in body
    assert 'role="alert"' in body
    assert writes() == before


def test_an_event_recorded_in_words_stays_readable_and_editable(clinician: Client) -> None:
    services.create(
        ADMIN,
        AdverseEvent(
            event_id="P1-AE9", patient_id="P1", onset_date="2020-03-05",
            term="erythema around the electrode marks", grade=1,
        ),
    )  # fmt: skip
    form = page(clinician, "/patients/P1/adverse-events/P1-AE9/edit/")
    assert '<option value="Other, specify" selected>' in form
    assert 'value="erythema around the electrode marks"' in form
    listed = page(clinician, "/patients/P1/adverse-events/AE1/edit/")  # "Pain": listed
    assert '<option value="Pain" selected>' in listed
    assert 'name="term_other"' in listed
    assert 'value="Pain"' not in listed.split("term_other")[1]
    values = event(
        event_id="P1-AE9", session_id="", term="Other, specify",
        term_other="erythema around the electrode marks", grade="2",
        onset_date="2020-03-05", reason="graded again at follow-up",
    )  # fmt: skip
    response = clinician.post("/patients/P1/adverse-events/P1-AE9/edit/", values)
    assert response.status_code == 302
    saved = services.get(ADMIN, AdverseEvent, "P1-AE9")
    assert (saved.term, saved.grade) == ("erythema around the electrode marks", 2)


def test_another_centre_gets_no_adverse_event_form_of_c01(
    client: Client, registry: Dataset
) -> None:
    other = login(client, "doc.c02", "C02")
    assert other.get("/patients/P1/adverse-events/AE1/edit/").status_code == 404
    assert other.get(NEW_EVENT).status_code == 404
    before = writes()
    assert other.post(NEW_EVENT, event()).status_code == 404
    assert writes() == before
    assert other.get("/patients/P2/adverse-events/new/").status_code == 200  # its own
