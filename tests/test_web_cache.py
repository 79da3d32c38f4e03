"""Pages served from memory until the registry changes, never across users."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client

from openect.data.dataset import Dataset
from openect.data.models import Lesion
from openect.registry import services
from openect.registry.access import Actor
from openect.registry.accounts import set_user
from openect.registry.models import AuditEntry, Membership, Role
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
    # the page without its random CSRF token, which may hold "P1" by chance
    shown = re.sub(rb'name="csrfmiddlewaretoken" value="[^"]*"', b"", seen_by_two.content)
    assert b"P1" not in shown.replace(b"P1-", b"")
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


def _insert_audit_entry(entry_id: int, record_id: str) -> None:
    """An audit row with a chosen id, as a transaction that allocated it would commit it
    (its hash chain is not the point here: left empty)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO openect_audit (id, at, actor, role, action, entity, record_id, "
            "centre_id, before, after, reason, previous, digest) VALUES (%s, %s, 'admin', "
            "'admin', 'update', 'lesions', %s, 'C01', NULL, NULL, NULL, '', '')",
            [entry_id, dt.datetime.now(dt.UTC).isoformat(), record_id],
        )


def test_the_cache_follows_commit_order_not_audit_ids(dataset: Dataset) -> None:
    """Two writers: B allocates a larger audit id but commits first, A (smaller id)
    commits last. The newest id does not change at A's commit; the page must."""
    import_dataset(ADMIN, dataset)
    doctor = client_of("dr.one", "clinician", "C01")
    assert doctor.get("/patients/P1/").status_code == 200
    newest = AuditEntry.objects.order_by("-id").values_list("id", flat=True).first()
    assert newest is not None
    _insert_audit_entry(newest + 100, "P1-L2")  # writer B commits first
    assert "X-OpenECT-Cache" not in doctor.get("/patients/P1/")
    assert doctor.get("/patients/P1/")["X-OpenECT-Cache"] == "hit"
    with connection.cursor() as cursor:  # writer A commits last: its row and its audit entry
        cursor.execute(
            "UPDATE openect_lesions SET body_site = 'head_neck' WHERE lesion_id = 'P1-L1'"
        )
    _insert_audit_entry(newest + 50, "P1-L1")
    after = doctor.get("/patients/P1/")
    assert "X-OpenECT-Cache" not in after
    assert b"head neck" in after.content or b"head_neck" in after.content


def test_a_change_of_role_drops_the_users_cached_pages(dataset: Dataset) -> None:
    """A membership changed without an audit entry (a database fix, an admin tool) still
    changes what the user sees at once: the cached clinician's page is not served to
    the analyst the user has become."""
    import_dataset(ADMIN, dataset)
    doctor = client_of("dr.one", "clinician", "C01")
    assert doctor.get("/").status_code == 200
    assert doctor.get("/")["X-OpenECT-Cache"] == "hit"
    user = get_user_model().objects.get(username="dr.one")
    Membership.objects.filter(user=user).update(role="data_manager", centre_id="C02")
    moved = doctor.get("/")
    assert "X-OpenECT-Cache" not in moved
    assert b"C02" in moved.content


def test_a_change_of_role_drops_the_tokens_cached_api_lists(dataset: Dataset) -> None:
    import_dataset(ADMIN, dataset)
    set_user(ADMIN, "api.user", "clinician", "C01")
    user = get_user_model().objects.get(username="api.user")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {ApiToken.issue(user, 'test')}")
    before = client.get("/api/patients/")
    assert client.get("/api/patients/")["X-OpenECT-Cache"] == "hit"
    Membership.objects.filter(user=user).update(role="data_manager", centre_id="C02")
    after = client.get("/api/patients/")
    assert "X-OpenECT-Cache" not in after
    assert after.content != before.content
