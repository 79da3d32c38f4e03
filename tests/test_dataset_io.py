"""Round trips of the CSV dataset format and the columns derived from the models."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from pydantic import ValidationError

from openect.data.csvio import read_dataset, write_dataset
from openect.data.dataset import Dataset
from openect.data.models import ENTITIES, Lesion, Session
from openect.data.schema import columns, describe, file_name


def test_write_then_read_gives_identical_models(dataset: Dataset, tmp_path: Path) -> None:
    back = read_dataset(write_dataset(dataset, tmp_path / "ds"))
    assert back == dataset
    # Values keep their types: times with and without seconds, lists, None, enums.
    assert back.sessions[1].bolus_end_time == dt.time(14, 0, 30)
    assert back.lesions[0].symptoms == ["pain", "exudate"]
    assert back.lesions[2].ulcerated is None


def test_read_then_write_is_byte_identical(dataset_dir: Path, tmp_path: Path) -> None:
    again = write_dataset(read_dataset(dataset_dir), tmp_path / "again")
    names = sorted(p.name for p in dataset_dir.iterdir())
    assert names == sorted(p.name for p in again.iterdir())
    for name in names:
        assert (again / name).read_bytes() == (dataset_dir / name).read_bytes(), name


def test_every_file_is_written_with_its_header_even_when_empty(tmp_path: Path) -> None:
    directory = write_dataset(Dataset(), tmp_path / "empty")
    for model in ENTITIES:
        text = (directory / file_name(model)).read_text(encoding="utf-8")
        assert text == ",".join(c.name for c in columns(model)) + "\n"
    assert read_dataset(directory).counts() == {m.table: 0 for m in ENTITIES}


def test_write_refuses_a_non_empty_folder_and_leaves_it_alone(
    dataset: Dataset, tmp_path: Path
) -> None:
    target = tmp_path / "taken"
    target.mkdir()
    (target / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="exists and is not empty"):
        write_dataset(dataset, target)
    assert [p.name for p in target.iterdir()] == ["notes.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["taken"]  # no staging folder left


def test_columns_are_the_model_fields_in_order() -> None:
    assert [c.name for c in columns(Lesion)][:6] == [
        "lesion_id",
        "patient_id",
        "body_site",
        "layer",
        "baseline_date",
        "longest_diameter_mm",
    ]
    by_name = {c.name: c for c in columns(Session)}
    assert by_name["patient_id"].references == "patients"
    assert by_name["dose_per_m2"].unit == "IU/m2"
    assert by_name["bsa_m2"].allowed == "0.5 to 3.5 m2"
    assert [t["file"] for t in describe()] == [file_name(m) for m in ENTITIES]


def test_models_reject_unknown_fields_and_are_immutable(dataset: Dataset) -> None:
    lesion = dataset.lesions[0]
    with pytest.raises(ValidationError, match="extra"):
        Lesion.model_validate({**lesion.model_dump(), "colour": "red"})
    with pytest.raises(ValidationError, match="frozen"):
        lesion.longest_diameter_mm = 3.0  # type: ignore[misc]


def test_frames_have_dataset_columns_and_types(dataset: Dataset) -> None:
    frames = dataset.to_frames()
    assert list(frames) == [m.table for m in ENTITIES]
    lesions = frames["lesions"]
    assert list(lesions.columns) == [c.name for c in columns(Lesion)]
    assert str(lesions["baseline_date"].dtype).startswith("datetime64")
    assert lesions["longest_diameter_mm"].tolist() == [12.0, 35.0, 8.0]


def test_schema_reference_in_docs_is_up_to_date() -> None:
    from openect.data.schema import to_markdown

    path = Path(__file__).parents[1] / "docs" / "dataset-schema.md"
    assert path.read_text(encoding="utf-8") == to_markdown(), (
        "regenerate with: openect data schema --markdown > docs/dataset-schema.md"
    )
