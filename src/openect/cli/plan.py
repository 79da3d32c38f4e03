"""``openect plan``: plan an ECT session, compute a dose, show the rule sets."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from pydantic import ValidationError
from rich.panel import Panel

from openect.cli._output import CliError, emit_json, progress_bar, stdout, table
from openect.data.enums import Route
from openect.data.field_errors import field_errors
from openect.errors import RuleError
from openect.formatting import number, percent
from openect.protocol.inputs import PatientToPlan, PlanOptions, SessionRequest
from openect.protocol.rules import (
    DEFAULT_RULE_SET,
    RuleSet,
    RuleStatus,
    load_rule_set,
    shipped_rule_sets,
)
from openect.protocol.rules import to_markdown as rules_markdown
from openect.protocol.session_plan import DosePlan, SessionPlan, dose_plan, plan_session

app = typer.Typer(
    help="Plan an ECT session: eligibility, dose, window, electrodes, time budget.",
    no_args_is_help=True,
)

ROUTES = {
    "iv": Route.INTRAVENOUS,
    "intravenous": Route.INTRAVENOUS,
    "it": Route.INTRATUMOURAL,
    "intratumoural": Route.INTRATUMOURAL,
}

JsonFlag = Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")]
RulesOption = Annotated[
    str,
    typer.Option("--rules", help="Rule set: a shipped id (esope-2006, sop-2018) or a TOML file."),
]
RouteOption = Annotated[
    str | None, typer.Option("--route", help="iv or it (default: suggested / iv).")
]
DrugOption = Annotated[
    str | None,
    typer.Option("--drug", help="bleomycin, or cisplatin or calcium_chloride (it only)."),
]
BsaOption = Annotated[
    str | None, typer.Option("--bsa-formula", help="mosteller or dubois (default: rule).")
]
PolicyOption = Annotated[
    str | None,
    typer.Option(
        "--dose-policy",
        help="IV reduction: none, age_label (age and the label's renal table), label_renal "
        "or age_renal (the InspECT series' renal doses).",
    ),
]
OverrideOption = Annotated[
    str | None,
    typer.Option(
        "--specialist-override",
        help="A specialist's decision to treat past a stop that allows it (renal stop, "
        "pregnancy): who decided and why (10-500 characters).",
    ),
]
ItPolicyOption = Annotated[
    str | None, typer.Option("--it-policy", help="IT dose by volume: step or flat.")
]
WindowOption = Annotated[
    str | None, typer.Option("--window", help="Pulse window: standard or pk (by age).")
]


#: Command-line flags whose name is not the field name with dashes.
FLAG_NAMES = {
    "age_years": "--age",
    "creatinine_clearance_ml_min": "--crcl",
    "iv_policy": "--dose-policy",
}


def input_problems(
    error: ValidationError, where: str, flags: set[str] | None = None, prefix: str = ""
) -> CliError:
    """One line per problem: ``WHERE: FIELD=VALUE: what is wrong / allowed``.

    Fields in ``flags`` came from the command line and are named as their flag.
    """
    lines = []
    for problem in field_errors(error):
        name = problem.field or ""
        if flags is not None and name in flags:
            name = FLAG_NAMES.get(name, "--" + name.replace("_", "-"))
        elif name:
            name = prefix + name
        shown = problem.shown_value
        value = "" if shown is None else f"={problem.value!r}"
        lines.append(f"{where}: {name or 'input'}{value}: {problem.message}")
    return CliError("\nopenect: error: ".join(lines))


def _option_overrides(**given: str | float | None) -> dict[str, Any]:
    """Options given on the command line (``None`` = not given), names as in PlanOptions."""
    overrides: dict[str, Any] = {}
    for name, value in given.items():
        if value is None:
            continue
        if name == "route":
            if str(value) not in ROUTES:
                raise CliError(f"--route={value!r}: allowed: iv, it")
            value = ROUTES[str(value)]
        overrides[name] = value
    return overrides


def _options(base: dict[str, Any], overrides: dict[str, Any]) -> PlanOptions:
    try:
        return PlanOptions.model_validate({**base, **overrides})
    except ValidationError as error:
        raise input_problems(error, "plan", set(overrides), prefix="options.") from error


def read_request(path: Path) -> SessionRequest:
    """Read ``PATIENT.yaml``; any problem becomes a :class:`CliError` naming the field."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise CliError(f"PATIENT={str(path)!r}: cannot read: {error.strerror}") from error
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise CliError(f"{path.name}: not valid YAML{where}") from error
    if not isinstance(document, dict):
        raise CliError(f"{path.name}: expected a mapping with 'patient' and 'lesions'")
    try:
        return SessionRequest.model_validate(document)
    except ValidationError as error:
        raise input_problems(error, path.name) from error


@app.command("session")
def session(
    patient_file: Annotated[
        Path, typer.Argument(metavar="PATIENT.yaml", help="Patient, lesions and options.")
    ],
    rules: RulesOption = "",
    route: RouteOption = None,
    drug: DrugOption = None,
    bsa_formula: BsaOption = None,
    dose_policy: PolicyOption = None,
    it_policy: ItPolicyOption = None,
    window: WindowOption = None,
    minutes_per_application: Annotated[
        float | None, typer.Option("--minutes-per-application", help="Minutes per application.")
    ] = None,
    margin_mm: Annotated[
        float | None, typer.Option("--margin-mm", help="Margin around each lesion (mm).")
    ] = None,
    specialist_override: OverrideOption = None,
    coverage: Annotated[
        bool,
        typer.Option(
            "--coverage",
            help="Count each lesion's applications with the coverage planner (field "
            "simulations, cached) instead of the rules' area estimate.",
        ),
    ] = False,
    as_json: JsonFlag = False,
) -> int:
    """Plan a session for one patient with one or more lesions (exit 0 even if
    contraindicated: the plan says so)."""
    request = read_request(patient_file)
    overrides = _option_overrides(
        rules=rules or None,
        route=route,
        drug=drug,
        bsa_formula=bsa_formula,
        iv_policy=dose_policy,
        it_policy=it_policy,
        window=window,
        minutes_per_application=minutes_per_application,
        margin_mm=margin_mm,
        specialist_override=specialist_override,
    )
    options = _options(request.options.model_dump(), overrides)
    request = SessionRequest(patient=request.patient, lesions=request.lesions, options=options)
    coverage_plans: dict[str, Any] = {}
    try:
        if coverage:
            from openect.planning.session import plan_session_covered

            with progress_bar("Coverage planner", None, enabled=not as_json) as step:
                plan, plans, notes = plan_session_covered(
                    request, progress=lambda lesion_id: step.stage(f"lesion {lesion_id}")
                )
            plan.warnings.extend(notes)
            coverage_plans = {key: value.model_dump(mode="json") for key, value in plans.items()}
        else:
            plan = plan_session(request)
    except (RuleError, ValueError) as error:
        raise CliError(str(error)) from error
    if as_json:
        payload = plan.model_dump(mode="json")
        if coverage:
            payload["coverage_plans"] = coverage_plans
        emit_json(payload)
    else:
        print_session_plan(plan)
        for lesion_id, lesion_plan in coverage_plans.items():
            covered = percent(lesion_plan["coverage"]["target_fraction_above_rev"])
            stdout.print(
                f"{lesion_id}: {lesion_plan['count']} x {lesion_plan['electrode']} placed by the "
                f"coverage planner, {covered} of lesion + margin covered (footprint "
                "estimate; `openect plan lesion` verifies in 3-D)"
            )
    return 0


@app.command("dose")
def dose(
    height_cm: Annotated[float, typer.Option("--height-cm", help="Height (cm).")],
    weight_kg: Annotated[float, typer.Option("--weight-kg", help="Weight (kg).")],
    age: Annotated[int | None, typer.Option("--age", help="Age (years).")] = None,
    birth_date: Annotated[
        str | None,
        typer.Option(
            "--birth-date", help="Date of birth YYYY-MM-DD (exact age; instead of --age)."
        ),
    ] = None,
    session_date: Annotated[
        str | None,
        typer.Option("--session-date", help="Date of the session YYYY-MM-DD (default today)."),
    ] = None,
    sex: Annotated[str | None, typer.Option("--sex", help="F, M or X.")] = None,
    creatinine_mg_dl: Annotated[
        float | None, typer.Option("--creatinine-mg-dl", help="Serum creatinine (mg/dL).")
    ] = None,
    creatinine_umol_l: Annotated[
        float | None, typer.Option("--creatinine-umol-l", help="Serum creatinine (umol/L).")
    ] = None,
    crcl: Annotated[
        float | None, typer.Option("--crcl", help="Creatinine clearance (mL/min).")
    ] = None,
    prior_bleomycin_iu: Annotated[
        float, typer.Option("--prior-bleomycin-iu", help="Lifetime bleomycin so far (IU).")
    ] = 0.0,
    dialysis: Annotated[
        bool, typer.Option("--dialysis", help="On haemodialysis or peritoneal dialysis.")
    ] = False,
    route: RouteOption = None,
    drug: DrugOption = None,
    lesion_mm: Annotated[
        list[str] | None,
        typer.Option(
            "--lesion-mm",
            help="Lesion diameters A B (or A,B) in mm, longest then perpendicular; "
            "repeat for each lesion (intratumoural route).",
        ),
    ] = None,
    rules: RulesOption = DEFAULT_RULE_SET,
    bsa_formula: BsaOption = None,
    dose_policy: PolicyOption = None,
    it_policy: ItPolicyOption = None,
    window: WindowOption = None,
    specialist_override: OverrideOption = None,
    as_json: JsonFlag = False,
) -> int:
    """Dose of bleomycin (or cisplatin) for one patient: BSA, renal function, policy."""
    try:
        patient = PatientToPlan(
            age_years=age,
            birth_date=birth_date,
            session_date=session_date,
            sex=sex,
            height_cm=height_cm,
            weight_kg=weight_kg,
            creatinine_mg_dl=creatinine_mg_dl,
            creatinine_umol_l=creatinine_umol_l,
            creatinine_clearance_ml_min=crcl,
            prior_bleomycin_iu=prior_bleomycin_iu,
            dialysis=dialysis,
        )
    except ValidationError as error:
        raise input_problems(error, "plan dose", set(PatientToPlan.model_fields)) from error
    overrides = _option_overrides(
        rules=rules,
        route=route,
        drug=drug,
        bsa_formula=bsa_formula,
        iv_policy=dose_policy,
        it_policy=it_policy,
        window=window,
        specialist_override=specialist_override,
    )
    options = _options({}, overrides)
    diameters = [_diameters(text) for text in lesion_mm or []]
    if diameters and (options.route or Route.INTRAVENOUS) is Route.INTRAVENOUS:
        raise CliError("--lesion-mm: only used with --route it (the IV dose is by BSA)")
    try:
        plan = dose_plan(patient, options, diameters)
    except (RuleError, ValueError) as error:
        raise CliError(str(error)) from error
    if as_json:
        emit_json(plan.model_dump(mode="json"))
    else:
        print_dose(plan)
        print_warnings(plan)
    return 0


def _diameters(text: str) -> tuple[float, float]:
    parts = text.lower().replace("x", ",").split(",")
    try:
        longest, perpendicular = (float(part) for part in parts)
    except ValueError:
        raise CliError(
            f"--lesion-mm={text!r}: expected two diameters in mm, e.g. 12,9 or 12x9"
        ) from None
    if not 0 < perpendicular <= longest <= 500:
        raise CliError(f"--lesion-mm={text!r}: allowed 0 < perpendicular <= longest <= 500 mm")
    return longest, perpendicular


@app.command("rules")
def rules_command(
    name: Annotated[
        str, typer.Argument(metavar="[NAME|FILE]", help="Rule set id or TOML file.")
    ] = DEFAULT_RULE_SET,
    markdown: Annotated[
        bool,
        typer.Option("--markdown", help="A Markdown table (as in docs/rules.md) on stdout."),
    ] = False,
    as_json: JsonFlag = False,
) -> int:
    """Show a rule set: every rule with its value, unit, status, source and evidence."""
    try:
        rule_set = load_rule_set(name)
    except RuleError as error:
        raise CliError(str(error)) from error
    if markdown:
        sys.stdout.write(rules_markdown(rule_set))
        return 0
    if as_json:
        emit_json(
            {
                "id": rule_set.id,
                "title": rule_set.title,
                "version": rule_set.version,
                "chain": rule_set.chain,
                "source": rule_set.source,
                "shipped": shipped_rule_sets(),
                "rules": rule_set.describe(),
            }
        )
        return 0
    print_rules(rule_set, list(rule_set.rules))
    return 0


# -- human output --------------------------------------------------------------------------

STATUS_STYLE = {"eligible": "green", "caution": "yellow", "contraindicated": "bold red"}


def _value(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    if isinstance(value, list):
        return "; ".join(_value(v) for v in value)
    return str(value)


def print_rules(rule_set: RuleSet, rule_ids: list[str]) -> None:
    """Table of rules with status (to verify highlighted) and source."""
    rows = []
    for rule_id in sorted(rule_ids):
        rule = rule_set.rule(rule_id)
        status = (
            "verified" if rule.status is RuleStatus.VERIFIED else "[yellow]TO VERIFY locally[/]"
        )
        unit = f" {rule.unit}" if rule.unit else ""
        rows.append([rule.id, _value(rule.value) + unit, status, rule.origin, rule.source])
    stdout.print(
        table(
            f"Rule set {rule_set.id} ({' <- '.join(rule_set.chain)}): {rule_set.title}",
            ["rule", "value", "status", "from", "source"],
            rows,
        )
    )


def print_dose(plan: DosePlan) -> None:
    """The dose block: eligibility, BSA, renal function, dose, lifetime, window."""
    status = plan.eligibility.status.value
    style = STATUS_STYLE[status]
    stdout.print(f"Eligibility: [{style}]{status.upper()}[/]")
    for finding in plan.eligibility.findings:
        stdout.print(
            f"  - {finding.severity.value}: {finding.message}  [dim]({finding.rule_id})[/]"
        )
    crcl = plan.creatinine_clearance_ml_min
    rows: list[list[object]] = [
        ["rule set", f"{plan.rule_set} ({' <- '.join(plan.rule_set_chain)})"],
        ["BSA", f"{number(plan.bsa_m2, 'm²', digits=2)} ({plan.bsa_formula.value})"],
        ["creatinine clearance", number(crcl, "mL/min", digits=0, missing="unknown")],
        ["drug, route", f"{plan.drug.value}, {plan.route.value}"],
    ]
    if plan.dose_per_m2_iu is not None:
        reduced = (
            f" (standard {number(plan.standard_dose_per_m2_iu, digits=0)}; lowest of: "
            f"{'; '.join(plan.dose_reduction)}"
            + (f"; given by {plan.dose_rule}" if plan.dose_rule else "")
            + ")"
            if plan.dose_reduction
            else ""
        )
        rows.append(["dose per m²", f"{number(plan.dose_per_m2_iu, 'IU/m²', digits=0)}{reduced}"])
    if plan.specialist_override:
        rows.append(["specialist's decision", plan.specialist_override])
    if plan.dose_iu is not None:
        rows.append(["DOSE", f"[bold]{number(plan.dose_iu, 'IU', digits=0)} bleomycin[/]"])
    if plan.dose_mg is not None:
        rows.append(["DOSE", f"[bold]{number(plan.dose_mg, 'mg', digits=2)} cisplatin[/]"])
    if plan.dose_ml is not None:
        rows.append(
            ["DOSE", f"[bold]{number(plan.dose_ml, 'mL', digits=2)} calcium chloride 220 mM[/]"]
        )
    if plan.dose_iu is None and plan.dose_mg is None and plan.dose_ml is None:
        rows.append(["DOSE", "[bold red]none (contraindicated)[/]"])
    for i, lesion in enumerate(plan.lesion_doses, start=1):
        value: float | None
        if lesion.dose_iu is not None:
            unit, digits, value = "IU", 0, lesion.dose_iu
        elif lesion.dose_ml is not None:
            unit, digits, value = "mL", 2, lesion.dose_ml
        else:
            unit, digits, value = "mg", 2, lesion.dose_mg
        amount = number(value, unit, digits=digits)
        spread = (
            f" ({number(lesion.dose_if_1mm_smaller, digits=digits)} to "
            f"{number(lesion.dose_if_1mm_larger, unit, digits=digits)} if measured 1 mm "
            "smaller or larger)"
            if lesion.dose_if_1mm_smaller is not None and lesion.dose_if_1mm_larger is not None
            else ""
        )
        rows.append([f"  lesion {i}", f"{lesion.volume_cm3:.3f} cm3 -> {amount}{spread}"])
    if plan.cumulative_bleomycin_iu is not None:
        rows.append(
            ["lifetime bleomycin after", number(plan.cumulative_bleomycin_iu, "IU", digits=0)]
        )
    if plan.pulse_window_min is not None:
        start, end = plan.pulse_window_min
        after = "the end of the bolus" if plan.route is Route.INTRAVENOUS else "each injection"
        rows.append(["pulse window", f"{start:g} to {end:g} min after {after}"])
    stdout.print(table("Dose", ["", ""], rows))


def print_warnings(plan: DosePlan) -> None:
    """The evidence of the reduction that gave the dose, then warnings, one per line."""
    if plan.dose_rule is not None:
        evidence = next((r.get("evidence") for r in plan.rules if r["id"] == plan.dose_rule), None)
        if evidence:
            stdout.print(f"Evidence of {plan.dose_rule}: {evidence}")
    for warning in plan.warnings:
        stdout.print(f"[yellow]! {warning}[/]")


def _size(longest: float, perpendicular: float | None) -> str:
    return f"{longest:g} x {perpendicular if perpendicular is not None else longest:g}"


def print_session_plan(plan: SessionPlan) -> None:
    """The session plan as a clinician reads it at the bedside."""
    who = plan.patient_id or "patient"
    stdout.print(
        Panel(
            f"ECT session plan for {who}: age {plan.age_years}, "
            f"{len(plan.lesions)} lesion(s); anaesthesia: [bold]{plan.anaesthesia.value}[/] "
            f"({plan.anaesthesia_reason}); route: {plan.route.value} ({plan.route_reason})",
            title="OpenECT",
        )
    )
    print_dose(plan)
    stdout.print(
        table(
            "Electrodes (pulse trains of 100 us at 5 kHz; voltage = field x electrode "
            "distance; sizes and needles in mm; priority 0 = bleeding first)",
            ["lesion", "size", "depth", "electrode", "needle", "V", "pulses", "apps", "prio"],
            [
                [
                    lesion.lesion_id,
                    _size(lesion.longest_diameter_mm, lesion.perpendicular_diameter_mm),
                    "" if lesion.thickness_mm is None else f"{lesion.thickness_mm:g}",
                    lesion.electrode,
                    "" if lesion.needle_length_mm is None else f"{lesion.needle_length_mm:g}",
                    f"{lesion.voltage_v:g}",
                    lesion.pulses,
                    lesion.applications,
                    lesion.priority,
                ]
                for lesion in plan.lesions
            ],
        )
    )
    sources = sorted(
        {lesion.footprint_source for lesion in plan.lesions if lesion.footprint_source}
    )
    if sources:
        stdout.print(
            "Applications estimated with the area per application of: " + "; ".join(sources)
        )
    budget = plan.time_budget
    verdict = "[green]fits[/]" if budget.fits else "[bold yellow]does not fit[/]"
    stdout.print(f"Time budget: {verdict}: {budget.note}")
    if not budget.fits:
        stdout.print(f"  treat now: {', '.join(budget.treat_now) or '-'}")
        stdout.print(f"  next session: {', '.join(budget.next_session)}")
    print_warnings(plan)
