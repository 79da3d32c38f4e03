"""Voided records: a record entered in error leaves every read, export and analysis,
stays in the audit trail, and can be restored as it was.

Runs on SQLite, and on PostgreSQL with OPENECT_REGISTRY_TEST_BACKEND=postgresql.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from openect.data.dataset import Dataset
from openect.data.models import ENTITIES, Application, Assessment, Centre, Lesion, Patient, Session
from openect.errors import AccessDeniedError, InputError, NotFoundError, RecordInvalidError
from openect.registry import services
from openect.registry.access import Actor
from openect.registry.backup import backup, restore
from openect.registry.models import AuditEntry, Role, VoidedRecord
from openect.registry.transfer import ImportRejectedError, export_dataset, import_dataset
from openect.response.summary import evaluate

pytestmark = pytest.mark.django_db

ADMIN = Actor("admin", Role.ADMIN)
CLINICIAN_C01 = Actor("doctor.one", Role.CLINICIAN, "C01")
MANAGER_C02 = Actor("manager.two", Role.DATA_MANAGER, "C02")
ANALYST = Actor("analyst", Role.ANALYST)


@pytest.fixture
def registry(dataset: Dataset) -> Dataset:
    """The small hand-written dataset (P1 of C01 has a row in every table; P2 of C02)."""
    import_dataset(ADMIN, dataset)
    return dataset


def test_voiding_a_session_voids_its_applications_and_event(registry: Dataset) -> None:
    done = services.void(CLINICIAN_C01, Session, "P1-S1", "entered for the wrong patient")
    assert done[-1] == ("sessions", "P1-S1")  # the record asked for comes last
    assert {("applications", "P1-S1-A1"), ("applications", "P1-S1-A2")} <= set(done)
    assert ("adverse_events", "AE1") in done  # the event attributed to the session
    assert services.list_records(ADMIN, Session, patient_id="P1") == []
    assert services.count(ADMIN, Application, session_id="P1-S1") == 0
    with pytest.raises(NotFoundError):
        services.get(CLINICIAN_C01, Session, "P1-S1")
    entries = AuditEntry.objects.filter(action="void").order_by("id")
    assert [(e.entity, e.record_id) for e in entries] == done
    root = entries.last()
    assert root is not None
    assert root.reason == "entered for the wrong patient"
    assert root.before is not None
    assert root.before["session_id"] == "P1-S1"
    assert entries.first().reason == "voided with sessions/P1-S1: entered for the wrong patient"


def test_a_voided_record_is_out_of_exports_and_analyses(registry: Dataset) -> None:
    assert "P1-L2" in evaluate(export_dataset(ADMIN))[0]
    services.void(CLINICIAN_C01, Lesion, "P1-L2", "a duplicate of P1-L1")
    exported = export_dataset(ADMIN)
    assert "P1-L2" not in {lesion.lesion_id for lesion in exported.lesions}
    assert "P1-L2-V1" not in {a.assessment_id for a in exported.assessments}
    assert "P1-S1-A2" not in {a.application_id for a in exported.applications}
    assert "P1-L2" not in evaluate(exported)[0]
    assert "P1-L2" not in {les.lesion_id for les in services.patient_records(ADMIN, "P1").lesions}


def test_restoring_puts_back_the_record_and_those_voided_with_it(registry: Dataset) -> None:
    original = services.get(ADMIN, Session, "P1-S1")
    services.void(CLINICIAN_C01, Session, "P1-S1", "wrong patient")
    restored = services.unvoid(CLINICIAN_C01, Session, "P1-S1", "it was the right patient")
    assert restored[0] == ("sessions", "P1-S1")  # the session first, then its rows
    assert services.get(ADMIN, Session, "P1-S1") == original
    assert services.count(ADMIN, Application, session_id="P1-S1") == 2
    assert not VoidedRecord.objects.exists()
    assert AuditEntry.objects.filter(action="unvoid").count() == len(restored)
    # registry order kept: the export is the same as before the void
    assert export_dataset(ADMIN).sessions == registry.sessions


def test_a_dependant_cannot_come_back_before_its_parent(registry: Dataset) -> None:
    services.void(CLINICIAN_C01, Session, "P1-S1", "wrong patient")
    with pytest.raises(RecordInvalidError) as error:
        services.unvoid(CLINICIAN_C01, Application, "P1-S1-A1", "only this one")
    assert "sessions P1-S1 is voided: restore it first" in str(error.value)
    assert services.count(ADMIN, Application, session_id="P1-S1") == 0


def test_one_application_voided_and_restored_alone(registry: Dataset) -> None:
    assert services.void(CLINICIAN_C01, Application, "P1-S1-A2", "double entry") == [
        ("applications", "P1-S1-A2")
    ]
    assert services.count(ADMIN, Application, session_id="P1-S1") == 1
    assert services.unvoid(CLINICIAN_C01, Application, "P1-S1-A2", "was real") == [
        ("applications", "P1-S1-A2")
    ]


@pytest.mark.parametrize("reason", [None, "", "   ", "x" * 501])
def test_a_void_needs_a_reason(registry: Dataset, reason: str | None) -> None:
    with pytest.raises(RecordInvalidError) as error:
        services.void(CLINICIAN_C01, Assessment, "P1-L1-V1", reason)
    assert error.value.issues[0][0] == "reason"
    assert services.count(ADMIN, Assessment, assessment_id="P1-L1-V1") == 1


def test_scope_of_void_and_restore(registry: Dataset) -> None:
    with pytest.raises(NotFoundError):  # another centre's record looks absent
        services.void(MANAGER_C02, Session, "P1-S1", "not mine")
    with pytest.raises(AccessDeniedError):  # analysts read, never void
        services.void(ANALYST, Session, "P1-S1", "no")
    services.void(CLINICIAN_C01, Session, "P1-S1", "wrong patient")
    with pytest.raises(NotFoundError):
        services.unvoid(MANAGER_C02, Session, "P1-S1", "not mine")
    with pytest.raises(NotFoundError):
        services.voided_records(MANAGER_C02, "P1")
    assert [v.record_id for v in services.voided_records(CLINICIAN_C01, "P1")][-1] == "P1-S1"
    with pytest.raises(InputError):
        services.void(ADMIN, Centre, "C01", "centres are not voided")


def test_a_voided_identifier_stays_taken(registry: Dataset) -> None:
    services.void(CLINICIAN_C01, Assessment, "P1-L1-V2", "typed twice")
    values = {"lesion_id": "P1-L1", "assessment_date": "2024-03-01", "longest_diameter_mm": 4}
    with pytest.raises(RecordInvalidError) as error:
        services.create_numbered(CLINICIAN_C01, Assessment, values | {"assessment_id": "P1-L1-V2"})
    assert "voided record" in str(error.value)
    numbered = services.create_numbered(CLINICIAN_C01, Assessment, values)
    assert numbered.assessment_id == "P1-L1-V3"
    # an import cannot bring it back over the void either
    with pytest.raises(ImportRejectedError) as refused:
        import_dataset(ADMIN, registry)
    assert "voided record" in str(refused.value.report.issues[0].message)


def test_voiding_a_patient_and_restoring_them(registry: Dataset) -> None:
    before = services.get(CLINICIAN_C01, Patient, "P1")
    done = services.void(CLINICIAN_C01, Patient, "P1", "registered twice")
    assert done[-1] == ("patients", "P1")
    assert len(done) > 10
    with pytest.raises(NotFoundError):
        services.get(CLINICIAN_C01, Patient, "P1")
    assert len(services.voided_records(CLINICIAN_C01, "P1")) == len(done)
    services.unvoid(CLINICIAN_C01, Patient, "P1", "not a duplicate after all")
    assert services.get(CLINICIAN_C01, Patient, "P1") == before
    assert len(export_dataset(ADMIN).applications) == len(registry.applications)


def test_backup_carries_voided_records(registry: Dataset, tmp_path: Path) -> None:
    from django.contrib.auth import get_user_model

    from openect.registry.guard import service_write
    from openect.registry.models import DatasetSource
    from openect.registry.records import registry_model
    from test_registry_audit_chain import as_owner

    services.void(CLINICIAN_C01, Session, "P1-S1", "wrong patient")
    counts = backup(ADMIN, tmp_path / "registry.json.gz")
    assert counts["voided"] == 4
    stored = list(VoidedRecord.objects.order_by("id").values("record_id", "values", "root"))
    as_owner("DELETE FROM openect_audit")  # an empty registry for the restore
    with service_write("test: empty the registry"):
        for record in reversed(ENTITIES):
            registry_model(record).objects.all().delete()
        DatasetSource.objects.all().delete()
        VoidedRecord.objects.all().delete()
    get_user_model().objects.all().delete()
    restore(ADMIN, tmp_path / "registry.json.gz")
    assert list(VoidedRecord.objects.order_by("id").values("record_id", "values", "root")) == (
        stored
    )
    services.unvoid(ADMIN, Session, "P1-S1", "restored from the backup")
    assert services.count(ADMIN, Application, session_id="P1-S1") == 2
