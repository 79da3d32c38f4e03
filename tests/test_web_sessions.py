"""Web pages of ECT sessions: planning, recording a session, applications and the window."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from openect.data.dataset import Dataset
from openect.data.models import Application, Patient, Session, SystemicTherapy
from openect.formatting import number
from openect.protocol import PatientToPlan, PlanOptions, plan_session
from openect.protocol.inputs import LesionToTreat, SessionRequest
from openect.protocol.recording import check_window, minutes_after, session_window
from openect.registry import accounts, services
from openect.registry.access import Actor
from openect.registry.models import AuditEntry, Role
from openect.registry.transfer import import_dataset

pytestmark = pytest.mark.django_db

ADMIN = Actor("admin", Role.ADMIN)
PASSWORD = "correct-horse-battery"


@pytest.fixture
def registry(dataset: Dataset) -> Dataset:
    """The small dataset in the registry (P1 of C01, P2 of C02)."""
    import_dataset(ADMIN, dataset)
    return dataset


def signed_in(username: str, role: str, centre: str | None = None) -> Client:
    """A test client signed in as a new registry user."""
    accounts.set_user(ADMIN, username, role, centre, PASSWORD)
    client = Client()
    assert client.login(username=username, password=PASSWORD)
    return client


@pytest.fixture
def clinician(registry: Dataset) -> Client:
    """A clinician of C01 (P1's centre)."""
    return signed_in("dr.one", "clinician", "C01")


def plan_post(**overrides: Any) -> dict[str, Any]:
    """POST data of the plan form for P1 (both lesions, esope-2006, IV)."""
    data: dict[str, Any] = {
        "plan-rules": "esope-2006",
        "plan-session_date": "2021-05-01",
        "plan-drug": "bleomycin",
        "plan-route": "",
        "plan-iv_policy": "",
        "plan-it_policy": "",
        "plan-window": "standard",
        "plan-bsa_formula": "",
        "plan-height_cm": "165",
        "plan-weight_kg": "63",
        "plan-creatinine_clearance_ml_min": "61.5",
        "plan-prior_bleomycin_iu": "25500",
        "plan-lesions": ["P1-L1", "P1-L2"],
    }
    data.update(overrides)
    return data


def direct_plan(dataset: Dataset, rules: str, session_date: dt.date) -> Any:
    """The planner called directly with what the page sends."""
    patient = next(p for p in dataset.patients if p.patient_id == "P1")
    lesions = [
        LesionToTreat.model_validate(x.model_dump())
        for x in dataset.lesions
        if x.patient_id == "P1"
    ]
    return plan_session(
        SessionRequest(
            patient=PatientToPlan(
                patient_id="P1",
                birth_year=patient.birth_year,
                session_date=session_date,
                sex=patient.sex,
                height_cm=165,
                weight_kg=63,
                creatinine_clearance_ml_min=61.5,
                prior_bleomycin_iu=25500,
            ),
            lesions=lesions,
            options=PlanOptions(rules=rules),
        )
    )


# ----------------------------------------------------------------------------- planning
def test_plan_page_shows_the_form_with_registry_defaults(clinician: Client) -> None:
    response = clinician.get(reverse("session-plan", args=["P1"]))
    assert response.status_code == 200
    text = response.content.decode()
    # the patient by their short label, the pseudonym beside it
    assert re.search(r'Plan an ECT session for C01-\d{4} <span class="help">P1</span>', text)
    assert 'name="plan-height_cm" value="165.0"' in text  # from the last session
    assert 'value="P1-L1"' in text
    assert 'value="P1-L2"' in text
    assert "P2-L1" not in text
    # the registry gives height and weight: the page opens with a plan (default rule set)
    assert 'id="plan-heading"' in text
    assert "rule set sop-2018" in text
    assert "Record this session" in text


def test_the_plan_page_takes_lung_function_and_other_bleomycin_from_the_registry(
    clinician: Client,
) -> None:
    services.update(
        ADMIN,
        Patient,
        "P1",
        {"dlco_percent_predicted": 82, "dlco_date": dt.date(2021, 4, 1),
         "chest_imaging_date": dt.date(2021, 4, 2)},
    )  # fmt: skip
    services.create(
        ADMIN,
        SystemicTherapy(
            therapy_id="P1-T7", patient_id="P1", agent_class="chemotherapy", agent="ABVD",
            start_date=dt.date(2005, 1, 10), bleomycin_iu=180_000,
        ),
    )  # fmt: skip
    text = clinician.get(reverse("session-plan", args=["P1"])).content.decode()
    assert 'name="plan-dlco_percent_predicted" value="82.0"' in text
    assert 'name="plan-dlco_date" value="2021-04-01"' in text
    assert 'name="plan-prior_bleomycin_iu" value="205500.0"' in text  # 25,500 + 180,000


def test_the_recording_page_shows_the_lifetime_bleomycin(
    clinician: Client, session_s2: Session
) -> None:
    url = reverse("session-record", args=["P1-S2"])
    text = clinician.get(url).content.decode()
    # P1-S1 25,500 IU before; this session 25,500 IU
    assert "Lifetime bleomycin: 25\u202f500\u00a0IU before this session" in text
    assert "51\u202f000\u00a0IU with it." in text
    services.create(
        ADMIN,
        SystemicTherapy(
            therapy_id="P1-T7", patient_id="P1", agent_class="chemotherapy", agent="BEP",
            start_date=dt.date(2010, 1, 10), bleomycin_iu=460_000,
        ),
    )  # fmt: skip
    text = clinician.get(url).content.decode()
    assert "with it: <strong>above the limit of 500\u202f000\u00a0IU</strong>" in text


def test_plan_page_without_height_and_weight_asks_for_them(registry: Dataset) -> None:
    client = signed_in("dr.two", "clinician", "C02")
    response = client.get(reverse("session-plan", args=["P2"]))
    assert response.status_code == 200
    text = response.content.decode()
    assert 'id="plan-heading"' not in text
    assert 'name="plan-height_cm"' in text
    assert "This field is required" not in text  # no errors before the first try


def test_plan_shows_the_iv_dose_of_15000_iu_per_m2_times_bsa(
    clinician: Client, registry: Dataset
) -> None:
    expected = direct_plan(registry, "esope-2006", dt.date(2021, 5, 1))
    assert expected.route.value == "intravenous"
    assert expected.dose_per_m2_iu == 15_000
    assert expected.dose_iu == round(15_000 * expected.bsa_m2)
    response = clinician.post(reverse("session-plan", args=["P1"]), plan_post())
    assert response.status_code == 200
    text = response.content.decode()
    assert re.search(r'id="plan-dose">\s*25\u202f500\u00a0IU', text), text[:2000]
    assert number(expected.dose_iu, "IU", 0) in text
    assert "15\u202f000\u00a0IU/m²" in text
    assert number(expected.bsa_m2, "m²", 2) in text
    assert "8–28\u00a0min after the end of the bolus" in text
    for lesion in expected.lesions:  # electrode, voltage per lesion
        assert lesion.lesion_id in text
        assert number(lesion.voltage_v, "V") in text
    assert "window.iv" in text
    # the rules to verify are one line linked to the rule table, not among the warnings
    unverified = sum(r["status"] == "to_verify" for r in expected.rules)
    assert f"{unverified} rules behind this plan are to verify locally (marked *): see " in text
    assert '<a href="#plan-rules">the rules behind this plan</a>' in text
    warnings = text.partition("<h3>Warnings</h3>")[2].partition("</div>")[0]
    assert "to verify locally" not in warnings
    assert "Record this session" in text
    # the session form is prefilled from the plan (dates as <input type="date"> needs them)
    assert 'name="session-session_date" value="2021-05-01"' in text
    assert 'name="session-dose" value="25500.0"' in text
    assert 'name="session-session_id" value="P1-S2"' in text


def test_an_intratumoural_plan_reads_the_time_per_lesion(clinician: Client) -> None:
    response = clinician.post(
        reverse("session-plan", args=["P1"]), plan_post(**{"plan-route": "intratumoural"})
    )
    text = response.content.decode()
    needed = text.partition("<dt>Time needed</dt>")[2].partition("</dd>")[0]
    assert (
        "per lesion, each within its own 10\u00a0min window from its injection: "
        '<span title="P1-L1">L1</span> ' in needed
    )
    assert " of 10\u00a0min" not in needed  # never a sum against one window


def test_plan_follows_the_default_rule_set_and_its_reductions(
    clinician: Client, registry: Dataset
) -> None:
    expected = direct_plan(registry, "sop-2018", dt.date(2021, 5, 1))
    response = clinician.post(
        reverse("session-plan", args=["P1"]), plan_post(**{"plan-rules": "sop-2018"})
    )
    text = response.content.decode()
    assert expected.dose_iu is not None
    assert number(expected.dose_iu, "IU", 0) in text
    assert "eligibility.age_caution" in text  # 71 years old in 2021 (age caution > 70)


def test_plan_reports_inconsistent_input_on_the_form(clinician: Client) -> None:
    response = clinician.post(
        reverse("session-plan", args=["P1"]),
        plan_post(**{"plan-creatinine_mg_dl": "1.1"}),  # and a clearance
    )
    assert response.status_code == 200
    assert "give at most one of creatinine_mg_dl, creatinine_clearance_ml_min" in (
        response.content.decode()
    )
    assert "Record this session" not in response.content.decode()


def test_the_plan_page_knows_the_lesions_treated_before(clinician: Client) -> None:
    """P1-L1 and P1-L2 were treated in session P1-S1 on 2020-03-02: planned again on
    2020-03-20 (18 days later) they are in their second course, too soon."""
    response = clinician.post(
        reverse("session-plan", args=["P1"]), plan_post(**{"plan-session_date": "2020-03-20"})
    )
    text = response.content.decode()
    assert "course 2, 18 days after the last" in text
    assert "re-treated 18 days after its last session (&lt; 28)" in text
    later = clinician.post(reverse("session-plan", args=["P1"]), plan_post()).content.decode()
    assert "course 2, 425 days after the last" in later  # 2021-05-01
    assert "re-treated" not in later


def test_plan_page_is_404_for_another_centre(registry: Dataset) -> None:
    client = signed_in("dr.two", "clinician", "C02")
    assert client.get(reverse("session-plan", args=["P1"])).status_code == 404


def test_recording_a_session_creates_it_with_an_audit_entry(
    clinician: Client, registry: Dataset
) -> None:
    data = plan_post(
        **{
            "session-session_id": "P1-S2",
            "session-session_date": "2021-05-01",
            "session-session_number": "2",
            "session-anaesthesia": "general",
            "session-drug": "bleomycin",
            "session-route": "intravenous",
            "session-dose": "25500",
            "session-dose_per_m2": "15000",
            "session-bsa_m2": "1.70",
            "session-height_cm": "165",
            "session-weight_kg": "63",
            "session-creatinine_clearance_ml_min": "61.5",
            "session-bolus_end_time": "10:00",
            "session-rule_set": "esope-2006",
            "session-operator": "OP-C01-1",
        },
    )
    response = clinician.post(reverse("session-new", args=["P1"]), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert response["Location"].startswith(reverse("session-record", args=["P1-S2"]))
    session = services.get(ADMIN, Session, "P1-S2")
    assert isinstance(session, Session)
    assert session.dose == 25_500
    assert session.bolus_end_time == dt.time(10, 0)
    entry = AuditEntry.objects.get(entity="sessions", record_id="P1-S2")
    assert entry.actor == "dr.one"
    assert entry.role == "clinician"
    assert entry.action == "create"
    assert entry.centre_id == "C01"
    page = clinician.get(response["Location"])
    assert page.status_code == 200
    assert "Session P1-S2 recorded." in page.content.decode()


def test_recording_after_the_last_contact_moves_it_up(clinician: Client, registry: Dataset) -> None:
    data = plan_post(
        **{
            "plan-session_date": "2021-07-01",
            "session-session_id": "P1-S2",
            "session-session_date": "2021-07-01",
            "session-session_number": "2",
            "session-drug": "bleomycin",
            "session-route": "intravenous",
            "session-dose": "25500",
            "session-rule_set": "esope-2006",
        },
    )
    response = clinician.post(reverse("session-new", args=["P1"]), data)
    assert response.status_code == 302
    patient = services.get(ADMIN, Patient, "P1")
    assert isinstance(patient, Patient)
    assert patient.last_contact_date == dt.date(2021, 7, 1)
    assert AuditEntry.objects.filter(entity="patients", record_id="P1", actor="dr.one").exists()


def test_an_invalid_session_is_refused_with_the_registry_message(
    clinician: Client, registry: Dataset
) -> None:
    data = plan_post(
        **{
            "session-session_id": "P1-S1",  # exists
            "session-session_date": "2021-05-01",
            "session-session_number": "2",
            "session-drug": "bleomycin",
            "session-route": "intravenous",
            "session-dose": "25500",
            "session-rule_set": "esope-2006",
        },
    )
    response = clinician.post(reverse("session-new", args=["P1"]), data)
    assert response.status_code == 200
    page = response.content.decode()
    assert "already in use; leave it empty and the registry numbers it" in page
    # listed first, linked to the field, with the script that moves the focus there
    summary = page.split('id="error-summary"')[1].split("</div>")[0]
    assert 'href="#id_session-session_id"' in summary
    assert "already in use" in summary
    assert page.index('id="error-summary"') < page.index('id="record-heading"')
    assert "web/error-summary.js" in page
    assert services.count(ADMIN, Session, patient_id="P1") == 1


def test_an_analyst_sees_the_plan_but_cannot_record(registry: Dataset) -> None:
    client = signed_in("analyst", "analyst")
    response = client.post(reverse("session-plan", args=["P1"]), plan_post())
    assert response.status_code == 200
    assert "25\u202f500\u00a0IU" in response.content.decode()
    assert "not record sessions" in response.content.decode()
    refused = client.post(reverse("session-new", args=["P1"]), plan_post())
    assert refused.status_code == 403


# ----------------------------------------------------------------------------- recording
@pytest.fixture
def session_s2(registry: Dataset) -> Session:
    """A second IV session of P1 (esope-2006, bolus ended at 10:00)."""
    item = Session(
        session_id="P1-S2",
        patient_id="P1",
        session_date=dt.date(2021, 5, 1),
        session_number=2,
        drug="bleomycin",
        route="intravenous",
        dose=25_500,
        dose_per_m2=15_000,
        bsa_m2=1.7,
        height_cm=165,
        weight_kg=63,
        bolus_end_time=dt.time(10, 0),
        rule_set="esope-2006",
    )
    services.create(ADMIN, item)
    return item


def application_post(time: str, lesion: str = "P1-L1") -> dict[str, str]:
    """POST data of one application."""
    return {
        "window": "standard",
        "lesion_id": lesion,
        "time": time,
        "electrode": "linear",
        "voltage_v": "400",
        "pulses": "8",
        "frequency_hz": "5000",
        "pulse_duration_us": "100",
        "current_a": "2.1",
        "complete": "true",
    }


def test_under_general_anaesthesia_the_recording_page_says_to_keep_oxygen_low(
    clinician: Client, session_s2: Session
) -> None:
    url = reverse("session-record", args=["P1-S2"])
    assert 'id="oxygen-advice"' not in clinician.get(url).content.decode()  # none recorded
    services.update(ADMIN, Session, "P1-S2", {"anaesthesia": "general"})
    text = clinician.get(url).content.decode()
    assert 'id="oxygen-advice"' in text
    assert "keep the inspired oxygen fraction below 30 %" in text
    assert "Eur J Anaesthesiol 2007;24(2):205" in text
    services.update(ADMIN, Session, "P1-S2", {"anaesthesia": "local"})
    assert 'id="oxygen-advice"' not in clinician.get(url).content.decode()


def test_recording_page_has_the_countdown_with_the_window(
    clinician: Client, session_s2: Session
) -> None:
    response = clinician.get(reverse("session-record", args=["P1-S2"]))
    assert response.status_code == 200
    text = response.content.decode()
    assert 'id="window-countdown"' in text
    assert 'data-session-date="2021-05-01"' in text
    assert 'data-bolus-end="10:00:00"' in text
    assert 'data-window-start="8"' in text
    assert 'data-window-end="28"' in text
    assert 'data-rule="window.iv"' in text
    assert 'aria-live="polite"' in text
    assert "web/sessions-countdown.js" in text
    assert "pulses from <strong>10:08:00</strong> to <strong>10:28:00</strong>" in text
    assert "data-window-check" in text
    assert "data-default-now" in text
    # the planned electrode per lesion is offered to the form
    assert 'data-electrode="linear"' in text
    assert 'data-electrode="hexagonal"' in text


def test_the_pk_window_variant_changes_the_window(clinician: Client, session_s2: Session) -> None:
    response = clinician.get(reverse("session-record", args=["P1-S2"]) + "?window=pk")
    text = response.content.decode()
    # P1 is 71 in 2021: over 65, the window is 8-40 min
    assert 'data-window-end="40"' in text
    assert "window.iv_pk_over_65" in text


def test_countdown_script_is_served() -> None:
    from django.contrib.staticfiles import finders

    found = finders.find("web/sessions-countdown.js")
    assert found is not None
    script = Path(found).read_text(encoding="utf-8")
    for needle in ("data-bolus-end", "window opens in", "left", "closed", "setInterval"):
        assert needle.lower() in script.lower()


def test_an_application_inside_the_window_is_saved_without_warning(
    clinician: Client, session_s2: Session
) -> None:
    url = reverse("application-new", args=["P1-S2"])
    response = clinician.post(url, application_post("10:10"), follow=True)
    assert response.status_code == 200
    text = response.content.decode()
    assert "Application A1 saved" in text
    assert "OUTSIDE the pulse window" not in text
    saved = services.get(ADMIN, Application, "P1-S2-A1")
    assert isinstance(saved, Application)
    assert saved.time == dt.time(10, 10)
    assert saved.lesion_id == "P1-L1"
    entry = AuditEntry.objects.get(entity="applications", record_id="P1-S2-A1")
    assert entry.actor == "dr.one"


def test_an_application_outside_the_window_is_saved_with_a_warning(
    clinician: Client, session_s2: Session
) -> None:
    url = reverse("application-new", args=["P1-S2"])
    clinician.post(url, application_post("10:10"))
    response = clinician.post(url, application_post("10:40", "P1-L2"), follow=True)
    text = response.content.decode()
    assert "Application A2 saved" in text
    assert "Warning: 10:40 is 40.0 min after the end of the bolus" in text
    assert "OUTSIDE the pulse window 8–28\u00a0min" in text
    assert "1 outside the window" in text  # the list marks it
    assert services.count(ADMIN, Application, session_id="P1-S2") == 2
    # later visits still show it in the list
    again = clinician.get(reverse("session-record", args=["P1-S2"])).content.decode()
    assert "outside</strong>" in again
    assert "40.0 min: after the window 8–28\u00a0min" in again
    assert "1 outside the window" in again


def test_an_application_for_another_patients_lesion_is_refused(
    clinician: Client, session_s2: Session
) -> None:
    url = reverse("application-new", args=["P1-S2"])
    response = clinician.post(url, application_post("10:10", "P2-L1"))
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert services.count(ADMIN, Application, session_id="P1-S2") == 0


def test_the_bolus_end_time_can_be_entered_on_the_recording_page(
    clinician: Client, registry: Dataset
) -> None:
    services.create(
        ADMIN,
        Session(
            session_id="P1-S2",
            patient_id="P1",
            session_date=dt.date(2021, 5, 1),
            session_number=2,
            drug="bleomycin",
            route="intravenous",
        ),
    )
    url = reverse("session-record", args=["P1-S2"])
    assert "Enter the end of the bolus" in clinician.get(url).content.decode()
    response = clinician.post(
        reverse("session-bolus", args=["P1-S2"]),
        {"window": "standard", "bolus_end_time": "11:02:30"},
        follow=True,
    )
    assert 'data-bolus-end="11:02:30"' in response.content.decode()
    session = services.get(ADMIN, Session, "P1-S2")
    assert isinstance(session, Session)
    assert session.bolus_end_time == dt.time(11, 2, 30)


def test_the_recording_page_is_404_for_another_centre(session_s2: Session) -> None:
    client = signed_in("dr.two", "clinician", "C02")
    url = reverse("session-record", args=["P1-S2"])
    assert client.get(url).status_code == 404
    new = reverse("application-new", args=["P1-S2"])
    assert client.post(new, application_post("10:10")).status_code == 404
    bolus = reverse("session-bolus", args=["P1-S2"])
    assert client.post(bolus, {"bolus_end_time": "10:00"}).status_code == 404


def test_window_arithmetic(registry: Dataset, session_s2: Session) -> None:
    patient = next(p for p in registry.patients if p.patient_id == "P1")
    window = session_window(session_s2, patient)
    assert (window.start_min, window.end_min, window.rule_id) == (8, 28, "window.iv")
    assert minutes_after(dt.time(23, 55), dt.time(0, 10)) == 15  # across midnight
    assert check_window(window, dt.time(10), dt.time(10, 8)).state == "inside"
    assert check_window(window, dt.time(10), dt.time(10, 28)).state == "inside"
    assert check_window(window, dt.time(10), dt.time(10, 7, 59)).state == "before"
    assert check_window(window, dt.time(10), dt.time(10, 28, 1)).state == "after"
    assert check_window(window, None, dt.time(10)).state == "unknown"


# ----------------------------------------------------------------------------- in a browser
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium not installed")
def test_countdown_and_the_check_before_saving_in_a_browser(
    clinician: Client, session_s2: Session
) -> None:
    """The countdown's phases under a fake browser clock, the planned settings per lesion,
    and the warning before saving a time outside the window (chromium, page served from
    the test client: the browser's requests are answered by Django in this process)."""
    from django.contrib.staticfiles import finders
    from playwright.sync_api import Route, sync_playwright

    url = reverse("session-record", args=["P1-S2"])
    html = clinician.get(url).content  # rendered before the browser's event loop starts
    posted: list[str] = []

    def answer(route: Route) -> None:
        request = route.request
        where = request.url.removeprefix("http://testserver")
        if where.startswith("/static/"):
            found = finders.find(where.removeprefix("/static/"))
            if found is None:
                route.fulfill(status=404)
                return
            kind = "text/javascript" if found.endswith(".js") else "text/css"
            route.fulfill(body=Path(found).read_bytes(), content_type=kind)
        elif request.method == "POST":
            posted.append(request.post_data or "")
            route.fulfill(body="<p>saved</p>", content_type="text/html")
        elif where == url:
            route.fulfill(body=html, content_type="text/html; charset=utf-8")
        else:
            route.fulfill(status=404)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--headless", "--no-sandbox"]
        )
        try:
            context = browser.new_context(
                timezone_id="UTC", viewport={"width": 800, "height": 1100}
            )
            page = context.new_page()
            page.route("http://testserver/**", answer)
            page.clock.install(time=dt.datetime(2021, 5, 1, 10, 4, tzinfo=dt.UTC))
            page.clock.pause_at(dt.datetime(2021, 5, 1, 10, 5, tzinfo=dt.UTC))
            page.goto("http://testserver" + url)
            clock = page.locator(".countdown-clock")
            status = page.locator("#countdown-status")
            assert clock.inner_text().startswith("Window opens in 3:00")
            assert "opens at 10:08:00" in status.inner_text()
            page.clock.run_for("05:00")  # 10:10
            assert clock.inner_text().startswith("Window open: 18 min left")
            assert clock.get_attribute("data-phase") == "open"
            assert status.inner_text() == "Pulse window open: 20 minutes left."  # at opening
            page.clock.run_for("16:00")  # 10:26: the last minutes are announced
            assert clock.get_attribute("data-phase") == "closing"
            assert status.inner_text() == "Pulse window: 2 minutes left."
            page.clock.run_for("05:00")  # 10:31
            assert clock.inner_text().startswith("Window closed 3 min ago")
            assert status.inner_text() == "Pulse window closed."
            # the time field follows the clock until edited
            assert page.input_value("#id_time") == "10:31:00"
            # choosing a lesion fills in the planned electrode settings
            page.select_option("#id_lesion_id", "P1-L2")
            assert page.input_value("#id_electrode") == "hexagonal"
            assert page.input_value("#id_voltage_v") == "730"
            assert page.input_value("#id_pulses") == "96"
            assert "Planned: hexagonal" in page.locator("#lesion-plan-summary").inner_text()
            # the time following the clock, outside the window: the warning freezes the
            # time it names, and "Save anyway" saves that time, seconds later
            page.click("#application-form button[type=submit]")
            assert page.locator(".window-precheck").is_visible()
            page.clock.run_for(3000)
            assert page.input_value("#id_time") == "10:31:00"
            page.click("#application-form button[type=submit]")
            page.wait_for_load_state()
            assert len(posted) == 1
            assert "time=10%3A31%3A00" in posted[0]
            page.go_back()
            page.select_option("#id_lesion_id", "P1-L2")
            # a time outside the window asks before saving
            page.fill("#id_time", "10:40")
            page.click("#application-form button[type=submit]")
            warning = page.locator(".window-precheck")
            assert warning.is_visible()
            assert "40.0 min after the end of the bolus: after the pulse window" in (
                warning.inner_text()
            )
            assert page.locator("#application-form button[type=submit]").inner_text() == (
                "Save anyway"
            )
            assert page.locator(".record-bar .bar-save").inner_text() == "Save anyway"
            assert len(posted) == 1
            page.click("#application-form button[type=submit]")
            page.wait_for_load_state()
            assert len(posted) == 2
            assert "time=10%3A40" in posted[1]
            # inside the window: saved at once
            page.go_back()
            page.fill("#id_time", "10:12")
            page.select_option("#id_lesion_id", "P1-L1")
            page.click("#application-form button[type=submit]")
            page.wait_for_load_state()
            assert len(posted) == 3
            assert "time=10%3A12" in posted[2]
        finally:
            browser.close()
