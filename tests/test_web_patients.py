"""Patient pages of the web application: scope, body map, timeline, forms, HTTP methods.

Runs with the Django test client on the registry test database (see conftest.py). The
live response of the follow-up form is an API route (tests/test_web_api_response.py).
"""

from __future__ import annotations

import html
import json
import math
import re
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.http import HttpResponse
from django.test import Client
from django.test.utils import CaptureQueriesContext

from openect.data.dataset import Dataset
from openect.data.enums import BodySite
from openect.data.models import Assessment, Lesion, Patient, SystemicTherapy
from openect.registry import pseudonym, services
from openect.registry.access import Actor
from openect.registry.accounts import set_user
from openect.registry.models import AuditEntry, Role
from openect.registry.transfer import import_dataset
from openect.settings import get_settings
from openect.web.pages import bodymap
from openect.web.pages.bodymap import LesionMark

pytestmark = pytest.mark.django_db

ADMIN = Actor("admin", Role.ADMIN)
KEY = "test-pseudonym-key-" + "k" * 30


# ------------------------------------------------------------------ fixtures
@pytest.fixture
def registry(dataset: Dataset) -> Dataset:
    """The small dataset: P1 (centre C01, two treated lesions), P2 (C02)."""
    import_dataset(ADMIN, dataset)
    return dataset


def login(client: Client, username: str, role: str, centre: str | None = None) -> Client:
    set_user(ADMIN, username, role, centre)
    client.force_login(get_user_model().objects.get(username=username))
    return client


@pytest.fixture
def clinician(client: Client, registry: Dataset) -> Client:
    return login(client, "doc.c01", "clinician", "C01")


@pytest.fixture
def analyst(client: Client, registry: Dataset) -> Client:
    return login(client, "ana", "analyst")


@pytest.fixture
def no_key(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.delenv(pseudonym.KEY_ENV, raising=False)
    monkeypatch.setenv(pseudonym.KEY_FILE_ENV, str(tmp_path / "missing.key"))
    get_settings.cache_clear()  # read again (a record validated before read today's zone)


@pytest.fixture
def with_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(pseudonym.KEY_ENV, KEY)
    get_settings.cache_clear()


def text(response: HttpResponse) -> str:
    return html.unescape(response.content.decode())


def circles(page: str) -> dict[str, tuple[str, float, float, float]]:
    """Lesion id -> (category, x, y, r) of every lesion circle of the body map."""
    out = {}
    for match in re.finditer(r"<circle class=\"bm-lesion response-(\w+)\"([^>]*)>", page):
        attrs = dict(re.findall(r'([\w-]+)="([^"]*)"', match.group(2)))
        out[attrs["data-lesion"]] = (
            match.group(1),
            float(attrs["cx"]),
            float(attrs["cy"]),
            float(attrs["r"]),
        )
    return out


def add_regrowth(lesion_id: str = "P1-L2", size: float = 60.0) -> None:
    """A measurement of P1-L2 well above its nadir: PD by RECIST and WHO."""
    services.create(
        ADMIN,
        Assessment(
            assessment_id=f"{lesion_id}-V9",
            lesion_id=lesion_id,
            assessment_date="2020-06-01",
            longest_diameter_mm=size,
            perpendicular_diameter_mm=size - 10,
        ),
    )


# ------------------------------------------------------------------ access
@pytest.mark.parametrize(
    "url",
    [
        "/",
        "/patients/",
        "/patients/new/",
        "/patients/P1/",
        "/patients/P1/lesions/P1-L1/",
        "/patients/P1/lesions/new/",
    ],
)
def test_unauthenticated_requests_go_to_the_sign_in_page(
    client: Client, registry: Dataset, url: str
) -> None:
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")


def test_a_clinician_lists_only_own_centre_and_other_centres_look_absent(clinician: Client) -> None:
    page = clinician.get("/")
    assert page.status_code == 200
    # Without the random CSRF token, which may hold "P2" by chance.
    body = re.sub(r'name="csrfmiddlewaretoken" value="\w+"', "", text(page))
    assert 'href="/patients/P1/"' in body
    assert "P2" not in body
    assert "New patient" in body
    for url in (
        "/patients/P2/",
        "/patients/P2/edit/",
        "/patients/P2/lesions/P2-L1/",
        "/patients/P1/lesions/P2-L1/",
        "/patients/P2/lesions/new/",
    ):
        assert clinician.get(url).status_code == 404, url
    assert clinician.get("/patients/?q=P2").status_code == 200
    assert 'href="/patients/P2/"' not in text(clinician.get("/patients/?q=P2"))


def test_an_analyst_sees_every_centre_and_changes_nothing(analyst: Client) -> None:
    body = text(analyst.get("/?status=all"))
    assert 'href="/patients/P1/"' in body
    assert 'href="/patients/P2/"' in body  # deceased: shown when asked for
    assert 'href="/patients/P2/"' not in text(analyst.get("/"))
    assert "New patient" not in body
    assert 'action="/patients/find/"' not in body  # analysts work on pseudonyms only
    page = text(analyst.get("/patients/P2/"))
    assert "Edit patient" not in page
    assert "Add lesion" not in page
    assert analyst.get("/patients/P1/edit/").status_code == 403
    assert analyst.get("/patients/P1/lesions/new/").status_code == 403
    assert analyst.get("/patients/new/").status_code == 403


def test_the_list_shows_counts_and_best_response_and_filters(analyst: Client) -> None:
    body = text(analyst.get("/"))
    row = re.search(r"<tr>\s*<th scope=\"row\"><a href=\"/patients/P1/\">.*?</tr>", body, re.S)
    assert row is not None
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row.group(0), re.S)
    assert cells[:5] == ["C01", "F", "1950", "melanoma", "IIIC"]
    assert cells[5:7] == ["2", "1"]  # lesions, sessions
    assert "2021-06-01" in cells[7]
    assert 'class="badge PR"' in cells[8]  # best: L1 CR, L2 PR (override) -> PR

    def listed(query: str) -> set[str]:
        page = text(analyst.get("/patients/?" + query))
        return set(re.findall(r'<a href="/patients/(P\d)/">', page))

    assert listed("q=p1") == {"P1"}
    assert listed("centre=C02") == set()  # P2 died: the living by default
    assert listed("centre=C02&status=all") == {"P2"}
    assert listed("status=deceased") == {"P2"}
    assert listed("status=alive&tumour=melanoma") == {"P1"}
    assert listed("immunotherapy=yes&status=all") == {"P1"}
    assert listed("immunotherapy=no&status=all") == {"P2"}
    assert listed("tumour=breast") == set()
    assert listed("centre=nonsense&sort=recent&status=all") == {"P1", "P2"}  # invalid: ignored
    assert listed("status=nonsense") == {"P1"}  # invalid: the default, the living
    # the label (C01-0001: P1 is C01's first patient) finds the patient too
    assert listed("q=C01-0001&status=all") == {"P1"}
    assert listed("q=0001&status=all") == {"P1", "P2"}  # each centre's first
    assert listed("q=c02-1&status=all") == {"P2"}
    assert "C01-0001" in row.group(0)


def test_the_list_runs_a_fixed_number_of_queries_whatever_the_page_size(
    analyst: Client, dataset: Dataset
) -> None:
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert analyst.get("/").status_code == 200
        return len(captured.captured_queries)

    few = queries()
    base = dataset.patients[0]
    for n in range(3, 23):
        services.create(ADMIN, base.model_copy(update={"patient_id": f"P{n}"}))
        services.create(
            ADMIN,
            dataset.lesions[0].model_copy(update={"lesion_id": f"P{n}-L1", "patient_id": f"P{n}"}),
        )
    many = queries()
    assert many == few
    assert text(analyst.get("/?status=all")).count('<th scope="row"><a href="/patients/') == 22


def test_the_list_is_paginated(analyst: Client, dataset: Dataset) -> None:
    base = dataset.patients[0]
    for n in range(3, 30):
        services.create(ADMIN, base.model_copy(update={"patient_id": f"Q{n:02d}"}))
    first = text(analyst.get("/patients/?q=Q"))
    assert "page 1 of 2" in first
    assert first.count('<th scope="row">') == 25
    second = text(analyst.get("/patients/?q=Q&page=2"))
    assert second.count('<th scope="row">') == 2
    assert 'href="?q=Q&page=1"' in second


# ------------------------------------------------------------------ patient page
def test_the_body_map_draws_one_circle_per_lesion_coloured_by_current_response(
    clinician: Client,
) -> None:
    add_regrowth()  # P1-L2: latest assessment PD; P1-L1: latest 0 mm, CR
    page = clinician.get("/patients/P1/")
    assert page.status_code == 200
    body = text(page)
    drawn = circles(body)
    assert set(drawn) == {"P1-L1", "P1-L2"}
    assert drawn["P1-L1"][0] == "CR"
    assert drawn["P1-L2"][0] == "PD"
    svg = re.search(r"<svg[^>]*>", body)
    assert svg is not None
    assert 'role="img"' in svg.group(0)
    assert "aria-label=" in svg.group(0)
    assert "<title>Body map of patient P1" in body
    # both lesions are on the patient's left leg: the viewer's right of the front view
    for _, x, y, _ in drawn.values():
        assert x > bodymap.MIDLINE
        assert y > 250
    (_, x1, y1, r1), (_, x2, y2, r2) = drawn["P1-L1"], drawn["P1-L2"]
    assert math.hypot(x1 - x2, y1 - y2) >= r1 + r2
    assert r2 > r1  # 35 mm vs 12 mm
    # links to the lesion pages, and the accessible table of the same lesions
    assert 'href="/patients/P1/lesions/P1-L2/"' in body
    table = re.search(r'<table class="pt-lesion-table".*?</table>', body, re.S)
    assert table is not None
    assert "<caption>" in table.group(0)
    rows = re.findall(r"<tr data-href[^>]*>(.*?)</tr>", table.group(0), re.S)
    assert len(rows) == 2
    assert "lower limb left" in rows[0]
    assert "12 × 9.5\u00a0mm" in rows[0]
    assert "badge CR" in rows[0]
    assert "badge PD" in rows[1]
    assert "yes, 2020-06-01" in re.sub(r"<[^>]+>", "", rows[1])  # local progression


def test_the_patient_page_has_the_timeline_and_the_links(clinician: Client) -> None:
    body = text(clinician.get("/patients/P1/"))
    timeline = body[body.index('<ol class="pt-timeline">') :]
    for expected in (
        "ECT session 1",
        "bleomycin, intravenous, 25\u202f500\u00a0IU (15\u202f000\u00a0IU/m²)",
        "Assessment of L1",
        "6 × 4\u00a0mm (caliper)",
        "Systemic therapy: anti pd1 (pembrolizumab)",
        "2020-02-01 to ongoing",
        "Adverse event: Pain",
        "CTCAE grade 2",
        "Patient-reported outcome",
        "pain NRS 5/10, EQ-VAS 70/100",
    ):
        assert expected in timeline, expected
    dates = re.findall(r'<time datetime="([\d-]+)">', timeline)
    assert dates == sorted(dates, reverse=True)  # newest first
    assert "override; derived" in timeline  # P1-L2-V1 is an override PR
    for url in (
        "/patients/P1/edit/",
        "/patients/P1/lesions/new/",
        "/patients/P1/assessments/new/",
        "/patients/P1/adverse-events/new/",
        "/patients/P1/reports/new/",
    ):
        assert f'href="{url}"' in body, url
    from django.urls import reverse

    assert f'href="{reverse("session-plan", args=["P1"])}"' in body
    assert f'href="{reverse("record-audit", args=["patients", "P1"])}"' in body


def test_who_criteria_can_be_chosen(clinician: Client) -> None:
    body = text(clinician.get("/patients/P1/?criteria=who"))
    assert '<strong aria-current="true">WHO' in body
    assert circles(body)["P1-L1"][0] == "CR"


def test_an_override_hidden_from_analysts_still_counts(analyst: Client) -> None:
    drawn = circles(text(analyst.get("/patients/P1/")))
    assert drawn["P1-L2"][0] == "PR"  # override PR, its reason blanked for analysts
    lesion = text(analyst.get("/patients/P1/lesions/P1-L2/"))
    assert "necrotic centre" not in lesion


def test_the_lesion_page_lists_assessments_with_their_responses(clinician: Client) -> None:
    body = text(clinician.get("/patients/P1/lesions/P1-L1/"))
    assert "Lesion P1-L1" in body
    assert "P1-L1-V1" in body
    assert "P1-L1-V2" in body
    assert "-50\u00a0%" in body  # 6 mm vs 12 mm baseline
    assert 'href="/patients/P1/assessments/new/?lesion=P1-L1"' in body
    assert "linear:N-10-4B" in body


# ------------------------------------------------------------------ forms
def lesion_form(**changes: Any) -> dict[str, Any]:
    values = {
        "lesion_id": "P1-L3",
        "body_site": "trunk_anterior",
        "layer": "cutaneous",
        "baseline_date": "2020-03-01",
        "longest_diameter_mm": "14",
        "perpendicular_diameter_mm": "10",
        "thickness_mm": "",
        "ulcerated": "true",
        "bleeding": "unknown",
        "previously_irradiated": "false",
        "symptoms": ["pain", "odour"],
    }
    values.update(changes)
    return values


def test_a_lesion_is_created_through_the_form_and_audited(clinician: Client) -> None:
    form = clinician.get("/patients/P1/lesions/new/")
    assert form.status_code == 200
    body = text(form)
    assert 'value="P1-L3"' in body  # suggested id
    assert 'name="csrfmiddlewaretoken"' in body
    assert '<label for="id_body_site"' in body
    response = clinician.post("/patients/P1/lesions/new/", lesion_form(), follow=True)
    assert response.redirect_chain[-1][0] == "/patients/P1/lesions/P1-L3/"
    assert "Lesion P1-L3 added." in text(response)
    lesion = services.get(ADMIN, Lesion, "P1-L3")
    assert lesion.symptoms == ["pain", "odour"]
    assert lesion.ulcerated is True
    assert lesion.bleeding is None
    entry = AuditEntry.objects.get(entity="lesions", record_id="P1-L3")
    assert (entry.actor, entry.role, entry.action) == ("doc.c01", "clinician", "create")
    drawn = circles(text(clinician.get("/patients/P1/")))
    assert drawn["P1-L3"][0] == "NE"  # not treated yet: grey


def test_a_bad_value_re_renders_the_form_with_the_cli_wording_and_writes_nothing(
    clinician: Client,
) -> None:
    before = (AuditEntry.objects.count(), services.count(ADMIN, Lesion))
    response = clinician.post(
        "/patients/P1/lesions/new/", lesion_form(perpendicular_diameter_mm="600")
    )
    assert response.status_code == 422
    body = text(response)
    assert "out of range; allowed: > 0 and <= 500 mm" in body
    assert 'role="alert"' in body
    field = re.search(r'<input[^>]*name="perpendicular_diameter_mm"[^>]*>', body)
    assert field is not None
    assert 'aria-invalid="true"' in field.group(0)
    assert (AuditEntry.objects.count(), services.count(ADMIN, Lesion)) == before


def test_the_patient_id_comes_from_the_url(clinician: Client) -> None:
    clinician.post("/patients/P1/lesions/new/", lesion_form(patient_id="P2"))
    assert services.get(ADMIN, Lesion, "P1-L3").patient_id == "P1"


def assessment_form(**changes: Any) -> dict[str, Any]:
    values = {
        "assessment_id": "P1-L1-V3",
        "lesion_id": "P1-L1",
        "assessment_date": "2020-06-01",
        "longest_diameter_mm": "0",
        "perpendicular_diameter_mm": "0",
        "method": "caliper",
        "assessor": "",
        "override_response": "",
        "override_reason": "",
    }
    values.update(changes)
    return values


def test_an_assessment_is_saved_and_its_response_derived_by_the_server(
    clinician: Client,
) -> None:
    form = text(clinician.get("/patients/P1/assessments/new/?lesion=P1-L1"))
    assert 'value="P1-L1-V3"' in form
    assert 'data-preview-url="/api/lesions/__lesion__/response-preview"' in form
    assert "web/patients-followup.js" in form
    assert 'aria-live="polite"' in form
    response = clinician.post(
        "/patients/P1/assessments/new/",
        assessment_form(assessment_id="P1-L2-V2", lesion_id="P1-L2", longest_diameter_mm="60",
                        perpendicular_diameter_mm="50"),
        follow=True,
    )  # fmt: skip
    assert response.redirect_chain[-1][0] == "/patients/P1/lesions/P1-L2/"
    body = text(response)
    assert "Assessment P1-L2-V2 saved. Response RECIST: PD; WHO: PD." in body
    entry = AuditEntry.objects.get(entity="assessments", record_id="P1-L2-V2")
    assert entry.actor == "doc.c01"
    assert circles(text(clinician.get("/patients/P1/")))["P1-L2"][0] == "PD"


def test_an_override_needs_a_reason(clinician: Client) -> None:
    response = clinician.post(
        "/patients/P1/assessments/new/", assessment_form(override_response="PD")
    )
    assert response.status_code == 422
    assert "an override response is honoured only with the reason for it" in text(response)
    assert services.count(ADMIN, Assessment, assessment_id="P1-L1-V3") == 0
    response = clinician.post(
        "/patients/P1/assessments/new/",
        assessment_form(override_response="PD", override_reason="new nodule in the field"),
        follow=True,
    )
    assert "RECIST: PD (override; derived CR)" in text(response)


def test_an_assessment_is_edited_with_a_reason_for_the_audit(clinician: Client) -> None:
    url = "/patients/P1/assessments/P1-L1-V1/edit/"
    body = text(clinician.get(url))
    assert 'data-editing="P1-L1-V1"' in body
    assert 'value="2020-04-05"' in body  # ISO date for <input type=date>
    response = clinician.post(
        url,
        assessment_form(assessment_id="ignored", assessment_date="2020-04-05",
                        longest_diameter_mm="7", perpendicular_diameter_mm="5",
                        reason="transcription error"),
    )  # fmt: skip
    assert response.status_code == 302
    entry = AuditEntry.objects.filter(entity="assessments", record_id="P1-L1-V1").last()
    assert entry is not None
    assert entry.action == "update"
    assert entry.reason == "transcription error"
    assert entry.actor == "doc.c01"
    assert services.get(ADMIN, Assessment, "P1-L1-V1").longest_diameter_mm == 7.0


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("/patients/P1/lesions/P1-L1/edit/", 'value="pain" id="id_symptoms_0" checked'),
        ("/patients/P1/assessments/P1-L2-V1/edit/", "necrotic centre confirmed by ultrasound"),
        ("/patients/P1/adverse-events/AE1/edit/", '<option value="P1-S1" selected>'),
        ("/patients/P1/reports/PR1/edit/", 'value="70"'),
        ("/patients/P1/therapies/T1/edit/", 'value="pembrolizumab"'),
    ],
)
def test_every_record_has_an_edit_form_with_its_values(
    clinician: Client, url: str, expected: str
) -> None:
    response = clinician.get(url)
    assert response.status_code == 200
    body = text(response)
    assert expected in body
    assert 'name="reason"' in body
    assert clinician.get(url.replace("/P1/", "/P2/")).status_code == 404


def test_records_of_another_patient_look_absent(
    clinician: Client, client: Client, dataset: Dataset
) -> None:
    other = dataset.patients[0].model_copy(update={"patient_id": "P3"})
    services.create(ADMIN, other)
    assert clinician.get("/patients/P3/lesions/P1-L1/edit/").status_code == 404
    assert clinician.get("/patients/P3/assessments/P1-L1-V1/edit/").status_code == 404
    assert clinician.get("/patients/P3/lesions/P1-L1/").status_code == 404


def test_adverse_events_reports_and_therapies_are_added(clinician: Client) -> None:
    response = clinician.post(
        "/patients/P1/adverse-events/new/",
        {"event_id": "P1-AE2", "session_id": "P1-S1", "onset_date": "2020-03-04",
         "term": "Skin ulceration", "grade": "3", "serious": "true"},
    )  # fmt: skip
    assert response.status_code == 302
    response = clinician.post(
        "/patients/P1/reports/new/",
        {"report_id": "P1-PRO2", "report_date": "2020-05-01", "pain_nrs": "2", "eq_vas": "80"},
    )
    assert response.status_code == 302
    response = clinician.post(
        "/patients/P1/therapies/new/",
        {"therapy_id": "P1-T2", "agent_class": "braf_mek", "agent": "dabrafenib",
         "start_date": "2021-01-01", "end_date": "2021-03-01"},
    )  # fmt: skip
    assert response.status_code == 302
    body = text(clinician.get("/patients/P1/"))
    assert "Adverse event: Skin ulceration" in body
    assert "grade 3, serious" in body
    assert "pain NRS 2/10, EQ-VAS 80/100" in body
    assert "2021-01-01 to 2021-03-01" in body
    response = clinician.post(
        "/patients/P1/reports/new/",
        {"report_id": "P1-PRO3", "report_date": "2020-05-01", "pain_nrs": "11"},
    )
    assert "out of range; allowed: 0 to 10" in text(response)


def test_a_patient_is_edited_and_a_clinician_cannot_move_them_to_another_centre(
    clinician: Client,
) -> None:
    body = text(clinician.get("/patients/P1/edit/"))
    assert 'value="2021-06-01"' in body
    values = {
        "patient_id": "P1", "centre_id": "C02", "sex": "F", "birth_year": "1950",
        "primary_tumour": "melanoma", "stage": "IIIC", "braf_status": "mutant", "ecog": "2",
        "visceral_metastases": "false", "last_contact_date": "2021-06-01",
        "reason": "ECOG corrected",
    }  # fmt: skip
    assert clinician.post("/patients/P1/edit/", values).status_code == 302
    patient = services.get(ADMIN, Patient, "P1")
    assert patient.ecog == 2
    assert patient.centre_id == "C01"
    entry = AuditEntry.objects.filter(entity="patients", record_id="P1").last()
    assert entry is not None
    assert entry.reason == "ECOG corrected"
    response = clinician.post("/patients/P1/edit/", {**values, "stage": "IIIZ"})
    assert "not an AJCC stage group" in text(response)


PATIENT = {
    "sex": "M", "birth_year": "1961", "primary_tumour": "melanoma", "stage": "IIIB",
    "braf_status": "", "ecog": "", "visceral_metastases": "unknown",
    "last_contact_date": "", "death_date": "", "death_cause": "",
}  # fmt: skip


def test_a_patient_is_registered_by_hospital_number_never_shown_again(
    client: Client, registry: Dataset, with_key: None
) -> None:
    login(client, "doc.c01", "clinician", "C01")
    form = text(client.get("/patients/new/"))
    assert 'name="hospital_number"' in form
    assert 'name="patient_id"' not in form
    number = "MRN-000123"
    response = client.post("/patients/new/", {**PATIENT, "hospital_number": number}, follow=True)
    expected = pseudonym.pseudonym(number, "C01", KEY.encode())
    assert response.redirect_chain[-1][0] == f"/patients/{expected}/"
    assert number not in text(response)
    assert services.get(ADMIN, Patient, expected).centre_id == "C01"
    entries = AuditEntry.objects.filter(record_id=expected)
    assert [e.actor for e in entries] == ["doc.c01"]
    assert number not in json.dumps([e.after for e in entries])
    again = client.post("/patients/new/", {**PATIENT, "hospital_number": number})
    assert again.status_code == 422
    assert "this hospital number is already registered" in text(again)
    assert f'href="/patients/{expected}/"' in text(again)  # a link to the patient
    assert "C01-0002" in text(again)  # their label: C01's second patient
    assert number not in text(again)  # not written back into the form
    bad = client.post(
        "/patients/new/", {**PATIENT, "hospital_number": "MRN-9", "birth_year": "1800"}
    )
    assert "out of range; allowed: 1900 to 2100" in text(bad)
    assert "MRN-9" not in text(bad)


def test_without_a_key_a_data_manager_types_the_id_and_a_clinician_is_told_why(
    client: Client, registry: Dataset, no_key: None
) -> None:
    login(client, "doc.c01", "clinician", "C01")
    body = text(client.get("/patients/new/"))
    assert "No pseudonymisation key is configured" in body
    assert '<form method="post" novalidate' not in body
    assert client.post("/patients/new/", {**PATIENT, "patient_id": "P9"}).status_code == 200
    assert services.count(ADMIN, Patient, patient_id="P9") == 0
    login(client, "dm.c01", "data_manager", "C01")
    body = text(client.get("/patients/new/"))
    assert 'name="patient_id"' in body
    assert 'name="hospital_number"' not in body
    outside = text(client.post("/patients/new/", {**PATIENT, "patient_id": "P9"}))
    assert "must begin with 'C01-' (its centre id)" in outside
    assert services.count(ADMIN, Patient, patient_id="P9") == 0
    response = client.post(
        "/patients/new/", {**PATIENT, "patient_id": "C01-P9", "centre_id": "C02"}, follow=True
    )
    assert response.redirect_chain[-1][0] == "/patients/C01-P9/"
    assert services.get(ADMIN, Patient, "C01-P9").centre_id == "C01"
    assert AuditEntry.objects.get(record_id="C01-P9").actor == "dm.c01"
    assert 'href="/patients/C01-P9/"' in text(client.get("/"))
    numbered = client.post("/patients/new/", {**PATIENT, "patient_id": ""}, follow=True)
    assert numbered.redirect_chain[-1][0] == "/patients/C01-P1/"


# ------------------------------------------------------------------ HTTP methods
#: Every patient page (URL name -> example arguments) and the methods it answers (HEAD
#: comes with GET).
PAGES: dict[str, tuple[list[str], set[str]]] = {
    "patient-list": ([], {"GET"}),
    "patient-index": ([], {"GET"}),
    "patient-new": ([], {"GET", "POST"}),
    "patient-find": ([], {"GET", "POST"}),
    "patient-detail": (["P1"], {"GET"}),
    "patient-edit": (["P1"], {"GET", "POST"}),
    "lesion-detail": (["P1", "P1-L1"], {"GET"}),
    "lesion-new": (["P1"], {"GET", "POST"}),
    "lesion-edit": (["P1", "P1-L1"], {"GET", "POST"}),
    "assessment-new": (["P1"], {"GET", "POST"}),
    "assessment-edit": (["P1", "P1-L1-V1"], {"GET", "POST"}),
    "adverse-event-new": (["P1"], {"GET", "POST"}),
    "adverse-event-edit": (["P1", "AE1"], {"GET", "POST"}),
    "patient-reported-new": (["P1"], {"GET", "POST"}),
    "patient-reported-edit": (["P1", "PR1"], {"GET", "POST"}),
    "therapy-new": (["P1"], {"GET", "POST"}),
    "therapy-edit": (["P1", "T1"], {"GET", "POST"}),
    "session-edit": (["P1", "P1-S1"], {"GET", "POST"}),
    "application-edit": (["P1", "P1-S1-A1"], {"GET", "POST"}),
    "record-void": (["P1", "assessments", "P1-L1-V1"], {"GET", "POST"}),
    "patient-voided": (["P1"], {"GET"}),
    "record-unvoid": (["P1", "assessments", "P1-L1-V1"], {"POST"}),
}


def test_every_patient_page_is_listed_with_its_methods() -> None:
    from openect.web.pages.patient_urls import urlpatterns

    assert {pattern.name for pattern in urlpatterns} == set(PAGES)


@pytest.mark.parametrize("name", sorted(PAGES))
def test_an_undeclared_method_gets_405(clinician: Client, name: str) -> None:
    from django.urls import reverse

    args, declared = PAGES[name]
    allowed = declared | ({"HEAD"} if "GET" in declared else set())
    url = reverse(name, args=args)
    if "GET" in declared:
        assert clinician.get(url).status_code == 200, url
        assert clinician.head(url).status_code == 200, url
    for method in sorted({"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"} - allowed):
        response = getattr(clinician, method.lower())(url)
        assert response.status_code == 405, (method, url)
        assert set(response["Allow"].split(", ")) == allowed, (method, url)


# ------------------------------------------------------------------ body map geometry
def marks(site: BodySite, n: int, size: float = 20.0) -> list[LesionMark]:
    return [LesionMark(f"{site}-{i}", site, size, "NE", "x", "#") for i in range(n)]


def test_lesions_of_one_site_are_spread_without_overlap_deterministically() -> None:
    lesions = marks(BodySite.TRUNK_ANTERIOR, 8) + marks(BodySite.GENITAL_PERINEAL, 2, 40)
    placed = bodymap.place(lesions)
    assert placed == bodymap.place(lesions)
    for i, a in enumerate(placed):
        for b in placed[i + 1 :]:
            assert math.hypot(a.x - b.x, a.y - b.y) >= a.r + b.r, (a.mark, b.mark)
    # adding a lesion does not move the ones drawn before
    more = bodymap.place([*lesions, *marks(BodySite.TRUNK_ANTERIOR, 9)[8:]])
    assert [(m.x, m.y) for m in more[:-1]] == [(m.x, m.y) for m in placed]


def test_sides_and_views_follow_anatomy() -> None:
    sites = list(BodySite)
    placed = {m.mark.body_site: m for m in bodymap.place([marks(s, 1)[0] for s in sites])}
    back = {
        BodySite.TRUNK_POSTERIOR,
        BodySite.TRUNK_POSTERIOR_LEFT,
        BodySite.TRUNK_POSTERIOR_RIGHT,
    }
    assert all(placed[s].view == "back" for s in back)
    assert all(m.view == "front" for s, m in placed.items() if s not in back)
    # the trunk's sides: the viewer's right on the front, the viewer's left on the back
    assert (
        placed[BodySite.TRUNK_ANTERIOR_LEFT].x
        > bodymap.MIDLINE
        > placed[BodySite.TRUNK_ANTERIOR_RIGHT].x
    )
    assert (
        placed[BodySite.TRUNK_POSTERIOR_RIGHT].x
        > bodymap.MIDLINE
        > placed[BodySite.TRUNK_POSTERIOR_LEFT].x
    )
    assert placed[BodySite.HEAD].y < placed[BodySite.NECK].y < placed[BodySite.TRUNK_ANTERIOR].y
    # front view: the patient's left is the viewer's right
    assert (
        placed[BodySite.UPPER_LIMB_LEFT].x > bodymap.MIDLINE > placed[BodySite.UPPER_LIMB_RIGHT].x
    )
    assert (
        placed[BodySite.LOWER_LIMB_LEFT].x > bodymap.MIDLINE > placed[BodySite.LOWER_LIMB_RIGHT].x
    )
    assert placed[BodySite.HEAD_NECK].y < placed[BodySite.TRUNK_ANTERIOR].y
    assert placed[BodySite.TRUNK_ANTERIOR].y < placed[BodySite.LOWER_LIMB_LEFT].y
    assert bodymap.radius(2) < bodymap.radius(30) < bodymap.radius(45) == bodymap.radius(300)
    assert bodymap.outline_path().startswith("M")
    assert bodymap.outline_path().endswith("Z")


# ------------------------------------------------------------------ schema 1.1 fields
def test_the_patient_therapy_and_session_forms_have_the_clinical_safety_fields(
    clinician: Client,
) -> None:
    patient_form = text(clinician.get("/patients/P1/edit/"))
    for label in ("DLCO (% of predicted)", "DLCO date", "Chest imaging date"):
        assert label in patient_form
    assert "% of the predicted value" in patient_form  # the description, with its unit
    therapy_form = text(clinician.get("/patients/P1/therapies/new/"))
    assert "Bleomycin (IU)" in therapy_form
    assert 'value="ect_elsewhere"' in therapy_form
    session_form = text(clinician.get("/patients/P1/plan/"))  # "Record this session"
    assert "Record this session" in session_form
    for label in (
        "Worst pain during the procedure (NRS 0-10)",
        "Worst pain after the procedure (NRS 0-10)",
        "Analgesia",
        "Dose (IU, mg or mL)",
    ):
        assert label in session_form, label
    assert 'value="paracetamol_nsaid"' in session_form
    assert 'value="calcium_chloride"' in session_form


def test_the_clinical_safety_fields_are_saved_through_the_forms(clinician: Client) -> None:
    values = {
        "patient_id": "P1", "centre_id": "C01", "sex": "F", "birth_year": "1950",
        "primary_tumour": "melanoma", "stage": "IIIC", "braf_status": "mutant", "ecog": "1",
        "visceral_metastases": "false", "last_contact_date": "2021-06-01",
        "dlco_percent_predicted": "76.5", "dlco_date": "2020-02-15",
        "chest_imaging_date": "2020-02-10", "reason": "lung function before bleomycin",
    }  # fmt: skip
    assert clinician.post("/patients/P1/edit/", values).status_code == 302
    patient = services.get(ADMIN, Patient, "P1")
    assert patient.dlco_percent_predicted == 76.5
    assert str(patient.chest_imaging_date) == "2020-02-10"
    refused = clinician.post("/patients/P1/edit/", {**values, "dlco_percent_predicted": "250"})
    assert "out of range; allowed: > 0 and <= 200 %" in text(refused)
    before = clinician.post("/patients/P1/edit/", {**values, "dlco_date": "1949-05-01"})
    assert "before the year of birth 1950" in text(before)

    response = clinician.post(
        "/patients/P1/therapies/new/",
        {"therapy_id": "P1-T2", "agent_class": "ect_elsewhere", "agent": "IV bleomycin",
         "start_date": "2019-06-01", "end_date": "2019-06-01", "bleomycin_iu": "27000"},
    )  # fmt: skip
    assert response.status_code == 302
    therapy = services.get(ADMIN, SystemicTherapy, "P1-T2")
    assert therapy.bleomycin_iu == 27_000.0
    assert therapy.agent_class.value == "ect_elsewhere"
