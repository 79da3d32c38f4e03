"""``openect demo``: the main job on a synthetic register, end to end."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from openect.cli._output import (
    CliError,
    check_range,
    emit_json,
    progress_bar,
    stderr,
    stdout,
    table,
)
from openect.cli.data import print_report
from openect.cli.field import print_result, simulate_with_progress
from openect.cli.plan import print_session_plan
from openect.data.csvio import INFO_FILE, load_dataset, write_dataset
from openect.data.dataset import Dataset
from openect.data.summary import summarise
from openect.field.figures import slice_png
from openect.field.model_file import build_model
from openect.protocol.inputs import request_from_dataset
from openect.protocol.session_plan import LesionPlan, SessionPlan, plan_session

#: Mesh size of the demo's field simulation (mm): coarse, to keep the demo quick.
DEMO_FIELD_RESOLUTION_MM = 1.0
#: Mesh size of the demo's lesion plan (mm): coarser than the planner's default, so that
#: the demo stays quick.
DEMO_PLAN_RESOLUTION_MM = 1.5
#: The demo's pseudonymisation key, in the demo folder (demo only: a real key is kept
#: apart from the database and its backups).
KEY_FILE = "pseudonym.key"


def _is_synthetic_dataset(directory: Path) -> bool:
    try:
        info = json.loads((directory / INFO_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(info, dict) and info.get("synthetic") is True


def _inline(counts: dict[str, int]) -> str:
    return ", ".join(f"{key}: {value}" for key, value in counts.items())


def _print_summary(summary: dict[str, Any]) -> None:
    patients, lesions, sessions = summary["patients"], summary["lesions"], summary["sessions"]
    stdout.print(
        table(
            "Demo register (SYNTHETIC data, not real patients)",
            ["", "value"],
            [
                ["centres", len(patients["by_centre"])],
                ["patients", patients["n"]],
                ["median age at first ECT (years)", patients["median_age_years"]],
                ["on concurrent immunotherapy (%)", patients["concurrent_immunotherapy_pct"]],
                ["deaths", patients["deaths"]],
                ["median follow-up (months)", patients["median_follow_up_months"]],
                ["lesions", lesions["n"]],
                ["lesions per patient (mean)", lesions["per_patient_mean"]],
                ["median longest diameter (mm)", lesions["median_longest_diameter_mm"]],
                ["lesions >= 30 mm (%)", lesions["large_pct"]],
                ["sessions", sessions["n"]],
                [
                    "patients by number of sessions",
                    _inline(sessions["patients_by_number_of_sessions"]),
                ],
                ["electrode applications", summary["applications"]["n"]],
                ["applications by electrode", _inline(summary["applications"]["by_electrode"])],
                [
                    "adverse events (grade >= 3)",
                    f"{summary['adverse_events']['n']} "
                    f"({summary['adverse_events']['grade_3_or_more']})",
                ],
            ],
        )
    )


def _demo_lesion(plan: SessionPlan) -> LesionPlan:
    """The plan's lesion for a hexagonal electrode (else its largest lesion)."""
    hexagonal = [lesion for lesion in plan.lesions if lesion.electrode == "hexagonal"]
    candidates = hexagonal or plan.lesions
    return max(candidates, key=lambda lesion: lesion.longest_diameter_mm)


def _plan_largest_lesion(plan: SessionPlan, figure: Path, show: bool) -> dict[str, Any]:
    """Place and verify the applications on the plan's largest lesion; write the figure
    (progress on stderr when ``show``)."""
    from openect.cli.plan_lesion import step_name
    from openect.planning.coverage_plan import LesionPlanRequest, plan_lesion

    lesion = max(plan.lesions, key=lambda item: item.longest_diameter_mm)
    request = LesionPlanRequest(
        longest_mm=lesion.longest_diameter_mm,
        perpendicular_mm=lesion.perpendicular_diameter_mm,
        thickness_mm=lesion.thickness_mm or max(1.0, lesion.longest_diameter_mm / 4),
        electrode="auto",
        resolution_mm=DEMO_PLAN_RESOLUTION_MM,
        treatable_check=False,
    )
    description = f"Plan of {lesion.lesion_id}"
    with progress_bar(description, None, enabled=show) as step:
        coverage, artefacts = plan_lesion(
            request, progress=lambda name: step.stage(step_name(name))
        )
    figure.parent.mkdir(exist_ok=True)
    artefacts.write_figure(coverage, figure, lesion.lesion_id)
    return {
        "lesion_id": lesion.lesion_id,
        "png": str(figure),
        "plan": coverage.model_dump(mode="json"),
    }


def _demo_patient(dataset: Dataset) -> str:
    """The first patient whose first session treated two or more lesions (else the first)."""
    sessions = {s.session_id: s for s in dataset.sessions if s.session_number == 1}
    treated: dict[str, set[str]] = {}
    for application in dataset.applications:
        session = sessions.get(application.session_id)
        if session is not None:
            treated.setdefault(session.patient_id, set()).add(application.lesion_id)
    for patient in dataset.patients:
        if len(treated.get(patient.patient_id, ())) >= 2:
            return patient.patient_id
    return dataset.patients[0].patient_id


def demo(
    directory: Annotated[
        Path, typer.Option("--dir", help="Folder for the demo dataset (replaced if it is one).")
    ] = Path("openect-demo"),
    patients: Annotated[
        int, typer.Option("--patients", help="Number of patients (1 to 100,000).")
    ] = 300,
    seed: Annotated[int, typer.Option("--seed", help="Random seed >= 0.")] = 2026,
    field: Annotated[
        bool, typer.Option("--field/--no-field", help="Simulate one hexagonal application.")
    ] = True,
    field_resolution_mm: Annotated[
        float, typer.Option("--field-resolution-mm", help="Mesh size of the field run (mm).")
    ] = DEMO_FIELD_RESOLUTION_MM,
    lesion_plan: Annotated[
        bool,
        typer.Option(
            "--lesion-plan/--no-lesion-plan",
            help="Plan and verify the applications on the demo patient's largest lesion.",
        ),
    ] = True,
    as_json: Annotated[
        bool, typer.Option("--json", help="Machine-readable JSON on stdout.")
    ] = False,
) -> int:
    """Generate a synthetic register, validate it, summarise it, plan a session,
    simulate the field of a hexagonal electrode on a demo lesion, plan the applications
    on the largest lesion and write the outcomes report."""
    check_range("--patients", patients, 1, 100_000)
    check_range("--seed", seed, 0)
    if directory.exists():
        if not _is_synthetic_dataset(directory):
            raise CliError(
                f"--dir={str(directory)!r}: exists and is not a synthetic demo dataset; "
                "choose a new folder"
            )
        shutil.rmtree(directory)
    from openect.synth import generate_cohort

    show = not as_json
    with progress_bar("Synthetic demo register", None, enabled=show):
        dataset = generate_cohort(patients=patients, centres=4, seed=seed)
        write_dataset(dataset, directory)
        loaded, report = load_dataset(directory)
    summary = summarise(loaded)
    plan = plan_session(request_from_dataset(loaded, _demo_patient(loaded)))
    field_result: dict[str, Any] | None = None
    figure = directory / "figures" / "field-hexagonal.png"
    if field:
        lesion = _demo_lesion(plan)
        settings = {
            "electrode": "hexagonal",
            "tissue": "skin-layered",
            "tumour": {
                "diameter_x_mm": lesion.longest_diameter_mm,
                "diameter_y_mm": lesion.perpendicular_diameter_mm or lesion.longest_diameter_mm,
                "diameter_z_mm": lesion.thickness_mm or lesion.longest_diameter_mm / 2,
            },
        }
        try:
            model = build_model(settings)
        except ValueError as error:
            raise CliError(str(error)) from error
        simulation = simulate_with_progress(
            model,
            field_resolution_mm,
            description=f"Field on {lesion.lesion_id}",
            enabled=show,
        )
        figure.parent.mkdir(exist_ok=True)
        slice_png(simulation, figure)
        field_result = {
            "lesion_id": lesion.lesion_id,
            "png": str(figure),
            **simulation.result.model_dump(mode="json"),
        }
    coverage_result: dict[str, Any] | None = None
    plan_figure_path = directory / "figures" / "lesion-plan.png"
    if lesion_plan:
        try:
            coverage_result = _plan_largest_lesion(plan, plan_figure_path, show)
        except ValueError as error:  # e.g. a synthetic lesion deeper than needles reach
            stderr.print(f"Lesion plan skipped: {error}")
    from openect.reports.outcomes import write_outcomes_report

    report_path = directory / "outcomes-report.html"
    with progress_bar("Outcomes report", None, enabled=show):
        write_outcomes_report(loaded, report_path)
    registry = _load_registry(directory, show)
    key_file = write_key(directory / KEY_FILE)
    serve = serve_command(registry, key_file)
    if as_json:
        emit_json(
            {
                "directory": str(directory),
                "outcomes_report": str(report_path),
                "registry": registry,
                "pseudonym_key_file": str(key_file),
                "serve_command": serve,
                "validation": report.to_dict(),
                "summary": summary,
                "session_plan": plan.model_dump(mode="json"),
                "field": field_result,
                "lesion_plan": coverage_result,
            }
        )
    else:
        print_report(report, directory)
        _print_summary(summary)
        stdout.print(f"\nSession plan for demo patient {plan.patient_id} (first session):")
        print_session_plan(plan)
        if field_result is not None:
            stdout.print(
                f"\nField of a hexagonal application on lesion {field_result['lesion_id']}:"
            )
            print_result(simulation.result)
            stdout.print(f"Figure: {figure}")
        if coverage_result is not None:
            from openect.cli.plan_lesion import print_lesion_plan
            from openect.planning.coverage_plan import CoveragePlan

            stdout.print(
                f"\nElectrode applications on the largest lesion, {coverage_result['lesion_id']}:"
            )
            print_lesion_plan(CoveragePlan.model_validate(coverage_result["plan"]))
            stdout.print(f"Plan figure: {coverage_result['png']}")
        stdout.print(f"\nOutcomes report: {report_path}")
        stdout.print(f"Registry (SQLite) loaded with the demo dataset: {registry}", soft_wrap=True)
        stdout.print(
            table(
                "Demo logins (demo only)",
                ["user", "password", "role", "centre"],
                [
                    [name, password, role, centre or "all"]
                    for name, role, centre, password in DEMO_USERS
                ],
                keys=["user", "password"],
            )
        )
        stdout.print(
            "The admin first sets up a second factor (an authenticator app, TOTP) on the "
            "page shown after the password; the others need none."
        )
        program = launcher()
        stdout.print("Try next (from this folder):")
        for words in (
            ["analyse", str(directory)],
            ["response", "classify", str(directory)],
            ["registry", "status", "--database", registry],
        ):
            command = " ".join([program, *(shlex.quote(word) for word in words)])
            stdout.print(f"  {command}", soft_wrap=True, highlight=False, markup=False)
        stdout.print(
            f"Pseudonymisation key of the demo (demo only): {key_file}. Serve the demo "
            "registry with it, so that the clinician registers and finds patients by "
            "hospital number:"
        )
        stdout.print(f"  {serve}", soft_wrap=True, highlight=False, markup=False)
    return 0 if report.valid else 1


def write_key(path: Path) -> Path:
    """A new pseudonymisation key in the file ``path`` (mode 0600, replaced if there);
    its absolute path."""
    from openect.registry.pseudonym import new_key

    path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(new_key() + "\n")
    return path.resolve()


def launcher() -> str:
    """This installation's ``openect`` as a shell command from the current folder:
    ``.venv/bin/openect`` when it lies below it, else its absolute path (``python -m
    openect`` where no ``openect`` script is installed); quoted for the shell."""
    program = Path(sys.executable).absolute().with_name("openect")
    if not program.is_file():
        return f"{shlex.quote(sys.executable)} -m openect"
    try:
        relative = program.relative_to(Path.cwd())
    except ValueError:
        return shlex.quote(str(program))
    return shlex.quote(str(relative))


def serve_command(url: str, key_file: Path) -> str:
    """The shell command that serves the registry ``url`` with the key in ``key_file``,
    as it can be typed in the current folder (this installation's ``openect``, see
    :func:`launcher`; paths quoted)."""
    words = [
        f"OPENECT_PSEUDONYM_KEY_FILE={shlex.quote(str(key_file))}",
        launcher(),
        "serve",
        "--database",
        shlex.quote(url),
    ]
    return " ".join(words)


#: Demo users of the demo registry: (user name, role, centre, password). DEMO ONLY.
DEMO_USERS = (
    ("clinician", "clinician", "C01", "bleomycin-ward-c01"),
    ("manager", "data_manager", "C02", "registry-desk-c02"),
    ("analyst", "analyst", None, "pooled-figures-all"),
    ("admin", "admin", None, "electrode-keys-all"),
)


def _load_registry(directory: Path, show: bool = False) -> str:
    """Load the demo dataset into a fresh SQLite registry beside it, with one demo user
    per role (progress on stderr when ``show``); return its URL.

    Runs ``openect registry`` commands in child processes, so that the registry's
    database settings never mix with those of the calling process.
    """
    url = f"sqlite:///{(directory / 'registry.sqlite3').resolve()}"
    steps: list[tuple[list[str], str | None]] = [
        (["init"], None),
        (["import", str(directory), "--reason", "demo dataset"], None),
    ]
    for name, role, centre, password in DEMO_USERS:
        where = ["--centre", centre] if centre else []
        steps.append((["user", name, "--role", role, *where, "--password-stdin"], password))
    with progress_bar("SQLite registry", None, enabled=show) as bar:
        for step, given in steps:
            bar.stage(" ".join(step[:2]))
            done = subprocess.run(
                [sys.executable, "-m", "openect", "registry", *step, "--database", url],
                capture_output=True,
                text=True,
                input=None if given is None else given + "\n",
                check=False,
            )
            if done.returncode != 0:
                raise RuntimeError(f"openect registry {step[0]} failed: {done.stderr.strip()}")
    return url
