"""The ``openect`` command line: exit codes, JSON output, one-line errors."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from openect import __version__
from openect.cli import main


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "--version") == (0, f"openect {__version__}\n", "")


def test_help_lists_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for command in ("data", "demo"):
        assert command in out


def test_validate_valid_dataset_json(capsys: pytest.CaptureFixture[str], dataset_dir: Path) -> None:
    code, out, err = run(capsys, "data", "validate", str(dataset_dir), "--json")
    assert (code, err) == (0, "")
    payload = json.loads(out)
    assert payload == {
        "valid": True,
        "counts": {
            "centres": 2,
            "patients": 2,
            "lesions": 3,
            "sessions": 2,
            "applications": 3,
            "assessments": 3,
            "adverse_events": 1,
            "patient_reported": 1,
            "systemic_therapies": 1,
        },
        "errors": [],
    }


def test_validate_invalid_dataset_exit_2_with_every_error(
    capsys: pytest.CaptureFixture[str], dataset_dir: Path
) -> None:
    path = dataset_dir / "patients.csv"
    path.write_text(path.read_text().replace("IIIC,mutant,1", "IIIC,mutant,9"))
    code, out, _ = run(capsys, "data", "validate", str(dataset_dir), "--json")
    assert code == 2
    assert json.loads(out)["errors"] == [
        {
            "file": "patients.csv",
            "row": 2,
            "column": "ecog",
            "value": "9",
            "message": "out of range; allowed: 0 to 4",
        }
    ]
    code, out, _ = run(capsys, "data", "validate", str(dataset_dir))
    assert code == 2
    assert "1 problem(s)" in out
    assert "ecog" in out


def test_validate_missing_folder_is_one_line_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = run(capsys, "data", "validate", str(tmp_path / "nope"))
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert "not a folder" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--patients", "0"], "--patients=0: out of range; allowed 1 to 1000000"),
        (["--patients", "5", "--centres", "6"], "--centres=6: out of range; allowed 1 to 5"),
        (["--seed", "-1"], "--seed=-1: out of range; allowed >= 0"),
        (["--patients", "many"], "'--patients'"),
    ],
)
def test_synth_bad_options(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, args: list[str], expected: str
) -> None:
    code, out, err = run(capsys, "data", "synth", str(tmp_path / "new"), *args)
    assert code == 2
    assert out == ""
    assert expected in err
    assert err.count("\n") == 1
    assert not (tmp_path / "new").exists()


def test_synth_refuses_non_empty_folder(
    capsys: pytest.CaptureFixture[str], dataset_dir: Path
) -> None:
    code, _, err = run(capsys, "data", "synth", str(dataset_dir), "--patients", "3")
    assert code == 2
    assert "exists and is not empty" in err


def test_synth_then_validate(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    target = tmp_path / "cohort"
    code, out, _ = run(
        capsys, "data", "synth", str(target), "--patients", "20", "--centres", "2", "--json"
    )
    assert code == 0
    written = json.loads(out)
    assert written["parameters"] == {"patients": 20, "centres": 2, "seed": 0}
    assert written["counts"]["patients"] == 20
    code, out, _ = run(capsys, "data", "validate", str(target), "--json")
    assert code == 0
    assert json.loads(out)["counts"] == written["counts"]


def test_schema_json_lists_every_file(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "data", "schema", "--json")
    assert code == 0
    files = [t["file"] for t in json.loads(out)["tables"]]
    assert files[0] == "centres.csv"
    assert "applications.csv" in files


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """``openect demo --json`` run twice in one folder: a quick demo (10 patients, no field
    run, no lesion plan), then the full one replacing it (12 patients, seed 7, a field
    run at 2.5 mm and the lesion plan); each run's exit code and JSON, and the folder.
    Seed 7: the demo patient's largest lesion is an 8 x 6 mm nodule for linear needles.
    The demo tests share it (``make unit`` runs each file on one xdist worker)."""
    target = tmp_path_factory.mktemp("demo-run") / "demo"
    runs: dict[str, Any] = {"target": target}
    for name, args in (
        ("quick", ["--patients", "10", "--no-field", "--no-lesion-plan"]),
        ("full", ["--patients", "12", "--seed", "7", "--field-resolution-mm", "2.5"]),
    ):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["demo", "--dir", str(target), *args, "--json"])
        runs[name] = {"code": code, "payload": json.loads(out.getvalue()) if code == 0 else None,
                      "stderr": err.getvalue()}  # fmt: skip
    return runs


@pytest.mark.slow
def test_demo_generates_validates_and_summarises(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, demo_run: dict[str, Any]
) -> None:
    full = demo_run["full"]
    assert full["code"] == 0, full["stderr"]
    payload = full["payload"]
    assert payload["validation"]["valid"] is True
    assert payload["summary"]["synthetic"] is True
    assert payload["summary"]["patients"]["n"] == 12
    plan = payload["session_plan"]
    assert plan["patient_id"].startswith("SYN-")
    assert plan["rule_set"] == "sop-2018"
    assert len(plan["lesions"]) >= 2
    assert plan["eligibility"]["status"] in {"eligible", "caution", "contraindicated"}
    # Running again replaced its own synthetic dataset (the quick demo's 10 patients)...
    quick = demo_run["quick"]
    assert quick["code"] == 0, quick["stderr"]
    assert quick["payload"]["summary"]["patients"]["n"] == 10
    code, out, _ = run(capsys, "data", "validate", str(demo_run["target"]), "--json")
    assert code == 0
    assert json.loads(out)["counts"]["patients"] == 12
    # ...but never a folder that is not one.
    other = tmp_path / "mine"
    other.mkdir()
    code, _, err = run(capsys, "demo", "--dir", str(other))
    assert code == 2
    assert "is not a synthetic demo dataset" in err


@pytest.mark.parametrize("command", [["openect"], [sys.executable, "-m", "openect"]])
def test_installed_command(dataset_dir: Path, command: list[str]) -> None:
    if command == ["openect"]:
        command = [str(Path(sys.executable).parent / "openect")]
    done = subprocess.run(
        [*command, "data", "validate", str(dataset_dir), "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["valid"] is True


def test_unexpected_error_is_one_line_without_traceback(
    capsys: pytest.CaptureFixture[str], dataset_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(directory: Path) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("openect.cli.data.load_dataset", broken)
    code, _, err = run(capsys, "data", "validate", str(dataset_dir))
    assert code == 1
    assert err == (
        "openect: internal error: RuntimeError: disk on fire (run with --debug for the traceback)\n"
    )
    code, _, err = run(capsys, "--debug", "data", "validate", str(dataset_dir))
    assert code == 1
    assert "Traceback" in err


@pytest.mark.slow
def test_demo_simulates_a_hexagonal_application(
    capsys: pytest.CaptureFixture[str], demo_run: dict[str, Any]
) -> None:
    full = demo_run["full"]
    assert full["code"] == 0, full["stderr"]
    field = full["payload"]["field"]
    assert field["electrode"] == "hexagonal"
    assert field["pairs"] == 12
    assert field["converged"] is True
    assert 0 < field["coverage"]["tumour_fraction_above_rev"] <= 1
    assert Path(field["png"]).read_bytes()[:4] == b"\x89PNG"
    # The figure lives beside the dataset files, which stay valid.
    assert Path(field["png"]).is_relative_to(demo_run["target"])
    assert run(capsys, "data", "validate", str(demo_run["target"]))[0] == 0


@pytest.mark.slow
def test_demo_plans_the_largest_lesion(demo_run: dict[str, Any]) -> None:
    full = demo_run["full"]
    assert full["code"] == 0, full["stderr"]
    payload = full["payload"]
    planned = payload["lesion_plan"]
    lesions = payload["session_plan"]["lesions"]
    largest = max(lesions, key=lambda lesion: lesion["longest_diameter_mm"])
    assert planned["lesion_id"] == largest["lesion_id"]
    assert planned["plan"]["electrode"] == largest["electrode"]
    assert planned["plan"]["count"] == len(planned["plan"]["applications"]) >= 1
    assert planned["plan"]["coverage"]["verified_3d"] is True
    assert Path(planned["png"]).read_bytes()[:4] == b"\x89PNG"
