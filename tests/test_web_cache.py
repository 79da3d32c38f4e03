"""Pages served from memory until the registry changes, never across users."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from openect.data.dataset import Dataset
from openect.data.models import Lesion
from openect.registry import services
from openect.registry.access import Actor
from openect.registry.accounts import set_user
from openect.registry.models import Role
from openect.registry.transfer import import_dataset
from openect.web.models import ApiToken

pytestmark = pytest.mark.django_db

ADMIN = Actor("admin", Role.ADMIN)


def client_of(username: str, role: str, centre: str | None) -> Client:
    set_user(ADMIN, username, role, centre)
    client = Client()
    client.force_login(get_user_model().objects.get(username=username))
    return client


def test_a_page_is_served_again_until_the_registry_changes(dataset: Dataset) -> None:
    import_dataset(ADMIN, dataset)
    doctor = client_of("dr.one", "clinician", "C01")
    first = doctor.get("/patients/P1/")
    assert first.status_code == 200
    assert "X-OpenECT-Cache" not in first
    again = doctor.get("/patients/P1/")
    assert again["X-OpenECT-Cache"] == "hit"
    assert again.content == first.content
    services.update(ADMIN, Lesion, "P1-L1", {"body_site": "head_neck"}, reason="corrected site")
    changed = doctor.get("/patients/P1/")
    assert "X-OpenECT-Cache" not in changed
    assert b"head neck" in changed.content or b"head_neck" in changed.content


def test_cached_pages_are_never_shared_between_users(dataset: Dataset) -> None:
    import_dataset(ADMIN, dataset)
    one = client_of("dr.one", "clinician", "C01")
    two = client_of("dr.two", "clinician", "C02")
    assert one.get("/").status_code == 200
    assert one.get("/")["X-OpenECT-Cache"] == "hit"
    seen_by_two = two.get("/")
    assert "X-OpenECT-Cache" not in seen_by_two
    assert b"P1" not in seen_by_two.content.replace(b"P1-", b"")
    assert two.get("/patients/P1/").status_code == 404


def test_api_lists_are_cached_per_token_and_a_deactivated_user_loses_access(
    dataset: Dataset,
) -> None:
    import_dataset(ADMIN, dataset)
    set_user(ADMIN, "api.user", "clinician", "C01")
    user = get_user_model().objects.get(username="api.user")
    token = ApiToken.issue(user, "test")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert client.get("/api/patients/").status_code == 200
    assert client.get("/api/patients/")["X-OpenECT-Cache"] == "hit"
    user.is_active = False
    user.save()
    assert client.get("/api/patients/").status_code == 401
