"""The clinical-safety columns of dataset schema 1.1 and reading 1.0 datasets.

Patients: DLCO (% predicted) and its date, the date of the last chest imaging. Sessions:
pain NRS during and after the procedure, analgesia; calcium chloride as an
intratumoural-only drug in mL. Systemic therapies: cumulative bleomycin (IU); ECT at
another centre as an agent class. Each bad value is refused by ``openect data validate``
with its file, line, column, value and what is allowed.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from dataset_files import set_cell
from openect.cli import main
from openect.data.csvio import load_dataset, read_dataset, write_dataset
from openect.data.dataset import SCHEMA_VERSION, Dataset
from openect.data.enums import AgentClass, Analgesia, Drug, Route
from openect.data.models import (
    ENTITIES,
    INTRATUMOURAL_ONLY,
    MAX_SESSION_DOSE,
    Patient,
    Session,
    SystemicTherapy,
    added_in,
    version_key,
)
from openect.data.schema import column_index, columns

#: The columns schema 1.1 added, by file (appended at the end of each file).
NEW_COLUMNS = {
    "patients.csv": ["dlco_percent_predicted", "dlco_date", "chest_imaging_date"],
    "sessions.csv": ["pain_during_nrs", "pain_after_nrs", "analgesia"],
    "systemic_therapies.csv": ["bleomycin_iu"],
}


def validate(capsys: pytest.CaptureFixture[str], directory: Path) -> tuple[int, list[Any]]:
    """``openect data validate DIR --json``: exit code and errors."""
    code = main(["data", "validate", str(directory), "--json"])
    out, _ = capsys.readouterr()
    return code, json.loads(out)["errors"]


def as_schema_1_0(directory: Path) -> None:
    """Rewrite a dataset folder as a schema 1.0 writer left it: no 1.1 columns."""
    info_path = directory / "dataset.json"
    info = json.loads(info_path.read_text(encoding="utf-8"))
    info["schema_version"] = "1.0"
    info_path.write_text(json.dumps(info), encoding="utf-8")
    for file, new in NEW_COLUMNS.items():
        path = directory / file
        with open(path, encoding="utf-8", newline="") as handle:
            rows = list(csv.reader(handle))
        keep = [i for i, name in enumerate(rows[0]) if name not in new]
        with open(path, "w", encoding="utf-8", newline="") as handle:
            csv.writer(handle, lineterminator="\n").writerows([[r[i] for i in keep] for r in rows])


def with_safety_values(dataset: Dataset) -> Dataset:
    """The small dataset with every new column filled in somewhere."""
    p1 = dataset.patients[0]
    dataset.patients[0] = Patient.model_validate(
        p1.model_dump()
        | {
            "dlco_percent_predicted": 78.5,
            "dlco_date": dt.date(2020, 2, 20),
            "chest_imaging_date": dt.date(2020, 2, 10),
        }
    )
    dataset.sessions[0] = Session.model_validate(
        dataset.sessions[0].model_dump()
        | {
            "pain_during_nrs": None,
            "pain_after_nrs": 2,
            "analgesia": [Analgesia.LOCAL_ANAESTHETIC, Analgesia.PARACETAMOL_NSAID],
        }
    )
    dataset.sessions[1] = Session.model_validate(
        dataset.sessions[1].model_dump()
        | {
            "drug": Drug.CALCIUM_CHLORIDE,
            "dose": 4.5,
            "pain_during_nrs": 3,
            "pain_after_nrs": 1,
            "analgesia": [Analgesia.NONE],
        }
    )
    dataset.systemic_therapies.append(
        SystemicTherapy(
            therapy_id="T2",
            patient_id="P1",
            agent_class=AgentClass.ECT_ELSEWHERE,
            agent="bleomycin IV at another centre",
            start_date=dt.date(2019, 6, 1),
            end_date=dt.date(2019, 6, 1),
            bleomycin_iu=27_000.0,
        )
    )
    return dataset


# ----------------------------------------------------------------------------- format
def test_new_columns_come_last_in_their_files() -> None:
    for model in ENTITIES:
        names = [c.name for c in columns(model)]
        new = NEW_COLUMNS.get(f"{model.table}.csv", [])
        later = list(added_in(model, "1.1"))  # schema 1.2 on, after them
        end = len(names) - len(later)
        assert names[end - len(new) : end] == new, model.table
        assert list(added_in(model, "1.0")) == new + later
        assert added_in(model, SCHEMA_VERSION) == ()


def test_schema_version_covers_every_column() -> None:
    assert version_key(SCHEMA_VERSION) >= version_key("1.1")
    for model in ENTITIES:
        for column in columns(model):
            if column.since is not None:
                assert version_key(column.since) <= version_key(SCHEMA_VERSION)


def test_units_and_bounds_of_the_new_columns() -> None:
    dlco = column_index(Patient)["dlco_percent_predicted"]
    assert (dlco.kind, dlco.unit, dlco.gt, dlco.le) == ("float", "%", 0, 200)
    assert "DLCO" in (dlco.description or "")
    bleomycin = column_index(SystemicTherapy)["bleomycin_iu"]
    assert (bleomycin.kind, bleomycin.unit, bleomycin.ge, bleomycin.le) == (
        "float", "IU", 0, 2_000_000,
    )  # fmt: skip
    for name in ("pain_during_nrs", "pain_after_nrs"):
        pain = column_index(Session)[name]
        assert (pain.kind, pain.ge, pain.le) == ("int", 0, 10)
    analgesia = column_index(Session)["analgesia"]
    assert (analgesia.kind, analgesia.enum) == ("list", Analgesia)
    assert column_index(Session)["dose"].unit == "IU|mg|mL"
    assert MAX_SESSION_DOSE[Drug.CALCIUM_CHLORIDE] == 500.0


def test_written_dataset_is_the_current_schema_and_reads_back_the_new_values(
    dataset: Dataset, tmp_path: Path
) -> None:
    filled = with_safety_values(dataset)
    folder = write_dataset(filled, tmp_path / "new")
    assert json.loads((folder / "dataset.json").read_text())["schema_version"] == SCHEMA_VERSION
    header = (folder / "sessions.csv").read_text().splitlines()[0]
    assert header.endswith(",pain_during_nrs,pain_after_nrs,analgesia")
    assert "local_anaesthetic;paracetamol_nsaid" in (folder / "sessions.csv").read_text()
    assert read_dataset(folder) == filled


def test_a_schema_1_0_dataset_still_loads_with_the_new_fields_empty(
    dataset: Dataset, dataset_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    as_schema_1_0(dataset_dir)
    assert "dlco_date" not in (dataset_dir / "patients.csv").read_text()

    assert validate(capsys, dataset_dir) == (0, [])
    loaded = read_dataset(dataset_dir)
    assert loaded.info.schema_version == "1.0"
    for model in ENTITIES:  # every old row and value, the new fields empty
        assert loaded.records(model) == dataset.records(model), model.table
    for patient in loaded.patients:
        assert (patient.dlco_percent_predicted, patient.dlco_date) == (None, None)
        assert patient.chest_imaging_date is None
    for session in loaded.sessions:
        assert (session.pain_during_nrs, session.pain_after_nrs, session.analgesia) == (
            None, None, [],
        )  # fmt: skip
    assert all(therapy.bleomycin_iu is None for therapy in loaded.systemic_therapies)


def test_an_old_dataset_written_again_is_the_current_schema_with_every_column(
    dataset_dir: Path, tmp_path: Path
) -> None:
    as_schema_1_0(dataset_dir)
    folder = write_dataset(read_dataset(dataset_dir), tmp_path / "again")
    assert json.loads((folder / "dataset.json").read_text())["schema_version"] == SCHEMA_VERSION
    assert "chest_imaging_date" in (folder / "patients.csv").read_text().splitlines()[0]
    _, report = load_dataset(folder)
    assert report.valid


def test_a_schema_1_1_file_without_the_new_columns_is_reported(dataset_dir: Path) -> None:
    as_schema_1_0(dataset_dir)
    info_path = dataset_dir / "dataset.json"
    info = json.loads(info_path.read_text())
    info["schema_version"] = "1.1"
    info_path.write_text(json.dumps(info))
    _, report = load_dataset(dataset_dir)
    missing = sorted((i.file, i.column) for i in report.issues)
    assert missing == sorted((f, c) for f, names in NEW_COLUMNS.items() for c in names)
    assert {i.message for i in report.issues} == {"missing column"}
    assert report.counts["patients"] == 2  # rows are still read


def test_a_schema_1_0_file_with_the_new_columns_is_read_too(dataset_dir: Path) -> None:
    info_path = dataset_dir / "dataset.json"
    info = json.loads(info_path.read_text())
    info["schema_version"] = "1.0"
    info_path.write_text(json.dumps(info))
    set_cell(dataset_dir, "patients.csv", "P1", "dlco_percent_predicted", "81")
    dataset = read_dataset(dataset_dir)
    assert dataset.patients[0].dlco_percent_predicted == 81.0


# ----------------------------------------------------------------------------- validate
# (file, row id, column, bad value, the value reported, expected message fragment)
BAD_VALUES = [
    # patients: lung function and chest imaging
    ("patients.csv", "P1", "dlco_percent_predicted", "0", "0", "allowed: > 0 and <= 200 %"),
    ("patients.csv", "P1", "dlco_percent_predicted", "250", "250", "allowed: > 0 and <= 200 %"),
    ("patients.csv", "P1", "dlco_percent_predicted", "high", "high", "not a number"),
    ("patients.csv", "P1", "dlco_date", "1949-12-31", "1949-12-31", "before the year of birth"),
    ("patients.csv", "P1", "dlco_date", "20/02/2020", "20/02/2020", "not a date"),
    ("patients.csv", "P1", "chest_imaging_date", "1901-01-01", "1901-01-01", "year of birth 1950"),
    # sessions: pain and analgesia
    ("sessions.csv", "P1-S1", "pain_during_nrs", "11", "11", "out of range; allowed: 0 to 10"),
    ("sessions.csv", "P1-S1", "pain_during_nrs", "-1", "-1", "allowed: 0 to 10"),
    ("sessions.csv", "P1-S1", "pain_after_nrs", "2.5", "2.5", "not an integer"),
    ("sessions.csv", "P1-S1", "pain_after_nrs", "12", "12", "allowed: 0 to 10"),
    (
        "sessions.csv", "P1-S1", "analgesia", "opioid;morphine", "morphine",
        "semicolon-separated list of none, local_anaesthetic, paracetamol_nsaid, opioid, other",
    ),
    ("sessions.csv", "P1-S1", "analgesia", "none;opioid", "none;opioid", "give none alone"),
    # systemic therapies: cumulative bleomycin
    ("systemic_therapies.csv", "T1", "bleomycin_iu", "-1", "-1", "allowed: 0 to 2000000 IU"),
    ("systemic_therapies.csv", "T1", "bleomycin_iu", "2000001", "2000001", "0 to 2000000 IU"),
    ("systemic_therapies.csv", "T1", "agent_class", "ect", "ect", "ect_elsewhere"),
]  # fmt: skip


@pytest.mark.parametrize(("file", "row_id", "column", "value", "shown", "fragment"), BAD_VALUES)
def test_validate_refuses_a_bad_value_of_a_new_field(
    capsys: pytest.CaptureFixture[str],
    dataset_dir: Path,
    file: str,
    row_id: str,
    column: str,
    value: str,
    shown: str,
    fragment: str,
) -> None:
    line = set_cell(dataset_dir, file, row_id, column, value)
    code, errors = validate(capsys, dataset_dir)
    assert code == 2
    assert len(errors) == 1, errors
    (error,) = errors
    assert (error["file"], error["row"], error["column"], error["value"]) == (
        file, line, column, shown,
    )  # fmt: skip
    assert fragment in error["message"]


def test_validate_accepts_the_bounds_of_the_new_fields(
    capsys: pytest.CaptureFixture[str], dataset_dir: Path
) -> None:
    set_cell(dataset_dir, "patients.csv", "P1", "dlco_percent_predicted", "200")
    set_cell(dataset_dir, "patients.csv", "P1", "dlco_date", "1950-01-01")
    set_cell(dataset_dir, "patients.csv", "P1", "chest_imaging_date", "2020-02-28")
    set_cell(dataset_dir, "sessions.csv", "P1-S1", "pain_during_nrs", "0")
    set_cell(dataset_dir, "sessions.csv", "P1-S1", "pain_after_nrs", "10")
    set_cell(dataset_dir, "sessions.csv", "P1-S1", "analgesia", "none")
    set_cell(dataset_dir, "sessions.csv", "P2-S1", "analgesia", "local_anaesthetic;opioid;other")
    set_cell(dataset_dir, "systemic_therapies.csv", "T1", "bleomycin_iu", "0")
    assert validate(capsys, dataset_dir) == (0, [])
    set_cell(dataset_dir, "systemic_therapies.csv", "T1", "bleomycin_iu", "2000000")
    assert validate(capsys, dataset_dir) == (0, [])


# ----------------------------------------------------------------------------- calcium
def test_calcium_chloride_intratumourally_in_ml(
    capsys: pytest.CaptureFixture[str], dataset_dir: Path
) -> None:
    set_cell(dataset_dir, "sessions.csv", "P2-S1", "drug", "calcium_chloride")
    set_cell(dataset_dir, "sessions.csv", "P2-S1", "dose", "12.5")
    assert validate(capsys, dataset_dir) == (0, [])
    line = set_cell(dataset_dir, "sessions.csv", "P2-S1", "dose", "600")
    code, errors = validate(capsys, dataset_dir)
    assert code == 2
    assert errors == [
        {
            "file": "sessions.csv",
            "row": line,
            "column": "dose",
            "value": "600",
            "message": "out of range for calcium_chloride: allowed > 0 and <= 500 mL",
        }
    ]


def test_an_intravenous_calcium_session_is_refused(
    capsys: pytest.CaptureFixture[str], dataset_dir: Path
) -> None:
    assert Drug.CALCIUM_CHLORIDE in INTRATUMOURAL_ONLY
    set_cell(dataset_dir, "sessions.csv", "P1-S1", "drug", "calcium_chloride")
    set_cell(dataset_dir, "sessions.csv", "P1-S1", "dose", "20")
    line = set_cell(dataset_dir, "sessions.csv", "P1-S1", "dose_per_m2", "")
    code, errors = validate(capsys, dataset_dir)
    assert code == 2
    assert [(e["row"], e["column"], e["value"]) for e in errors] == [(line, "route", "intravenous")]
    assert "given intratumourally only" in errors[0]["message"]
    assert "allowed: intratumoural" in errors[0]["message"]


def test_the_model_refuses_intravenous_calcium_and_a_dose_per_m2_for_it() -> None:
    base: dict[str, Any] = {
        "session_id": "P1-S9",
        "patient_id": "P1",
        "session_date": dt.date(2024, 1, 1),
        "session_number": 9,
        "drug": Drug.CALCIUM_CHLORIDE,
        "route": Route.INTRATUMOURAL,
        "dose": 10.0,
    }
    assert Session.model_validate(base).dose == 10.0
    with pytest.raises(ValidationError, match="given intratumourally only"):
        Session.model_validate(base | {"route": Route.INTRAVENOUS})
    with pytest.raises(ValidationError, match="given for an intratumoural session"):
        Session.model_validate(base | {"dose_per_m2": 100.0})
    with pytest.raises(ValidationError, match="given for calcium_chloride; it applies to"):
        Session.model_validate(base | {"route": Route.INTRAVENOUS, "dose_per_m2": 100.0})
    with pytest.raises(ValidationError, match="given for cisplatin; it applies to"):
        Session.model_validate(
            base | {"drug": Drug.CISPLATIN, "route": Route.INTRAVENOUS, "dose_per_m2": 100.0}
        )
