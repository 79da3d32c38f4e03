"""The follow-up visit form (every treated lesion at one visit), the patient's grouped
timeline with its filters, the lesion page's sessions and the body map's numbered
markers; Django test client on the registry test database, one browser test at tablet
size (768 x 1024) that records a visit for two lesions.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.http import HttpResponse
from django.test import Client

from openect.data.dataset import Dataset
from openect.data.enums import BodySite, Layer
from openect.data.models import Application, Assessment, Lesion
from openect.registry import services
from openect.registry.access import Actor
from openect.registry.accounts import set_user
from openect.registry.models import AuditEntry, Role
from openect.registry.transfer import import_dataset
from openect.synth import generate_cohort
from openect.web.pages.bodymap import LesionMark, Marker
from test_web_e2e import CHROMIUM, SCREENSHOTS, _sign_in, browser, site  # noqa: F401

ADMIN = Actor("admin", Role.ADMIN)
URL = "/patients/P1/visits/new/"
DATE = "2021-01-10"


# ------------------------------------------------------------------ fixtures
@pytest.fixture
def registry(dataset: Dataset, db: None) -> Dataset:
    """The small dataset with a third treated lesion of P1 (P1-L3, 20 x 20 mm)."""
    dataset.lesions.append(
        Lesion(
            lesion_id="P1-L3",
            patient_id="P1",
            body_site=BodySite.TRUNK_ANTERIOR,
            layer=Layer.CUTANEOUS,
            baseline_date=dt.date(2020, 3, 1),
            longest_diameter_mm=20.0,
            perpendicular_diameter_mm=20.0,
        )
    )
    dataset.applications.append(
        Application(
            application_id="P1-S1-A3", session_id="P1-S1", lesion_id="P1-L3", electrode="plate"
        )
    )
    import_dataset(ADMIN, dataset)
    return dataset


def login(client: Client, username: str, role: str, centre: str | None = None) -> Client:
    set_user(ADMIN, username, role, centre)
    client.force_login(get_user_model().objects.get(username=username))
    return client


@pytest.fixture
def clinician(client: Client, registry: Dataset) -> Client:
    return login(client, "doc.c01", "clinician", "C01")


def text(response: HttpResponse) -> str:
    return html.unescape(response.content.decode())


def visit(**rows: dict[str, str]) -> dict[str, str]:
    """The posted visit: date, method, assessor and the rows given (by lesion id)."""
    data = {"assessment_date": DATE, "method": "caliper", "assessor": "AS-2", "action": "save"}
    for lesion_id, values in rows.items():
        for name, value in values.items():
            data[f"l-{lesion_id.replace('_', '-')}-{name}"] = value
    return data


def summary_of(body: str) -> str:
    """The error summary at the top of the page."""
    start = body.index('id="error-summary"')
    return body[start : body.index("</div>", start)]


def p1_assessments() -> list[Assessment]:
    return [
        a
        for a in services.list_records(ADMIN, Assessment)
        if isinstance(a, Assessment) and a.lesion_id.startswith("P1-")
    ]


def saved_count() -> int:
    return len(p1_assessments())


# ------------------------------------------------------------------ the visit form
def test_the_form_has_a_row_per_treated_lesion_with_its_previous_sizes(
    clinician: Client,
) -> None:
    response = clinician.get(URL)
    assert response.status_code == 200
    body = text(response)
    for short in ("L1", "L2", "L3"):
        assert f'<span class="vi-short">{short}</span>' in body
    row = body[body.index('id="row-l-P1-L1"') : body.index('id="row-l-P1-L2"')]
    assert "12 × 9.5\u00a0mm" in row  # baseline
    assert "2020-03-01" in row
    assert "0 × 0\u00a0mm" in row  # last assessment
    assert "2020-05-01" in row
    assert 'name="l-P1-L1-longest_diameter_mm"' in row
    assert 'name="l-P1-L1-new_lesion"' in row
    # the patient page links here
    assert 'href="/patients/P1/visits/new/"' in text(clinician.get("/patients/P1/"))


def test_a_visit_of_three_lesions_saves_three_assessments_in_one_go(clinician: Client) -> None:
    before = saved_count()
    response = clinician.post(
        URL,
        visit(
            **{
                "P1-L1": {"longest_diameter_mm": "0", "perpendicular_diameter_mm": "0"},
                "P1-L2": {
                    "longest_diameter_mm": "20",
                    "perpendicular_diameter_mm": "15",
                    "note": "crust over the centre",
                },
                "P1-L3": {"longest_diameter_mm": "14", "perpendicular_diameter_mm": "14"},
            }
        ),
    )
    assert response.status_code == 302, text(response)[:3000]
    assert response["Location"] == "/patients/P1/"
    new = {a.lesion_id: a for a in p1_assessments() if a.assessment_date == dt.date(2021, 1, 10)}
    assert saved_count() == before + 3
    assert sorted(new) == ["P1-L1", "P1-L2", "P1-L3"]
    assert new["P1-L1"].assessment_id == "P1-L1-V3"  # numbered by the registry
    assert new["P1-L3"].assessment_id == "P1-L3-V1"
    assert {a.method for a in new.values()} == {"caliper"}
    assert {a.assessor for a in new.values()} == {"AS-2"}
    assert new["P1-L2"].longest_diameter_mm == 20.0
    # the note is the assessment's own (schema 1.3), kept in the audit trail with it
    assert new["P1-L2"].note == "crust over the centre"
    assert new["P1-L1"].note is None
    entry = AuditEntry.objects.get(record_id=new["P1-L2"].assessment_id, action="create")
    assert entry.after is not None
    assert entry.after["note"] == "crust over the centre"
    # the derived responses are said after saving (L3: 20 -> 14 mm is RECIST PR at -30 %,
    # its product 400 -> 196 mm2 is WHO PR at -51 %)
    page = text(clinician.get("/patients/P1/"))
    assert "Visit of 2021-01-10 saved: 3 assessments" in page
    assert "L3: RECIST: PR; WHO: PR" in page


def test_one_invalid_row_saves_nothing_and_names_the_lesion_and_field(clinician: Client) -> None:
    before = saved_count()
    audit_before = AuditEntry.objects.count()
    response = clinician.post(
        URL,
        visit(
            **{
                "P1-L1": {"longest_diameter_mm": "12.5", "note": "scar"},
                "P1-L2": {"longest_diameter_mm": "-1"},
                "P1-L3": {"longest_diameter_mm": "10", "perpendicular_diameter_mm": "12"},
            }
        ),
    )
    assert response.status_code == 422
    assert saved_count() == before
    assert AuditEntry.objects.count() == audit_before
    body = text(response)
    summary = summary_of(body)
    link = '<a href="#id_l-P1-L2-longest_diameter_mm">Lesion L2 · Longest diameter (mm)</a>'
    assert f"{link}: out of range; allowed: 0 to 500 mm (value: -1.0)" in summary
    assert "Lesion L3 · Perpendicular diameter (mm)" in summary  # longer than the longest
    # the values are kept
    assert 'name="l-P1-L1-longest_diameter_mm" value="12.5"' in body
    assert 'value="scar"' in body


def test_a_row_left_blank_is_a_lesion_not_measured(clinician: Client) -> None:
    before = saved_count()
    response = clinician.post(URL, visit(**{"P1-L2": {"longest_diameter_mm": "31"}}))
    assert response.status_code == 302
    assert saved_count() == before + 1
    # an empty visit saves nothing and says so
    response = clinician.post(URL, visit())
    assert response.status_code == 422
    assert "No lesion measured" in text(response)
    # a note without a diameter is refused on the row
    response = clinician.post(URL, visit(**{"P1-L1": {"note": "crust"}}))
    assert response.status_code == 422
    assert "Lesion L1 · Longest diameter (mm)" in text(response)
    assert "required with a note" in text(response)
    assert saved_count() == before + 1


def test_check_derives_each_response_and_explains_a_difference_saving_nothing(
    clinician: Client,
) -> None:
    before = saved_count()
    # L3, 20 x 20 mm at baseline: 23 x 23 mm is RECIST SD (+15 %) but WHO PD (+32 %)
    data = visit(**{"P1-L3": {"longest_diameter_mm": "23", "perpendicular_diameter_mm": "23"}})
    response = clinician.post(URL, data | {"action": "check"})
    assert response.status_code == 200
    assert saved_count() == before
    body = text(response)
    row = body[body.index('id="row-l-P1-L3"') :]
    assert 'RECIST <span class="badge SD"' in row
    assert 'WHO <span class="badge PD"' in row
    assert "WHO multiplies the two diameters" in row
    assert 'value="23"' in row


def test_a_new_lesion_in_the_treated_field_is_progression_then_the_lesion_form(
    clinician: Client,
) -> None:
    response = clinician.post(
        URL,
        visit(**{"P1-L1": {"longest_diameter_mm": "0", "new_lesion": "on", "note": "satellite"}}),
    )
    assert response.status_code == 302
    assert response["Location"] == "/patients/P1/lesions/new/"
    [saved] = [a for a in p1_assessments() if a.assessment_date == dt.date(2021, 1, 10)]
    assert saved.override_response == "PD"
    assert saved.override_reason == "New lesion in the treated field: satellite"
    assert saved.new_lesion_in_field is True
    assert saved.note == "satellite"


def test_another_centre_gets_404_and_an_analyst_cannot_write(
    client: Client, registry: Dataset
) -> None:
    before = saved_count()
    other = login(Client(), "doc.c02", "clinician", "C02")
    assert other.get(URL).status_code == 404
    assert other.post(URL, visit(**{"P1-L1": {"longest_diameter_mm": "1"}})).status_code == 404
    analyst = login(Client(), "ana", "analyst")
    assert analyst.get(URL).status_code == 403
    answer = analyst.post(URL, visit(**{"P1-L1": {"longest_diameter_mm": "1"}}))
    assert answer.status_code == 403
    assert "may not record a visit" in text(answer)
    assert saved_count() == before
    # nobody signed in: to the sign-in page
    assert client.get(URL).status_code == 302


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1e309", "'1e309' is not a finite number; allowed 0 to 500 mm"),
        ("abc", "'abc' is not a number; allowed 0 to 500 mm"),
        ("-1", "-1"),
        ("501", "501"),
    ],
)
def test_hostile_diameters_are_refused_with_the_value_and_range(
    clinician: Client, value: str, expected: str
) -> None:
    before = saved_count()
    response = clinician.post(URL, visit(**{"P1-L1": {"longest_diameter_mm": value}}))
    assert response.status_code == 422
    body = text(response)
    summary = body[body.index('id="error-summary"') :]
    assert "Lesion L1 · Longest diameter (mm)" in summary
    assert expected in summary
    assert saved_count() == before


def test_a_long_note_and_a_huge_body_are_refused(clinician: Client) -> None:
    before = saved_count()
    response = clinician.post(
        URL, visit(**{"P1-L1": {"longest_diameter_mm": "3", "note": "x" * 100_000}})
    )
    assert response.status_code == 422
    assert "at most 500 characters (this note has 100000)" in text(response)
    response = clinician.post(
        URL, visit(**{"P1-L1": {"longest_diameter_mm": "3", "note": "x" * 10_000_000}})
    )
    assert response.status_code == 400  # over the largest form the server reads
    assert "too large" in text(response)
    assert "Nothing was saved" in text(response)
    assert saved_count() == before


def test_a_date_in_the_future_is_refused_once_naming_the_lesions(clinician: Client) -> None:
    future = (dt.date.today() + dt.timedelta(days=3)).isoformat()
    data = visit(**{"P1-L1": {"longest_diameter_mm": "3"}, "P1-L2": {"longest_diameter_mm": "3"}})
    response = clinician.post(URL, data | {"assessment_date": future})
    assert response.status_code == 422
    body = text(response)
    summary = body[
        body.index('id="error-summary"') : body.index("</div>", body.index("error-summary"))
    ]
    assert summary.count('href="#id_assessment_date"') == 1
    assert future in summary
    assert "(lesions L1, L2)" in summary


# ------------------------------------------------------------------ patient and lesion pages
def timeline_of(body: str) -> str:
    return body[
        body.index('<ol class="pt-timeline">') : body.index("</ol>", body.index("pt-timeline"))
    ]


def test_the_timeline_groups_visits_and_summarises_sessions(clinician: Client) -> None:
    body = text(clinician.get("/patients/P1/"))
    timeline = timeline_of(body)
    # P1-S1 treated L1 (linear), L2 (hexagonal, aborted) and L3 (plate)
    assert (
        "3 applications on 3 lesions (L1, L2, L3); hexagonal, linear, plate; 1 train aborted"
        in timeline
    )
    # 2020-05-01: L1 (0 mm, CR) and L2 (30 mm, override PR) in one visit entry
    visit_entry = timeline[timeline.index('<time datetime="2020-05-01">') :]
    visit_entry = visit_entry[: visit_entry.index("</li>\n    \n    <li")]
    assert "Follow-up visit: 2 lesions assessed" in visit_entry
    assert '<span class="vi-short">L1</span>' in visit_entry
    assert '<span class="vi-short">L2</span>' in visit_entry
    assert "override; derived" in visit_entry
    assert timeline.count('<time datetime="2020-05-01">') == 1
    # one assessment alone on its date stays one entry
    assert "Assessment of L1" in timeline


def test_the_timeline_filters_work_from_the_query_string(clinician: Client) -> None:
    body = text(clinician.get("/patients/P1/?filter=1&show=sessions&show=adverse-events"))
    timeline = timeline_of(body)
    assert "ECT session 1" in timeline
    assert "Adverse event: Pain" in timeline
    assert "Assessment of" not in timeline
    assert "Follow-up visit" not in timeline
    assert "Systemic therapy" not in timeline
    assert "Patient-reported outcome" not in timeline
    assert 'name="show" value="sessions" checked' in body
    assert 'name="show" value="visits">' in body  # unchecked
    # nothing chosen: nothing shown, and a way back to everything
    body = text(clinician.get("/patients/P1/?filter=1"))
    assert '<ol class="pt-timeline">' not in body
    assert "Nothing of the chosen kinds" in body
    # an unknown kind is ignored; no filter at all shows everything
    body = text(clinician.get("/patients/P1/?show=%3Cscript%3E"))
    assert "<script>" not in timeline_of(body)
    assert "Patient-reported outcome" in timeline_of(body)


def test_the_lesion_page_lists_its_sessions_and_why_the_criteria_differ(
    clinician: Client,
) -> None:
    # L3, 20 x 20 mm: 23 x 23 mm is RECIST SD (+15 %) and WHO PD (+32 %)
    services.create(
        ADMIN,
        Assessment(
            assessment_id="P1-L3-V1",
            lesion_id="P1-L3",
            assessment_date=dt.date(2020, 4, 1),
            longest_diameter_mm=23.0,
            perpendicular_diameter_mm=23.0,
        ),
    )
    body = text(clinician.get("/patients/P1/lesions/P1-L3/"))
    sessions = body[body.index('id="sessions-heading"') :]
    assert "2020-03-02" in sessions
    assert "session 1" in sessions
    assert "1 application · electrode plate" in sessions
    differences = body[body.index('id="criteria-differences"') :]
    assert "(P1-L3-V1): WHO multiplies the two diameters" in differences
    # L1's two assessments agree under both criteria: no such box
    assert 'id="criteria-differences"' not in text(clinician.get("/patients/P1/lesions/P1-L1/"))


def test_body_map_markers_show_the_short_number_and_link_to_the_lesion(
    clinician: Client,
) -> None:
    body = text(clinician.get("/patients/P1/"))
    for n in ("1", "2", "3"):
        marker = re.search(
            rf'<a class="bm-link" href="/patients/P1/lesions/P1-L{n}/"[^>]*>'
            rf"<circle [^>]*><title>L{n}: P1-L{n}, [^<]*</title></circle>"
            rf"<text [^>]*>{n}</text></a>",
            body,
        )
        assert marker is not None, n


def test_a_marker_shows_the_number_of_the_short_number() -> None:
    def text_of(number: str) -> str:
        mark = LesionMark("x", BodySite.TRUNK_ANTERIOR, 10.0, "CR", "", "", number)
        return Marker(mark, "front", 0.0, 0.0, 7.0).text

    assert [text_of(n) for n in ("L1", "L01", "L12", "A", "")] == ["1", "1", "12", "A", "CR"]


# ------------------------------------------------------------------ in a real browser
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium not installed")
def test_a_visit_of_two_lesions_on_a_tablet(site: str, browser: Any) -> None:  # noqa: F811
    """On a tablet (768 x 1024) a clinician records one visit for two treated lesions: the
    response appears beside each row while typing, one save writes both; the same form
    fits a phone (390 x 844). Screenshots to docs/screenshots/."""
    cohort = generate_cohort(12, centres=2, seed=5)  # the site's register (test_web_e2e)
    treated = {a.lesion_id for a in cohort.applications}
    patient = next(
        p
        for p in cohort.patients
        if p.centre_id == "C01"
        and p.death_date is None
        and sum(
            1 for x in cohort.lesions if x.patient_id == p.patient_id and x.lesion_id in treated
        )
        >= 2
    )
    context = browser.new_context(viewport={"width": 768, "height": 1024}, timezone_id="UTC")
    page = context.new_page()
    _sign_in(page, site, "dr.one")
    page.goto(f"{site}/patients/{patient.patient_id}/")
    page.get_by_role("link", name="Record a visit").first.click()
    page.wait_for_url(f"{site}/patients/{patient.patient_id}/visits/new/")
    rows = page.locator("fieldset.vi-row")
    assert rows.count() >= 2
    for index, (longest, perpendicular) in enumerate((("0", "0"), ("4", "3"))):
        row = rows.nth(index)
        row.locator("input[name$='-longest_diameter_mm']").fill(longest)
        row.locator("input[name$='-perpendicular_diameter_mm']").fill(perpendicular)
        row.locator("output .badge").first.wait_for()  # derived live by the API
    rows.nth(0).locator("input[name$='-note']").fill("scar")
    assert "RECIST" in rows.nth(0).locator("output").inner_text()
    page.screenshot(path=str(SCREENSHOTS / "visit-tablet.png"), full_page=True)
    page.get_by_role("button", name="Save visit").click()
    page.wait_for_url(f"{site}/patients/{patient.patient_id}/")
    assert "saved: 2 assessments" in page.locator(".messages").inner_text()
    assert page.locator(".pt-visit").first.is_visible()  # the visit, grouped, on the timeline
    # the same form on a phone: no wider than the screen
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{site}/patients/{patient.patient_id}/visits/new/")
    page.locator("fieldset.vi-row input[name$='-longest_diameter_mm']").first.fill("2")
    page.locator("fieldset.vi-row output .badge").first.wait_for()
    assert page.locator("body").bounding_box()["width"] <= 390
    page.screenshot(path=str(SCREENSHOTS / "visit-phone.png"), full_page=True)
    context.close()
