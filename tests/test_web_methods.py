"""Every session, dashboard, audit and export URL answers only the HTTP methods its view
declares: any other gets 405 with an ``Allow`` header (PUT and DELETE everywhere, GET on
the URLs that only take a POST, POST on the pages that are only read)."""

from __future__ import annotations

import html

import pytest
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.urls import URLPattern, reverse

from openect import errors
from openect.data.dataset import Dataset
from openect.registry import accounts
from openect.registry.access import Actor
from openect.registry.models import Role
from openect.registry.transfer import import_dataset
from openect.web.pages import audit_urls, dashboard_urls, export_urls, session_urls
from openect.web.pages.common import with_actor

pytestmark = pytest.mark.django_db

ADMIN = Actor("admin", Role.ADMIN)
PASSWORD = "correct-horse-battery"
#: URL arguments of the small dataset, by name in the URL patterns.
ARGUMENTS = {
    "patient_id": "P1",
    "session_id": "P1-S1",
    "table": "sessions",
    "record_id": "P1-S1",
}
#: The methods each URL declares (HEAD comes with GET).
DECLARED = {
    "session-plan": {"GET", "HEAD", "POST"},
    "session-new": {"POST"},
    "session-record": {"GET", "HEAD"},
    "session-bolus": {"POST"},
    "application-new": {"POST"},
    "application-undo": {"POST"},
    "dashboard": {"GET", "HEAD"},
    "audit": {"GET", "HEAD"},
    "record-audit": {"GET", "HEAD"},
    "export": {"GET", "HEAD", "POST"},
}
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")

PATTERNS: list[URLPattern] = [
    *session_urls.urlpatterns,
    *dashboard_urls.urlpatterns,
    *audit_urls.urlpatterns,
    *export_urls.urlpatterns,
]


def url_of(pattern: URLPattern) -> str:
    """The URL of ``pattern`` with the small dataset's ids."""
    names = pattern.pattern.regex.groupindex
    return str(reverse(str(pattern.name), kwargs={name: ARGUMENTS[name] for name in names}))


@pytest.fixture
def client(dataset: Dataset) -> Client:
    """A clinician of C01 (P1's centre) on the small dataset."""
    import_dataset(ADMIN, dataset)
    accounts.set_user(ADMIN, "dr.one", "clinician", "C01", PASSWORD)
    signed_in = Client()
    assert signed_in.login(username="dr.one", password=PASSWORD)
    return signed_in


def test_every_url_declares_its_methods() -> None:
    assert {str(p.name) for p in PATTERNS} == set(DECLARED)
    for pattern in PATTERNS:
        declared = getattr(pattern.callback, "allowed_methods", None)
        assert declared is not None, f"{pattern.name}: the view declares no HTTP methods"
        assert set(declared) == DECLARED[str(pattern.name)], pattern.name


@pytest.mark.parametrize("pattern", PATTERNS, ids=lambda p: str(p.name))
def test_an_undeclared_method_gets_405(client: Client, pattern: URLPattern) -> None:
    url = url_of(pattern)
    allowed = DECLARED[str(pattern.name)]
    for method in METHODS:
        if method in allowed:
            continue
        response = client.generic(method, url)
        assert response.status_code == 405, f"{method} {url}: {response.status_code}"
        assert set(response["Allow"].split(", ")) == allowed, f"{method} {url}"


@pytest.mark.parametrize(
    "name", ["session-new", "session-bolus", "application-new", "application-undo"]
)
def test_get_on_a_url_that_takes_only_a_post_is_405(client: Client, name: str) -> None:
    pattern = next(p for p in PATTERNS if p.name == name)
    response = client.get(url_of(pattern))
    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert "Method not allowed" in response.content.decode()


@pytest.mark.parametrize("pattern", PATTERNS, ids=lambda p: str(p.name))
def test_declared_methods_are_answered(client: Client, pattern: URLPattern) -> None:
    """GET pages render; a POST is answered by its view (not 405) - a redirect, the page
    again with errors, or the export."""
    url = url_of(pattern)
    for method in DECLARED[str(pattern.name)]:
        response = client.generic(method, url)
        assert response.status_code in (200, 302), f"{method} {url}: {response.status_code}"


@pytest.mark.parametrize(
    ("error", "status", "title"),
    [
        (errors.RecordInUseError("patients 'P1': still referred to by 2 row(s)"), 409, "In use"),
        (errors.InputError("offset=-1: allowed >= 0"), 400, "Not done"),
        (errors.NotFoundError("lesions: no lesion_id='X' in your scope"), 404, "Not found"),
        (errors.ConfigurationError("no pseudonymisation key"), 503, "Not available"),
    ],
)
def test_a_page_answers_an_error_by_its_type(
    client: Client, error: errors.OpenECTError, status: int, title: str
) -> None:
    """Pages map OpenECT's errors to HTTP statuses by type, with the message shown."""
    from django.test import RequestFactory

    def failing(request: HttpRequest, *, actor: Actor) -> HttpResponse:
        raise error

    request = RequestFactory().get("/anything/")
    request.user = User.objects.get(username="dr.one")
    response = with_actor(failing)(request)
    assert response.status_code == status
    text = response.content.decode()
    assert title in text
    assert html.escape(str(error), quote=True) in text
