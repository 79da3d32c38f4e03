"""Pages and headers that hold up against an attacker: Content-Security-Policy,
``Cache-Control: no-store``, 401 for API writes without credentials, the API docs
without a CDN, no ``Server`` header from ``openect serve``, and the coverage planner
closed to analysts and limited per user."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from openect.data.dataset import Dataset
from openect.registry.access import Actor
from openect.registry.accounts import set_user
from openect.registry.models import Role
from openect.registry.transfer import import_dataset
from openect.web.api import api, planning
from openect.web.models import ApiToken
from openect.web.security import CONTENT_SECURITY_POLICY

ADMIN = Actor("admin", Role.ADMIN)
LESION = {
    "longest_diameter_mm": 12,
    "perpendicular_diameter_mm": 9,
    "thickness_mm": 4,
    "layer": "cutaneous",
}


def _directives(policy: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for part in policy.split(";"):
        name, *values = part.split()
        out[name] = values
    return out


def test_the_policy_allows_no_inline_or_foreign_script() -> None:
    policy = _directives(CONTENT_SECURITY_POLICY)
    assert policy["script-src"] == ["'self'"]
    assert policy["default-src"] == ["'self'"]
    assert policy["style-src-elem"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    assert not any("unsafe-eval" in v or "*" in v for vs in policy.values() for v in vs)


def _signed_in(username: str, role: str, centre: str | None) -> Client:
    set_user(ADMIN, username, role, centre)
    client = Client()
    client.force_login(get_user_model().objects.get(username=username))
    return client


@pytest.mark.django_db
def test_pages_and_api_answers_carry_the_policy_and_no_store(dataset: Dataset) -> None:
    import_dataset(ADMIN, dataset)
    doctor = _signed_in("dr.one", "clinician", "C01")
    for url in ("/", "/patients/P1/", "/dashboard/", "/audit/", "/api/patients/", "/api/docs"):
        for attempt in ("first", "from the page cache"):
            response = doctor.get(url)
            assert response.status_code == 200, (url, attempt)
            assert response["Content-Security-Policy"] == CONTENT_SECURITY_POLICY, url
            assert response["Cache-Control"] == "no-store", (url, attempt)
            assert "Expires" not in response
    anonymous = Client()
    for url in ("/login/", "/api/patients/"):
        response = anonymous.get(url)
        assert response["Cache-Control"] == "no-store"
        assert "Content-Security-Policy" in response


TEMPLATES = Path(__file__).resolve().parents[1] / "src" / "openect" / "web" / "templates"


def test_no_template_has_inline_script_or_event_handlers() -> None:
    for template in TEMPLATES.rglob("*.html"):
        text = template.read_text(encoding="utf-8")
        for tag in re.findall(r"<script\b[^>]*>", text, flags=re.IGNORECASE):
            assert "src=" in tag or 'type="application/json"' in tag, (template, tag)
        assert not re.search(r"\son[a-z]+\s*=", text, flags=re.IGNORECASE), template
        assert "javascript:" not in text.lower(), template


# ----------------------------------------------------------------------------- API 401
def _write_routes() -> list[tuple[str, str]]:
    """Every write operation of the API: (method, path with placeholders filled)."""
    routes = []
    for path, operations in api.get_openapi_schema()["paths"].items():
        for method in operations:
            if method in ("post", "put", "patch", "delete"):
                routes.append((method, re.sub(r"\{[^}]+\}", "P1", path)))
    return routes


def test_every_write_route_is_listed() -> None:
    assert len(_write_routes()) >= 9 * 3 + 3


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "path"), _write_routes())
def test_api_writes_without_credentials_are_401(dataset: Dataset, method: str, path: str) -> None:
    import_dataset(ADMIN, dataset)
    for client in (Client(enforce_csrf_checks=True), Client()):
        response = getattr(client, method)(path, data="{}", content_type="application/json")
        assert response.status_code == 401, (method, path, response.content)
        assert response.json() == {"detail": "Unauthorized"}
    bad_token = Client(enforce_csrf_checks=True, HTTP_AUTHORIZATION="Bearer oect_wrong")
    response = getattr(bad_token, method)(path, data="{}", content_type="application/json")
    assert response.status_code == 401


@pytest.mark.django_db
def test_a_signed_in_session_still_needs_its_csrf_token(dataset: Dataset) -> None:
    import_dataset(ADMIN, dataset)
    set_user(ADMIN, "dr.one", "clinician", "C01")
    client = Client(enforce_csrf_checks=True)
    client.force_login(get_user_model().objects.get(username="dr.one"))
    response = client.post("/api/plan/lesion", data=LESION, content_type="application/json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]


# ----------------------------------------------------------------------------- API docs
@pytest.mark.django_db
def test_the_api_docs_reference_no_external_host() -> None:
    response = Client().get("/api/docs")
    assert response.status_code == 200
    html = response.content.decode()
    assert "/static/ninja/swagger-ui-bundle.js" in html
    assert "/static/ninja/swagger-ui.css" in html
    assert not re.search(r"(src|href)=[\"']?(https?:)?//", html), html
    assert "cdn" not in html.lower()


# ----------------------------------------------------------------------------- coverage planner
def _token(username: str, role: str, centre: str | None = None) -> dict[str, str]:
    set_user(ADMIN, username, role, centre)
    user = get_user_model().objects.get(username=username)
    return {"Authorization": f"Bearer {ApiToken.issue(user, 'test')}"}


def _plan(client: Client, headers: dict[str, str], **changes: Any) -> Any:
    body = json.dumps({**LESION, **changes})
    return client.post(
        "/api/plan/lesion", data=body, content_type="application/json", headers=headers
    )


@pytest.mark.django_db
def test_analysts_may_not_run_the_coverage_planner(
    dataset: Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    import_dataset(ADMIN, dataset)
    ran: list[str] = []

    def plan(*args: Any) -> dict[str, Any]:
        ran.append("x")
        return {"count": 2}

    monkeypatch.setattr(planning, "_coverage_plan", plan)
    analyst = _token("ana.lyst", "analyst")
    refused = _plan(Client(), analyst, coverage=True)
    assert refused.status_code == 403
    assert "analyst" in refused.json()["detail"]
    assert ran == []
    assert _plan(Client(), analyst).status_code == 200  # the rule-based estimate is open
    doctor = _token("dr.one", "clinician", "C01")
    assert _plan(Client(), doctor, coverage=True).status_code == 200
    assert ran == ["x"]


@pytest.mark.django_db
def test_one_coverage_plan_at_a_time_per_user(
    dataset: Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While a user's coverage plan runs, their next one is 429 (another user's is not)."""
    import_dataset(ADMIN, dataset)
    doctor = _token("dr.one", "clinician", "C01")
    other = _token("dr.two", "clinician", "C02")
    during: dict[str, Any] = {}

    def slow_plan(*args: Any) -> dict[str, Any]:
        if not during:  # the first run: meanwhile, the same user and another try again
            during["same"] = _plan(Client(), doctor, coverage=True)
            during["other"] = _plan(Client(), other, coverage=True)
            during["estimate"] = _plan(Client(), doctor)
        return {"count": 3}

    monkeypatch.setattr(planning, "_coverage_plan", slow_plan)
    first = _plan(Client(), doctor, coverage=True)
    assert first.status_code == 200, first.json()
    assert first.json()["applications"] == 3
    assert during["same"].status_code == 429
    assert during["same"].json()["detail"] == planning.COVERAGE_BUSY
    assert "still being computed" in planning.COVERAGE_BUSY
    assert during["other"].status_code == 200
    assert during["estimate"].status_code == 200  # the quick estimate is not limited
    assert _plan(Client(), doctor, coverage=True).status_code == 200  # freed after the run
    assert planning._running == {}


def test_the_slot_is_freed_when_the_planner_fails() -> None:
    with pytest.raises(RuntimeError), planning.coverage_slot("someone"):
        raise RuntimeError("planner failed")
    with planning.coverage_slot("someone"):
        pass
    assert planning._running == {}


# ----------------------------------------------------------------------------- openect serve
def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.slow
@pytest.mark.parametrize("workers", ["1", "2"], ids=["waitress", "gunicorn"])
def test_openect_serve_sends_no_server_header(tmp_path: Path, workers: str) -> None:
    """A real ``openect serve`` on 127.0.0.1: no Server header on pages, API, static files
    or errors; static files keep their caching, pages are no-store."""
    if workers == "2":
        pytest.importorskip("gunicorn")
    port = _free_port()
    env = {
        **os.environ,
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "OPENECT_SECRET_KEY": "sec-" + "k" * 46,
    }
    url = f"sqlite:///{tmp_path / 'registry.sqlite3'}"
    server = subprocess.Popen(
        [sys.executable, "-m", "openect", "serve", "--port", str(port), "--workers", workers,
         "--threads", "2", "--database", url],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert server.poll() is None, server.stdout.read() if server.stdout else ""
                time.sleep(0.2)
        base = f"http://127.0.0.1:{port}"
        login = urllib.request.urlopen(f"{base}/login/", timeout=30)
        css = re.search(r'href="(/static/[^"]+\.css)"', login.read().decode())
        assert css is not None
        answers = {"login": login, "static": urllib.request.urlopen(base + css[1], timeout=30)}
        for name, path in (("api", "/api/patients/"), ("missing", "/no-such-page/")):
            try:
                urllib.request.urlopen(base + path, timeout=30)
            except urllib.error.HTTPError as error:
                answers[name] = error
        assert set(answers) == {"login", "static", "api", "missing"}
        for name, answer in answers.items():
            assert answer.headers.get("Server") is None, (name, answer.headers.get("Server"))
            assert "Via" not in answer.headers
        assert answers["login"].headers["Cache-Control"] == "no-store"
        assert answers["api"].headers["Cache-Control"] == "no-store"
        assert "no-store" not in answers["static"].headers.get("Cache-Control", "")
        assert "Content-Security-Policy" in answers["login"].headers
    finally:
        server.terminate()
        server.wait(timeout=30)
