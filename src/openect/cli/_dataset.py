"""Load a dataset for an analysis command: valid or a clear error (exit 2)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from openect.cli._output import CliError, stderr
from openect.data.csvio import load_dataset
from openect.data.dataset import Dataset

#: Problems quoted in the error message of an invalid dataset.
QUOTED_PROBLEMS = 3


#: ``--patient-rule`` of the commands that report per-patient response.
PatientRuleOption = Annotated[
    str,
    typer.Option(
        "--patient-rule",
        help="Per-patient response: lesions (from each lesion's response) or sum "
        "(RECIST sum of the target lesions' diameters).",
    ),
]


def valid_dataset(directory: Path) -> Dataset:
    """Read and validate the dataset in ``directory``; raise CliError when it is not valid."""
    if not directory.is_dir():
        raise CliError(f"DIR={str(directory)!r}: not a folder; a dataset is a folder of CSV files")
    with stderr.status(f"Reading and validating {directory}...", spinner="dots"):
        dataset, report = load_dataset(directory)
    if not report.valid:
        quoted = "; ".join(
            f"{i.file} row {i.row} {i.column}={i.value!r}: {i.message}"
            for i in report.issues[:QUOTED_PROBLEMS]
        )
        raise CliError(
            f"DIR={str(directory)!r}: {len(report.issues)} validation problem(s), e.g. {quoted} "
            f"(see: openect data validate {directory})"
        )
    return dataset
