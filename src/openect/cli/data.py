"""``openect data``: validate, generate and describe datasets (CSV folder format)."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from openect.cli._output import CliError, check_range, emit_json, stderr, stdout, table
from openect.data.csvio import load_dataset, write_dataset
from openect.data.schema import describe, to_markdown
from openect.data.validation import ValidationReport

app = typer.Typer(
    help="Validate, generate and describe datasets (a folder of CSV files).",
    no_args_is_help=True,
)

#: Centres of a synthetic register when ``--centres`` is not given.
DEFAULT_CENTRES = 4

#: Problems listed in the human output before "... and N more".
SHOWN_PROBLEMS = 50

JsonFlag = Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")]


def print_report(report: ValidationReport, directory: Path) -> None:
    """Human rendering of a validation report: counts, then the problems."""
    counts = table("Rows read", ["file", "valid rows"], report.counts.items())
    stdout.print(counts)
    if report.valid:
        stdout.print(f"[green]valid[/green]: {directory}")
        return
    shown = report.issues[:SHOWN_PROBLEMS]
    stdout.print(
        table(
            f"{len(report.issues)} problem(s) in {directory}",
            ["file", "row", "column", "value", "message"],
            ([i.file, i.row, i.column, i.value, i.message] for i in shown),
            keys=["file", "row", "column"],
        )
    )
    if len(report.issues) > len(shown):
        stdout.print(f"... and {len(report.issues) - len(shown)} more (use --json for all)")


@app.command("validate")
def validate(
    directory: Annotated[
        Path, typer.Argument(metavar="DIR", help="Dataset folder (CSV files + dataset.json).")
    ],
    as_json: JsonFlag = False,
) -> int:
    """Check every row and file of a dataset; report ALL problems (exit 0 valid, 2 not)."""
    if not directory.is_dir():
        raise CliError(f"DIR={str(directory)!r}: not a folder; a dataset is a folder of CSV files")
    _, report = load_dataset(directory)
    if as_json:
        emit_json(report.to_dict())
    else:
        print_report(report, directory)
    return 0 if report.valid else 2


@app.command("synth")
def synth(
    directory: Annotated[Path, typer.Argument(metavar="DIR", help="New folder to write.")],
    patients: Annotated[
        int, typer.Option("--patients", help="Number of patients (1 to 1,000,000).")
    ] = 200,
    centres: Annotated[
        int | None,
        typer.Option("--centres", help="Centres (1 to 99, at most --patients; default 4)."),
    ] = None,
    seed: Annotated[
        int, typer.Option("--seed", help="Random seed >= 0 (same seed, same bytes).")
    ] = 0,
    as_json: JsonFlag = False,
) -> int:
    """Write a SYNTHETIC multi-centre melanoma ECT register (for demos, tests, benchmarks)."""
    check_range("--patients", patients, 1, 1_000_000)
    centres = min(DEFAULT_CENTRES, patients) if centres is None else centres
    check_range("--centres", centres, 1, min(99, patients))
    check_range("--seed", seed, 0)
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise CliError(f"DIR={str(directory)!r}: exists and is not empty; choose a new folder")
    from openect.synth import generate_cohort

    started = time.perf_counter()
    with stderr.status(f"Generating {patients} synthetic patients...", spinner="dots"):
        try:
            dataset = generate_cohort(patients=patients, centres=centres, seed=seed)
        except ValueError as error:
            raise CliError(str(error)) from error
        write_dataset(dataset, directory)
    seconds = time.perf_counter() - started
    result = {
        "directory": str(directory),
        "synthetic": True,
        "parameters": {"patients": patients, "centres": centres, "seed": seed},
        "counts": dataset.counts(),
        "seconds": round(seconds, 3),
    }
    if as_json:
        emit_json(result)
    else:
        stdout.print(table("Synthetic dataset written", ["file", "rows"], dataset.counts().items()))
        stdout.print(f"{directory} ({seconds:.1f} s) - SYNTHETIC data, not real patients")
    return 0


@app.command("schema")
def schema(
    as_json: JsonFlag = False,
    markdown: Annotated[
        bool, typer.Option("--markdown", help="Markdown reference (docs/dataset-schema.md).")
    ] = False,
) -> int:
    """Show the dataset format: files, columns, types, allowed values and units."""
    tables = describe()
    if markdown:
        sys.stdout.write(to_markdown())
        return 0
    if as_json:
        emit_json({"tables": tables})
        return 0
    for entry in tables:
        stdout.print(
            table(
                f"{entry['file']} - {entry['description']}",
                ["column", "type", "required", "allowed", "references"],
                (
                    [
                        c["name"],
                        c["type"],
                        "yes" if c["required"] else "",
                        c["allowed"],
                        c["references"],
                    ]
                    for c in entry["columns"]
                ),
            )
        )
    return 0
