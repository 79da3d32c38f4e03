"""Patients' numbers within their centre and the short label made of them (``C01-0042``).

The registry numbers a new patient after the centre's highest (services, registration by
hospital number, imports); a number stays with its patient (never renumbered; a deleted
patient's number is not filled in);
two patients of a centre never share one (a clear refusal naming the column, within the
actor's own centre only); imports keep the stored numbers and number the new patients
in file order; a backup from before the numbers is numbered as migration 0007 numbers a
registry. The dataset schema is 1.2 with the column last in patients.csv.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from django.db import transaction

from openect.data.csvio import read_dataset, write_dataset
from openect.data.dataset import SCHEMA_VERSION, Dataset
from openect.data.models import Patient, added_in, patient_label, version_key
from openect.data.schema import column_index, columns
from openect.errors import RecordInvalidError
from openect.registry import services
from openect.registry.access import Actor
from openect.registry.backup import restore, snapshot
from openect.registry.models import Role
from openect.registry.records import registry_model
from openect.registry.transfer import ImportRejectedError, export_dataset, import_dataset
from openect.synth import generate_cohort

pytestmark = pytest.mark.django_db

ADMIN = Actor("admin", Role.ADMIN)
DOCTOR_C01 = Actor("doc.c01", Role.CLINICIAN, "C01")
DOCTOR_C02 = Actor("doc.c02", Role.CLINICIAN, "C02")
KEY = b"test-pseudonym-key-" + b"k" * 30


@pytest.fixture
def registry(dataset: Dataset) -> Dataset:
    """The small dataset imported: P1 (C01) and P2 (C02), each their centre's first."""
    import_dataset(ADMIN, dataset)
    return dataset


def new_patient(dataset: Dataset, patient_id: str, centre: str = "C01") -> Patient:
    return dataset.patients[0].model_copy(
        update={"patient_id": patient_id, "centre_id": centre, "patient_number": None}
    )


def numbers() -> dict[str, int | None]:
    rows = registry_model(Patient).objects.values_list("patient_id", "patient_number")
    return dict(rows)


# ----------------------------------------------------------------------------- the model
def test_the_label_is_centre_and_number() -> None:
    assert patient_label("C01", 42) == "C01-0042"
    assert patient_label("C01", 12345) == "C01-12345"
    assert patient_label("C01", None) is None
    column = column_index(Patient)["patient_number"]
    assert (column.kind, column.ge, column.le, column.required) == ("int", 1, 999_999, False)
    assert [c.name for c in columns(Patient)][-1] == "patient_number"
    assert added_in(Patient, "1.1") == ("patient_number",)
    assert version_key(SCHEMA_VERSION) >= (1, 2)  # numbers came with 1.2


def test_a_dataset_carries_the_numbers_and_older_files_may_leave_them_out(
    dataset: Dataset, tmp_path: Path
) -> None:
    numbered = replace(
        dataset,
        patients=[p.model_copy(update={"patient_number": 7}) for p in dataset.patients],
    )
    folder = write_dataset(numbered, tmp_path / "numbered")
    assert json.loads((folder / "dataset.json").read_text())["schema_version"] == SCHEMA_VERSION
    assert (folder / "patients.csv").read_text().splitlines()[0].endswith(",patient_number")
    assert read_dataset(folder).patients[0].label == "C01-0007"
    assert read_dataset(write_dataset(dataset, tmp_path / "none")).patients[0].label is None


def test_the_synthetic_register_numbers_each_centres_patients() -> None:
    cohort = generate_cohort(30, centres=3, seed=4)
    by_centre: dict[str, list[int]] = {}
    for patient in cohort.patients:
        assert patient.patient_number is not None
        by_centre.setdefault(patient.centre_id, []).append(patient.patient_number)
    assert all(found == list(range(1, len(found) + 1)) for found in by_centre.values())


# ----------------------------------------------------------------------------- services
def test_new_patients_are_numbered_after_their_centres_highest(registry: Dataset) -> None:
    assert numbers() == {"P1": 1, "P2": 1}
    three = services.create(DOCTOR_C01, new_patient(registry, "C01-P3"))
    four = services.create_numbered(
        DOCTOR_C01, Patient, new_patient(registry, "").model_dump(exclude={"patient_id"})
    )
    by_key = services.register_patient(
        DOCTOR_C02,
        "HN-0001",
        new_patient(registry, "x", "C02").model_dump(exclude={"patient_id"}),
        key=KEY,
    )
    assert (three.label, four.label, by_key.label) == ("C01-0002", "C01-0003", "C02-0002")
    assert by_key.patient_id.startswith("PX-")
    # numbers follow the centre's highest: a deleted patient's number is not filled in
    services.delete(ADMIN, Patient, "C01-P3")
    assert services.create(DOCTOR_C01, new_patient(registry, "C01-P5")).patient_number == 4


def test_a_number_stays_and_is_never_shared_within_a_centre(registry: Dataset) -> None:
    services.create(DOCTOR_C01, new_patient(registry, "C01-P3"))
    # an update that leaves the number empty keeps it
    changed = services.update(DOCTOR_C01, Patient, "P1", {"ecog": 0, "patient_number": None})
    assert changed.patient_number == 1  # type: ignore[attr-defined]
    taken = new_patient(registry, "C01-P4").model_copy(update={"patient_number": 2})
    with pytest.raises(RecordInvalidError) as refused:
        services.create(DOCTOR_C01, taken)
    assert [issue[:2] for issue in refused.value.issues] == [("patient_number", "2")]
    assert "another patient of the centre" in str(refused.value)
    # another centre's numbers are its own: the same number there is accepted
    other = new_patient(registry, "C02-P9", "C02").model_copy(update={"patient_number": 2})
    assert services.create(DOCTOR_C02, other).label == "C02-0002"  # type: ignore[attr-defined]


def test_a_clinician_cannot_probe_another_centres_numbers(registry: Dataset) -> None:
    """A patient for another centre is refused for the centre, before any number check."""
    probe = new_patient(registry, "C02-P3", "C02").model_copy(update={"patient_number": 1})
    with pytest.raises(services.AccessDeniedError):
        services.create(DOCTOR_C01, probe)
    free = new_patient(registry, "C02-P4", "C02").model_copy(update={"patient_number": 99})
    with pytest.raises(services.AccessDeniedError):
        services.create(DOCTOR_C01, free)


# ----------------------------------------------------------------------------- import
def test_an_import_keeps_stored_numbers_and_numbers_new_patients_in_file_order(
    registry: Dataset,
) -> None:
    again = import_dataset(ADMIN, registry)  # the file has no numbers: nothing changes
    assert sum(again.updated.values()) == sum(again.created.values()) == 0
    newcomers = [new_patient(registry, f"N{n}") for n in (3, 1, 2)]
    numbered_in_file = new_patient(registry, "N9").model_copy(update={"patient_number": 40})
    import_dataset(
        ADMIN, Dataset(patients=[*newcomers, numbered_in_file], centres=registry.centres)
    )
    found = numbers()
    assert (found["N3"], found["N1"], found["N2"], found["N9"]) == (41, 42, 43, 40)
    assert (found["P1"], found["P2"]) == (1, 1)
    exported = export_dataset(ADMIN)
    assert [p.label for p in exported.patients][:2] == ["C01-0001", "C02-0001"]


def test_an_import_giving_a_taken_number_is_refused_with_its_row(registry: Dataset) -> None:
    taken = new_patient(registry, "N1").model_copy(update={"patient_number": 1})
    with pytest.raises(ImportRejectedError) as refused:
        import_dataset(ADMIN, Dataset(patients=[taken], centres=registry.centres))
    issue = refused.value.report.issues[0]
    assert (issue.file, issue.row, issue.column, issue.value) == (
        "patients.csv", 2, "patient_number", "1",
    )  # fmt: skip
    assert "patient P1 of centre C01" in issue.message
    twice = [
        new_patient(registry, f"N{n}").model_copy(update={"patient_number": 5}) for n in (1, 2)
    ]
    with pytest.raises(ImportRejectedError) as refused:
        import_dataset(ADMIN, Dataset(patients=twice, centres=registry.centres))
    assert [(i.row, i.column) for i in refused.value.report.issues] == [(3, "patient_number")]
    assert set(numbers()) == {"P1", "P2"}  # nothing written
    # the same number at another centre is fine
    other = new_patient(registry, "N3", "C02").model_copy(update={"patient_number": 2})
    import_dataset(ADMIN, Dataset(patients=[other], centres=registry.centres))
    assert numbers()["N3"] == 2


# ----------------------------------------------------------------------------- backups
def test_a_backup_from_before_the_numbers_is_numbered_on_restore(
    dataset: Dataset, tmp_path: Path
) -> None:
    extra = new_patient(dataset, "P0")
    dataset.patients = [*dataset.patients, extra]

    class UndoneError(Exception):
        """Undoes the import: the registry is empty again for the restore."""

    try:
        with transaction.atomic():
            import_dataset(ADMIN, dataset)
            data = snapshot()
            raise UndoneError
    except UndoneError:
        pass
    table = data["tables"]["patients"]
    at = table["columns"].index("patient_number")
    table["columns"].pop(at)
    for row in table["rows"]:
        row.pop(at)
    backup = tmp_path / "old-backup.json"
    backup.write_text(json.dumps(data), encoding="utf-8")

    restore(ADMIN, backup)
    assert numbers() == {"P1": 1, "P2": 1, "P0": 2}
