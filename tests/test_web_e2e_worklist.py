"""End to end in a real browser on the demo's setup: finding and registering patients.

``openect demo`` makes its registry, users and pseudonymisation key (a small register
here), and its printed serve command is run as printed (plus a port). In Debian's
chromium driven by Playwright, at a phone's size (390 x 844) and a desktop's
(1280 x 900), the demo's clinician lands on the worklist, registers a patient by
hospital number, finds them again by that number (from the worklist and from the
patient list), is sent to them when registering the number twice, and finds them in the
list by their label; the demo's data manager, of another centre, finds nothing. No page
shows the hospital number again, and none breaks the site's Content-Security-Policy.
Screenshots of the pages are written to docs/screenshots/.

Skipped when chromium is not installed (``make test`` installs Debian's package).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from openect.cli.demo import DEMO_USERS

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
#: The viewports: a phone and a desktop.
SIZES = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 900}}
PASSWORDS = {name: password for name, _, _, password in DEMO_USERS}

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="Debian chromium not installed (make test installs it)"
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """``openect demo`` (small, no field run) and its serve command, run as printed."""
    folder = tmp_path_factory.mktemp("demo")
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("OPENECT_PSEUDONYM_KEY", "DATABASE_URL"))
    }
    env |= {
        "XDG_DATA_HOME": str(folder / "data"),
        "XDG_CONFIG_HOME": str(folder / "config"),  # no key of the user's
        "OPENECT_SECRET_KEY": "e2e-" + "d" * 46,
    }
    done = subprocess.run(
        [sys.executable, "-m", "openect", "demo", "--dir", str(folder / "openect-demo"),
         "--patients", "150", "--no-field", "--no-lesion-plan", "--json"],
        capture_output=True, text=True, env=env, check=False, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    info = json.loads(done.stdout)
    key_file = Path(info["pseudonym_key_file"])
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert len(key_file.read_text().strip()) >= 32
    port = _free_port()
    server = subprocess.Popen(
        f"{info['serve_command']} --port {port}",
        shell=True,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
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
        yield {"site": f"http://127.0.0.1:{port}", **info}
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--headless", "--no-sandbox"]
        )
        yield launched
        launched.close()


def _shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def _watch(page: Any) -> list[str]:
    """Console errors and Content-Security-Policy violations of ``page``."""
    problems: list[str] = []
    page.add_init_script(
        "document.addEventListener('securitypolicyviolation', e => console.error("
        "'CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI));"
    )
    page.on(
        "console",
        lambda m: (
            problems.append(m.text)
            if m.type == "error"
            and not str(m.location.get("url", "")).endswith("/favicon.ico")
            # a refused form comes back as the page again with status 422 (not a fault)
            and "status of 422" not in m.text
            else None
        ),
    )
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    return problems


def _sign_in(page: Any, site: str, username: str) -> None:
    page.goto(f"{site}/login/")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(PASSWORDS[username])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{site}/")


def _find(page: Any, number: str) -> None:
    """Type ``number`` into the page's "Find by hospital number" box and search."""
    page.get_by_label("Find by hospital number").fill(number)
    page.locator("form.pt-find button[type=submit]").click()
    page.wait_for_load_state()


def _main_text(page: Any) -> str:
    return str(page.locator("main").inner_text())


@pytest.mark.parametrize("size", sorted(SIZES))
def test_the_clinician_registers_and_finds_a_patient_by_hospital_number(
    demo: dict[str, Any], browser: Any, size: str
) -> None:
    site = demo["site"]
    number = f"DEMO-HN-{size.upper()}-0042"
    context = browser.new_context(viewport=SIZES[size])
    page = context.new_page()
    problems = _watch(page)
    _sign_in(page, site, "clinician")

    # the first screen: the worklist of C01, with the way to register and to find
    assert page.locator("h1", has_text="Worklist").count() == 1
    for heading in ("Sessions today and upcoming", "Follow-ups due or overdue", "Recently seen"):
        assert page.get_by_role("heading", name=re.compile(heading)).count() == 1, heading
    assert "C01-" in _main_text(page)  # the patients by their labels
    assert not re.search(r"\bC0[234]-\d{4}", _main_text(page))  # no other centre's
    _shot(page, f"worklist-{size}")

    # register a patient by hospital number
    page.get_by_role("link", name="New patient").click()
    page.wait_for_url(f"{site}/patients/new/")
    page.fill("#id_hospital_number", number)
    page.select_option("#id_sex", "F")
    page.fill("#id_birth_year", "1957")
    page.select_option("#id_primary_tumour", "melanoma")
    if size == "phone":
        _shot(page, "patient-new-phone")
    page.locator("form.pt-form button[type=submit]").click()
    page.wait_for_load_state()
    assert "/patients/PX-" in page.url, _main_text(page)[:1000]
    registered = page.url
    patient_id = registered.rstrip("/").rsplit("/", 1)[-1]
    heading = page.locator("h1").inner_text()
    label = re.search(r"C01-\d{4}", heading)
    assert label is not None, heading
    assert patient_id in heading
    assert number not in page.content()

    # find them again by the number, from the worklist (typed another way)
    page.goto(f"{site}/")
    _find(page, f"  {number.lower()} ")
    assert page.url == registered
    assert "found by hospital number" in _main_text(page)
    if size == "phone":
        _shot(page, "patient-found-phone")

    # and from the patient list; the label finds them too
    page.goto(f"{site}/patients/")
    _find(page, number)
    assert page.url == registered
    page.goto(f"{site}/patients/?q={label.group(0)}")
    assert page.locator(f"table.pt-list a[href='/patients/{patient_id}/']").count() == 1
    if size == "desktop":
        _shot(page, "patient-list-search")

    # registering the number twice leads to the patient
    page.goto(f"{site}/patients/new/")
    page.fill("#id_hospital_number", number)
    page.select_option("#id_sex", "F")
    page.fill("#id_birth_year", "1957")
    page.select_option("#id_primary_tumour", "melanoma")
    page.locator("form.pt-form button[type=submit]").click()
    page.wait_for_load_state()
    notice = page.locator("#already-registered")
    assert "already registered" in notice.inner_text()
    assert number not in page.content()
    if size == "phone":
        _shot(page, "already-registered-phone")
    notice.get_by_role("link").click()
    page.wait_for_load_state()
    assert page.url == registered

    # a number never registered: said so, with the way to register
    page.goto(f"{site}/")
    _find(page, f"DEMO-HN-{size.upper()}-UNKNOWN")
    assert page.url == f"{site}/patients/find/"
    assert "No patient of centre C01" in _main_text(page)
    if size == "phone":
        _shot(page, "patient-not-found-phone")
    assert problems == [], problems
    context.close()

    # the demo's data manager, of centre C02, finds nothing under that number
    other = browser.new_context(viewport=SIZES[size])
    page = other.new_page()
    _sign_in(page, site, "manager")
    _find(page, number)
    assert "No patient of centre C02" in _main_text(page)
    assert patient_id not in page.content()
    other.close()


def test_the_worklist_fits_a_phone(demo: dict[str, Any], browser: Any) -> None:
    """No part of the worklist is wider than a phone's screen (nothing to scroll sideways)."""
    context = browser.new_context(viewport=SIZES["phone"])
    page = context.new_page()
    _sign_in(page, demo["site"], "clinician")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= SIZES["phone"]["width"], width
    context.close()
