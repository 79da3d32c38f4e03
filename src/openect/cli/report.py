"""``openect report``: self-contained HTML reports."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from openect.cli._dataset import valid_dataset
from openect.cli._output import CliError, emit_json, stderr, stdout
from openect.formatting import number

app = typer.Typer(help="Reports as self-contained HTML files.", no_args_is_help=True)


@app.command("outcomes")
def outcomes(
    directory: Annotated[Path, typer.Argument(metavar="DIR", help="Dataset folder.")],
    out: Annotated[Path, typer.Option("--out", help="HTML file to write.")] = Path(
        "outcomes-report.html"
    ),
    as_json: Annotated[bool, typer.Option("--json", help="Print the path as JSON.")] = False,
) -> int:
    """Cohort, response vs the literature, local control and survival, predictors,
    meta-analysis, centre funnel, quality of life and toxicity, in one HTML file."""
    if out.suffix.lower() not in (".html", ".htm"):
        raise CliError(f"--out={str(out)!r}: must end in .html")
    from openect.reports.outcomes import write_outcomes_report

    dataset = valid_dataset(directory)
    with stderr.status("Analysing and drawing the report...", spinner="dots"):
        path = write_outcomes_report(dataset, out)
    if as_json:
        emit_json({"report": str(path), "bytes": path.stat().st_size})
    else:
        size = number(path.stat().st_size / 1e6, "MB")
        stdout.print(f"Report: {path} ({size})", soft_wrap=True)
    return 0
