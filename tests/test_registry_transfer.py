"""Registry import and export, pseudonyms, backups: round trips and all-or-nothing."""

from __future__ import annotations

import datetime as dt
import filecmp
import json
import logging
from pathlib import Path

import pytest
from django.conf import settings

from openect.data.csvio import write_dataset
from openect.data.dataset import Dataset
from openect.data.models import ENTITIES, Assessment, Patient
from openect.errors import AccessDeniedError, InputError
from openect.registry import pseudonym, services
from openect.registry.access import Actor
from openect.registry.backup import restore, snapshot
from openect.registry.models import AuditEntry, Role
from openect.registry.records import registry_model
from openect.registry.transfer import ImportRejectedError, export_dataset, import_dataset
from openect.settings import get_settings
from openect.synth import generate_cohort

pytestmark = pytest.mark.django_db

ADMIN = Actor("admin", Role.ADMIN)


def same_files(left: Path, right: Path) -> bool:
    """True when two dataset folders hold the same files with the same bytes."""
    names = sorted(p.name for p in left.iterdir())
    assert names == sorted(p.name for p in right.iterdir())
    _, mismatch, errors = filecmp.cmpfiles(left, right, names, shallow=False)
    return not mismatch and not errors


@pytest.fixture(scope="module")
def cohort() -> Dataset:
    return generate_cohort(40, centres=3, seed=17)


def registry_rows() -> int:
    return sum(registry_model(r).objects.count() for r in ENTITIES)


def test_import_then_export_is_byte_identical(cohort: Dataset, tmp_path: Path) -> None:
    original = write_dataset(cohort, tmp_path / "original")
    summary = import_dataset(ADMIN, cohort)
    assert summary.created == cohort.counts()
    exported = write_dataset(export_dataset(ADMIN), tmp_path / "exported")
    assert same_files(original, exported)


def test_re_import_of_the_same_data_changes_nothing(cohort: Dataset, tmp_path: Path) -> None:
    import_dataset(ADMIN, cohort)
    entries = AuditEntry.objects.count()
    again = import_dataset(ADMIN, cohort)
    assert sum(again.created.values()) == sum(again.updated.values()) == 0
    assert again.unchanged == cohort.counts()
    assert AuditEntry.objects.count() == entries
    exported = write_dataset(export_dataset(ADMIN), tmp_path / "exported")
    assert same_files(write_dataset(cohort, tmp_path / "original"), exported)


def test_a_changed_row_is_updated_and_audited_on_re_import(cohort: Dataset) -> None:
    import_dataset(ADMIN, cohort)
    first = cohort.assessments[0]
    changed = first.model_copy(update={"method": "ultrasound"})
    cohort_2 = Dataset(**{**cohort.__dict__, "assessments": [changed, *cohort.assessments[1:]]})
    summary = import_dataset(ADMIN, cohort_2, reason="corrected method")
    assert summary.updated["assessments"] == 1
    entry = AuditEntry.objects.filter(action="update", record_id=first.assessment_id).get()
    assert entry.after["method"] == "ultrasound"
    assert entry.before["method"] == first.method
    assert entry.reason == "corrected method"


def test_a_bad_row_leaves_the_database_unchanged(cohort: Dataset) -> None:
    bad = cohort.assessments[5].model_copy(update={"assessment_date": dt.date(1990, 1, 1)})
    broken = Dataset(
        **{
            **cohort.__dict__,
            "assessments": [*cohort.assessments[:5], bad, *cohort.assessments[6:]],
        }
    )
    with pytest.raises(ImportRejectedError) as caught:
        import_dataset(ADMIN, broken)
    issue = caught.value.report.issues[0]
    assert (issue.file, issue.column) == ("assessments.csv", "assessment_date")
    assert registry_rows() == 0
    assert AuditEntry.objects.count() == 0


def test_a_failure_while_writing_rolls_everything_back(cohort: Dataset) -> None:
    """A database refusal in the middle of an import (here: an id already used by
    another centre's row) leaves no row of the import behind."""
    import_dataset(ADMIN, cohort)
    manager = Actor("manager", Role.DATA_MANAGER, "C02")
    mine = [p for p in cohort.patients if p.centre_id == "C02"]
    theirs = [p for p in cohort.patients if p.centre_id != "C02"]
    clash = Dataset(
        centres=[c for c in cohort.centres if c.centre_id == "C02"],
        patients=[
            *mine,
            Patient.model_validate(
                {**theirs[0].model_dump(), "centre_id": "C02", "ecog": 4, "patient_number": None}
            ),
        ],
    )
    rows, entries = registry_rows(), AuditEntry.objects.count()
    with pytest.raises(AccessDeniedError, match="already exists for another centre"):
        import_dataset(manager, clash)
    assert (registry_rows(), AuditEntry.objects.count()) == (rows, entries)


def test_centre_option_and_roles_limit_what_is_imported(cohort: Dataset) -> None:
    with pytest.raises(AccessDeniedError, match="--centre C01: the dataset has"):
        import_dataset(ADMIN, cohort, centre_id="C01")
    with pytest.raises(AccessDeniedError, match="may not import patients of centre"):
        import_dataset(Actor("doctor", Role.CLINICIAN, "C01"), cohort)
    with pytest.raises(AccessDeniedError, match="analyst"):
        import_dataset(Actor("analyst", Role.ANALYST), cohort)
    assert registry_rows() == 0


def test_export_follows_the_readers_scope(cohort: Dataset) -> None:
    import_dataset(ADMIN, cohort)
    centre = Actor("doctor", Role.CLINICIAN, "C01")
    mine = export_dataset(centre)
    assert {p.centre_id for p in mine.patients} == {"C01"}
    patients = {p.patient_id for p in mine.patients}
    assert all(x.patient_id in patients for x in mine.lesions)
    assert len(mine.patients) == sum(1 for p in cohort.patients if p.centre_id == "C01")


def test_pseudonyms_are_keyed_hmacs_and_never_stored_raw(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = "k" * 40
    monkeypatch.setenv(pseudonym.KEY_ENV, key)
    hospital = "MRN-4455-RAW-98765"
    expected = pseudonym.pseudonym(hospital, "C01")
    assert expected == pseudonym.pseudonym(" mrn-4455-raw-98765 ", "C01", key.encode())
    assert expected != pseudonym.pseudonym(hospital, "C01", b"another-centre-key-" + b"x" * 20)
    assert expected != pseudonym.pseudonym(hospital, "C02")  # same number, other hospital
    assert expected.startswith("PX-")
    assert len(expected) == 27
    import_dataset(ADMIN, generate_cohort(2, centres=1, seed=2))
    caplog.set_level(logging.DEBUG)
    logging.getLogger("django.db.backends").setLevel(logging.DEBUG)
    settings.DEBUG = True  # log every SQL statement
    try:
        created = services.register_patient(
            Actor("doctor", Role.CLINICIAN, "C01"),
            hospital,
            {"centre_id": "C01", "sex": "F", "birth_year": 1960, "primary_tumour": "melanoma"},
        )
    finally:
        settings.DEBUG = False
    assert created.patient_id == expected
    assert hospital not in caplog.text
    assert hospital.lower() not in caplog.text.lower()
    for entry in AuditEntry.objects.filter(record_id=expected):
        assert hospital not in json.dumps(entry.after)
    with pytest.raises(services.RecordInvalidError, match="already registered at this centre"):
        services.register_patient(
            ADMIN, hospital, {"centre_id": "C01", "sex": "F", "birth_year": 1960,
                              "primary_tumour": "melanoma"},
        )  # fmt: skip


REGISTER_SCRIPT = """
import logging, sys
from openect.registry.config import configure, migrate
configure(sys.argv[1]); migrate()
logging.basicConfig(filename=sys.argv[2], level=logging.DEBUG)
from django.conf import settings
settings.DEBUG = True
from openect.synth import generate_cohort
from openect.registry import services
from openect.registry.access import Actor
from openect.registry.transfer import import_dataset
admin = Actor.command_line()
import_dataset(admin, generate_cohort(1, centres=1, seed=2))
values = {"centre_id": "C01", "sex": "M", "birth_year": 1950, "primary_tumour": "melanoma"}
print(services.register_patient(admin, sys.argv[3], values).patient_id)
"""


def test_the_database_file_and_logs_never_hold_a_hospital_number(tmp_path: Path) -> None:
    """A registry in its own SQLite file, written and committed by another process."""
    import os
    import subprocess
    import sys

    database, log = tmp_path / "registry.sqlite3", tmp_path / "registry.log"
    hospital = "HOSP-NUMBER-77112233"
    env = {**os.environ, pseudonym.KEY_ENV: "z" * 40}
    done = subprocess.run(
        [sys.executable, "-c", REGISTER_SCRIPT, f"sqlite:///{database}", str(log), hospital],
        capture_output=True, text=True, env=env, check=True, timeout=120,
    )  # fmt: skip
    patient_id = done.stdout.strip()
    assert patient_id == pseudonym.pseudonym(hospital, "C01", b"z" * 40)
    data = database.read_bytes()
    assert patient_id.encode() in data  # the file is the live database
    assert "INSERT" in log.read_text()  # and the log has every statement
    for text in (data, log.read_bytes(), done.stdout.encode(), done.stderr.encode()):
        assert hospital.encode() not in text
        assert hospital.lower().encode() not in text


def test_a_missing_or_short_key_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # The settings are read once: each change of the environment is a new start-up.
    monkeypatch.delenv(pseudonym.KEY_ENV, raising=False)
    monkeypatch.setenv(pseudonym.KEY_FILE_ENV, str(tmp_path / "none.key"))
    get_settings.cache_clear()
    with pytest.raises(pseudonym.PseudonymKeyError, match="no pseudonymisation key"):
        pseudonym.pseudonym("123", "C01")
    monkeypatch.delenv(pseudonym.KEY_FILE_ENV)
    monkeypatch.setenv(pseudonym.KEY_ENV, "short")
    get_settings.cache_clear()
    with pytest.raises(pseudonym.PseudonymKeyError, match="5 characters; allowed at least 32"):
        pseudonym.pseudonym("123", "C01")
    (tmp_path / "centre.key").write_text("f" * 64 + "\n")
    monkeypatch.delenv(pseudonym.KEY_ENV)
    monkeypatch.setenv(pseudonym.KEY_FILE_ENV, str(tmp_path / "centre.key"))
    get_settings.cache_clear()
    assert pseudonym.pseudonym("123", "C01") == pseudonym.pseudonym("123", "C01", b"f" * 64)


def test_snapshot_holds_every_row_and_the_audit_trail(cohort: Dataset, tmp_path: Path) -> None:
    import_dataset(ADMIN, cohort)
    services.update(ADMIN, Assessment, cohort.assessments[0].assessment_id, {"method": "photo"})
    data = snapshot()
    for record in ENTITIES:
        assert len(data["tables"][record.table]["rows"]) == len(cohort.records(record))
    assert len(data["audit"]["rows"]) == AuditEntry.objects.count()
    backup_file = tmp_path / "backup.json"
    backup_file.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(InputError, match="restore needs an empty registry"):
        restore(ADMIN, backup_file)
    with pytest.raises(AccessDeniedError, match="may not restore"):
        restore(Actor("doctor", Role.CLINICIAN, "C01"), backup_file)


def test_analysts_exports_blank_every_free_text_column(dataset: Dataset) -> None:
    from openect.data.models import AdverseEvent, SystemicTherapy
    from openect.data.schema import columns

    free = {(m.table, c.name) for m in ENTITIES for c in columns(m) if c.free_text}
    assert {("adverse_events", "term"), ("systemic_therapies", "agent"),
            ("assessments", "override_reason")} <= free  # fmt: skip
    import_dataset(ADMIN, dataset)
    pooled = export_dataset(Actor("analyst", Role.ANALYST))
    assert {e.term for e in pooled.adverse_events} == {None}
    assert {t.agent for t in pooled.systemic_therapies} == {None}
    assert {a.override_reason for a in pooled.assessments} == {None}
    full = export_dataset(ADMIN)
    assert [e.term for e in full.adverse_events] == [e.term for e in dataset.adverse_events]
    assert isinstance(full.adverse_events[0], AdverseEvent)
    assert isinstance(full.systemic_therapies[0], SystemicTherapy)
