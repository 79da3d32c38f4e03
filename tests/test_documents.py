"""Printable documents: the record of an ECT session and the treatment summary letter,
as pages to print and as PDFs whose text holds what the clinician signs."""

from __future__ import annotations

import datetime as dt
import io
import re
import shutil
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse
from pypdf import PdfReader

from openect.data.dataset import Dataset
from openect.data.models import Application
from openect.formatting import clock, number
from openect.registry import accounts, services
from openect.registry.access import Actor
from openect.registry.models import AccessEntry, Role
from openect.registry.transfer import import_dataset
from openect.web.pages.document_views import session_record, treatment_letter

pytestmark = pytest.mark.django_db

ADMIN = Actor("admin", Role.ADMIN)
PASSWORD = "correct-horse-battery"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"


def pdf_text(content: bytes) -> tuple[int, str]:
    """Pages and text of a PDF."""
    reader = PdfReader(io.BytesIO(content))
    return len(reader.pages), spaced("\n".join(page.extract_text() for page in reader.pages))


def spaced(text: str) -> str:
    """``text`` with the no-break spaces of the number format as plain spaces."""
    return text.replace("\u202f", " ").replace("\u00a0", " ")


def signed_in(username: str, role: str, centre: str | None = None) -> Client:
    """A test client signed in as a new registry user."""
    accounts.set_user(ADMIN, username, role, centre, PASSWORD)
    client = Client()
    assert client.login(username=username, password=PASSWORD)
    return client


@pytest.fixture
def registry(dataset: Dataset) -> Dataset:
    """The small dataset in the registry (P1 of C01 with session P1-S1, P2 of C02)."""
    import_dataset(ADMIN, dataset)
    return dataset


@pytest.fixture
def clinician(registry: Dataset) -> Client:
    """A clinician of C01 (P1's centre)."""
    return signed_in("dr.one", "clinician", "C01")


def label_of(patient_id: str) -> str:
    """The short label the registry gave the patient (``C01-0001``)."""
    records = services.patient_records(ADMIN, patient_id)
    label = records.patients[0].label
    assert label is not None
    return label


# ----------------------------------------------------------------------------- session
def test_the_session_record_pdf_holds_the_label_the_dose_each_application_and_signatures(
    clinician: Client,
) -> None:
    response = clinician.get(reverse("session-pdf", args=["P1-S1"]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    label = label_of("P1")
    assert response["Content-Disposition"] == (
        f'inline; filename="session-record-{label}-2020-03-02.pdf"'
    )
    assert response["Cache-Control"] == "no-store"
    _, text = pdf_text(response.content)
    flat = " ".join(text.split())
    assert f"Session 1 · {label}" in flat
    assert "pseudonym P1" in flat
    assert "Test centre one" in flat
    assert spaced(number(25_500, "IU", 0)) in flat  # the dose given
    how = f"{number(15_000, 'IU/m²', 0)} × {number(1.7, 'm²', 2)} = {number(25_500, 'IU', 0)}"
    assert spaced(how) in flat  # and how it was reached
    assert "general" in flat  # anaesthesia
    assert "09:05" in flat  # the end of the bolus
    for time in ("09:15", "09:16"):
        assert time in flat
    assert "aborted" in flat  # the second application's train was aborted
    assert "Pain" in flat  # the adverse event of the session
    for line in ("Operator", "Anaesthetist", "Signature", "Date"):
        assert line in flat


def test_the_print_page_has_the_record_the_print_stylesheet_and_no_navigation_in_print(
    clinician: Client,
) -> None:
    response = clinician.get(reverse("session-print", args=["P1-S1"]))
    assert response.status_code == 200
    page = response.content.decode()
    assert "web/documents.css" in page
    assert reverse("session-pdf", args=["P1-S1"]) in page
    assert re.search(r"<th scope=\"row\">09:15</th>", page)
    assert "Rule dose.iv_bleomycin_per_m2" in page
    assert "standard window" in page
    pk = clinician.get(reverse("session-print", args=["P1-S1"]) + "?window=pk").content.decode()
    assert "pharmacokinetic window by age" in pk  # as on the recording page
    assert reverse("session-pdf", args=["P1-S1"]) + "?window=pk" in pk
    css = Path(__file__).resolve().parents[1] / "src/openect/web/static/web/documents.css"
    text = css.read_text()
    assert "@media print" in text
    assert "size: A4" in text
    assert re.search(r"\.doc-table tr[^{]*\{[^}]*break-inside: avoid", text)
    assert re.search(r"@media print \{\s*\.top, \.foot[^{]*\{ display: none", text)


def test_a_table_longer_than_one_page_keeps_every_application(
    dataset: Dataset, client: Client
) -> None:
    start = dt.datetime(2020, 3, 2, 9, 13)
    dataset.applications.extend(
        Application(
            application_id=f"P1-S1-A{n}",
            session_id="P1-S1",
            lesion_id="P1-L2",
            time=(start + dt.timedelta(seconds=37 * n)).time(),
            electrode="hexagonal",
            voltage_v=730.0,
            pulses=96,
            current_a=6.0,
            complete=True,
        )
        for n in range(3, 83)
    )
    import_dataset(ADMIN, dataset)
    client = signed_in("dr.one", "clinician", "C01")
    response = client.get(reverse("session-pdf", args=["P1-S1"]))
    pages, text = pdf_text(response.content)
    assert pages >= 3
    times = [clock(a.time) for a in dataset.applications if a.session_id == "P1-S1"]
    assert len(times) == 82
    for time in times:
        assert time in text, time
    assert "Applications (82)" in text
    assert "Anaesthetist" in text  # the signatures come after the table


def test_the_record_explains_a_dose_different_from_the_rule_set(registry: Dataset) -> None:
    record = session_record(services.patient_records(ADMIN, "P1"), "P1-S1")
    texts = [r.text for r in record.dose_reasons]
    # esope-2006 gives 15,000 IU/m2 (patient 70 at the session); the record matches it
    standard = f"Standard dose of rule set esope-2006: {number(15_000, 'IU/m²', 0)}"
    assert any(standard in t for t in texts)
    assert all("recorded:" not in t for t in texts)
    assert [a.window_state for a in record.applications] == ["inside", "inside"]
    assert record.window_opens == dt.time(9, 13)  # 8 min after 09:05


def test_an_intratumoural_record_explains_the_dose_by_lesion_volume(registry: Dataset) -> None:
    record = session_record(services.patient_records(ADMIN, "P2"), "P2-S1")
    first, total = record.dose_reasons
    # P2-L1: 8 mm, no perpendicular diameter: a sphere of pi/6 * 8^3 mm3 = 0.27 cm3
    assert first.text.startswith(f"P2-L1: {number(0.268, 'cm³', 2)} (ellipsoid of 8 × 8")
    assert first.rule_id == "dose.it_bleomycin"
    assert first.to_verify  # the rule was not verified in its source
    assert total.text == f"Total given (recorded): {number(250, 'IU', 0)}."
    assert record.window.rule_id == "window.it"
    # an application without a time cannot be placed in the window
    assert [a.window_state for a in record.applications] == ["unknown"]


# ----------------------------------------------------------------------------- letter
def test_the_letter_names_the_sessions_responses_events_and_follow_up(
    clinician: Client,
) -> None:
    response = clinician.get(reverse("patient-letter-pdf", args=["P1"]))
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    label = label_of("P1")
    assert re.fullmatch(
        rf'inline; filename="treatment-letter-{label}-\d{{4}}-\d\d-\d\d\.pdf"',
        response["Content-Disposition"],
    )
    _, text = pdf_text(response.content)
    flat = " ".join(text.split())
    assert f"Treatment summary · {label}" in flat
    assert "melanoma, stage IIIC" in flat
    assert "2020-03-02" in flat
    assert spaced(number(25_500, "IU", 0)) in flat
    assert "P1-L1, P1-L2" in flat  # lesions treated in the session
    assert "complete response" in flat  # P1-L1 measured 0 mm on 2020-05-01
    assert "partial response" in flat  # P1-L2's override
    assert "Pain" in flat
    assert "grade 2" in flat
    assert "response assessment (~60 days)" in flat.lower()
    assert "done" in flat  # assessed within the 40-100 day window
    assert "Signing clinician" in flat
    assert "Signature" in flat


def test_the_letter_page_renders(clinician: Client) -> None:
    response = clinician.get(reverse("patient-letter", args=["P1"]))
    assert response.status_code == 200
    page = response.content.decode()
    assert reverse("patient-letter-pdf", args=["P1"]) in page
    assert "Dear colleague" in page


def test_the_letter_of_a_deceased_patient_plans_no_follow_up(registry: Dataset) -> None:
    letter = treatment_letter(services.patient_records(ADMIN, "P2"), "P2", dt.date(2021, 1, 1))
    assert letter.death_date == dt.date(2020, 9, 1)
    assert letter.follow_up == ()
    assert [s.lesions for s in letter.sessions] == [("P2-L1",)]


# ----------------------------------------------------------------------------- scope
DOCUMENTS = [
    ("session-print", "P1-S1"),
    ("session-pdf", "P1-S1"),
    ("patient-letter", "P1"),
    ("patient-letter-pdf", "P1"),
]


def test_another_centre_gets_404_and_an_analyst_reads_as_on_the_session_pages(
    registry: Dataset,
) -> None:
    other = signed_in("dr.two", "clinician", "C02")
    analyst = signed_in("an.alyst", "analyst")
    assert other.get(reverse("session-record", args=["P1-S1"])).status_code == 404
    assert analyst.get(reverse("session-record", args=["P1-S1"])).status_code == 200
    for name, record_id in DOCUMENTS:
        url = reverse(name, args=[record_id])
        assert other.get(url).status_code == 404, url
        assert analyst.get(url).status_code == 200, url
        anonymous = Client().get(url)
        assert anonymous.status_code == 302
        assert "/login/" in anonymous["Location"]
    assert not AccessEntry.objects.filter(actor="dr.two").exclude(action="sign_in").exists()


def test_an_analyst_sees_no_free_text_on_the_record(registry: Dataset) -> None:
    analyst = signed_in("an.alyst", "analyst")
    page = analyst.get(reverse("session-print", args=["P1-S1"])).content.decode()
    assert "(hidden)" in page  # the adverse event's term is free text
    assert "<td>Pain</td>" not in page


def test_voided_records_leave_the_documents(clinician: Client) -> None:
    services.void(ADMIN, Application, "P1-S1-A2", "entered on the wrong patient")
    page = clinician.get(reverse("session-print", args=["P1-S1"])).content.decode()
    assert "Applications (1)" in page
    assert "09:15" in page
    assert "09:16" not in page
    services.void(ADMIN, "sessions", "P1-S1", "session entered twice")
    assert clinician.get(reverse("session-pdf", args=["P1-S1"])).status_code == 404
    letter = clinician.get(reverse("patient-letter", args=["P1"])).content.decode()
    assert "has no electrochemotherapy session recorded" in letter


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "path",
    [
        "/sessions/P9-S9/record.pdf",
        "/sessions/P9-S9/print/",
        "/patients/P9/letter/",
        "/patients/P1%27%3B--%20%3Cb%3E/letter.pdf",
        "/patients/%E2%98%83..%5C/letter/",
        "/sessions/%20/print/",
    ],
)
def test_unknown_or_odd_ids_are_404_pages(clinician: Client, path: str) -> None:
    response = clinician.get(path)
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    assert b"in your scope" in response.content


def test_only_get_is_answered(clinician: Client) -> None:
    response = clinician.post(reverse("session-pdf", args=["P1-S1"]))
    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"


# ----------------------------------------------------------------------------- access log
def test_reading_a_document_is_logged(clinician: Client) -> None:
    clinician.get(reverse("session-print", args=["P1-S1"]))
    clinician.get(reverse("session-pdf", args=["P1-S1"]))
    clinician.get(reverse("patient-letter-pdf", args=["P1"]))
    entries = list(
        AccessEntry.objects.filter(actor="dr.one")
        .exclude(action="sign_in")
        .order_by("id")
        .values_list("action", "entity", "record_id", "query", "centre_id", "channel")
    )
    assert entries == [
        ("view", "sessions", "P1-S1", "document=session record", "C01", "page"),
        ("export", "sessions", "P1-S1", "document=session record; format=pdf", "C01", "page"),
        ("export", "patients", "P1", "document=treatment letter; format=pdf", "C01", "page"),
    ]


# ----------------------------------------------------------------------------- browser
STATIC = Path(__file__).resolve().parents[1] / "src" / "openect" / "web" / "static"


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium not installed")
def test_the_print_page_in_print_media_shows_the_document_without_navigation(
    clinician: Client,
) -> None:
    """The page as the server renders it, with its stylesheets and script, in chromium:
    on screen with the navigation, in print media without it."""
    from django.conf import settings
    from playwright.sync_api import Route, sync_playwright

    path = reverse("session-print", args=["P1-S1"])
    html = clinician.get(path).content
    origin = "http://openect.test"

    def serve(route: Route) -> None:
        asked = route.request.url.removeprefix(origin).split("?")[0]
        if asked == path:
            route.fulfill(status=200, body=html, content_type="text/html; charset=utf-8")
        elif asked.startswith(settings.STATIC_URL):
            file = STATIC / asked.removeprefix(settings.STATIC_URL)
            kind = "text/css" if file.suffix == ".css" else "text/javascript"
            route.fulfill(status=200, body=file.read_bytes(), content_type=kind)
        else:
            route.fulfill(status=404, body=b"")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--headless", "--no-sandbox"]
        )
        page = browser.new_page(viewport={"width": 794, "height": 1123})  # A4 at 96 dpi
        page.route(f"{origin}/**", serve)
        page.goto(f"{origin}{path}")
        assert page.locator("header.top").is_visible()
        assert page.get_by_role("button", name="Print").is_visible()
        page.emulate_media(media="print")
        assert not page.locator("header.top").is_visible()
        assert not page.locator(".doc-actions").is_visible()
        dose = spaced(page.locator("#doc-dose").inner_text())
        assert dose == spaced(number(25_500, "IU", 0))
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "session-record-print.png"), full_page=True)
        browser.close()
