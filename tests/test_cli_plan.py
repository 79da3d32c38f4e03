"""``openect plan``: session plans and doses from the command line, JSON and errors."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import yaml

from openect.cli import main

EXAMPLE = Path(__file__).parents[1] / "examples" / "patient.yaml"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def write_yaml(tmp_path: Path, document: object) -> Path:
    path = tmp_path / "patient.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


def example(**patient_changes: object) -> dict[str, object]:
    document = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    document["patient"].update(patient_changes)
    return document


def test_example_session_plan_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "plan", "session", str(EXAMPLE), "--json")
    assert (code, err) == (0, "")
    plan = json.loads(out)
    for key in (
        "rule_set", "bsa_m2", "drug", "route", "dose_iu", "dose_per_m2_iu", "pulse_window_min",
        "anaesthesia", "eligibility", "lesions", "time_budget", "warnings", "provenance", "rules",
    ):  # fmt: skip
        assert key in plan, key
    # Mosteller: sqrt(164 * 61 / 3600) = 1.667 -> 1.67 m2; age 72 > 65 -> 10,000 IU/m2.
    assert plan["bsa_m2"] == pytest.approx(round(math.sqrt(164 * 61 / 3600), 2))
    assert plan["rule_set"] == "sop-2018"
    assert plan["dose_per_m2_iu"] == 10_000
    assert plan["dose_iu"] == 16_700
    assert plan["pulse_window_min"] == [8, 28]
    assert plan["eligibility"]["status"] == "caution"
    assert {f["rule_id"] for f in plan["eligibility"]["findings"]} == {
        "eligibility.cautions",
        "eligibility.age_caution",
        "eligibility.lung_function",  # the example records no DLCO nor chest imaging
    }
    lesions = {lesion["lesion_id"]: lesion for lesion in plan["lesions"]}
    assert lesions["L1"]["electrode"] == "linear"
    assert lesions["L1"]["voltage_v"] == 400
    assert lesions["L2"]["electrode"] == "plate"
    assert lesions["L3"]["electrode"] == "hexagonal"
    assert lesions["L3"]["pulses"] == 96
    assert all(lesion["frequency_hz"] == 5000 for lesion in plan["lesions"])
    cited = {rule["id"] for rule in plan["rules"]}
    assert all(rule["source"] for rule in plan["rules"])
    for ids in plan["provenance"].values():
        assert {i for i in ids if not i.startswith("option:")} <= cited


def test_rules_option_switches_rule_set(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "plan", "session", str(EXAMPLE), "--rules", "esope-2006", "--json")
    assert code == 0
    plan = json.loads(out)
    assert plan["rule_set"] == "esope-2006"
    assert plan["dose_iu"] == 15_000 * 1.67


def test_centre_rule_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    centre = tmp_path / "centre.toml"
    centre.write_text(
        '[rule_set]\nid = "centre-a"\nbase = "sop-2018"\ntitle = "Centre A protocol"\n\n'
        '[rules."dose.iv_policy"]\nvalue = "none"\nstatus = "verified"\n'
        'source = "Centre A ECT protocol v2 (2025)"\n',
        encoding="utf-8",
    )
    code, out, _ = run(capsys, "plan", "session", str(EXAMPLE), "--rules", str(centre), "--json")
    assert code == 0
    plan = json.loads(out)
    assert plan["rule_set"] == "centre-a"
    assert plan["rule_set_chain"] == ["centre-a", "sop-2018", "esope-2006"]
    assert plan["dose_per_m2_iu"] == 15_000
    policy = next(rule for rule in plan["rules"] if rule["id"] == "dose.iv_policy")
    assert policy["origin"] == "centre-a"
    assert policy["source"] == "Centre A ECT protocol v2 (2025)"


def test_contraindicated_patient_gets_a_plan_without_dose(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    document = example(contraindications={"breast_feeding": True})
    code, out, _ = run(capsys, "plan", "session", str(write_yaml(tmp_path, document)), "--json")
    assert code == 0
    plan = json.loads(out)
    assert plan["eligibility"]["status"] == "contraindicated"
    assert plan["dose_iu"] is None
    assert plan["pulse_window_min"] is None
    assert any(f["message"] == "breast feeding" for f in plan["eligibility"]["findings"])


def test_human_session_plan(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "plan", "session", str(EXAMPLE))
    assert code == 0
    dose = "16\u202f700\u00a0IU bleomycin"
    for text in ("Eligibility: CAUTION", dose, "hexagonal", "Time budget"):
        assert text in out


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"height_cm": 20}, "patient.height_cm=20: Input should be greater than or equal to 50"),
        ({"sex": "female"}, "patient.sex='female'"),
        ({"creatinine_umol_l": 80}, "give at most one of creatinine_mg_dl, creatinine_umol_l"),
        (
            {"age_years": None, "creatinine_mg_dl": None, "creatinine_clearance_ml_min": 60},
            "age_years or birth_year is required",
        ),
        (
            {"age_years": None},
            "serum creatinine needs the age (age_years or birth_year) and the sex",
        ),
    ],
)
def test_malformed_patient_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, change: dict[str, object], expected: str
) -> None:
    path = write_yaml(tmp_path, example(**change))
    code, out, err = run(capsys, "plan", "session", str(path), "--json")
    assert code == 2
    assert out == ""
    assert expected in err
    assert "Traceback" not in err


def test_malformed_lesion_names_its_position(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    document = example()
    document["lesions"][1]["longest_diameter_mm"] = -6  # type: ignore[index]
    code, _, err = run(capsys, "plan", "session", str(write_yaml(tmp_path, document)))
    assert code == 2
    assert "lesions[1].longest_diameter_mm=-6: Input should be greater than 0" in err


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("patient: [unclosed", "not valid YAML at line 1"),
        ("- just\n- a list\n", "expected a mapping with 'patient' and 'lesions'"),
    ],
)
def test_not_a_patient_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, text: str, expected: str
) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(text, encoding="utf-8")
    code, _, err = run(capsys, "plan", "session", str(path))
    assert code == 2
    assert expected in err


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--rules", "esope-1999"], "neither a shipped rule set (esope-2006, sop-2018)"),
        (["--route", "oral"], "--route='oral': allowed: iv, it"),
        (["--window", "late"], "--window='late': Input should be 'standard' or 'pk'"),
        (["--drug", "cisplatin", "--route", "iv"], "cisplatin intratumourally only"),
    ],
)
def test_bad_options_exit_2(
    capsys: pytest.CaptureFixture[str], args: list[str], expected: str
) -> None:
    code, _, err = run(capsys, "plan", "session", str(EXAMPLE), *args)
    assert code == 2
    assert expected in err


def test_missing_patient_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "plan", "session", str(tmp_path / "nobody.yaml"))
    assert code == 2
    assert "cannot read" in err


def test_plan_dose_iv(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["plan", "dose", "--height-cm", "180", "--weight-kg", "80", "--json"]
    code, out, _ = run(capsys, *args, "--rules", "esope-2006")
    assert code == 0
    plan = json.loads(out)
    assert (plan["bsa_m2"], plan["dose_per_m2_iu"], plan["dose_iu"]) == (2.0, 15_000, 30_000)
    assert plan["route"] == "intravenous"
    # sop-2018, 70-year-old man with creatinine 1.0 mg/dL: CG = 70 * 80 / 72 = 77.8 mL/min.
    code, out, _ = run(capsys, *args, "--age", "70", "--sex", "M", "--creatinine-mg-dl", "1.0")
    plan = json.loads(out)
    assert plan["creatinine_clearance_ml_min"] == pytest.approx(77.8)
    assert (plan["dose_per_m2_iu"], plan["dose_iu"]) == (10_000, 20_000)


def test_plan_dose_intratumoural(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        "plan", "dose", "--height-cm", "170", "--weight-kg", "70", "--route", "it",
        "--lesion-mm", "10", "8", "--lesion-mm", "12,12", "--json",
    )  # fmt: skip
    assert code == 0
    plan = json.loads(out)
    # pi/6 * 10 * 8^2 = 335.1 mm3 -> 0.335 cm3 x 1,000 IU/cm3 = 335 IU;
    # pi/6 * 12^3 = 904.8 mm3 -> 0.905 cm3 x 500 IU/cm3 = 452 IU, but never less than
    # the 1,000 IU/cm3 x 0.5 cm3 = 500 IU just under the 0.5 cm3 step -> 500 IU.
    assert [d["dose_iu"] for d in plan["lesion_doses"]] == [335, 500]
    assert plan["dose_iu"] == 835
    # 1 mm either way: 9 x 7 mm -> 231 IU, 11 x 9 mm -> 467 IU
    first = plan["lesion_doses"][0]
    assert (first["dose_if_1mm_smaller"], first["dose_if_1mm_larger"]) == (231, 467)
    assert plan["dose_per_m2_iu"] is None
    assert plan["pulse_window_min"] == [0, 10]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--lesion-mm", "10,8"], "--lesion-mm: only used with --route it"),
        (["--route", "it", "--lesion-mm", "ten"], "--lesion-mm='ten': expected two diameters"),
        (["--route", "it", "--lesion-mm", "8,10"], "allowed 0 < perpendicular <= longest"),
        (["--route", "it"], "give the lesion diameters"),
        (["--creatinine-mg-dl", "1.1"], "serum creatinine needs the age"),
        (["--sex", "Q"], "--sex='Q': Input should be 'F', 'M' or 'X'"),
        (["--age", "130"], "--age=130: Input should be less than or equal to 120"),
    ],
)
def test_plan_dose_bad_input(
    capsys: pytest.CaptureFixture[str], args: list[str], expected: str
) -> None:
    code, out, err = run(capsys, "plan", "dose", "--height-cm", "170", "--weight-kg", "70", *args)
    assert code == 2
    assert out == ""
    assert expected in err


def test_plan_rules_lists_every_rule_with_source(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "plan", "rules", "sop-2018", "--json")
    assert code == 0
    rule_set = json.loads(out)
    assert rule_set["chain"] == ["sop-2018", "esope-2006"]
    assert rule_set["shipped"] == ["esope-2006", "sop-2018"]
    assert all(rule["source"] and rule["status"] in {"verified", "to_verify"}
               for rule in rule_set["rules"])  # fmt: skip
    code, out, _ = run(capsys, "plan", "rules", "esope-2006")
    assert code == 0
    assert "TO VERIFY" in out
