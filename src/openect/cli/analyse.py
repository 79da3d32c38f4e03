"""``openect analyse``: outcome analyses of a dataset (summary, Kaplan-Meier)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import typer

from openect.cli._dataset import PatientRuleOption, valid_dataset
from openect.cli._output import CliError, FittedTable, emit_json, stderr, stdout, table
from openect.formatting import MISSING, estimate, is_missing, number, percent, percent_interval

app = typer.Typer(
    help="Outcome analyses: `openect analyse DIR` (everything) or `openect analyse km DIR`.",
    no_args_is_help=True,
)

#: Subcommands of ``openect analyse``; anything else is the DIR of ``summary``.
SUBCOMMANDS = frozenset({"summary", "km"})

JsonFlag = Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")]


def _ratio_table(title: str, ratio: str, terms: list[dict[str, Any]]) -> FittedTable:
    """A table of hazard (``ratio="hr"``) or odds (``"or"``) ratios with CI and p-value."""
    return table(
        title,
        ["covariate", ratio.upper(), "95 % CI", "p"],
        (
            [
                t["covariate"],
                estimate(t[ratio], ".2f"),
                f"{estimate(t[f'{ratio}_low'], '.2f')}–{estimate(t[f'{ratio}_high'], '.2f')}",
                estimate(t["p"], ".3g"),
            ]
            for t in terms
        ),
    )


def _landmark(row: Mapping[Any, Any], day: int) -> str:
    """``survival (low–high)`` in % (no sign: the table's title says %) at ``day`` from a
    Kaplan-Meier summary row; the CI is left out when the estimate is missing."""
    value = row.get(f"at_{day}d")
    if is_missing(value):
        return MISSING
    low, high = row.get(f"at_{day}d_low"), row.get(f"at_{day}d_high")
    return f"{percent(value, sign=False)} ({percent_interval(low, high, sign=False)})"


def _median(days: Any) -> str:
    """A median time in days, or "not reached"."""
    return "not reached" if is_missing(days) else number(days, digits=0)


@app.command("summary")
def summary(
    directory: Annotated[Path, typer.Argument(metavar="DIR", help="Dataset folder.")],
    criteria: Annotated[str, typer.Option("--criteria", help="recist or who.")] = "recist",
    patient_rule: PatientRuleOption = "lesions",
    as_json: JsonFlag = False,
) -> int:
    """Response rates, subgroups, local control, survival, Cox, GEE, CR model, PROs, toxicity."""
    if criteria not in ("recist", "who"):
        raise CliError(f"--criteria={criteria}: unknown; allowed recist, who")
    if patient_rule not in ("lesions", "sum"):
        raise CliError(f"--patient-rule={patient_rule!r}: allowed lesions, sum")
    from openect.outcomes.analysis import OutcomeAnalysis

    dataset = valid_dataset(directory)
    with stderr.status("Analysing outcomes...", spinner="dots"):
        analysis = OutcomeAnalysis(
            criteria,  # type: ignore[arg-type]  # checked above
            patient_rule=patient_rule,  # type: ignore[arg-type]  # checked above
        ).fit(dataset)
    result = analysis.to_dict()
    if as_json:
        emit_json(result)
        return 0
    stdout.print(
        f"{result['patients']} treated patients, {result['lesions']} treated lesions "
        f"({analysis.response_.criteria.title}, landmark {result['landmark_days']} days)"
    )
    stdout.print(
        table(
            "Response at the landmark (%, 95 % CI)",
            [
                "unit",
                "outcome",
                "events / evaluable",
                "rate",
                "exact CI",
                "Wilson CI",
                "cluster CI",
            ],
            (
                [
                    r["unit"],
                    r["outcome"],
                    f"{r['events']}/{r['evaluable']}",
                    percent(r.get("rate"), sign=False),
                    percent_interval(r.get("exact_low"), r.get("exact_high"), sign=False),
                    percent_interval(r.get("wilson_low"), r.get("wilson_high"), sign=False),
                    percent_interval(r.get("cluster_low"), r.get("cluster_high"), sign=False),
                ]
                for r in result["rates"]
            ),
            keys=(),
        )
    )
    stdout.print(
        table(
            "CR by subgroup (per lesion, %, Wilson 95 % CI)",
            ["subgroup", "level", "evaluable", "CR", "CI", "OR"],
            (
                [
                    s["subgroup"],
                    s["level"],
                    s["evaluable"],
                    percent(s["cr_rate"], sign=False),
                    percent_interval(s["cr_low"], s["cr_high"], sign=False),
                    percent(s["objective_rate"], sign=False),
                ]
                for s in result["subgroups"]
            ),
        )
    )
    rows = []
    for key, name in (
        ("local_control", "local control"),
        ("local_control_by_immunotherapy", "local control, immunotherapy"),
        ("overall_survival", "overall survival"),
        ("overall_survival_by_immunotherapy", "overall survival, immunotherapy"),
    ):
        for group in result[key]["groups"]:
            rows.append(
                [
                    name,
                    group["group"],
                    group["n"],
                    group["events"],
                    _median(group["median_days"]),
                    _landmark(group, 200),
                    _landmark(group, 365),
                ]
            )
    stdout.print(
        table(
            "Kaplan-Meier (%, 95 % CI)",
            ["endpoint", "group", "n", "events", "median d", "200 d", "1 year"],
            rows,
            keys=(),
        )
    )
    for key, title, ratio in (
        ("cox_local_progression", "Cox model of local progression (robust SE by patient)", "hr"),
        (
            "gee_complete_response",
            "Predictors of CR (logistic GEE, exchangeable within patient)",
            "or",
        ),
    ):
        if result[key] is not None:
            stdout.print(_ratio_table(title, ratio, result[key]["terms"]))
    model = result["cr_probability_model"]
    if model is not None and model["cv_auc"] is not None:
        stdout.print(
            "Predicted CR probability (model based): cross-validated AUC "
            f"{estimate(model['cv_auc'], '.3f')}, Brier {estimate(model['cv_brier'], '.3f')} "
            f"({model['folds']} folds by patient)"
        )
    for note in result["notes"]:
        stdout.print(f"[yellow]note[/yellow]: {note}")
    stdout.print(
        "More (quality of life, toxicity, calibration): --json, or openect report outcomes"
    )
    return 0


@app.command("km")
def km(
    directory: Annotated[Path, typer.Argument(metavar="DIR", help="Dataset folder.")],
    endpoint: Annotated[
        str, typer.Option("--endpoint", help="local-control (per lesion) or overall-survival.")
    ] = "local-control",
    by: Annotated[
        str | None, typer.Option("--by", help="Column to stratify by, e.g. large, layer.")
    ] = None,
    as_json: JsonFlag = False,
    png: Annotated[Path | None, typer.Option("--png", help="Write the curves as PNG.")] = None,
) -> int:
    """Kaplan-Meier estimate of local tumour control or overall survival, with CIs."""
    from openect.outcomes.survival import ENDPOINTS, KaplanMeier
    from openect.outcomes.tables import lesion_table, patient_table
    from openect.response import ResponseEvaluation

    if endpoint not in ENDPOINTS:
        raise CliError(f"--endpoint={endpoint}: unknown; allowed {', '.join(ENDPOINTS)}")
    dataset = valid_dataset(directory)
    evaluation = ResponseEvaluation().fit(dataset)
    if endpoint == "local-control":
        frame = lesion_table(dataset, evaluation)
    else:
        frame = patient_table(dataset, evaluation)
    if by is not None and by not in frame.columns:
        raise CliError(f"--by={by}: not a column; allowed {', '.join(map(str, frame.columns))}")
    estimate = KaplanMeier(endpoint, by=by).fit(frame)  # type: ignore[arg-type]
    if png is not None:
        from openect.outcomes.figures import km_figure

        png.parent.mkdir(parents=True, exist_ok=True)
        km_figure(estimate).savefig(png, dpi=150)
    if as_json:
        emit_json(estimate.to_dict())
        return 0
    s = estimate.summary.reset_index()
    stdout.print(
        table(
            f"Kaplan-Meier: {endpoint} (per {estimate.unit}, %, 95 % CI)",
            ["group", "n", "events", "median d", "200 d", "1 year"],
            (
                [
                    r["group"],
                    r["n"],
                    r["events"],
                    _median(r["median_days"]),
                    _landmark(r, 200),
                    _landmark(r, 365),
                ]
                for r in s.astype(object).where(s.notna(), None).to_dict(orient="records")
            ),
        )
    )
    if png is not None:
        stdout.print(f"Figure: {png}")
    return 0
