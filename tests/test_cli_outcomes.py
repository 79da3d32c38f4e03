"""``openect response classify``, ``openect analyse``, ``analyse km`` and ``report outcomes``."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from openect.cli import main
from openect.data.csvio import write_dataset
from openect.synth import generate_cohort


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def register(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 200-patient synthetic register written as a CSV dataset."""
    folder = tmp_path_factory.mktemp("register") / "data"
    write_dataset(generate_cohort(200, centres=3, seed=31), folder)
    return folder


def test_classify_json_counts_every_treated_lesion(
    capsys: pytest.CaptureFixture[str], register: Path
) -> None:
    code, out, _ = run(capsys, "response", "classify", str(register), "--json")
    assert code == 0
    result = json.loads(out)
    lesions = pd.read_csv(register / "lesions.csv")
    assert result["criteria"] == "recist"
    assert result["lesions"] == len(result["lesion_responses"]) <= len(lesions)
    # measurable and non-measurable (< 10 mm) lesions are counted and rated apart
    landmark = result["counts"]["lesion landmark, measurable"]
    apart = result["counts"]["lesion landmark, non-measurable"]
    assert sum(landmark.values()) == result["measurable_lesions"]
    assert sum(landmark.values()) + sum(apart.values()) == result["lesions"]
    assert apart["PR"] == apart["SD"] == 0
    rates = result["rates"]["lesion"]
    assert rates["cr"] == landmark["CR"]
    assert rates["evaluable"] == result["measurable_lesions"] - landmark["NE"]
    assert result["rates"]["lesion_non_measurable"]["cr"] == apart["CR"]
    assert result["patient_rule"] == "lesions"
    assert {r["rule"] for r in result["patient_responses"]} == {"lesions"}
    first = result["lesion_responses"][0]
    assert {"best_response", "landmark_response", "local_progression_date"} <= set(first)


def test_classify_takes_the_per_patient_rule_and_the_small_lesion_convention(
    capsys: pytest.CaptureFixture[str], register: Path
) -> None:
    code, out, _ = run(
        capsys, "response", "classify", str(register), "--json",
        "--patient-rule", "sum", "--non-measurable", "percentage",
    )  # fmt: skip
    assert code == 0
    result = json.loads(out)
    assert result["patient_rule"] == "sum"
    assert {r["rule"] for r in result["patient_responses"]} == {"sum"}
    # every lesion by the percentage thresholds: none is classified non-CR/non-PD
    assert "NN" not in {r["landmark_response"] for r in result["lesion_responses"]}


def test_classify_csv_writes_lesions_and_assessments(
    capsys: pytest.CaptureFixture[str], register: Path, tmp_path: Path
) -> None:
    target = tmp_path / "out" / "responses.csv"
    code, out, _ = run(
        capsys, "response", "classify", str(register), "--criteria", "who", "--csv", str(target)
    )
    assert code == 0
    assert "WHO" in out
    lesions = pd.read_csv(target)
    per_assessment = pd.read_csv(tmp_path / "out" / "responses-assessments.csv")
    assert set(lesions["best_response"]) <= {"CR", "PR", "NC", "PD", "NE"}  # WHO names
    assert set(lesions["best_confirmation"].dropna()) <= {"confirmed", "unconfirmed"}
    treated = per_assessment[per_assessment["course"] > 0]
    assert treated["category"].notna().all()
    assert set(per_assessment["lesion_id"]) <= set(lesions["lesion_id"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--criteria", "mrecist"], "--criteria=mrecist: unknown; allowed recist, who"),
        (["--window-days", "70,100"], "landmark_window_days=(70, 100)"),
        (["--window-days", "soon"], "--window-days='soon': expected two whole days"),
        (["--patient-rule", "worst"], "--patient-rule='worst': allowed lesions, sum"),
        (["--non-measurable", "no"], "--non-measurable='no': allowed qualitative, percentage"),
    ],
)
def test_classify_rejects_bad_options(
    capsys: pytest.CaptureFixture[str], register: Path, args: list[str], message: str
) -> None:
    code, _, err = run(capsys, "response", "classify", str(register), *args)
    assert code == 2
    assert message in err


def test_an_invalid_dataset_is_refused_with_its_problems(
    capsys: pytest.CaptureFixture[str], register: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    for path in register.iterdir():
        (broken / path.name).write_bytes(path.read_bytes())
    lesions = (broken / "lesions.csv").read_text().splitlines()
    cells = lesions[1].split(",")
    cells[5] = "-4"  # longest_diameter_mm
    lesions[1] = ",".join(cells)
    (broken / "lesions.csv").write_text("\n".join(lesions) + "\n")
    code, out, err = run(capsys, "analyse", str(broken))
    assert code == 2
    assert out == ""
    assert "validation problem" in err
    assert "lesions.csv row 2 longest_diameter_mm='-4'" in err
    assert run(capsys, "analyse", str(tmp_path / "missing"))[0] == 2


def test_analyse_json_has_every_analysis(
    capsys: pytest.CaptureFixture[str], register: Path
) -> None:
    code, out, _ = run(capsys, "analyse", str(register), "--json")
    assert code == 0
    result = json.loads(out)
    for key in (
        "rates",
        "subgroups",
        "local_control",
        "local_control_by_immunotherapy",
        "overall_survival",
        "overall_survival_by_immunotherapy",
        "cox_local_progression",
        "gee_complete_response",
        "cr_probability_model",
        "quality_of_life",
        "toxicity",
        "timing_s",
    ):
        assert key in result, key
    units = {(r["unit"], r["outcome"]) for r in result["rates"]}
    assert units == {
        ("lesion", "cr"),
        ("lesion", "objective"),
        ("lesion, non-measurable", "cr"),
        ("patient", "cr"),
        ("patient", "objective"),
    }
    assert result["patient_rule"] == "lesions"
    assert result["lesion_rates_over"].startswith("measurable lesions")
    assert all(r["basis"] for r in result["rates"])
    subgroups = {s["subgroup"] for s in result["subgroups"]}
    assert {"large", "layer", "electrode", "drug", "concurrent_immunotherapy"} <= subgroups
    drugs = {s["level"] for s in result["subgroups"] if s["subgroup"] == "drug"}
    assert {"bleomycin intravenous", "bleomycin intratumoural"} <= drugs  # analysis by drug
    terms = {t["covariate"] for t in result["cox_local_progression"]["terms"]}
    assert "concurrent_immunotherapy" in terms
    assert 0.5 < result["cr_probability_model"]["cv_auc"] < 1.0


def test_analyse_summary_is_the_default_subcommand(
    capsys: pytest.CaptureFixture[str], register: Path
) -> None:
    code, out, _ = run(capsys, "analyse", "summary", str(register))
    assert code == 0
    assert "Response at the landmark" in out
    assert "Kaplan-Meier" in out
    assert run(capsys, "analyse", str(register))[1] == out


def test_analyse_takes_the_per_patient_rule(
    capsys: pytest.CaptureFixture[str], register: Path
) -> None:
    code, out, _ = run(capsys, "analyse", str(register), "--json", "--patient-rule", "sum")
    assert code == 0
    assert json.loads(out)["patient_rule"] == "sum"
    code, _, err = run(capsys, "analyse", str(register), "--patient-rule", "worst")
    assert code == 2
    assert "--patient-rule='worst': allowed lesions, sum" in err


def test_km_json_per_group(capsys: pytest.CaptureFixture[str], register: Path) -> None:
    code, out, _ = run(
        capsys, "analyse", "km", str(register), "--endpoint", "local-control", "--by", "large",
        "--json",
    )  # fmt: skip
    assert code == 0
    result = json.loads(out)
    assert result["endpoint"] == "local-control"
    assert set(result["groups"]) == {"False", "True"}
    for group in result["groups"].values():
        n = len(group["times"])
        assert n == len(group["survival"]) == len(group["ci_low"]) == len(group["at_risk"])
        assert group["times"] == sorted(group["times"])
        assert all(a >= b for a, b in zip(group["survival"], group["survival"][1:], strict=False))
        assert group["at_risk"][0] == group["n"]


def test_km_overall_survival_png(
    capsys: pytest.CaptureFixture[str], register: Path, tmp_path: Path
) -> None:
    png = tmp_path / "os.png"
    code, out, _ = run(
        capsys, "analyse", "km", str(register), "--endpoint", "overall-survival", "--png", str(png)
    )
    assert code == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    patients = pd.read_csv(register / "patients.csv")
    assert f"│ all   │ {len(patients)} " in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--endpoint", "pfs"], "--endpoint=pfs: unknown; allowed local-control, overall-survival"),
        (["--by", "shoe_size"], "--by=shoe_size: not a column; allowed"),
    ],
)
def test_km_rejects_bad_options(
    capsys: pytest.CaptureFixture[str], register: Path, args: list[str], message: str
) -> None:
    code, _, err = run(capsys, "analyse", "km", str(register), *args)
    assert code == 2
    assert message in err


def test_report_is_one_self_contained_html_file(
    capsys: pytest.CaptureFixture[str], register: Path, tmp_path: Path
) -> None:
    target = tmp_path / "report.html"
    code, out, _ = run(capsys, "report", "outcomes", str(register), "--out", str(target))
    assert code == 0
    assert str(target) in out
    text = target.read_text(encoding="utf-8")
    assert text.startswith("<!doctype html>")
    for section in (
        "Cohort",
        "Response at the landmark",
        "Local tumour control and overall survival",
        "Who responds best",
        "The published evidence",
        "Symptoms and quality of life",
        "Toxicity (CTCAE v5)",
        "SYNTHETIC",
    ):
        assert section in text, section
    assert text.count("data:image/png;base64,") >= 7
    assert 'src="http' not in text
    assert run(capsys, "report", "outcomes", str(register), "--out", "x.pdf")[0] == 2
