"""The command line in a terminal of 80 columns: tables keep every id whole and no line
is wider than the terminal; progress of the 3-D steps shows on a terminal only; the demo
prints commands that run as printed."""

from __future__ import annotations

import io
import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from openect.cli import _output, app, main
from openect.cli._output import table
from openect.cli.demo import launcher
from openect.data.csvio import load_dataset

WIDTH = 80
runner = CliRunner()


def cli(*args: str) -> str:
    """Run ``openect ARGS`` in-process in a terminal of 80 columns; its stdout."""
    result = runner.invoke(app, list(args), env={"COLUMNS": str(WIDTH)})
    assert result.exit_code in (0, 1), (result.output, result.exception)
    return result.stdout


def fits(out: str, ids: Iterable[str], width: int = WIDTH) -> None:
    """No line of ``out`` is wider than ``width``; every id appears whole (not cut
    with an ellipsis nor folded over two lines)."""
    wide = [line for line in out.splitlines() if len(line) > width]
    assert not wide, "\n".join(wide)
    assert "…" not in out
    words = set(re.findall(r"[^\s│┃]+", out))
    missing = [i for i in ids if i not in words]
    assert not missing, f"ids not shown whole: {missing}\n{out}"


# ---------------------------------------------------------------- the table itself
LONG_IDS = [f"SYN-{n:05d}-S1-L{k:02d}-A{k}" for n, k in ((1, 1), (2, 12), (31, 3))]


def render(renderable: object, width: int) -> str:
    screen = io.StringIO()
    Console(file=screen, width=width, color_system=None).print(renderable)
    return screen.getvalue()


@pytest.mark.parametrize("width", [120, 80, 60, 40])
def test_ids_stay_whole_at_any_width(width: int) -> None:
    rows = [
        [i, "hexagonal", "12 x 9", 730, "a longer note that wraps between its words"]
        for i in LONG_IDS
    ]
    out = render(table("Applications", ["application", "electrode", "size", "V", "note"], rows),
                 width)  # fmt: skip
    fits(out, LONG_IDS, width)
    words = set(out.split())
    assert {"a", "longer", "note", "that", "wraps", "between", "its", "words"} <= words


def test_a_table_too_wide_becomes_records() -> None:
    columns = ["application", *(f"measurement number {k}" for k in range(8))]
    rows = [[i, *(f"value-{k}-of-{i}" for k in range(8))] for i in LONG_IDS]
    out = render(table("Wide", columns, rows), WIDTH)
    fits(out, LONG_IDS)
    # one record per row: the id on its own line, then "column: value" lines
    lines = [line.strip() for line in out.splitlines()]
    for i in LONG_IDS:
        assert i in lines
        assert f"measurement number 7: value-7-of-{i}" in [" ".join(x.split()) for x in lines]


def test_optional_columns_are_left_out_before_records() -> None:
    word = "w" * 19  # words this long stay whole
    rows = [[i, f"{word} a", f"{word} b", "y" * 19] for i in LONG_IDS]
    columns = ["id", "source", "detail", "extra"]
    out = render(table("T", columns, rows, optional=["extra"]), WIDTH)
    fits(out, LONG_IDS)
    assert "y" * 19 not in out
    assert "left out at this width: extra" in out
    assert "extra:" not in out  # a table, not records
    assert "extra:" in render(table("T", columns, rows), WIDTH)  # records without it


def test_unknown_key_column_is_refused() -> None:
    with pytest.raises(ValueError, match="keys \\['lesion'\\]: not columns"):
        table("T", ["id"], [], keys=["lesion"])


# ---------------------------------------------------------------- every table of the CLI
def test_data_validate_fits(dataset_dir: Path) -> None:
    out = cli("data", "validate", str(dataset_dir))
    fits(out, ["systemic_therapies", "patient_reported", "adverse_events"])
    path = dataset_dir / "lesions.csv"
    path.write_text(path.read_text().replace("P1-L2,P1", "P1-L2,P9"))
    out = cli("data", "validate", str(dataset_dir))
    fits(out, ["lesions", "patient_id", "P9"])


def test_data_schema_fits() -> None:
    fits(cli("data", "schema"), ["application_id", "assessment_id", "longest_diameter_mm"])


def test_response_and_analyses_fit(dataset_dir: Path) -> None:
    fits(cli("response", "classify", str(dataset_dir)), [])
    fits(cli("analyse", "summary", str(dataset_dir)), [])
    fits(cli("analyse", "km", str(dataset_dir), "--by", "layer"), [])


def test_plan_session_keeps_lesion_ids_whole(tmp_path: Path) -> None:
    example = Path(__file__).parents[1] / "examples" / "patient.yaml"
    text = example.read_text(encoding="utf-8")
    ids = {f"L{k}": f"SYN-00123-S1-L{k:02d}" for k in (1, 2, 3)}
    for short, long in ids.items():
        text = re.sub(rf"\b{short}\b", long, text)
    patient = tmp_path / "patient.yaml"
    patient.write_text(text, encoding="utf-8")
    fits(cli("plan", "session", str(patient)), ids.values())
    fits(cli("plan", "rules"), ["dose.iv_age_reduction", "electrode.generator_max_voltage"])


def test_plan_lesion_table_fits() -> None:
    out = cli(
        "plan", "lesion", "--longest-mm", "8", "--perpendicular-mm", "6", "--thickness-mm", "2",
        "--no-verify",
    )  # fmt: skip
    fits(out, [])
    assert "applications" in out


def test_evidence_tables_keep_their_names() -> None:
    listing = json.loads(cli("evidence", "list", "--json"))
    names = [t["name"] for t in listing["tables"]]
    fits(cli("evidence", "list"), names)
    for name in names:
        shown = json.loads(cli("evidence", "show", name, "--json"))
        first = next(iter(shown["records"][0]))
        studies = {str(r[first]) for r in shown["records"] if r[first] is not None}
        fits(cli("evidence", "show", name), [s for s in studies if " " not in s])
    fits(cli("evidence", "meta", "spratt2014_ect_studies", "--events", "cr",
             "--total", "n_lesions"), [])  # fmt: skip


def test_field_catalogues_keep_their_ids() -> None:
    electrodes = json.loads(cli("field", "electrodes", "--json"))["electrodes"]
    fits(cli("field", "electrodes"), electrodes)
    tissues = [t["id"] for t in json.loads(cli("field", "tissues", "--json"))["tissues"]]
    fits(cli("field", "tissues"), tissues)


def openect(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``openect ARGS`` in its own process (the registry configures Django per process)
    with stdout in a file, as in an 80-column terminal."""
    return subprocess.run(
        [sys.executable, "-m", "openect", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": str(WIDTH)},
        cwd=cwd,
        timeout=600,
        check=False,
    )


# ---------------------------------------------------------------- progress on stderr
@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    """stderr as a terminal of 80 columns (what the progress display writes)."""
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=WIDTH, color_system=None)
    monkeypatch.setattr(_output, "stderr", console)
    return screen


FIELD = ["field", "simulate", "--electrode", "plate", "--resolution-mm", "2"]


def test_field_progress_names_each_step_on_a_terminal(terminal: io.StringIO) -> None:
    cli(*FIELD)
    shown = terminal.getvalue()
    for step in ("Field: meshing", "Field: solving 1 electrode pair", "Field: post-processing"):
        assert step in shown


def test_no_progress_with_json(terminal: io.StringIO) -> None:
    result = json.loads(cli(*FIELD, "--json"))
    assert result["converged"] is True
    assert terminal.getvalue() == ""


def test_no_progress_when_stderr_is_not_a_terminal() -> None:
    result = runner.invoke(app, FIELD, env={"COLUMNS": str(WIDTH)})
    assert result.exit_code == 0
    assert result.stderr == ""


def test_simulate_reports_its_steps_and_pairs() -> None:
    from openect.field.model_file import build_model
    from openect.field.simulate import simulate

    model = build_model({"electrode": "linear"})
    steps: list[str] = []
    pairs: list[int] = []
    simulate(model, 2.5, stage=steps.append, progress=lambda: pairs.append(1))
    assert steps == ["meshing", "solving", "post-processing"]
    assert len(pairs) == len(model.electrode.pairs)


def test_verification_reports_each_application() -> None:
    from openect.planning.local_field import ApplicationSetup, LocalField
    from openect.planning.outline import ellipse
    from openect.planning.placement import Application
    from openect.planning.verify import verify

    local = LocalField.build(ApplicationSetup("linear", 3.0, 5.0, 400.0, resolution_mm=2.0))
    lesion = ellipse(4, 4).polygon
    calls: list[tuple[int, int]] = []
    verify(local, lesion, lesion.buffer(1), [Application(0, 0, 0)] * 2,
           progress=lambda done, total: calls.append((done, total)))  # fmt: skip
    assert calls == [(1, 2), (2, 2)]


# ---------------------------------------------------------------- the demo's commands
def test_launcher_is_the_installed_script_relative_to_the_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    script = Path(sys.executable).absolute().with_name("openect")
    if not script.is_file():
        pytest.skip("no openect script beside this python")
    monkeypatch.chdir(script.parents[2])
    assert launcher() == str(script.relative_to(script.parents[2]))
    monkeypatch.chdir(tmp_path)
    assert launcher() == shlex.quote(str(script))


@pytest.mark.slow
def test_demo_prints_commands_that_run_as_printed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The demo (small, no 3-D step) in an 80-column terminal: every command it suggests
    runs as printed, and the registry it loads shows its audit trail and access log with
    whole ids."""
    done = openect("demo", "--dir", "demo", "--patients", "8", "--no-field",
                   "--no-lesion-plan", cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    start = lines.index("Try next (from this folder):") + 1
    commands = [line.strip() for line in lines[start : start + 3]]
    serve = lines[-1].strip()
    assert serve.startswith("OPENECT_PSEUDONYM_KEY_FILE=")
    assert " serve --database " in serve
    # Only the commands and the database URL are wider than the terminal (one line each,
    # to copy).
    wide = [line for line in lines if len(line) > WIDTH]
    assert all(line.strip() in (*commands, serve) or "sqlite:///" in line for line in wide)
    dataset, _ = load_dataset(tmp_path / "demo")
    patient = next(line for line in lines if line.startswith("Session plan for demo patient"))
    lesion_ids = [
        lesion.lesion_id for lesion in dataset.lesions if lesion.patient_id in patient.split()
    ]
    fits("\n".join(line for line in lines if len(line) <= WIDTH), lesion_ids)
    assert [shlex.split(c)[1:3] for c in commands] == [
        ["analyse", "demo"], ["response", "classify"], ["registry", "status"],
    ]  # fmt: skip
    # analyse and response classify in this process, after a check of the launcher
    monkeypatch.setenv("COLUMNS", str(WIDTH))
    monkeypatch.chdir(tmp_path)
    for command in commands[:2]:
        words = shlex.split(command)
        assert os.access(words[0], os.X_OK), command
        args = words[3:] if words[1:3] == ["-m", "openect"] else words[1:]
        code = main(args)
        out, err = capsys.readouterr()
        assert code == 0, (command, err)
        fits(out, [])
    # the registry's, as printed, in its own process (the registry configures Django)
    env = {**os.environ, "COLUMNS": str(WIDTH)}
    status = subprocess.run(
        commands[2], shell=True, cwd=tmp_path, capture_output=True, text=True, env=env, check=False
    )
    assert status.returncode == 0, status.stderr
    fits(status.stdout, ["systemic_therapies", "patient_reported"])

    url = shlex.split(commands[2])[-1]
    audit = openect("registry", "audit", "--database", url, "--limit", "0")
    assert audit.returncode == 0, audit.stderr
    ids = [a.application_id for a in dataset.applications]
    fits(audit.stdout, [*ids, *(a.assessment_id for a in dataset.assessments)])
    assert openect("registry", "export", str(tmp_path / "out"), "--database", url).returncode == 0
    log = openect("registry", "access-log", "--database", url)
    assert log.returncode == 0, log.stderr
    fits(log.stdout, ["all-centres"])
