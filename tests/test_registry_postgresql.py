"""Two concurrent writers on PostgreSQL lose nothing (run with the PostgreSQL backend)."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest
from django.db import connection

from concurrent_jobs import run_together
from openect.data.dataset import Dataset
from openect.data.models import Assessment, Lesion
from openect.registry import services
from openect.registry.access import Actor
from openect.registry.models import AuditEntry, Role
from openect.registry.transfer import import_dataset

pytestmark = pytest.mark.django_db(transaction=True)

ROUNDS = 15


@pytest.fixture(autouse=True)
def _postgresql_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers: PostgreSQL only (OPENECT_REGISTRY_TEST_BACKEND)")


def test_two_writers_on_one_row_lose_no_update(dataset: Dataset) -> None:
    import_dataset(Actor("admin", Role.ADMIN), dataset)
    doctor = Actor("doctor", Role.CLINICIAN, "C01")
    manager = Actor("manager", Role.DATA_MANAGER, "C01")

    def measure_thickness() -> None:
        for i in range(ROUNDS):
            services.update(doctor, Lesion, "P1-L1", {"thickness_mm": 1.0 + i})

    def mark_bleeding() -> None:
        for i in range(ROUNDS):
            services.update(manager, Lesion, "P1-L1", {"bleeding": i % 2 == 0})

    run_together(measure_thickness, mark_bleeding)
    final = services.get(doctor, Lesion, "P1-L1")
    assert final.thickness_mm == ROUNDS  # type: ignore[attr-defined]
    assert final.bleeding is ((ROUNDS - 1) % 2 == 0)  # type: ignore[attr-defined]
    trail = list(AuditEntry.objects.filter(record_id="P1-L1", action="update").order_by("id"))
    # every update is audited and each starts from the state the previous one left
    assert len(trail) >= ROUNDS
    for earlier, later in itertools.pairwise(trail):
        assert later.before == earlier.after


def test_two_writers_creating_rows_lose_none(dataset: Dataset) -> None:
    import_dataset(Actor("admin", Role.ADMIN), dataset)
    doctor = Actor("doctor", Role.CLINICIAN, "C01")
    manager = Actor("manager", Role.DATA_MANAGER, "C01")
    first = services.get(doctor, Assessment, "P1-L1-V1")
    second = services.get(doctor, Assessment, "P1-L2-V1")

    def add(actor: Actor, template: object, prefix: str) -> Callable[[], None]:
        def job() -> None:
            for i in range(ROUNDS):
                item = template.model_copy(update={"assessment_id": f"{prefix}-{i}"})  # type: ignore[attr-defined]
                services.create(actor, item)

        return job

    before = AuditEntry.objects.count()
    run_together(add(doctor, first, "P1-L1-A"), add(manager, second, "P1-L2-B"))
    ids = {a.assessment_id for a in services.list_records(Actor("admin", Role.ADMIN), Assessment)}  # type: ignore[attr-defined]
    assert {f"P1-L1-A-{i}" for i in range(ROUNDS)} | {f"P1-L2-B-{i}" for i in range(ROUNDS)} <= ids
    assert AuditEntry.objects.count() == before + 2 * ROUNDS
