"""Hostile text in requests: NUL characters and bytes that are not UTF-8 are refused
with 400 before any view runs (nothing written), and 422 answers never echo more than a
short prefix of a value."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from openect.data.dataset import Dataset
from openect.registry.models import AuditEntry
from openect.web.api.schemas import ECHO_LIMIT
from openect.web.input_guard import request_problem, text_problem
from test_web_api import ADMIN, PASSWORD, Api, user_with_token

pytestmark = pytest.mark.django_db


@pytest.fixture
def c01(registry: Dataset) -> Api:
    return Api(user_with_token("doc.c01", "clinician", "C01"))


@pytest.fixture
def registry(dataset: Dataset) -> Dataset:
    from openect.registry.transfer import import_dataset

    import_dataset(ADMIN, dataset)
    return dataset


def lesion(**changes: object) -> dict[str, object]:
    return {
        "lesion_id": "P1-L9",
        "patient_id": "P1",
        "body_site": "trunk_anterior",
        "layer": "cutaneous",
        "baseline_date": "2024-01-10",
        "longest_diameter_mm": 12,
    } | changes


def test_text_problems_name_where_and_what() -> None:
    assert text_problem(b"plain text", "body") is None
    assert text_problem(b"a\x00b", "body") == (
        "body: holds a NUL character; allowed: text without NUL"
    )
    assert text_problem(b"\xff\xfe", "query string") == (
        "query string: byte 0 is not UTF-8; allowed: UTF-8 text"
    )
    assert text_problem(b'{"a": "x\\u0000"}', "body", json=True) is not None
    assert text_problem(b'{"a": "x\\\\u0000"}', "body", json=True) is None  # an escaped backslash


def test_a_nul_in_a_json_body_is_400_and_nothing_is_written(c01: Api) -> None:
    before = AuditEntry.objects.count()
    response = c01.post("/api/lesions/", lesion(lesion_id="P1-L9", operator="x\u0000y"))
    assert response.status_code == 400
    assert response.json() == {"detail": "body: holds a NUL character; allowed: text without NUL"}
    response = c01.post("/api/lesions/", lesion(body_site="trunk\u0000"))
    assert response.status_code == 400
    assert AuditEntry.objects.count() == before


def test_nul_and_broken_utf8_in_query_strings_and_paths_are_400(c01: Api) -> None:
    assert c01.get("/api/patients/?centre_id=C01%00").status_code == 400
    assert c01.get("/api/patients/?centre_id=%FF%FE").status_code == 400
    answer = c01.get("/api/patients/P1%00/")
    assert answer.status_code == 400
    assert "path" in answer.json()["detail"]


def test_a_form_with_a_nul_is_refused_on_the_pages(registry: Dataset) -> None:
    user_with_token("doc.page", "clinician", "C01")
    client = Client()
    assert client.login(username="doc.page", password=PASSWORD)
    before = AuditEntry.objects.count()
    response = client.post("/patients/P1/lesions/new/", {"lesion_id": "P1-L9\x00"})
    assert response.status_code == 400
    assert b"NUL" in response.content
    assert AuditEntry.objects.count() == before


def test_a_request_without_a_body_passes(rf: object) -> None:
    from django.test import RequestFactory

    request = RequestFactory().get("/patients/", {"q": "P1"})
    assert request_problem(request) is None


def test_422_echoes_a_short_prefix_of_a_long_value(c01: Api) -> None:
    long_id = "X" * 10_000
    response = c01.post("/api/lesions/", lesion(lesion_id=long_id))
    assert response.status_code == 422
    body = json.dumps(response.json())
    assert "X" * (ECHO_LIMIT + 1) not in body
    (item,) = [i for i in response.json()["detail"] if i["loc"][-1] == "lesion_id"]
    assert item["value"] == "X" * (ECHO_LIMIT - 1) + "…"
