"""Registry services: centre isolation, validation, the audit trail and its completeness.

Runs on SQLite, and on PostgreSQL with OPENECT_REGISTRY_TEST_BACKEND=postgresql
(``make test`` does both when OPENECT_TEST_DATABASE_URL is set).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from openect.data.dataset import Dataset
from openect.data.models import ENTITIES, Assessment, Centre, Lesion, Patient, Record, Session
from openect.data.schema import columns
from openect.errors import AccessDeniedError, InputError, NotFoundError, RecordInvalidError
from openect.registry import services
from openect.registry.access import Actor
from openect.registry.guard import UnauditedWriteError
from openect.registry.models import AuditEntry, Role
from openect.registry.records import registry_model
from openect.registry.transfer import import_dataset

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


def first_of(record: type[Record], centre: str) -> Record:
    """A record of ``record`` belonging to ``centre`` (read as an administrator)."""
    for item in services.list_records(ADMIN, record):
        owner = item if record is Centre else None
        if owner is not None and item.centre_id == centre:  # type: ignore[attr-defined]
            return item
        if record is not Centre and services.count(
            Actor("probe", Role.CLINICIAN, centre), record, **{record.id_field: _id(item)}
        ):
            return item
    raise AssertionError(f"no {record.table} row of {centre} in the test data")


def _id(item: Record) -> str:
    return str(getattr(item, type(item).id_field))


def audit_count() -> int:
    return int(AuditEntry.objects.count())


# ----------------------------------------------------------------------------- migrations
def test_migrations_match_the_models() -> None:
    call_command("makemigrations", "registry", check=True, dry_run=True, verbosity=0)


def test_every_entity_has_a_table_with_every_column() -> None:
    for record in ENTITIES:
        model = registry_model(record)
        names = {f.column for f in model._meta.concrete_fields}
        assert {c.name for c in columns(record)} <= names, record.table


# ----------------------------------------------------------------------------- isolation
ENTITIES_BUT_CENTRES = [r for r in ENTITIES if r is not Centre]


@pytest.mark.parametrize("record", ENTITIES_BUT_CENTRES, ids=lambda r: r.table)
def test_a_user_of_another_centre_can_neither_read_nor_change(
    registry: Dataset, record: type[Record]
) -> None:
    target = first_of(record, "C01")
    key = _id(target)
    before = audit_count()
    assert key in {_id(x) for x in services.list_records(CLINICIAN_C01, record)}
    assert key not in {_id(x) for x in services.list_records(MANAGER_C02, record)}
    assert services.count(MANAGER_C02, record, **{record.id_field: key}) == 0
    with pytest.raises(NotFoundError):
        services.get(MANAGER_C02, record, key)
    with pytest.raises(NotFoundError):
        services.update(MANAGER_C02, record, key, {}, reason="attempt")
    with pytest.raises(NotFoundError):
        services.delete(MANAGER_C02, record, key)
    copy = target.model_copy(update={record.id_field: key + "-COPY"})
    with pytest.raises((AccessDeniedError, services.RecordInvalidError)):
        services.create(MANAGER_C02, copy)
    assert audit_count() == before
    assert services.get(ADMIN, record, key) == target


def test_centre_roles_cannot_touch_the_centres_table(registry: Dataset) -> None:
    with pytest.raises(AccessDeniedError, match="may not change centres"):
        services.create(CLINICIAN_C01, Centre(centre_id="C09", name="New", country="FR"))
    with pytest.raises(AccessDeniedError, match="may not change centres 'C01'"):
        services.update(CLINICIAN_C01, Centre, "C01", {"name": "Renamed"})
    services.update(ADMIN, Centre, "C01", {"name": "Renamed"}, reason="merger")
    assert services.get(CLINICIAN_C01, Centre, "C01").name == "Renamed"  # type: ignore[attr-defined]


def test_a_patient_cannot_be_moved_to_another_centre_by_a_centre_user(registry: Dataset) -> None:
    with pytest.raises(AccessDeniedError, match="centre C02"):
        services.update(CLINICIAN_C01, Patient, "P1", {"centre_id": "C02"})
    assert services.get(ADMIN, Patient, "P1").centre_id == "C01"  # type: ignore[attr-defined]


def test_analysts_read_everything_without_free_text_and_write_nothing(registry: Dataset) -> None:
    services.update(
        CLINICIAN_C01, Assessment, "P1-L1-V2",
        {"override_response": "PD", "override_reason": "new nodule in the treated field"},
    )  # fmt: skip
    seen = services.get(ANALYST, Assessment, "P1-L1-V2")
    assert seen.override_response == "PD"  # type: ignore[attr-defined]
    assert seen.override_reason is None  # type: ignore[attr-defined]
    assert services.get(ADMIN, Assessment, "P1-L1-V2").override_reason  # type: ignore[attr-defined]
    assert services.count(ANALYST, Patient) == 2
    with pytest.raises(AccessDeniedError, match="analyst"):
        services.update(ANALYST, Lesion, "P1-L1", {"thickness_mm": 3.0})
    with pytest.raises(AccessDeniedError):
        services.create(ANALYST, Centre(centre_id="C09", name="New"))


def test_a_role_without_a_centre_is_refused() -> None:
    with pytest.raises(AccessDeniedError, match="needs a centre"):
        Actor("nobody", Role.CLINICIAN, None)


# ----------------------------------------------------------------------------- validation
def test_invalid_values_are_refused_with_the_dataset_messages(registry: Dataset) -> None:
    before = audit_count()
    with pytest.raises(services.RecordInvalidError) as caught:
        services.update(CLINICIAN_C01, Lesion, "P1-L1", {"perpendicular_diameter_mm": 600})
    assert "lesions.perpendicular_diameter_mm='600': out of range; allowed: > 0 and <= 500 mm" in (
        str(caught.value)
    )
    with pytest.raises(services.RecordInvalidError, match="before the first session"):
        services.update(
            CLINICIAN_C01, Assessment, "P1-L1-V1", {"assessment_date": dt.date(2000, 1, 1)}
        )
    with pytest.raises(services.RecordInvalidError, match=r"lesion_id=.P1-L1.: already in use"):
        services.create(CLINICIAN_C01, services.get(ADMIN, Lesion, "P1-L1"))
    assert audit_count() == before
    assert services.get(ADMIN, Lesion, "P1-L1") == registry.lesions[0]


def test_referenced_rows_cannot_be_deleted(registry: Dataset) -> None:
    with pytest.raises(services.RecordInUseError, match="still referred to by"):
        services.delete(CLINICIAN_C01, Lesion, "P1-L1")


# ----------------------------------------------------------------------------- audit
def _mutation(record: type[Record], item: Record) -> dict[str, Any]:
    """A harmless valid change of one optional column of ``item``."""
    changes = {
        Centre: {"name": "Centre renamed"},
        Patient: {"ecog": 2},
        Lesion: {"thickness_mm": 7.5},
        Assessment: {"method": "photo"},
    }
    if record in changes:
        return changes[record]
    name = {
        "sessions": "operator",
        "applications": "current_a",
        "adverse_events": "serious",
        "patient_reported": "pain_nrs",
        "systemic_therapies": "agent",
    }[record.table]
    value = {"operator": "OP9", "current_a": 1.5, "serious": True, "pain_nrs": 9, "agent": "x"}
    return {name: value[name]}


@pytest.mark.parametrize("record", ENTITIES, ids=lambda r: r.table)
def test_every_service_write_of_every_entity_is_audited(
    registry: Dataset, record: type[Record]
) -> None:
    original = first_of(record, "C01")
    key = _id(original)
    new_key = key + "-N"
    update: dict[str, Any] = {record.id_field: new_key}
    if record.table == "sessions":  # a second session: numbered and dated after the first
        update |= {
            "session_number": 2,
            "session_date": original.session_date + dt.timedelta(days=30),  # type: ignore[attr-defined]
        }
    if record.table == "patients":  # a new patient: numbered by the registry
        update["patient_number"] = None
    fresh = original.model_copy(update=update)
    before = audit_count()
    services.create(ADMIN, fresh, reason="create for audit test")
    changes = _mutation(record, fresh)
    services.update(ADMIN, record, new_key, changes, reason="update for audit test")
    services.delete(ADMIN, record, new_key, reason="delete for audit test")
    entries = list(AuditEntry.objects.filter(record_id=new_key).order_by("id"))
    assert audit_count() == before + 3
    assert [e.action for e in entries] == ["create", "update", "delete"]
    assert all(e.entity == record.table and e.actor == "admin" for e in entries)
    created, updated, deleted = entries
    assert created.before is None
    assert created.after[record.id_field] == new_key
    for name, value in changes.items():
        assert updated.after[name] == value
        assert updated.before[name] != value
    assert deleted.after is None
    assert deleted.before == updated.after
    assert [e.reason for e in entries] == [
        "create for audit test", "update for audit test", "delete for audit test",
    ]  # fmt: skip
    assert created.centre_id == (None if record is Centre else "C01")


@pytest.mark.parametrize("record", ENTITIES, ids=lambda r: r.table)
def test_no_write_path_bypasses_the_services(registry: Dataset, record: type[Record]) -> None:
    model = registry_model(record)
    row = model.objects.first()
    attempts = {
        "save": lambda: row.save(),
        "delete": lambda: row.delete(),
        "objects.create": lambda: model.objects.create(position=99),
        "objects.update": lambda: model.objects.all().update(position=5),
        "objects.delete": lambda: model.objects.all().delete(),
        "objects.bulk_create": lambda: model.objects.bulk_create([model(position=1)]),
        "objects.bulk_update": lambda: model.objects.bulk_update([row], ["position"]),
        "objects.get_or_create": lambda: model.objects.get_or_create(pk="X"),
        "objects.update_or_create": lambda: model.objects.update_or_create(pk="X"),
    }
    for name, attempt in attempts.items():
        with pytest.raises(UnauditedWriteError, match=r"only through openect\.registry\.services"):
            attempt()
        assert name


def test_audit_entries_are_append_only_in_the_orm_and_the_database(registry: Dataset) -> None:
    entry = AuditEntry.objects.first()
    assert entry is not None
    with pytest.raises(PermissionError):
        entry.delete()
    with pytest.raises(PermissionError):
        entry.save()
    with pytest.raises(PermissionError):
        AuditEntry.objects.all().update(actor="someone else")
    with pytest.raises(PermissionError):
        AuditEntry.objects.all().delete()
    for sql in ("UPDATE openect_audit SET actor = 'x'", "DELETE FROM openect_audit"):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql)
    assert AuditEntry.objects.filter(actor="x").count() == 0


def test_an_import_audits_every_row(registry: Dataset) -> None:
    rows = sum(registry.counts().values())
    assert AuditEntry.objects.filter(action="create").count() == rows


def test_lists_are_paged_in_registry_order(registry: Dataset) -> None:
    everything = [a.assessment_id for a in services.list_records(ADMIN, Assessment)]  # type: ignore[attr-defined]
    assert everything == [a.assessment_id for a in registry.assessments]
    page = services.list_records(ADMIN, Assessment, offset=1, limit=1)
    assert [a.assessment_id for a in page] == everything[1:2]  # type: ignore[attr-defined]
    with pytest.raises(InputError, match="allowed >= 0"):
        services.list_records(ADMIN, Assessment, offset=-1)


def test_an_import_records_its_dataset_json_in_the_audit_trail(registry: Dataset) -> None:
    entry = AuditEntry.objects.get(entity="dataset_sources")
    assert entry.action == "import"
    assert entry.after["rows"] == registry.counts()


def test_the_owner_of_a_record_cannot_be_changed(registry: Dataset) -> None:
    with pytest.raises(InputError, match="owner of a record cannot be changed"):
        services.update(ADMIN, Lesion, "P1-L1", {"patient_id": "P2"})
    same = services.update(ADMIN, Lesion, "P1-L1", {"patient_id": "P1", "thickness_mm": 6.0})
    assert same.thickness_mm == 6.0  # type: ignore[attr-defined]


def test_a_centre_names_records_only_under_its_own_records(registry: Dataset) -> None:
    """C02 cannot give a lesion of its patient P2 C01's id "P1-L1", nor any id outside
    "P2-...": the refusal is the same for a taken and a free id, so it tells nothing."""
    copy = services.get(ADMIN, Lesion, "P1-L1").model_copy(update={"patient_id": "P2"})
    before = services.count(ADMIN, Lesion, patient_id="P2")
    answers = []
    for lesion_id in ("P1-L1", "FREE-L1"):  # held by C01 / held by nobody
        with pytest.raises(RecordInvalidError) as refused:
            services.create(MANAGER_C02, copy.model_copy(update={"lesion_id": lesion_id}))
        assert refused.value.issues == [
            (
                "lesion_id",
                lesion_id,
                "must begin with 'P2-' (its patient_id); leave it empty and the registry "
                "numbers it",
            )
        ]
        answers.append(str(refused.value).replace(lesion_id, "ID"))
    assert answers[0] == answers[1]
    assert services.count(ADMIN, Lesion, patient_id="P2") == before
    # administrators (who see every centre) keep free identifiers
    assert services.create(ADMIN, copy.model_copy(update={"lesion_id": "FREE-L1"})).id == "FREE-L1"


def test_an_id_in_use_gets_one_answer_whoever_holds_it(registry: Dataset) -> None:
    """An id under C02's own patient that C01 holds (possible only for records made
    before the rule, or by an administrator) is refused in the words of C02's own
    duplicate, before any other rule is checked, as a duplicate always is."""
    lesion = services.get(ADMIN, Lesion, "P1-L1")
    services.create(ADMIN, lesion.model_copy(update={"lesion_id": "P2-L7"}))  # C01's lesion
    mine = lesion.model_copy(update={"patient_id": "P2"})
    answers = []
    for lesion_id in ("P2-L7", "P2-L1"):  # held by C01 / held by C02
        with pytest.raises(RecordInvalidError) as refused:
            services.create(MANAGER_C02, mine.model_copy(update={"lesion_id": lesion_id}))
        answers.append(str(refused.value).replace(lesion_id, "ID"))
    assert answers[0] == answers[1]
    assert "already in use; leave it empty and the registry numbers it" in answers[0]


def test_the_registry_numbers_new_records_under_their_parent(registry: Dataset) -> None:
    values = services.get(ADMIN, Lesion, "P1-L1").model_dump()
    values.pop("lesion_id")
    first = services.create_numbered(CLINICIAN_C01, Lesion, values)
    second = services.create_numbered(CLINICIAN_C01, Lesion, {**values, "lesion_id": ""})
    assert (first.lesion_id, second.lesion_id) == ("P1-L3", "P1-L4")  # L1, L2 exist
    patient = services.get(ADMIN, Patient, "P2").model_dump()
    patient.pop("patient_id")
    patient.pop("patient_number")  # numbered by the registry too
    assert services.create_numbered(MANAGER_C02, Patient, patient).patient_id == "C02-P1"
    # a missing parent is reported, not the identifier the registry would have made
    del values["patient_id"]
    with pytest.raises(RecordInvalidError) as refused:
        services.create_numbered(CLINICIAN_C01, Lesion, values)
    assert [issue[0] for issue in refused.value.issues] == ["patient_id"]


def test_recording_a_later_session_moves_the_last_contact_date(registry: Dataset) -> None:
    """P1 (C01) was last seen 2021-06-01: a session on 2022-01-10 moves it, in the same
    transaction, and both changes are audited; an earlier session leaves it alone."""
    session = services.get(ADMIN, Session, "P1-S1")
    later = session.model_copy(
        update={"session_id": "P1-S9", "session_number": 9, "session_date": dt.date(2022, 1, 10)}
    )
    before = audit_count()
    created, moved_from = services.record_session(CLINICIAN_C01, later, reason="test")
    assert (created.session_id, moved_from) == ("P1-S9", dt.date(2021, 6, 1))
    assert services.get(ADMIN, Patient, "P1").last_contact_date == dt.date(2022, 1, 10)
    assert audit_count() == before + 2
    earlier = later.model_copy(
        update={"session_id": "P1-S8", "session_number": 8, "session_date": dt.date(2021, 1, 5)}
    )
    assert services.record_session(CLINICIAN_C01, earlier)[1] is None
    assert services.get(ADMIN, Patient, "P1").last_contact_date == dt.date(2022, 1, 10)


def test_a_refused_session_leaves_the_last_contact_date(registry: Dataset) -> None:
    session = services.get(ADMIN, Session, "P1-S1")
    taken = session.model_copy(update={"session_date": dt.date(2022, 1, 10)})  # same id
    with pytest.raises(RecordInvalidError):
        services.record_session(CLINICIAN_C01, taken)
    assert services.get(ADMIN, Patient, "P1").last_contact_date == dt.date(2021, 6, 1)


def test_another_centres_id_is_not_testable_through_other_errors(registry: Dataset) -> None:
    """C02 cannot learn that C01 holds "P1-S1": a session that breaks a rule of its patient
    (after P2's death) gets the same answer whether its id is free or taken."""
    session = services.get(ADMIN, Session, "P1-S1")
    probe = session.model_copy(
        update={"patient_id": "P2", "session_date": dt.date(2021, 1, 5), "session_number": 2}
    )
    answers = []
    for session_id in ("P1-S1", "FREE-S1"):  # held by C01 / held by nobody
        with pytest.raises(RecordInvalidError) as refused:
            services.create(MANAGER_C02, probe.model_copy(update={"session_id": session_id}))
        answers.append(str(refused.value).replace(session_id, "ID"))
    assert answers[0] == answers[1]
    assert "not available" not in answers[0]


def test_the_databases_own_refusal_text_is_never_shown() -> None:
    from django.db import IntegrityError

    from openect.registry.services import _refused

    error = _refused(Lesion, IntegrityError('duplicate key value violates "openect_lesions_pkey"'))
    assert "openect_lesions" not in str(error)
    assert error.issues == [
        (None, None, "the database refused the record: a value conflicts with stored data")
    ]
