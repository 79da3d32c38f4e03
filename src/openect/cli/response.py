"""``openect response classify``: the response of every treated lesion of a dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from openect.cli._dataset import PatientRuleOption, valid_dataset
from openect.cli._output import CliError, emit_json, stdout, table
from openect.response import LANDMARK_DAYS, ResponseEvaluation, criteria_names

app = typer.Typer(help="Tumour response of treated lesions (RECIST 1.1 skin or WHO).")


def _evaluation(
    criteria: str,
    landmark_days: int,
    window: str | None,
    patient_rule: str = "lesions",
    non_measurable: str = "qualitative",
) -> ResponseEvaluation:
    if criteria not in criteria_names():
        raise CliError(f"--criteria={criteria}: unknown; allowed {', '.join(criteria_names())}")
    try:
        if window is None:
            low, high = 40, 100
        else:
            low, high = (int(part) for part in window.split(","))
    except ValueError as error:
        raise CliError(f"--window-days={window!r}: expected two whole days, e.g. 40,100") from error
    if patient_rule not in ("lesions", "sum"):
        raise CliError(f"--patient-rule={patient_rule!r}: allowed lesions, sum")
    if non_measurable not in ("qualitative", "percentage"):
        raise CliError(f"--non-measurable={non_measurable!r}: allowed qualitative, percentage")
    try:
        return ResponseEvaluation(
            criteria,
            landmark_days,
            (low, high),
            patient_rule=patient_rule,  # type: ignore[arg-type]  # checked above
            non_measurable=non_measurable,  # type: ignore[arg-type]  # checked above
        )
    except ValueError as error:
        raise CliError(str(error)) from error


@app.command("classify")
def classify(
    directory: Annotated[Path, typer.Argument(metavar="DIR", help="Dataset folder.")],
    criteria: Annotated[
        str, typer.Option("--criteria", help="recist (longest diameter) or who (product).")
    ] = "recist",
    landmark_days: Annotated[
        int, typer.Option("--landmark-days", help="Main assessment, days after treatment.")
    ] = LANDMARK_DAYS,
    window_days: Annotated[
        str | None,
        typer.Option("--window-days", help="Landmark window START,END in days (default 40,100)."),
    ] = None,
    patient_rule: PatientRuleOption = "lesions",
    non_measurable: Annotated[
        str,
        typer.Option(
            "--non-measurable",
            help="Lesions under 10 mm (RECIST): qualitative (CR, non-CR/non-PD, PD) or "
            "percentage (the thresholds of measurable lesions).",
        ),
    ] = "qualitative",
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable JSON.")] = False,
    csv: Annotated[
        Path | None,
        typer.Option("--csv", help="Write one row per lesion (and FILE-assessments.csv)."),
    ] = None,
) -> int:
    """Classify every assessment (CR/PR/SD/PD), best and landmark response per lesion,
    per-patient response and local progression dates."""
    evaluation = _evaluation(
        criteria, landmark_days, window_days, patient_rule, non_measurable
    ).fit(valid_dataset(directory))
    if csv is not None:
        csv.parent.mkdir(parents=True, exist_ok=True)
        evaluation.lesions_.to_csv(csv, index=False, lineterminator="\n")
        per_assessment = csv.with_name(csv.stem + "-assessments.csv")
        evaluation.assessments_.to_csv(per_assessment, index=False, lineterminator="\n")
    if as_json:
        payload = evaluation.to_dict()
        frame = evaluation.lesions_.astype(object).where(evaluation.lesions_.notna(), None)
        payload["lesion_responses"] = frame.to_dict(orient="records")
        payload["patient_responses"] = evaluation.patients_.to_dict(orient="records")
        emit_json(payload)
        return 0
    stdout.print(str(evaluation))
    summary = evaluation.summary
    stdout.print(
        table(
            "Categories",
            ["level", *summary.columns],
            ([level, *row] for level, row in zip(summary.index, summary.to_numpy(), strict=True)),
        )
    )
    stdout.print(
        f"Local progression in {int(evaluation.lesions_['local_progression'].sum())} of "
        f"{len(evaluation.lesions_)} treated lesions."
    )
    if csv is not None:
        stdout.print(f"Per-lesion responses: {csv}")
    return 0
