"""``openect evidence`` from the command line: list, show, meta, figures and errors."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from openect.cli import main

FIXTURES = Path(__file__).parent / "fixtures" / "r"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def _reference(dataset: str, measure: str, method: str, test: str) -> pd.Series:
    pooled = pd.read_csv(FIXTURES / "metafor_pooled.csv", comment="#")
    mask = (
        (pooled["dataset"] == dataset)
        & (pooled["measure"] == measure)
        & (pooled["method"] == method)
        & (pooled["test"] == test)
        & (pooled["level"] == 0.95)
    )
    return pooled[mask].iloc[0]


@pytest.fixture
def bcg_csv(tmp_path: Path) -> Path:
    """dat.bcg log risk ratios as a CSV with a comment header."""
    inputs = pd.read_csv(FIXTURES / "metafor_inputs.csv", comment="#")
    bcg = inputs[inputs["dataset"] == "bcg_logrr"][["label", "yi", "vi"]]
    path = tmp_path / "bcg.csv"
    path.write_text(
        "# BCG vaccine trials (metafor dat.bcg), log risk ratios\n"
        + bcg.to_csv(index=False, float_format="%.17g"),
        encoding="utf-8",
    )
    return path


@pytest.fixture
def counts_csv(tmp_path: Path) -> Path:
    path = tmp_path / "centres.csv"
    path.write_text(
        "# lesions with CR per centre\ncentre,cr,lesions\nA,12,20\nB,,30\nC,40,52\nD,9,\n",
        encoding="utf-8",
    )
    return path


def test_list_shows_every_table_with_rows_and_sources(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "evidence", "list", "--json")
    assert (code, err) == (0, "")
    tables = {t["name"]: t for t in json.loads(out)["tables"]}
    assert tables["spratt2014_ect_studies"]["rows"] == 11
    assert all(t["sources"] for t in tables.values())
    code, out, _ = run(capsys, "evidence", "list")
    assert code == 0
    assert "melanoma_ect_cohorts" in out


def test_show_gives_the_rows_and_the_caveats(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "evidence", "show", "melanoma_ect_cohorts", "--json")
    assert code == 0
    payload = json.loads(out)
    assert len(payload["records"]) == payload["rows"] == 14
    assert "INCONSISTENT" in payload["description"]
    assert payload["records"][0]["cr"] is None  # missing in the abstract: null, not NaN
    code, out, _ = run(capsys, "evidence", "show", "spratt2014_ect_studies")
    assert code == 0
    assert "Kendler" in out


def test_meta_on_a_bundled_table_agrees_with_metafor(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(
        capsys, "evidence", "meta", "spratt2014_ect_studies", "--events", "cr",
        "--total", "n_lesions", "--json",
    )  # fmt: skip
    assert (code, err) == (0, "")
    result = json.loads(out)
    for key in ("k", "estimate", "ci_low", "ci_high", "tau2", "i2", "q", "pi_low", "pi_high",
                "weights"):  # fmt: skip
        assert key in result
    reference = _reference("spratt2014_cr", "PLO", "REML", "z")
    assert result["k"] == 11
    assert result["estimate"] == pytest.approx(reference["pred_bt"], abs=1e-9)
    assert result["ci_low"] == pytest.approx(reference["ci_lb_bt"], abs=1e-8)
    assert result["pi_high"] == pytest.approx(reference["pi_ub_bt"], abs=1e-8)
    assert result["tau2"] == pytest.approx(reference["tau2"], abs=1e-9)
    assert result["i2"] == pytest.approx(reference["I2"], rel=1e-9)
    assert result["studies"][0]["label"] == "Heller 1996"


def test_meta_options_reach_the_estimator(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "evidence", "meta", "spratt2014_ect_studies", "--events", "or",
        "--total", "n_lesions", "--method", "DL", "--transform", "ft", "--hartung-knapp",
        "--json",
    )  # fmt: skip
    assert code == 0
    result = json.loads(out)
    reference = _reference("spratt2014_or", "PFT", "DL", "knha")
    assert (result["method"], result["transform"], result["hartung_knapp"]) == ("DL", "ft", True)
    assert result["estimate"] == pytest.approx(reference["pred_bt"], abs=1e-9)
    assert result["ci_high"] == pytest.approx(reference["ci_ub_bt"], abs=1e-8)


def test_meta_of_generic_effects_from_a_commented_csv(
    capsys: pytest.CaptureFixture[str], bcg_csv: Path
) -> None:
    code, out, _ = run(
        capsys, "evidence", "meta", str(bcg_csv), "--yi", "yi", "--vi", "vi", "--label",
        "label", "--method", "REML", "--json",
    )  # fmt: skip
    assert code == 0
    result = json.loads(out)
    reference = _reference("bcg_logrr", "GEN", "REML", "z")
    assert result["k"] == 13
    assert result["transform"] is None
    assert result["estimate"] == pytest.approx(reference["estimate"], abs=1e-9)
    assert result["pi_low"] == pytest.approx(reference["pi_lb"], abs=1e-8)
    code, out, _ = run(capsys, "evidence", "meta", str(bcg_csv), "--yi", "yi", "--vi", "vi")
    assert code == 0
    assert "Pooled" in out
    assert "Heterogeneity: tau2" in out


def test_meta_writes_forest_and_funnel_png(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    forest, funnel = tmp_path / "forest.png", tmp_path / "funnel.png"
    code, out, _ = run(
        capsys, "evidence", "meta", "spratt2014_ect_studies", "--events", "cr",
        "--total", "n_lesions", "--png", str(forest), "--funnel-png", str(funnel),
    )  # fmt: skip
    assert code == 0
    assert "Kendler 2013" in out
    for path in (forest, funnel):
        content = path.read_bytes()
        assert content[:8] == PNG_SIGNATURE
        assert len(content) > 0


def test_missing_counts_are_reported_by_row_unless_dropped(
    capsys: pytest.CaptureFixture[str], counts_csv: Path
) -> None:
    code, _, err = run(
        capsys, "evidence", "meta", str(counts_csv), "--events", "cr", "--total", "lesions"
    )
    assert code == 2
    assert err.startswith("openect: error: --events='cr': missing value(s) in data row(s) 2;")
    assert "--drop-missing" in err
    code, out, _ = run(
        capsys, "evidence", "meta", str(counts_csv), "--events", "cr", "--total", "lesions",
        "--label", "centre", "--drop-missing", "--method", "FE", "--json",
    )  # fmt: skip
    assert code == 0
    result = json.loads(out)
    assert result["dropped_rows"] == [2, 4]
    assert result["labels"] == ["A", "C"]


def test_where_selects_rows_of_a_bundled_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "evidence", "meta", "melanoma_ect_cohorts", "--events", "cr", "--total", "n",
        "--where", "level=lesion", "--where", "histology=melanoma", "--drop-missing", "--json",
    )  # fmt: skip
    assert code == 0
    result = json.loads(out)
    assert result["labels"] == [
        "Kunte (InspECT) 2017", "Ricotti 2014", "Quaglino 2008", "Rols 2000",
    ]  # fmt: skip
    assert result["dropped_rows"] == [14]  # Clover 2020: no melanoma denominator


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["no-such.csv", "--events", "cr", "--total", "n"],
         "no-such.csv: no such file or bundled table; bundled tables: spratt2014_ect_studies"),
        (["spratt2014_ect_studies", "--events", "crr", "--total", "n_lesions"],
         "--events='crr': no such column in spratt2014_ect_studies; available: study, year"),
        (["spratt2014_ect_studies"],
         "give either --events and --total (proportions) or --yi and --vi (effects)"),
        (["spratt2014_ect_studies", "--events", "cr", "--total", "n_lesions", "--yi", "cr",
          "--vi", "or"], "give either --events and --total"),
        (["spratt2014_ect_studies", "--events", "cr"], "--events and --total go together"),
        (["spratt2014_ect_studies", "--events", "or", "--total", "cr"],
         "--events='or': 7 in data row 1 is more than --total='cr' (5); allowed 0 to the total"),
        (["spratt2014_ect_studies", "--events", "cr", "--total", "n_lesions", "--method", "PM"],
         "--method='PM': not allowed; allowed FE, DL, REML"),
        (["spratt2014_ect_studies", "--events", "cr", "--total", "n_lesions", "--level", "95"],
         "--level=95: out of range; allowed 0 < level < 1"),
        (["spratt2014_ect_studies", "--events", "cr", "--total", "n_lesions", "--transform",
          "probit"], "--transform='probit': not allowed; allowed logit, ft, raw"),
        (["spratt2014_ect_studies", "--yi", "cr", "--vi", "or", "--transform", "logit"],
         "--transform='logit': only with --events/--total"),
        (["spratt2014_ect_studies", "--events", "study", "--total", "n_lesions"],
         "--events='study': not a number ('Heller') in data row 1"),
        (["spratt2014_ect_studies", "--events", "cr", "--total", "n_lesions", "--where",
          "year=1800"], "no rows left to pool"),
    ],
)  # fmt: skip
def test_bad_input_exits_2_with_one_line_naming_the_option(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, out, err = run(capsys, "evidence", "meta", *args)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("openect: error: ")
    assert message in err


def test_unknown_table_for_show_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "evidence", "show", "nope")
    assert code == 2
    assert "table='nope': unknown; allowed spratt2014_ect_studies" in err
