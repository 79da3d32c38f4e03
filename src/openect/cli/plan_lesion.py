"""``openect plan lesion``: electrode applications that cover one lesion plus margin,
verified in 3-D (registered on the ``plan`` command group)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import ValidationError

from openect.cli._output import CliError, emit_json, progress_bar, stdout, table
from openect.cli.plan import JsonFlag, RulesOption, app, input_problems
from openect.formatting import percent

if TYPE_CHECKING:
    from openect.planning.coverage_plan import CoveragePlan


@app.command("lesion")
def lesion(
    longest_mm: Annotated[
        float | None, typer.Option("--longest-mm", help="Longest diameter (mm).")
    ] = None,
    perpendicular_mm: Annotated[
        float | None, typer.Option("--perpendicular-mm", help="Perpendicular diameter (mm).")
    ] = None,
    thickness_mm: Annotated[
        float | None, typer.Option("--thickness-mm", help="Depth of the deepest part (mm).")
    ] = None,
    angle_deg: Annotated[
        float, typer.Option("--angle-deg", help="Longest axis from the +x axis (degrees).")
    ] = 0.0,
    outline: Annotated[
        Path | None,
        typer.Option(
            "--outline", help="Outline file (CSV x_mm,y_mm, or JSON/YAML points) instead."
        ),
    ] = None,
    electrode: Annotated[
        str,
        typer.Option(
            "--electrode", help="auto (the rules' choice), plate, linear, hexagonal or finger."
        ),
    ] = "auto",
    margin_mm: Annotated[
        float | None,
        typer.Option("--margin-mm", help="Margin around the lesion (mm; default: rules, 3)."),
    ] = None,
    layer: Annotated[str, typer.Option("--layer", help="cutaneous or subcutaneous.")] = "cutaneous",
    tissue: Annotated[
        str, typer.Option("--tissue", help="skin-layered or homogeneous.")
    ] = "skin-layered",
    resolution_mm: Annotated[
        float | None,
        typer.Option("--resolution-mm", help="Mesh resolution of the simulations (mm)."),
    ] = None,
    uncertainty: Annotated[
        int, typer.Option("--uncertainty", help="Conductivity samples for p5/p50/p95 (0: none).")
    ] = 0,
    scheduler: Annotated[
        str | None,
        typer.Option("--scheduler", help="dask.distributed scheduler address (default: local)."),
    ] = None,
    verify: Annotated[
        bool, typer.Option("--verify/--no-verify", help="Verify the plan in 3-D.")
    ] = True,
    minutes_per_application: Annotated[
        float | None,
        typer.Option("--minutes-per-application", help="Minutes per application (default: rules)."),
    ] = None,
    rules: RulesOption = "",
    png: Annotated[
        Path | None, typer.Option("--png", help="Write the plan figure (PNG) here.")
    ] = None,
    as_json: JsonFlag = False,
) -> int:
    """Place the electrode applications that cover a lesion plus margin to its full
    depth, verify them in 3-D and time them against the drug window."""
    from openect.planning.coverage_plan import LesionPlanRequest, plan_lesion
    from openect.planning.outline import OutlineError, read_outline

    given: dict[str, object] = {
        "longest_mm": longest_mm,
        "perpendicular_mm": perpendicular_mm,
        "thickness_mm": thickness_mm,
        "angle_deg": angle_deg,
        "electrode": electrode,
        "margin_mm": margin_mm,
        "layer": layer,
        "tissue": tissue,
        "resolution_mm": resolution_mm,
        "uncertainty": uncertainty,
        "scheduler": scheduler,
        "verify": verify,
        "minutes_per_application": minutes_per_application,
        "rules": rules or None,
    }
    given = {key: value for key, value in given.items() if value is not None}
    if thickness_mm is None:
        raise CliError("--thickness-mm: required (depth of the deepest part, mm)")
    try:
        if outline is not None:
            if longest_mm is not None or perpendicular_mm is not None:
                raise CliError("give --outline or --longest-mm/--perpendicular-mm, not both")
            given["outline_mm"] = [
                tuple(point) for point in read_outline(outline).polygon.exterior.coords[:-1]
            ]
        request = LesionPlanRequest.model_validate(given)
    except ValidationError as error:
        raise input_problems(error, "plan lesion", set(given)) from error
    except OutlineError as error:
        raise CliError(str(error)) from error

    try:
        with progress_bar("Lesion plan", None, enabled=not as_json) as step:
            plan, artefacts = plan_lesion(
                request, progress=lambda name: step.stage(step_name(name))
            )
    except OutlineError as error:
        raise CliError(str(error)) from error
    except ValueError as error:
        raise CliError(f"plan lesion: {error}") from error
    except OSError as error:
        raise CliError(f"plan lesion: {error}") from error

    if png is not None:
        try:
            artefacts.write_figure(plan, png)
        except OSError as error:
            raise CliError(f"--png={str(png)!r}: cannot write: {error.strerror}") from error
    if as_json:
        emit_json(plan.model_dump(mode="json"))
        return 0
    print_lesion_plan(plan)
    if png is not None:
        stdout.print(f"Plan figure: {png}")
    return 0


#: What each step of the coverage planner does, as the progress display names it.
PLANNER_STEPS = {
    "footprint": "footprint (3-D field, cached)",
    "placement": "placing the applications",
    "verification": "verification in 3-D",
    "robustness": "robustness (conductivity samples)",
}


def step_name(name: str) -> str:
    """The progress display's words for a step of the coverage planner."""
    return PLANNER_STEPS.get(name, name)


def print_lesion_plan(plan: CoveragePlan) -> None:
    """The plan as tables for people."""
    coverage = plan.coverage
    needle = "" if plan.needle_length_mm is None else f"{plan.needle_length_mm:g} mm needles"
    if plan.insertion_depth_mm is not None:
        needle += f", inserted {plan.insertion_depth_mm:g} mm"
    stdout.print(
        f"Electrode: {plan.electrode} ({plan.electrode_choice}), {plan.voltage_v:g} V"
        + (f"; {needle}" if needle else "")
    )
    stdout.print(
        f"Target: lesion {plan.lesion_area_mm2:g} mm2 + {plan.margin_mm:g} mm margin = "
        f"{plan.target_area_mm2:g} mm2, {plan.thickness_mm:g} mm deep; footprint of one "
        f"application {plan.footprint_area_mm2:g} mm2"
        + (" (cached)" if plan.footprint_cached else "")
    )
    changes = ""
    if plan.added_after_verification or plan.removed_after_verification:
        changes = (
            f"; after the 3-D verification +{plan.added_after_verification}"
            f"/-{plan.removed_after_verification}"
        )
    stdout.print(
        f"{plan.count} applications ({plan.method} placement{changes}; a regular grid "
        f"needs {plan.baseline['count']:g}), in this order:"
    )
    stdout.print(
        table(
            "",
            ["#", "x mm", "y mm", "angle deg"],
            [
                [a.number, f"{a.x_mm:.1f}", f"{a.y_mm:.1f}", f"{a.angle_deg:g}"]
                for a in plan.applications
            ],
        )
    )
    verified = "verified in 3-D" if coverage.verified_3d else "footprint estimate"
    stdout.print(
        f"Coverage ({verified}): target {percent(coverage.target_fraction_above_rev)}, "
        f"lesion {percent(coverage.lesion_fraction_above_rev)} above E_rev "
        f"(target {percent(coverage.target)}: {'met' if coverage.meets_target else 'NOT met'}); "
        f"{coverage.uncovered_spots} uncovered spots"
    )
    if plan.robustness is not None:
        r = plan.robustness
        stdout.print(
            f"Robustness ({r.samples} conductivity samples, x{r.factor_range[0]:g}-"
            f"x{r.factor_range[1]:g}): coverage p5 {percent(r.p5)}, p50 {percent(r.p50)}, "
            f"p95 {percent(r.p95)}"
        )
    stdout.print(
        f"Time: {plan.count} x {plan.minutes_per_application:g} min = {plan.time_min:g} min of "
        f"a {plan.window_min:g} min window: {'fits' if plan.fits_window else 'does NOT fit'}"
    )
    for note in [plan.margin_note, *plan.notes]:
        stdout.print(f"Note: {note}")
