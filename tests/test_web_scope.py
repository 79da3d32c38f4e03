"""Regression tests: no data of another centre, and no hospital number, ever shown."""

from __future__ import annotations

import json
import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from openect.data.dataset import Dataset
from openect.registry import services
from openect.registry.access import Actor
from openect.registry.accounts import set_user
from openect.registry.models import Role
from openect.registry.transfer import import_dataset
from openect.web.models import ApiToken

pytestmark = pytest.mark.django_db

ADMIN = Actor("admin", Role.ADMIN)


def signed_in(username: str, role: str, centre: str | None) -> Client:
    set_user(ADMIN, username, role, centre)
    client = Client()
    client.force_login(get_user_model().objects.get(username=username))
    return client


def token_of(username: str, role: str, centre: str | None) -> str:
    set_user(ADMIN, username, role, centre)
    return ApiToken.issue(get_user_model().objects.get(username=username), "test")


def test_a_reused_id_does_not_show_the_old_records_history(dataset: Dataset) -> None:
    import_dataset(ADMIN, dataset)
    services.delete(ADMIN, "adverse_events", "AE1", reason="C01 secret reason")
    reused = dataset.adverse_events[0].model_copy(update={"patient_id": "P2", "session_id": None})
    services.create(ADMIN, reused)  # ids are free for administrators, not for centres
    page = signed_in("dr.two", "clinician", "C02").get("/audit/adverse_events/AE1/")
    assert page.status_code == 200
    assert b"secret" not in page.content
    # the page without its random CSRF token, which may hold "P1" by chance
    shown = re.sub(rb'name="csrfmiddlewaretoken" value="[^"]*"', b"", page.content)
    assert b"P1" not in shown


def test_api_errors_never_echo_a_hospital_number(
    dataset: Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENECT_PSEUDONYM_KEY", "k" * 40)
    import_dataset(ADMIN, dataset)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token_of('api', 'clinician', 'C01')}")
    body = {"hospital_number": "HN-998877", "centre_id": "C01", "sex": "F",
            "birth_year": 1960, "primary_tumour": "melanoma"}  # fmt: skip
    for extra in ({"patient_id": "X1"}, {"hospital_numbr": "HN-998877"}):
        response = client.post(
            "/api/patients/register", json.dumps({**body, **extra}), content_type="application/json"
        )
        assert response.status_code == 422
        assert b"HN-998877" not in response.content


def test_the_page_cache_follows_the_identity_the_api_authenticates(dataset: Dataset) -> None:
    import_dataset(ADMIN, dataset)
    token_c01 = token_of("api.one", "clinician", "C01")
    session_c02 = signed_in("dr.two", "clinician", "C02")
    for header in (f"Bearer {token_c01} ", f"bearer {token_c01}"):
        mixed = session_c02.get("/api/patients/", HTTP_AUTHORIZATION=header)
        assert mixed.status_code == 200
    own = Client(HTTP_AUTHORIZATION=f"Bearer {token_c01}").get("/api/patients/")
    assert [p["patient_id"] for p in own.json()["items"]] == ["P1"]
    again = session_c02.get("/api/patients/")
    assert [p["patient_id"] for p in again.json()["items"]] == ["P2"]


def test_the_registration_form_is_never_cached(dataset: Dataset) -> None:
    import_dataset(ADMIN, dataset)
    manager = signed_in("manager", "data_manager", "C01")
    assert manager.get("/patients/new/").status_code == 200
    assert "X-OpenECT-Cache" not in manager.get("/patients/new/")


def test_user_names_are_checked() -> None:
    with pytest.raises(ValueError, match=r"letters, digits and @ \. \+ - _"):
        set_user(ADMIN, "ward/nurse", "analyst")
