"""Every validation rule of the dataset format, each triggered by one broken dataset.

Each case starts from the small valid dataset, breaks one thing, and checks that the
report names the file, the line, the column, the value and says what is allowed, and
that nothing else is reported.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from dataset_files import set_cell
from openect.data.csvio import DatasetError, load_dataset, read_dataset, write_dataset
from openect.data.dataset import Dataset
from openect.data.validation import ValidationIssue, check_dataset


def only_issue(directory: Path) -> ValidationIssue:
    _, report = load_dataset(directory)
    assert len(report.issues) == 1, [str(i) for i in report.issues]
    return report.issues[0]


# (file, row id, column, bad value, expected message fragment)
CELL_RULES = [
    ("patients.csv", "P1", "sex", "", "required; must not be empty"),
    ("patients.csv", "P1", "sex", "female", "allowed: one of F, M, X"),
    ("patients.csv", "P1", "ecog", "1.5", "not an integer"),
    ("patients.csv", "P1", "ecog", "5", "out of range; allowed: 0 to 4"),
    ("patients.csv", "P1", "birth_year", "1850", "allowed: 1900 to 2100"),
    ("patients.csv", "P1", "stage", "IIIE", "not an AJCC stage group"),
    ("patients.csv", "P1", "visceral_metastases", "yes", "not a boolean; allowed: true or false"),
    ("patients.csv", "P1", "last_contact_date", "01/06/2021", "not a date"),
    ("patients.csv", "P1", "death_cause", "melanoma", "without a death_date"),
    ("centres.csv", "C01", "country", "United Kingdom", "does not match the allowed pattern"),
    ("centres.csv", "C01", "name", "", "required"),
    ("lesions.csv", "P1-L1", "longest_diameter_mm", "abc", "not a number"),
    ("lesions.csv", "P1-L1", "longest_diameter_mm", "0", "allowed: > 0 and <= 500 mm"),
    ("lesions.csv", "P1-L1", "thickness_mm", "nan", "not a finite number"),
    ("lesions.csv", "P1-L1", "body_site", "arm", "not an allowed value; allowed: one of head_neck"),
    ("lesions.csv", "P1-L1", "perpendicular_diameter_mm", "13", "longer than longest_diameter_mm"),
    ("lesions.csv", "P1-L1", "symptoms", "pain;itch", "semicolon-separated list of pain"),
    ("sessions.csv", "P1-S1", "session_date", "2020-02-30", "not a date"),
    ("sessions.csv", "P1-S1", "session_number", "0", "allowed: 1 to 100"),
    ("sessions.csv", "P1-S1", "bolus_end_time", "25:00", "not a time of day"),
    ("sessions.csv", "P1-S1", "route", "iv", "one of intravenous, intratumoural"),
    ("sessions.csv", "P1-S1", "dose", "150000", "out of range for bleomycin"),
    ("sessions.csv", "P2-S1", "dose_per_m2", "15000", "intratumoural session"),
    ("sessions.csv", "P1-S1", "height_cm", "1.65", "allowed: 50 to 250 cm"),
    ("sessions.csv", "P1-S1", "operator", "op 1", "not a valid identifier"),
    ("applications.csv", "P1-S1-A1", "electrode", "Linear Array", "allowed pattern"),
    ("applications.csv", "P1-S1-A1", "voltage_v", "-400", "allowed: > 0 and <= 3000 V"),
    ("applications.csv", "P1-S1-A1", "complete", "1", "not a boolean"),
    ("assessments.csv", "P1-L1-V1", "longest_diameter_mm", "-1", "allowed: 0 to 500 mm"),
    ("assessments.csv", "P1-L1-V1", "override_reason", "oops", "without an override_response"),
    ("assessments.csv", "P1-L1-V1", "method", "palpation", "one of caliper, photo"),
    ("adverse_events.csv", "AE1", "grade", "6", "allowed: 1 to 5"),
    ("adverse_events.csv", "AE1", "term", "", "required"),
    ("patient_reported.csv", "PR1", "eq5d_mobility", "4", "allowed: 1 to 3"),
    ("patient_reported.csv", "PR1", "pain_nrs", "11", "allowed: 0 to 10"),
    ("patient_reported.csv", "PR1", "eq_vas", "101", "allowed: 0 to 100"),
    ("systemic_therapies.csv", "T1", "end_date", "2020-01-01", "before start_date 2020-02-01"),
    ("systemic_therapies.csv", "T1", "agent_class", "pd1", "one of anti_pd1"),
]


@pytest.mark.parametrize(("file", "row_id", "column", "value", "fragment"), CELL_RULES)
def test_cell_rule(
    dataset_dir: Path, file: str, row_id: str, column: str, value: str, fragment: str
) -> None:
    line = set_cell(dataset_dir, file, row_id, column, value)
    issue = only_issue(dataset_dir)
    assert (issue.file, issue.row, issue.column) == (file, line, column)
    assert issue.value == (value.split(";")[-1] if column == "symptoms" else value)
    assert fragment in issue.message


# Rules between rows and files: (file, row id, column, value, file, column, fragment)
CROSS_RULES = [
    (
        "applications.csv", "P1-S1-A1", "lesion_id", "P1-L9",
        "applications.csv", "lesion_id", "unknown lesion_id: no such row in lesions.csv",
    ),
    (
        "patients.csv", "P1", "centre_id", "C99",
        "patients.csv", "centre_id", "unknown centre_id: no such row in centres.csv",
    ),
    (
        "applications.csv", "P2-S1-A1", "lesion_id", "P1-L1",
        "applications.csv", "lesion_id", "lesion of patient P1 but session P2-S1",
    ),
    (
        "adverse_events.csv", "AE1", "session_id", "P2-S1",
        "adverse_events.csv", "session_id", "session of patient P2, not of P1",
    ),
    (
        "adverse_events.csv", "AE1", "onset_date", "2020-03-01",
        "adverse_events.csv", "onset_date", "before the date of its session P1-S1",
    ),
    (
        "assessments.csv", "P1-L1-V1", "assessment_date", "2020-03-01",
        "assessments.csv", "assessment_date", "before the first session treating the lesion",
    ),
    (
        "systemic_therapies.csv", "T1", "start_date", "2021-07-01",
        "systemic_therapies.csv", "start_date", "after the last_contact_date of patient P1",
    ),
    (
        "patients.csv", "P1", "birth_year", "2021",
        "patients.csv", "birth_year", "gives an age of -1 years",
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    ("file", "row_id", "column", "value", "issue_file", "issue_column", "fragment"), CROSS_RULES
)
def test_cross_file_rule(
    dataset_dir: Path,
    file: str,
    row_id: str,
    column: str,
    value: str,
    issue_file: str,
    issue_column: str,
    fragment: str,
) -> None:
    set_cell(dataset_dir, file, row_id, column, value)
    issue = only_issue(dataset_dir)
    assert (issue.file, issue.column) == (issue_file, issue_column)
    assert fragment in issue.message


def test_lesion_baseline_after_its_session(dataset_dir: Path) -> None:
    line = set_cell(dataset_dir, "lesions.csv", "P1-L1", "baseline_date", "2020-03-05")
    issue = only_issue(dataset_dir)
    assert (issue.file, issue.row, issue.column, issue.value) == (
        "lesions.csv",
        line,
        "baseline_date",
        "2020-03-05",
    )
    assert "after the first session treating the lesion (2020-03-02)" in issue.message


def test_events_after_death_are_each_reported(dataset_dir: Path) -> None:
    set_cell(dataset_dir, "patients.csv", "P2", "death_date", "2020-04-01")
    set_cell(dataset_dir, "patients.csv", "P2", "last_contact_date", "2020-04-01")
    _, report = load_dataset(dataset_dir)
    where = {(i.file, i.column) for i in report.issues}
    assert where == {("lesions.csv", "baseline_date"), ("sessions.csv", "session_date")}
    assert all(
        "after the death_date of patient P2 (2020-04-01)" in i.message for i in report.issues
    )


def test_death_before_birth(dataset_dir: Path) -> None:
    set_cell(dataset_dir, "patients.csv", "P2", "death_date", "1930-01-01")
    _, report = load_dataset(dataset_dir)
    assert any(
        i.column == "death_date" and "before the year of birth 1940" in i.message
        for i in report.issues
    )


def test_death_before_last_contact(dataset_dir: Path) -> None:
    line = set_cell(dataset_dir, "patients.csv", "P2", "last_contact_date", "2020-10-01")
    issue = only_issue(dataset_dir)
    assert (issue.file, issue.row, issue.column, issue.value) == (
        "patients.csv",
        line,
        "death_date",
        "2020-09-01",
    )
    assert "before last_contact_date 2020-10-01" in issue.message


def test_duplicate_identifier(dataset: Dataset, tmp_path: Path) -> None:
    dataset.lesions.append(dataset.lesions[0])
    directory = write_dataset(dataset, tmp_path / "dup")
    issue = only_issue(directory)
    assert (issue.file, issue.row, issue.column, issue.value) == (
        "lesions.csv",
        5,
        "lesion_id",
        "P1-L1",
    )
    assert issue.message == "duplicate lesion_id"


def test_session_numbers_unique_and_in_date_order(dataset: Dataset, tmp_path: Path) -> None:
    first = dataset.sessions[0]
    dataset.sessions.append(
        first.model_copy(
            update={"session_id": "P1-S2", "session_date": first.session_date.replace(month=6)}
        )
    )
    issues = check_dataset(dataset)
    assert [(i.file, i.row, i.column) for i in issues] == [("sessions.csv", 4, "session_number")]
    assert "duplicate session_number for patient P1" in issues[0].message

    dataset.sessions[-1] = dataset.sessions[-1].model_copy(
        update={"session_date": first.session_date.replace(month=1), "session_number": 2}
    )
    issues = check_dataset(dataset)
    assert len(issues) == 1
    assert "numbers must increase with date" in issues[0].message


# -- whole files -----------------------------------------------------------------------


def test_missing_file(dataset_dir: Path) -> None:
    (dataset_dir / "adverse_events.csv").unlink()
    issue = only_issue(dataset_dir)
    assert (issue.file, issue.row) == ("adverse_events.csv", None)
    assert "missing file" in issue.message


def test_missing_dataset_json(dataset_dir: Path) -> None:
    (dataset_dir / "dataset.json").unlink()
    issue = only_issue(dataset_dir)
    assert issue.file == "dataset.json"
    assert "missing file" in issue.message


def test_unsupported_schema_version(dataset_dir: Path) -> None:
    info = json.loads((dataset_dir / "dataset.json").read_text())
    info["schema_version"] = "2.0"
    (dataset_dir / "dataset.json").write_text(json.dumps(info))
    issue = only_issue(dataset_dir)
    assert (issue.file, issue.column, issue.value) == ("dataset.json", "schema_version", "2.0")
    assert "unsupported schema version" in issue.message


def test_dataset_json_not_json(dataset_dir: Path) -> None:
    (dataset_dir / "dataset.json").write_text("{schema_version: 1")
    issue = only_issue(dataset_dir)
    assert "not valid JSON metadata" in issue.message


def rewrite(path: Path, edit: object) -> None:
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    rows = edit(rows)  # type: ignore[operator]
    with open(path, "w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)


def test_unknown_column(dataset_dir: Path) -> None:
    rewrite(dataset_dir / "centres.csv", lambda rows: [[*r, "x"] for r in rows])
    issue = only_issue(dataset_dir)
    assert (issue.file, issue.row, issue.column) == ("centres.csv", 1, "x")
    assert issue.message.startswith("unknown column; allowed: centre_id, name, country")


def test_missing_optional_column_still_reads_rows(dataset_dir: Path) -> None:
    rewrite(dataset_dir / "lesions.csv", lambda rows: [r[:7] + r[8:] for r in rows])
    dataset, report = load_dataset(dataset_dir)
    assert [(i.file, i.column, i.message) for i in report.issues] == [
        ("lesions.csv", "thickness_mm", "missing column")
    ]
    assert report.counts["lesions"] == 3
    assert all(lesion.thickness_mm is None for lesion in dataset.lesions)


def test_older_assessments_without_override_columns_are_valid(dataset_dir: Path) -> None:
    # without override_response and override_reason (the 8th and 9th columns)
    rewrite(dataset_dir / "assessments.csv", lambda rows: [r[:7] + r[9:] for r in rows])
    set_cell(dataset_dir, "assessments.csv", "P1-L1-V1", "method", "caliper")
    dataset, report = load_dataset(dataset_dir)
    assert report.valid
    assert dataset.assessments[2].override_response is None


def test_columns_out_of_order(dataset_dir: Path) -> None:
    rewrite(dataset_dir / "centres.csv", lambda rows: [[r[1], r[0], *r[2:]] for r in rows])
    issue = only_issue(dataset_dir)
    assert "columns out of order; expected: centre_id,name,country,time_zone" in issue.message


def test_row_with_wrong_number_of_cells(dataset_dir: Path) -> None:
    rewrite(dataset_dir / "patient_reported.csv", lambda rows: [rows[0], rows[1][:-2]])
    issue = only_issue(dataset_dir)
    assert (issue.file, issue.row) == ("patient_reported.csv", 2)
    assert issue.message == "8 cells but the header has 10"


def test_not_utf8(dataset_dir: Path) -> None:
    path = dataset_dir / "centres.csv"
    path.write_bytes(path.read_bytes().replace(b"Test centre one", b"Centre \xe9"))
    issue = only_issue(dataset_dir)
    assert issue.file == "centres.csv"
    assert "not UTF-8" in issue.message


def test_all_problems_are_reported_at_once(dataset_dir: Path) -> None:
    set_cell(dataset_dir, "patients.csv", "P1", "ecog", "7")
    set_cell(dataset_dir, "lesions.csv", "P1-L2", "layer", "dermal")
    set_cell(dataset_dir, "lesions.csv", "P1-L2", "patient_id", "P7")
    set_cell(dataset_dir, "applications.csv", "P1-S1-A2", "pulses", "0")
    (dataset_dir / "centres.csv").unlink()
    _, report = load_dataset(dataset_dir)
    assert [(i.file, i.column) for i in report.issues] == [
        ("centres.csv", None),
        ("patients.csv", "ecog"),
        ("lesions.csv", "layer"),
        ("lesions.csv", "patient_id"),
        ("applications.csv", "pulses"),
    ]
    with pytest.raises(
        DatasetError, match=r"invalid dataset: centres.csv: .* \(and 4 more problems\)"
    ):
        read_dataset(dataset_dir)


def test_an_override_response_needs_its_reason(dataset_dir: Path) -> None:
    line = set_cell(dataset_dir, "assessments.csv", "P1-L1-V1", "override_response", "CR")
    issue = only_issue(dataset_dir)
    assert (issue.file, issue.row, issue.column) == ("assessments.csv", line, "override_reason")
    assert "honoured only with the reason" in issue.message
    set_cell(dataset_dir, "assessments.csv", "P1-L1-V1", "override_reason", "new nodule in field")
    _, report = load_dataset(dataset_dir)
    assert report.valid
