"""``openect field``: simulate the electric field of an electrode application."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from openect.cli._output import CliError, emit_json, progress_bar, stdout, table
from openect.field.electrodes import catalogue, electrode_names, generator_max_voltage_v
from openect.field.figures import coverage_png, slice_png, write_vtk
from openect.field.geometry import FieldModel
from openect.field.model_file import build_model, read_model_file
from openect.field.simulate import DEFAULT_RESOLUTION_MM, FieldResult, Simulation, simulate
from openect.field.tissues import tissue, tissue_names, tissue_source
from openect.formatting import number, percent

app = typer.Typer(help="Electric field of ECT electrodes in tissue.", no_args_is_help=True)


def _triple(values: Any) -> tuple[float, float, float]:
    try:
        x, y, z = (float(v) for v in values)
    except (TypeError, ValueError):
        raise CliError(f"probe {values!r}: expected [x, y, z] in mm") from None
    return x, y, z


def _probe(text: str) -> list[float]:
    try:
        values = [float(part) for part in text.split(",")]
    except ValueError:
        values = []
    if len(values) != 3:
        raise CliError(f"--probe={text!r}: expected X,Y,Z in mm (z = depth below the skin)")
    return values


@app.command("simulate")
def simulate_command(
    electrode: Annotated[
        str | None,
        typer.Option("--electrode", help="Catalogue id (see: openect field electrodes)."),
    ] = None,
    voltage: Annotated[
        float | None, typer.Option("--voltage", help="Voltage per pair (V).")
    ] = None,
    gap_mm: Annotated[float | None, typer.Option("--gap-mm", help="Electrode gap (mm).")] = None,
    needle_radius_mm: Annotated[float | None, typer.Option("--needle-radius-mm")] = None,
    needle_depth_mm: Annotated[float | None, typer.Option("--needle-depth-mm")] = None,
    tissue: Annotated[
        str | None, typer.Option("--tissue", help="homogeneous or skin-layered.")
    ] = None,
    sigma: Annotated[
        float | None, typer.Option("--sigma", help="Homogeneous tissue conductivity (S/m).")
    ] = None,
    sigma_model: Annotated[
        str | None, typer.Option("--sigma-model", help="constant, step, ramp or sigmoid.")
    ] = None,
    tumour_diameter_mm: Annotated[float | None, typer.Option("--tumour-diameter-mm")] = None,
    tumour_depth_mm: Annotated[
        float | None, typer.Option("--tumour-depth-mm", help="Depth of the tumour centre (mm).")
    ] = None,
    resolution_mm: Annotated[
        float | None, typer.Option("--resolution-mm", help="Mesh size in the treated region (mm).")
    ] = None,
    probe: Annotated[
        list[str] | None, typer.Option("--probe", help="X,Y,Z in mm; repeatable.")
    ] = None,
    model: Annotated[Path | None, typer.Option("--model", help="YAML model file.")] = None,
    png: Annotated[
        Path | None, typer.Option("--png", help="Slice figure: |E|, isolines, tumour, electrodes.")
    ] = None,
    curve_png: Annotated[
        Path | None, typer.Option("--curve-png", help="Coverage curve: tumour fraction vs field.")
    ] = None,
    vtk: Annotated[Path | None, typer.Option("--vtk", help="VTK file for ParaView (.vtu).")] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Machine-readable JSON on stdout.")
    ] = False,
) -> int:
    """Simulate one application: tumour coverage, healthy tissue above E_irr, current
    per pair (exit 1 if the non-linear solve did not converge)."""
    try:
        settings: dict[str, Any] = read_model_file(model) if model is not None else {}
        flags = {
            "electrode": electrode, "voltage_v": voltage, "gap_mm": gap_mm,
            "needle_radius_mm": needle_radius_mm, "needle_depth_mm": needle_depth_mm,
            "tissue": tissue, "sigma": sigma, "sigma_model": sigma_model,
            "resolution_mm": resolution_mm,
        }  # fmt: skip
        settings.update({k: v for k, v in flags.items() if v is not None})
        if tumour_diameter_mm is not None or tumour_depth_mm is not None:
            if tumour_diameter_mm is None:
                raise ValueError("--tumour-depth-mm needs --tumour-diameter-mm")
            spec = {"diameter_mm": tumour_diameter_mm}
            if tumour_depth_mm is not None:
                spec["depth_mm"] = tumour_depth_mm
            settings["tumour"] = spec
        if probe:
            settings["probes"] = [_probe(text) for text in probe]
        field_model = build_model(settings)
        if curve_png is not None and field_model.tumour is None:
            raise ValueError("--curve-png: needs a tumour (--tumour-diameter-mm)")
        resolution = float(settings.get("resolution_mm", DEFAULT_RESOLUTION_MM))
        probes = [_triple(p) for p in settings.get("probes", [])]
        simulation = simulate_with_progress(
            field_model, resolution, probes, description="Field", enabled=not as_json
        )
    except ValueError as error:
        raise CliError(str(error)) from error
    result = simulation.result
    if png is not None:
        slice_png(simulation, png)
    if curve_png is not None:
        coverage_png(simulation, curve_png)
    if vtk is not None:
        write_vtk(simulation, vtk)
    if as_json:
        emit_json(result.model_dump(mode="json"))
    else:
        print_result(result)
    return 0 if result.converged else 1


def simulate_with_progress(
    model: FieldModel,
    resolution_mm: float,
    probes: list[tuple[float, float, float]] | None = None,
    *,
    description: str,
    enabled: bool = True,
) -> Simulation:
    """:func:`~openect.field.simulate.simulate` with a progress display on stderr
    (``description: meshing``, ``solving`` with a bar over the electrode pairs, then
    ``post-processing``) when ``enabled`` and stderr is a terminal."""
    pairs = len(model.electrode.pairs)
    with progress_bar(description, None, enabled=enabled) as step:

        def stage(name: str) -> None:
            if name == "solving":
                step.stage(f"solving {pairs} electrode pair{'s' if pairs != 1 else ''}", pairs)
            else:
                step.stage(name)

        return simulate(model, resolution_mm, probes or [], progress=step.advance, stage=stage)


def print_result(result: FieldResult) -> None:
    """Summary tables of a simulation."""
    coverage = result.coverage
    currents = result.current_a
    rows: list[list[object]] = [
        [
            "electrode",
            f"{result.electrode} ({result.pairs} pair(s), {number(result.voltage_v, 'V')})",
        ],
        [
            "unknowns / elements",
            f"{number(result.unknowns, digits=0)} / {number(result.elements, digits=0)}",
        ],
        ["converged", "yes" if result.converged else "[bold red]NO[/]"],
        [
            "current per pair",
            f"{number(min(currents), digits=2)} to {number(max(currents), 'A', digits=2)}",
        ],
        ["tumour above E_rev", percent(coverage.tumour_fraction_above_rev)],
        ["tumour above E_irr", percent(coverage.tumour_fraction_above_irr)],
        ["healthy tissue above E_irr", number(coverage.healthy_volume_above_irr_mm3, "mm³")],
        [
            "time",
            f"{number(result.timing_s['total'], 's')} "
            f"(mesh {number(result.timing_s['mesh'], 's')})",
        ],
    ]
    stdout.print(table("Electric field", ["", ""], rows))
    if result.probes:
        stdout.print(
            table(
                "Probes (mm; z = depth)",
                ["x", "y", "z", "|E| V/cm"],
                (
                    [
                        p.x_mm,
                        p.y_mm,
                        p.z_mm,
                        "in a conductor"
                        if p.e_v_per_cm is None
                        else number(p.e_v_per_cm, digits=0),
                    ]
                    for p in result.probes
                ),
            )
        )
    if not result.converged:
        stdout.print("[bold red]The non-linear iteration did not converge for every pair.[/]")


@app.command("electrodes")
def electrodes_command(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable JSON.")] = False,
) -> int:
    """The electrode catalogue: geometry, default voltage, status and source."""
    entries = catalogue()["electrodes"]
    if as_json:
        emit_json({"generator": catalogue()["generator"], "electrodes": entries})
        return 0
    rows = []
    for name in electrode_names():
        entry = entries[name]
        sizes = ", ".join(
            f"{k}={v}" for k, v in entry.items() if k not in ("kind", "status", "source")
        )
        rows.append([name, entry["kind"], sizes, entry["status"], entry["source"]])
    stdout.print(table("Electrodes", ["id", "kind", "parameters", "status", "source"], rows))
    stdout.print(f"Generator limit: {number(generator_max_voltage_v(), 'V')}")
    return 0


@app.command("tissues")
def tissues_command(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable JSON.")] = False,
) -> int:
    """Tissue parameter sets: conductivities (S/m), thresholds (V/cm), status, source."""
    rows = []
    for name in tissue_names():
        params = tissue(name)
        status, source = tissue_source(name)
        rows.append(
            {
                "id": name,
                "sigma0": params.sigma0,
                "sigma1": params.sigma1,
                "e_rev": params.e_rev,
                "e_irr": params.e_irr,
                "status": status,
                "source": source,
            }
        )
    if as_json:
        emit_json({"tissues": rows})
        return 0
    stdout.print(
        table(
            "Tissues (S/m, V/cm)",
            ["id", "sigma0", "sigma1", "E_rev", "E_irr", "status", "source"],
            (
                [
                    r["id"],
                    r["sigma0"],
                    r["sigma1"],
                    r["e_rev"],
                    r["e_irr"],
                    r["status"],
                    r["source"],
                ]
                for r in rows
            ),
        )
    )
    return 0
