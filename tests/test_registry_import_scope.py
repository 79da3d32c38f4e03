"""Imports respect centres and the registry as a whole.

An import never changes the owner (centre, patient, lesion, session) of a record that
is already in the registry, never touches another centre's record, and is validated
against the registry merged with the file; a refused import changes nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from openect.data.csvio import load_dataset, write_dataset
from openect.data.dataset import Dataset
from openect.data.models import ENTITIES
from openect.errors import AccessDeniedError, InputError
from openect.registry.access import Actor
from openect.registry.models import AuditEntry, Role
from openect.registry.records import registry_model
from openect.registry.transfer import export_dataset, import_dataset

pytestmark = pytest.mark.django_db

ADMIN = Actor("admin", Role.ADMIN)


def snapshot() -> tuple[dict[str, list[dict[str, object]]], int]:
    """Every registry row (by table, in key order) and the number of audit entries."""
    rows = {r.table: list(registry_model(r).objects.order_by("pk").values()) for r in ENTITIES}
    return rows, AuditEntry.objects.count()


def c01_file(dataset: Dataset, **tables: list[object]) -> Dataset:
    """A file of centre C01 only (its centre row), with the given tables."""
    centres = [c for c in dataset.centres if c.centre_id == "C01"]
    return Dataset(centres=centres, **tables)  # type: ignore[arg-type]


def issue_of(error: BaseException) -> tuple[str, int | None, str | None]:
    report = getattr(error, "report")  # noqa: B009
    first = report.issues[0]
    return first.file, first.row, first.column


def test_centre_option_never_moves_another_centres_patient(dataset: Dataset) -> None:
    import_dataset(ADMIN, dataset)
    before = snapshot()
    other = dataset.patients[1]  # P2 of C02
    moved = other.model_copy(update={"centre_id": "C01", "ecog": 4})
    with pytest.raises(AccessDeniedError) as caught:
        import_dataset(ADMIN, c01_file(dataset, patients=[moved]), centre_id="C01")
    assert issue_of(caught.value) == ("patients.csv", 2, "patient_id")
    assert "another centre" in str(caught.value)
    assert snapshot() == before


def test_an_import_never_moves_a_patient_between_centres(dataset: Dataset) -> None:
    import_dataset(ADMIN, dataset)
    before = snapshot()
    moved = dataset.patients[1].model_copy(update={"centre_id": "C01"})
    with pytest.raises(InputError) as caught:
        import_dataset(ADMIN, Dataset(centres=dataset.centres, patients=[moved]))
    assert issue_of(caught.value) == ("patients.csv", 2, "centre_id")
    assert "never changes the owner" in str(caught.value)
    assert snapshot() == before


def test_a_lesion_row_cannot_re_parent_another_centres_lesion(dataset: Dataset) -> None:
    import_dataset(ADMIN, dataset)
    before = snapshot()
    mine = dataset.patients[0]  # P1 of C01
    theirs = dataset.lesions[2].model_copy(update={"patient_id": "P1"})  # P2-L1 of C02
    file = c01_file(dataset, patients=[mine], lesions=[theirs])
    for actor, centre in (
        (ADMIN, "C01"),
        (ADMIN, None),
        (Actor("dm", Role.DATA_MANAGER, "C01"), None),
    ):
        with pytest.raises((AccessDeniedError, InputError)) as caught:
            import_dataset(actor, file, centre_id=centre)
        where = issue_of(caught.value)
        assert where[:2] == ("lesions.csv", 2), where
        assert where[2] in ("lesion_id", "patient_id")
        assert snapshot() == before
    # A C01 user still cannot read the C02 lesion's assessments.
    from openect.registry import services

    doctor = Actor("doctor", Role.CLINICIAN, "C01")
    assert "P2-L1" not in {x.id for x in services.list_records(doctor, "lesions")}


def test_a_session_row_cannot_move_to_another_patient(dataset: Dataset) -> None:
    import_dataset(ADMIN, dataset)
    before = snapshot()
    session = dataset.sessions[0]  # P1-S1 of P1
    # A second C01 patient takes P1's session.
    newcomer = dataset.patients[0].model_copy(update={"patient_id": "P9"})
    moved = session.model_copy(update={"patient_id": "P9"})
    file = c01_file(dataset, patients=[newcomer], sessions=[moved])
    with pytest.raises(InputError) as caught:
        import_dataset(ADMIN, file, centre_id="C01")
    assert issue_of(caught.value) == ("sessions.csv", 2, "patient_id")
    assert snapshot() == before


def test_a_centre_row_of_another_centre_is_refused_with_the_centre_option(
    dataset: Dataset,
) -> None:
    import_dataset(ADMIN, dataset)
    before = snapshot()
    renamed = dataset.centres[1].model_copy(update={"name": "Renamed by C01"})
    with pytest.raises(AccessDeniedError) as caught:
        import_dataset(ADMIN, Dataset(centres=[renamed]), centre_id="C01")
    assert issue_of(caught.value) == ("centres.csv", 2, "centre_id")
    assert snapshot() == before


def test_the_merged_registry_is_validated(dataset: Dataset) -> None:
    """A new death date before the stored sessions of the patient is refused."""
    import_dataset(ADMIN, dataset)
    before = snapshot()
    patient = dataset.patients[0]  # P1: sessions from 2020-03-02
    early = patient.model_copy(
        update={"death_date": dt.date(2020, 1, 10), "last_contact_date": dt.date(2020, 1, 10),
                "death_cause": "melanoma"}
    )  # fmt: skip
    with pytest.raises(InputError) as caught:
        import_dataset(ADMIN, c01_file(dataset, patients=[early]), centre_id="C01")
    assert issue_of(caught.value)[:2] == ("patients.csv", 2)
    assert issue_of(caught.value)[2] in ("death_date", "last_contact_date")
    assert "registry" in str(caught.value)
    assert snapshot() == before


def test_a_new_session_number_clashing_with_a_stored_one_is_refused(dataset: Dataset) -> None:
    import_dataset(ADMIN, dataset)
    before = snapshot()
    second = dataset.sessions[0].model_copy(update={"session_id": "P1-S9"})
    file = c01_file(dataset, patients=[dataset.patients[0]], sessions=[second])
    with pytest.raises(InputError) as caught:
        import_dataset(ADMIN, file, centre_id="C01")
    assert issue_of(caught.value)[0] == "sessions.csv"
    assert snapshot() == before


def test_an_accepted_partial_import_exports_a_valid_dataset(
    dataset: Dataset, tmp_path: Path
) -> None:
    import_dataset(ADMIN, dataset)
    patient = dataset.patients[0].model_copy(update={"ecog": 2})
    summary = import_dataset(ADMIN, c01_file(dataset, patients=[patient]), centre_id="C01")
    assert summary.updated["patients"] == 1
    folder = write_dataset(export_dataset(ADMIN), tmp_path / "out")
    _, report = load_dataset(folder)
    assert report.valid, report.issues


def openect(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "openect", *args],
        capture_output=True, text=True, env=dict(os.environ), timeout=300, check=False,
    )  # fmt: skip


@pytest.mark.slow
def test_the_command_line_refuses_a_move_and_changes_nothing(
    dataset: Dataset, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'r.sqlite3'}"
    assert openect("registry", "init", "--database", url).returncode == 0
    full = write_dataset(dataset, tmp_path / "full")
    assert openect("registry", "import", str(full), "--database", url).returncode == 0
    moved = dataset.patients[1].model_copy(update={"centre_id": "C01", "ecog": 4})
    file = write_dataset(c01_file(dataset, patients=[moved]), tmp_path / "moved")
    done = openect("registry", "import", str(file), "--centre", "C01", "--database", url, "--json")
    assert done.returncode == 2, done.stderr
    report = json.loads(done.stdout)
    assert report["imported"] is False
    error = report["errors"][0]
    assert (error["file"], error["row"], error["column"]) == ("patients.csv", 2, "patient_id")
    exported = tmp_path / "after"
    assert openect("registry", "export", str(exported), "--database", url).returncode == 0
    # as imported, each patient numbered within the centre (P1 of C01, P2 of C02: 1)
    numbered = [p.model_copy(update={"patient_number": 1}) for p in dataset.patients]
    imported = write_dataset(replace(dataset, patients=numbered), tmp_path / "numbered")
    for name in ("patients.csv", "lesions.csv"):
        assert (exported / name).read_bytes() == (imported / name).read_bytes()
    valid = openect("data", "validate", str(exported))
    assert valid.returncode == 0, valid.stdout + valid.stderr
