"""CSV files that stay safe outside the registry, and CSV files the reader must survive.

Exports for people neutralise text cells a spreadsheet would run as a formula (OWASP CSV
injection); the round-trip form keeps every value. Reading accepts Excel's UTF-8 BOM and
reports overlong cells, NUL bytes and invalid UTF-8 with file and row, never a traceback.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from openect.data.csvio import MAX_CELL, load_dataset, read_dataset, write_dataset
from openect.data.dataset import Dataset
from openect.data.models import AdverseEvent, Assessment, Centre, SystemicTherapy
from openect.data.schema import columns

FORMULAS = {
    "centres": ("name", '=HYPERLINK("http://x")'),
    "adverse_events": ("term", "+cmd|' /C calc'!A0"),
    "systemic_therapies": ("agent", "@SUM(1+1)"),
    "assessments": ("override_reason", "-2+3 looked smaller"),
}


def hostile(dataset: Dataset) -> Dataset:
    """``dataset`` with a formula-like text in one cell of four tables."""
    centre = dataset.centres[0].model_copy(update={"name": FORMULAS["centres"][1]})
    event = dataset.adverse_events[0].model_copy(update={"term": FORMULAS["adverse_events"][1]})
    therapy = dataset.systemic_therapies[0].model_copy(
        update={"agent": FORMULAS["systemic_therapies"][1]}
    )
    assessment = dataset.assessments[2].model_copy(
        update={"override_reason": "\t" + FORMULAS["assessments"][1]}
    )
    return Dataset(
        **{
            **dataset.__dict__,
            "centres": [centre, *dataset.centres[1:]],
            "adverse_events": [event, *dataset.adverse_events[1:]],
            "systemic_therapies": [therapy, *dataset.systemic_therapies[1:]],
            "assessments": [*dataset.assessments[:2], assessment],
        }
    )


def test_exports_for_people_neutralise_formulas_in_text_cells(
    dataset: Dataset, tmp_path: Path
) -> None:
    bad = hostile(dataset)
    folder = write_dataset(bad, tmp_path / "people", for_people=True)
    back = read_dataset(folder)
    assert back.centres[0].name == "'" + FORMULAS["centres"][1]
    assert back.adverse_events[0].term == "'" + FORMULAS["adverse_events"][1]
    assert back.systemic_therapies[0].agent == "'" + FORMULAS["systemic_therapies"][1]
    assert back.assessments[2].override_reason == "'\t" + FORMULAS["assessments"][1]
    # Every text cell of every file: none starts with a formula character.
    for path in folder.glob("*.csv"):
        for line in path.read_text(encoding="utf-8").splitlines()[1:]:
            for cell in line.split(","):
                assert not cell.lstrip('"').startswith(("=", "+", "@", "\t", "\r")), (path, cell)
    # Numbers are data, never neutralised (only text columns are).
    assert back.lesions == bad.lesions
    assert back.sessions == bad.sessions


def test_the_round_trip_form_keeps_every_value(dataset: Dataset, tmp_path: Path) -> None:
    bad = hostile(dataset)
    assert read_dataset(write_dataset(bad, tmp_path / "exact")) == bad


def test_only_text_columns_are_neutralised() -> None:
    from openect.data import csvio

    rows = list(csvio._rows(Centre, [Centre(centre_id="C1", name="-x")], for_people=True))
    assert rows == [["C1", "'-x", None, None]]  # country and time zone unknown
    assert {c.kind for m in (AdverseEvent, Assessment, SystemicTherapy) for c in columns(m)
            if c.name in ("term", "override_reason", "agent")} == {"str"}  # fmt: skip


@pytest.mark.django_db
def test_the_web_zip_is_for_people(dataset: Dataset) -> None:
    from openect.web.pages.export import dataset_zip

    archive = zipfile.ZipFile(io.BytesIO(dataset_zip(hostile(dataset))))
    centres = archive.read("centres.csv").decode("utf-8")
    assert "'=HYPERLINK" in centres
    events = archive.read("adverse_events.csv").decode("utf-8")
    assert "'+cmd" in events


def copy_of(dataset_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / "copy"
    shutil.copytree(dataset_dir, target)
    return target


def test_a_utf8_byte_order_mark_is_read(dataset_dir: Path, tmp_path: Path) -> None:
    folder = copy_of(dataset_dir, tmp_path)
    for name in ("patients.csv", "lesions.csv", "dataset.json"):
        path = folder / name
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert read_dataset(folder) == read_dataset(dataset_dir)


def validate(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "openect", "data", "validate", str(folder)],
        capture_output=True, text=True, env=dict(os.environ), timeout=120, check=False,
    )  # fmt: skip


def test_a_huge_cell_names_file_row_and_column(dataset_dir: Path, tmp_path: Path) -> None:
    folder = copy_of(dataset_dir, tmp_path)
    path = folder / "centres.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    cells = lines[1].split(",")
    cells[1] = "x" * 1_000_000
    lines[1] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    _, report = load_dataset(folder)
    first = report.issues[0]
    assert (first.file, first.row, first.column) == ("centres.csv", 2, "name")
    assert f"at most {MAX_CELL:,}" in first.message
    done = validate(folder)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "internal error" not in done.stdout + done.stderr
    assert "Traceback" not in done.stderr


def test_nul_bytes_name_file_and_row(dataset_dir: Path, tmp_path: Path) -> None:
    folder = copy_of(dataset_dir, tmp_path)
    path = folder / "lesions.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[2] = lines[2].replace(",", ",\x00", 1)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    _, report = load_dataset(folder)
    nul = [i for i in report.issues if "NUL" in i.message]
    assert [(i.file, i.row) for i in nul] == [("lesions.csv", 3)]
    done = validate(folder)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr


def test_invalid_utf8_names_file_and_row(dataset_dir: Path, tmp_path: Path) -> None:
    folder = copy_of(dataset_dir, tmp_path)
    path = folder / "patients.csv"
    lines = path.read_bytes().split(b"\n")
    lines[2] = lines[2] + b"\xff\xfe"
    path.write_bytes(b"\n".join(lines))
    _, report = load_dataset(folder)
    bad = [i for i in report.issues if "not UTF-8" in i.message]
    assert [(i.file, i.row) for i in bad] == [("patients.csv", 3)]
    done = validate(folder)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
