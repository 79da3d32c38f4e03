"""End to end in a real browser: Debian's chromium driven by Playwright against
``openect serve`` (the production server) on its own SQLite registry.

A clinician signs in, registers a patient with two lesions, plans and records a session
(applications inside the drug window), enters a follow-up, sees the response on the body
map and the change in the audit trail; a clinician of another centre cannot see that
patient. Screenshots of the main pages are written to docs/screenshots/.

Skipped when chromium is not installed (``make test`` installs Debian's package).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from openect.data.csvio import write_dataset
from openect.synth import generate_cohort

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
PASSWORD = "e2e-password-123"

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="Debian chromium not installed (make test installs it)"
)


def _openect(*args: str, env: dict[str, str], stdin: str | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "openect", *args],
        capture_output=True,
        text=True,
        input=stdin,
        env=env,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``openect serve`` on a new registry (a small synthetic register, two centres)."""
    folder = tmp_path_factory.mktemp("site")
    env = {
        **os.environ,
        "XDG_DATA_HOME": str(folder / "data"),
        "OPENECT_SECRET_KEY": "e2e-" + "k" * 46,
        "OPENECT_PSEUDONYM_KEY": "e2e-centre-key-" + "p" * 32,
    }
    url = f"sqlite:///{folder / 'registry.sqlite3'}"
    dataset = write_dataset(generate_cohort(12, centres=2, seed=5), folder / "dataset")
    _openect("registry", "init", "--database", url, env=env)
    _openect("registry", "import", str(dataset), "--database", url, env=env)
    for name, role, centre in (
        ("dr.one", "clinician", "C01"),
        ("dr.two", "clinician", "C02"),
        ("admin", "admin", None),
    ):
        where = ["--centre", centre] if centre else []
        _openect("registry", "user", name, "--role", role, *where, "--password-stdin",
                 "--database", url, env=env, stdin=PASSWORD + "\n")  # fmt: skip
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "openect", "serve", "--port", str(port), "--database", url],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert server.poll() is None, server.stdout.read() if server.stdout else ""
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--headless", "--no-sandbox"]
        )
        yield launched
        launched.close()


def _shot(page: object, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)  # type: ignore[attr-defined]


TODAY = dt.date.today()


def _sign_in(page: object, site: str, username: str) -> None:
    """Sign in; an administrator (new here) then sets up the second factor, as a person
    would with an authenticator app: the secret key of the page, the code of now."""
    page.goto(f"{site}/login/")  # type: ignore[attr-defined]
    page.get_by_label("User name").fill(username)  # type: ignore[attr-defined]
    page.get_by_label("Password").fill(PASSWORD)  # type: ignore[attr-defined]
    page.get_by_role("button", name="Sign in").click()  # type: ignore[attr-defined]
    page.wait_for_url(re.compile(rf"{re.escape(site)}/(account/.*)?$"))  # type: ignore[attr-defined]
    if "/account/" in page.url:  # type: ignore[attr-defined]
        from base64 import b32decode

        from django_otp.oath import totp

        secret = page.locator("#secret").input_value().replace(" ", "")  # type: ignore[attr-defined]
        page.get_by_label("Code from the app").fill(f"{totp(b32decode(secret)):06d}")  # type: ignore[attr-defined]
        page.get_by_role("button", name="Confirm").click()  # type: ignore[attr-defined]
    page.wait_for_url(f"{site}/")  # type: ignore[attr-defined]


def _submit(page: object) -> None:
    """Click the submit button of the page's record form (not "Sign out")."""
    page.locator("form.pt-form button[type=submit]").first.click()  # type: ignore[attr-defined]
    page.wait_for_load_state()  # type: ignore[attr-defined]


def test_a_clinician_records_a_patient_from_registration_to_follow_up(
    site: str, browser: object
) -> None:
    context = browser.new_context(viewport={"width": 1024, "height": 1366})  # type: ignore[attr-defined]
    page = context.new_page()
    _sign_in(page, site, "dr.one")
    assert "dr.one" in page.content()
    assert page.locator("h1", has_text="Worklist").count() == 1  # a clinician's home
    page.goto(f"{site}/patients/")
    _shot(page, "patient-list")

    # register a patient by hospital number (pseudonymised), with two lesions
    page.goto(f"{site}/patients/new/")
    page.fill("#id_hospital_number", "E2E-HOSPITAL-000123")
    page.select_option("#id_sex", "F")
    page.fill("#id_birth_year", "1958")
    page.select_option("#id_primary_tumour", "melanoma")
    _shot(page, "patient-new")
    _submit(page)
    assert "/patients/PX-" in page.url, page.content()[:2000]
    patient_id = page.url.rstrip("/").rsplit("/", 1)[-1]
    assert "E2E-HOSPITAL-000123" not in page.content()
    baseline = (TODAY - dt.timedelta(days=70)).isoformat()
    for lesion, site_name, size in (("L1", "trunk_anterior", "18"), ("L2", "lower_limb_left", "9")):
        page.goto(f"{site}/patients/{patient_id}/lesions/new/")
        page.fill("#id_lesion_id", f"{patient_id}-{lesion}")
        page.select_option("#id_body_site", site_name)
        page.select_option("#id_layer", "cutaneous")
        page.fill("#id_baseline_date", baseline)
        page.fill("#id_longest_diameter_mm", size)
        page.fill("#id_perpendicular_diameter_mm", size)
        page.fill("#id_thickness_mm", "3")
        _submit(page)
        assert "saved" in page.content().lower() or f"{patient_id}-{lesion}" in page.content()

    # plan the session (dose, window, electrodes) and record it
    page.goto(f"{site}/patients/{patient_id}/plan/")
    if page.locator("#id_plan-height_cm").count():
        page.fill("#id_plan-height_cm", "168")
        page.fill("#id_plan-weight_kg", "64")
    page.get_by_role("button", name="Plan the session").click()
    page.wait_for_load_state()
    assert "IU" in page.content()
    _shot(page, "session-plan")
    session_date = page.locator("#id_session-session_date")
    if session_date.count():
        session_date.fill((TODAY - dt.timedelta(days=60)).isoformat())
    page.get_by_role("button", name="Record this session").click()
    page.wait_for_load_state()
    assert "/record/" in page.url, page.content()[:3000]
    assert page.locator("[aria-live]").count() >= 1
    page.get_by_role("button", name="Bolus ended now").click()
    page.get_by_role("button", name="Save bolus end").click()
    page.wait_for_load_state()
    # the session was 60 days ago (so that today's follow-up is at the landmark): the
    # countdown, running from the saved bolus end, says the window has closed
    # (locator waits, not wait_for_function: the site's CSP forbids evaluating strings)
    page.locator(".countdown-clock", has_text="Window closed").wait_for()
    _shot(page, "session-record")
    for lesion in ("L1", "L2"):
        page.select_option("#id_lesion_id", f"{patient_id}-{lesion}")
        save = page.locator("#application-form button[type=submit]")
        save.click()
        page.wait_for_load_state()
        if save.count() and save.inner_text() == "Save anyway":
            save.click()
            page.wait_for_load_state()
    assert page.content().count(f"{patient_id}-L1") >= 1

    # follow-up: L1 disappeared (CR), derived while typing
    page.goto(f"{site}/patients/{patient_id}/assessments/new/?lesion={patient_id}-L1")
    page.fill("#id_assessment_date", (TODAY - dt.timedelta(days=1)).isoformat())
    page.fill("#id_longest_diameter_mm", "0")
    page.locator("#id_longest_diameter_mm").press("Tab")
    page.locator("#response-preview", has_text=re.compile(r"\bCR\b")).wait_for()
    _shot(page, "follow-up")
    _submit(page)

    # the response on the body map, and the audit trail of the change
    page.goto(f"{site}/patients/{patient_id}/")
    marker = page.locator(f"circle.bm-lesion[data-lesion='{patient_id}-L1']")
    assert marker.count() == 1
    assert "response-CR" in (marker.get_attribute("class") or "")
    _shot(page, "patient-page")
    page.goto(f"{site}/audit/patients/{patient_id}/")
    assert "dr.one" in page.content()
    assert "Create" in page.content()
    _shot(page, "audit")
    page.goto(f"{site}/dashboard/")
    _shot(page, "dashboard")
    context.close()

    # a clinician of the other centre cannot see that patient
    other = browser.new_context()  # type: ignore[attr-defined]
    page = other.new_page()
    _sign_in(page, site, "dr.two")
    assert patient_id not in page.content()
    response = page.goto(f"{site}/patients/{patient_id}/")
    assert response is not None
    assert response.status == 404
    other.close()


def test_fifteen_applications_on_a_tablet_in_at_most_35_taps(site: str, browser: object) -> None:
    """At the bedside on a tablet (768 x 1024): a session of today, bolus ended 10 min ago,
    15 applications inside the window. Every tap on the recording page is counted (a
    choice from a list is two: open it, pick); the save and repeat buttons stay on screen
    (the sticky bar) wherever the page is scrolled."""
    context = browser.new_context(viewport={"width": 768, "height": 1024}, timezone_id="UTC")  # type: ignore[attr-defined]
    page = context.new_page()
    _sign_in(page, site, "dr.one")
    page.goto(f"{site}/patients/new/")
    page.fill("#id_hospital_number", "E2E-TABLET-000777")
    page.select_option("#id_sex", "M")
    page.fill("#id_birth_year", "1950")
    page.select_option("#id_primary_tumour", "melanoma")
    _submit(page)
    patient_id = page.url.rstrip("/").rsplit("/", 1)[-1]
    for lesion, size in (("L1", "25"), ("L2", "8")):  # over 2 cm: intravenous
        page.goto(f"{site}/patients/{patient_id}/lesions/new/")
        page.fill("#id_lesion_id", f"{patient_id}-{lesion}")
        page.select_option("#id_body_site", "trunk_anterior")
        page.select_option("#id_layer", "cutaneous")
        page.fill("#id_baseline_date", TODAY.isoformat())
        page.fill("#id_longest_diameter_mm", size)
        page.fill("#id_perpendicular_diameter_mm", size)
        page.fill("#id_thickness_mm", "4")
        _submit(page)
    page.goto(f"{site}/patients/{patient_id}/plan/")
    if page.locator("#id_plan-height_cm").count():
        page.fill("#id_plan-height_cm", "180")
        page.fill("#id_plan-weight_kg", "80")
    page.get_by_role("button", name="Plan the session").click()
    page.wait_for_load_state()
    session_date = page.locator("#id_session-session_date")
    if session_date.count():
        session_date.fill(TODAY.isoformat())
    page.get_by_role("button", name="Record this session").click()
    page.wait_for_load_state()
    assert "/record/" in page.url, page.content()[:3000]
    bolus = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10)
    page.fill("#id_bolus_end_time", bolus.strftime("%H:%M:%S"))
    page.get_by_role("button", name="Save bolus end").click()
    page.wait_for_load_state()
    page.locator(".countdown-clock", has_text="Window open").wait_for()

    taps = 0

    def tap(locator: object) -> None:
        nonlocal taps
        taps += 1
        locator.click()  # type: ignore[attr-defined]
        page.wait_for_load_state()

    # the first application: pick the lesion (2 taps: its planned settings fill in), save
    page.select_option("#id_lesion_id", f"{patient_id}-L1")
    taps += 2
    tap(page.locator(".record-bar .bar-save"))
    # then the same again, one tap each, from the bar
    for _ in range(14):
        tap(page.locator("#repeat-last"))
    recorded = page.locator("table.applications tbody tr")
    assert recorded.count() == 15
    assert page.locator("table.applications .outside").count() == 0
    assert taps <= 35, taps
    _shot(page, "session-record-tablet")
    # the bar, with its buttons, is on screen at the bottom of the page too
    page.keyboard.press("End")
    for button in (".record-bar .bar-save", "#repeat-last"):
        box = page.locator(button).bounding_box()
        assert box is not None
        assert box["y"] >= 0, (button, box)
        assert box["y"] + box["height"] <= 1024, (button, box)
    # on a phone too, and the page is no wider than the screen
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    page.keyboard.press("End")
    for button in (".record-bar .bar-save", "#repeat-last"):
        box = page.locator(button).bounding_box()
        assert box is not None
        assert box["y"] >= 0, (button, box)
        assert box["y"] + box["height"] <= 844, (button, box)
    assert page.locator("body").bounding_box()["width"] <= 390  # type: ignore[index]
    page.screenshot(path=str(SCREENSHOTS / "session-record-phone.png"))
    context.close()


def _watch_policy(page: object) -> list[str]:
    """Collect Content-Security-Policy violations and console errors of ``page``."""
    problems: list[str] = []
    page.add_init_script(  # type: ignore[attr-defined]
        "document.addEventListener('securitypolicyviolation', e => console.error("
        "'CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI));"
    )

    def on_console(message: object) -> None:
        if message.type != "error":  # type: ignore[attr-defined]
            return
        where = str(message.location.get("url", ""))  # type: ignore[attr-defined]
        if not where.endswith("/favicon.ico"):  # the browser's own guess, not a page's
            problems.append(f"{message.text} ({where})")  # type: ignore[attr-defined]

    page.on("console", on_console)  # type: ignore[attr-defined]
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))  # type: ignore[attr-defined]
    return problems


def _external_requests_blocked(context: object, site: str) -> list[str]:
    """Abort every request not to the site (127.0.0.1); return the URLs aborted."""
    blocked: list[str] = []

    def route(route: object) -> None:
        url = route.request.url  # type: ignore[attr-defined]
        if url.startswith(site) or url.startswith("data:"):
            route.continue_()  # type: ignore[attr-defined]
        else:
            blocked.append(url)
            route.abort()  # type: ignore[attr-defined]

    context.route("**/*", route)  # type: ignore[attr-defined]
    return blocked


def test_the_main_pages_break_no_content_security_policy(site: str, browser: object) -> None:
    """Every main page, with its scripts running, under the site's CSP: no violation, no
    console error (inline scripts would be blocked and reported here)."""
    context = browser.new_context()  # type: ignore[attr-defined]
    page = context.new_page()
    problems = _watch_policy(page)
    _sign_in(page, site, "dr.one")
    page.goto(f"{site}/patients/")
    link = page.locator("table.pt-list a[href^='/patients/']").first
    patient = (link.get_attribute("href") or "").strip("/").rsplit("/", 1)[-1]
    assert patient
    for path in (
        "/",
        "/worklist/",
        "/patients/",
        "/patients/find/",
        f"/patients/{patient}/",
        f"/patients/{patient}/plan/",
        f"/patients/{patient}/assessments/new/",
        "/patients/new/",
        "/dashboard/",
        "/audit/",
        "/export/",
        "/api/docs",
    ):
        response = page.goto(f"{site}{path}")
        assert response is not None
        assert response.status == 200, path
        assert "script-src 'self'" in (response.headers.get("content-security-policy") or "")
        page.wait_for_load_state("networkidle")
    assert not [p for p in problems if "Content Security Policy" in p or "CSP" in p], problems
    assert problems == [], problems
    context.close()


def test_the_api_documentation_page_loads(site: str, browser: object) -> None:
    """The schema, and Swagger UI rendered with no request leaving the site."""
    context = browser.new_context()  # type: ignore[attr-defined]
    blocked = _external_requests_blocked(context, site)
    page = context.new_page()
    problems = _watch_policy(page)
    _sign_in(page, site, "admin")
    response = page.goto(f"{site}/api/openapi.json")
    assert response is not None
    assert response.status == 200
    assert response.json()["info"]["title"] == "OpenECT API"
    docs = page.goto(f"{site}/api/docs")
    assert docs is not None
    assert docs.status == 200
    page.wait_for_selector(".swagger-ui .info .title", timeout=30000)
    assert "OpenECT API" in page.locator(".swagger-ui .info .title").inner_text()
    page.wait_for_selector(".swagger-ui .opblock", timeout=30000)
    assert page.locator(".swagger-ui .opblock").count() > 10
    assert blocked == [], blocked
    assert problems == [], problems
    context.close()
