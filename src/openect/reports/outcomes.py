"""Outcomes report: one self-contained HTML file (figures embedded as PNG data URIs).

Sections: cohort, response per lesion and per patient next to the published melanoma
studies, subgroups, Kaplan-Meier local tumour control and overall survival (ECT alone vs
with concurrent immunotherapy) next to the published landmarks, predictors (Cox and GEE
forest plots, the model-based CR probability with its cross-validated checks), the
literature meta-analysis with its forest plot, a funnel plot of the centres against the
pooled literature, patient-reported outcomes and toxicity, and the methods with their
provenance.

The page is rendered from the Jinja2 template ``templates/outcomes.html.j2`` (autoescaped)
with a context of plain, already formatted strings (:mod:`openect.formatting`). Every
published number comes from the bundled evidence tables (:mod:`openect.evidence.studies`)
and is shown with its source; none is written in this module.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import jinja2
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from openect import __version__
from openect.data.dataset import Dataset
from openect.data.summary import LARGE_LESION_MM, summarise
from openect.evidence.meta import MetaAnalysis
from openect.evidence.plots import plot_centre_funnel, plot_forest
from openect.evidence.studies import (
    load_table,
    melanoma_response_studies,
    spratt2014,
    table_info,
)
from openect.formatting import (
    MISSING,
    estimate,
    number,
    percent,
    percent_interval,
    words,
)
from openect.outcomes.analysis import OutcomeAnalysis
from openect.outcomes.figures import (
    figure_of,
    plot_km,
    plot_ratio_forest,
    plot_response_bars,
)
from openect.outcomes.survival import KaplanMeier

#: The template (package data of ``openect.reports``).
TEMPLATE = "outcomes.html.j2"

#: Resolution of the embedded figures (dots per inch).
FIGURE_DPI = 110

#: Covariates and subgroups of the analysis tables, in clinical words.
COVARIATES: dict[str, str] = {
    "large": f"longest diameter ≥ {number(LARGE_LESION_MM, 'mm')}",
    "layer": "layer",
    "subcutaneous": "subcutaneous (vs cutaneous)",
    "ulcerated": "ulcerated",
    "previously_irradiated": "previously irradiated",
    "electrode": "electrode family",
    "concurrent_immunotherapy": "concurrent immunotherapy",
    "body_site": "body site",
    "centre_id": "centre",
}

#: Status of a rule or criterion (``V`` / ``U`` in the rule files), spelled out.
STATUS_WORDS: dict[str, str] = {"V": "verified", "U": "not yet verified locally"}

#: Endpoints of ``survival_and_local_control`` shown next to the Kaplan-Meier estimates,
#: in the order shown, with their names for people.
PUBLISHED_ENDPOINTS: dict[str, str] = {
    "local tumour control": "local tumour control",
    "local control": "local tumour control",
    "local PFS": "local progression-free survival",
    "OS": "overall survival",
    "melanoma-specific survival": "melanoma-specific survival",
}

#: The bundled evidence tables this report quotes.
EVIDENCE_TABLES: tuple[str, ...] = (
    "spratt2014_ect_studies",
    "melanoma_ect_cohorts",
    "published_pooled_estimates",
    "survival_and_local_control",
)

_OUTCOMES = {"CR": "complete response", "ORR": "objective response"}
_UNITS = {
    "lesion": "per lesion",
    "lesion, non-measurable": "per non-measurable lesion (< 10 mm)",
    "patient": "per patient",
    "aggregate": "aggregate",
}
_PLAIN_PCT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")


# ---------------------------------------------------------------------- context types
@dataclass(frozen=True)
class Link:
    """A hyperlink: ``text`` shown, ``href`` followed."""

    text: str
    href: str


Cell = str | Link


@dataclass
class Table:
    """A table for the template: header ``columns``, ``rows`` of cells, the alignment of
    each column (``"l"`` or ``"r"``; default: first left, others right), an optional
    ``caption`` and ``note`` under it."""

    columns: list[str]
    rows: list[list[Cell]]
    caption: str = ""
    note: str = ""
    align: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.align:
            self.align = ["l"] + ["r"] * (len(self.columns) - 1)


@dataclass(frozen=True)
class Image:
    """An embedded PNG figure: ``src`` (data URI), ``alt`` text and ``caption``."""

    src: str
    alt: str
    caption: str = ""


#: Columns (header, alignment) of the published pooled-response table.
POOLED_COLUMNS = (
    ("Meta-analysis", "l"),
    ("Population", "l"),
    ("Unit", "l"),
    ("Outcome", "l"),
    ("Studies", "r"),
    ("Pooled estimate (95 % CI)", "r"),
    ("Source", "l"),
)
#: Columns (header, alignment) of the published local control and survival table.
SURVIVAL_COLUMNS = tuple(
    (name, "l")
    for name in (
        "Study",
        "Setting",
        "Endpoint",
        "Time",
        "Published value (95 % CI)",
        "Compared with",
        "Source",
    )
)


# ---------------------------------------------------------------------- helpers
def _image(figure: Figure, alt: str, caption: str = "") -> Image:
    """``figure`` as an embedded PNG (:data:`FIGURE_DPI`)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=FIGURE_DPI)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return Image(src=f"data:image/png;base64,{data}", alt=alt, caption=caption)


def _axes_image(ax: Axes, alt: str, caption: str = "") -> Image:
    return _image(figure_of(ax), alt, caption)


def _source(url: Any) -> Cell:
    """A source URL as a link named by its site (``pubmed.ncbi.nlm.nih.gov``)."""
    if not isinstance(url, str) or not url.strip():
        return MISSING
    host = urlparse(url).netloc.removeprefix("www.") or url
    return Link(host, url)


def _level(value: Any) -> str:
    """A subgroup level or Kaplan-Meier group for people (``yes`` / ``no`` for flags)."""
    if isinstance(value, bool):
        return words(value)
    text = str(value)
    return {"True": "yes", "False": "no"}.get(text, words(text))


def _covariate(name: Any) -> str:
    return COVARIATES.get(str(name), words(name))


def _rate_with_ci(value: Any, low: Any, high: Any) -> str:
    """``58.8 % (55.2–62.2 %)``; :data:`MISSING` when the estimate is."""
    if value is None or pd.isna(value):
        return MISSING
    return f"{percent(value)} ({percent_interval(low, high)})"


def _count_rate(events: Any, total: Any) -> str:
    """``229 / 394 (58.1 %)``."""
    return f"{number(events, digits=0)} / {number(total, digits=0)} ({percent(events / total)})"


def _published_pct(text: Any) -> float | None:
    """A percentage printed as ``86%`` in an evidence table, as a number (86.0)."""
    if not isinstance(text, str):
        return None
    match = _PLAIN_PCT.match(text)
    return float(match.group(1)) if match else None


def _published_value(value: Any, low: Any, high: Any) -> str:
    """A published value with its CI: ``67 % (57–77 %)`` when the table gives plain
    percentages, else the table's text verbatim."""
    if not isinstance(value, str) or not value.strip():
        return MISSING
    point = _published_pct(value)
    if point is None:
        return value.strip()
    text = number(point, "%")
    lo, hi = _published_pct(low), _published_pct(high)
    if lo is not None and hi is not None:
        text += f" ({number(lo)}–{number(hi, '%')})"
    return text


def _text(value: Any) -> str:
    return "" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)


# ---------------------------------------------------------------------- figures
def literature_bars(analysis: OutcomeAnalysis) -> list[tuple[str, float, float]]:
    """This register and the published melanoma lesion-level cohorts with both CR and OR
    (``melanoma_ect_cohorts``): ``(label, CR, OR)`` with rates as fractions 0-1."""
    rate = {(r["unit"], r["outcome"]): r.get("rate") for r in analysis.rates_.to_dict()}
    groups = [
        (
            "this register",
            float(rate[("lesion", "cr")] or 0.0),
            float(rate[("lesion", "objective")] or 0.0),
        )
    ]
    for _, row in _published_lesion_response().iterrows():
        groups.append(
            (
                str(row["label"]),
                row["events_cr"] / row["total_cr"],
                row["events_or"] / row["total_or"],
            )
        )
    return groups


def plot_literature_bars(analysis: OutcomeAnalysis, ax: Axes | None = None) -> Axes:
    """Per-lesion complete and objective response (%) of this register next to the
    published melanoma cohorts (:func:`literature_bars`). Returns ``ax``."""
    return plot_response_bars(
        literature_bars(analysis), ax, title="Per-lesion response: register and literature"
    )


def centre_counts(analysis: OutcomeAnalysis) -> list[tuple[str, float, float]]:
    """Per centre: ``(centre, lesions with CR, evaluable lesions)`` at the landmark."""
    evaluable = analysis.lesions_.dropna(subset=["cr"])
    return [
        (str(centre), float(group["cr"].sum()), float(len(group)))
        for centre, group in evaluable.groupby("centre_id", sort=True)
    ]


def plot_centres(analysis: OutcomeAnalysis, target: float, ax: Axes | None = None) -> Axes | None:
    """Funnel plot of each centre's CR per lesion against the pooled literature rate
    ``target`` (0-1); None when no lesion is evaluable. Returns ``ax``."""
    centres = centre_counts(analysis)
    if not centres:
        return None
    return plot_centre_funnel(target, centres, ax, title="Centres: CR per lesion vs literature")


# ---------------------------------------------------------------------- published tables
def _published_lesion_response() -> pd.DataFrame:
    """Melanoma cohorts with lesion counts for both CR and OR (one row per cohort)."""
    cr = melanoma_response_studies("CR", "lesion")
    orr = melanoma_response_studies("OR", "lesion")
    return cr.merge(orr, on="label", suffixes=("_cr", "_or"))


def published_response_table() -> Table:
    """Per-lesion response of the published melanoma cohorts, with sources."""
    rows: list[list[Cell]] = []
    for _, row in _published_lesion_response().iterrows():
        notes = [str(f) for f in (row["flags_cr"],) if f]
        if row["derived_cr"] or row["derived_or"]:
            notes.insert(0, "counts derived from printed percentages")
        rows.append(
            [
                str(row["label"]),
                _count_rate(row["events_cr"], row["total_cr"]),
                _count_rate(row["events_or"], row["total_or"]),
                "; ".join(dict.fromkeys(notes)),
                _source(row["source_url_cr"]),
            ]
        )
    info = table_info("melanoma_ect_cohorts")
    return Table(
        columns=[
            "Study",
            "Lesions with complete response",
            "Lesions with objective response",
            "Notes",
            "Source",
        ],
        rows=rows,
        align=["l", "r", "r", "l", "l"],
        caption="Published melanoma cohorts, per lesion",
        note=f"From the bundled table “{info.title}” (numbers as printed in abstracts).",
    )


def published_pooled_table() -> Table:
    """Pooled response of melanoma ECT meta-analyses (``published_pooled_estimates``:
    melanoma rows, complete or objective response, subgroups left out), with sources."""
    frame = load_table("published_pooled_estimates")
    population = frame["population"].fillna("").astype(str)
    keep = (
        population.str.contains("melanoma")
        & ~population.str.contains("subgroup")
        & frame["outcome"].isin(list(_OUTCOMES))
        & frame["estimate_pct"].notna()
    )
    rows: list[list[Cell]] = []
    for _, row in frame[keep].iterrows():
        value = number(row["estimate_pct"], "%")
        if pd.notna(row["ci_low_pct"]) and pd.notna(row["ci_high_pct"]):
            value += f" ({number(row['ci_low_pct'])}–{number(row['ci_high_pct'], '%')})"
        rows.append(
            [
                f"{row['meta_analysis']} {row['year']}",
                str(row["population"]),
                _UNITS.get(str(row["unit"]), str(row["unit"])),
                _OUTCOMES[str(row["outcome"])],
                number(row["k_studies"], digits=0),
                value,
                _source(row["source_url"]),
            ]
        )
    return _published(
        "published_pooled_estimates",
        POOLED_COLUMNS,
        rows,
        "Published pooled response in melanoma",
        "estimates and intervals exactly as printed in the abstracts; the pooling method is "
        "often not stated.",
    )


def published_survival_table() -> Table:
    """Published local control and survival landmarks (``survival_and_local_control``:
    the endpoints of :data:`PUBLISHED_ENDPOINTS` at a stated time, skin metastases other
    than breast cancer), with sources."""
    frame = load_table("survival_and_local_control")
    setting = frame["setting"].fillna("").astype(str)
    last: dict[str, str] = {}
    for i, (study, text) in enumerate(zip(frame["study"], setting, strict=True)):
        if text.startswith("same") and str(study) in last:  # "same" = the study's row above
            setting.iloc[i] = last[str(study)] + text.removeprefix("same")
        last[str(study)] = setting.iloc[i]
    frame["setting"] = setting
    keep = (
        frame["endpoint"].isin(list(PUBLISHED_ENDPOINTS))
        & frame["timepoint"].notna()
        & frame["value"].notna()
        & ~setting.str.contains("breast")
    )
    order = {name: i for i, name in enumerate(PUBLISHED_ENDPOINTS)}
    chosen = frame[keep].copy()
    chosen["_order"] = chosen["endpoint"].map(order)
    chosen["_local"] = chosen["endpoint"].map(lambda e: "overall" not in PUBLISHED_ENDPOINTS[e])
    chosen = chosen.sort_values(["_local", "_order", "year"], ascending=[False, True, True])
    rows: list[list[Cell]] = []
    for _, row in chosen.iterrows():
        rows.append(
            [
                f"{row['study']} {row['year']}",
                _text(row["setting"]),
                PUBLISHED_ENDPOINTS[str(row["endpoint"])],
                _text(row["timepoint"]),
                _published_value(row["value"], row["ci_low"], row["ci_high"]),
                _text(row["comparison"]),
                _source(row["source_url"]),
            ]
        )
    return _published(
        "survival_and_local_control",
        SURVIVAL_COLUMNS,
        rows,
        "Published local control and survival after ECT",
        "summary points as printed in abstracts or press reports (no individual data).",
    )


def _published(
    name: str,
    columns: tuple[tuple[str, str], ...],
    rows: list[list[Cell]],
    caption: str,
    note: str,
) -> Table:
    """A table of the bundled evidence table ``name`` whose note names it."""
    return Table(
        columns=[header for header, _ in columns],
        rows=rows,
        align=[side for _, side in columns],
        caption=caption,
        note=f"From the bundled table “{table_info(name).title}”: {note}",
    )


# ---------------------------------------------------------------------- register tables
def cohort_table(dataset: Dataset) -> Table:
    """Patients, lesions and sessions of ``dataset`` in a two-column table."""
    summary = summarise(dataset)
    p, lz, s = summary["patients"], summary["lesions"], summary["sessions"]
    rows: list[list[Cell]] = [
        ["Centres", number(len(p["by_centre"]), digits=0)],
        ["Patients", number(p["n"], digits=0)],
        ["Female", number(p["female_pct"], "%")],
        ["Median age at first ECT", number(p["median_age_years"], "years")],
        ["Concurrent immunotherapy", number(p["concurrent_immunotherapy_pct"], "%")],
        ["Median follow-up", number(p["median_follow_up_months"], "months")],
        ["Deaths", number(p["deaths"], digits=0)],
        ["Lesions", number(lz["n"], digits=0)],
        ["Median longest diameter", number(lz["median_longest_diameter_mm"], "mm")],
        [f"Lesions ≥ {number(LARGE_LESION_MM, 'mm')}", number(lz["large_pct"], "%")],
        ["Sessions", number(s["n"], digits=0)],
        ["Intravenous bleomycin", f"{number(s['intravenous_pct'], '%')} of sessions"],
    ]
    return Table(columns=["", "Value"], rows=rows)


def rates_table(analysis: OutcomeAnalysis) -> Table:
    """Complete and objective response per lesion and per patient with their CIs; the
    note says what the lesion rows are over and which per-patient rule is used."""
    rows: list[list[Cell]] = []
    for r in analysis.rates_.to_dict():
        cluster = r.get("cluster_low")
        rows.append(
            [
                _UNITS.get(r["unit"], r["unit"]),
                "complete response" if r["outcome"] == "cr" else "objective response",
                f"{number(r['events'], digits=0)} / {number(r['evaluable'], digits=0)}",
                percent(r.get("rate")),
                percent_interval(r.get("exact_low"), r.get("exact_high")),
                percent_interval(r.get("wilson_low"), r.get("wilson_high")),
                MISSING if cluster is None else percent_interval(cluster, r.get("cluster_high")),
            ]
        )
    return Table(
        columns=[
            "Unit",
            "Outcome",
            "Responders / evaluable",
            "Rate",
            "95 % CI, exact",
            "95 % CI, Wilson",
            "95 % CI, cluster-robust",
        ],
        rows=rows,
        align=["l", "l", "r", "r", "r", "r", "r"],
        note=response_basis_note(analysis),
    )


def response_basis_note(analysis: OutcomeAnalysis) -> str:
    """What the response rates are over: lesions by measurability, the per-patient rule."""
    response = analysis.response_
    if response.split_measurable:
        lesions = (
            "Per lesion: measurable lesions (longest diameter ≥ 10 mm at baseline, RECIST "
            "1.1); lesions under 10 mm are non-measurable, classified as complete response, "
            "non-CR/non-PD or progression, and counted in their own row."
        )
    elif response.non_measurable == "percentage" and response.criteria.measurable_min > 0:
        lesions = "Per lesion: all lesions, every size by the percentage thresholds."
    else:
        lesions = "Per lesion: all lesions."
    return f"{lesions} Per patient: {response.patient_rule_title}."


def subgroups_table(analysis: OutcomeAnalysis) -> Table:
    """Complete and objective response per lesion in each subgroup (Wilson CIs)."""
    rows: list[list[Cell]] = []
    for r in analysis.subgroups_.to_dict(orient="records"):
        rows.append(
            [
                _covariate(r["subgroup"]),
                _level(r["level"]),
                number(r["evaluable"], digits=0),
                _rate_with_ci(r["cr_rate"], r["cr_low"], r["cr_high"]),
                _rate_with_ci(r["objective_rate"], r["objective_low"], r["objective_high"]),
            ]
        )
    return Table(
        columns=[
            "Subgroup",
            "Level",
            "Evaluable lesions",
            "Complete response (95 % CI)",
            "Objective response (95 % CI)",
        ],
        rows=rows,
        align=["l", "l", "r", "r", "r"],
        caption="Subgroups (per lesion, Wilson 95 % CI)",
        note=f"Over {analysis.subgroups_.attrs.get('basis', 'all lesions')}.",
    )


def km_table(estimates: list[KaplanMeier], unit: str, events: str) -> Table:
    """Kaplan-Meier landmarks of ``estimates`` (same endpoint): one row per group with
    the number of ``unit`` and ``events``, the median (days) and 200-day and 1-year
    estimates with CIs."""
    rows: list[list[Cell]] = []
    for km in estimates:
        for group, row in km.summary.iterrows():
            median = row["median_days"]
            rows.append(
                [
                    "all" if km.by is None else f"{_covariate(km.by)}: {_level(group)}",
                    number(row["n"], digits=0),
                    number(row["events"], digits=0),
                    "not reached"
                    if median is None or pd.isna(median)
                    else number(median, digits=0),
                    _rate_with_ci(row["at_200d"], row["at_200d_low"], row["at_200d_high"]),
                    _rate_with_ci(row["at_365d"], row["at_365d_low"], row["at_365d_high"]),
                ]
            )
    return Table(
        columns=[
            "Group",
            unit,
            events,
            "Median (days)",
            "At 200 days (95 % CI)",
            "At 1 year (95 % CI)",
        ],
        rows=rows,
    )


def ratio_table(summary: pd.DataFrame, ratio: str, name: str) -> Table:
    """A Cox or GEE model's ratios (``hr`` or ``or`` with ``_low``/``_high``) and p."""
    rows: list[list[Cell]] = []
    for covariate, row in summary.iterrows():
        rows.append(
            [
                _covariate(covariate),
                estimate(row[ratio], ".2f"),
                f"{estimate(row[f'{ratio}_low'], '.2f')}–{estimate(row[f'{ratio}_high'], '.2f')}",
                estimate(row["p"], ".2g"),
            ]
        )
    return Table(columns=["Covariate", name, "95 % CI", "p"], rows=rows)


def calibration_table(calibration: pd.DataFrame) -> Table:
    """Calibration of the CR model by deciles of predicted probability."""
    rows: list[list[Cell]] = [
        [
            number(i, digits=0),
            number(r["n"], digits=0),
            percent(r["predicted"]),
            percent(r["observed"]),
        ]
        for i, r in enumerate(calibration.to_dict(orient="records"), start=1)
    ]
    return Table(
        columns=["Decile", "Lesions", "Predicted complete response", "Observed complete response"],
        rows=rows,
    )


def _visit(months: float) -> str:
    """A follow-up visit: ``baseline``, ``1 month``, ``4 months``."""
    if months == 0:
        return "baseline"
    return number(months, "month" if months == 1 else "months")


def _share(count: Any, share: Any, low: Any, high: Any) -> str:
    """``261 (58.7 %; 95 % CI 54.0–63.1 %)``."""
    return f"{number(count, digits=0)} ({percent(share)}; 95 % CI {percent_interval(low, high)})"


def score_table(table: pd.DataFrame, unit: str) -> Table:
    """A quality-of-life score by visit: patients, mean with CI, SD, median, and the
    paired change from baseline with its CI (``unit``: points of the scale)."""
    rows: list[list[Cell]] = []
    for r in table.to_dict(orient="records"):
        change = MISSING
        if not pd.isna(r["change_mean"]):
            change = (
                f"{number(r['change_mean'], digits=2)} ({number(r['change_ci_low'], digits=2)} "
                f"to {number(r['change_ci_high'], digits=2)})"
            )
        rows.append(
            [
                _visit(r["visit_months"]),
                number(r["n"], digits=0),
                f"{number(r['mean'], digits=2)} ({number(r['ci_low'], digits=2)} "
                f"to {number(r['ci_high'], digits=2)})",
                number(r["sd"], digits=2),
                number(r["median"], digits=1),
                number(r["n_paired"], digits=0),
                change,
            ]
        )
    return Table(
        columns=[
            "Visit (after first ECT)",
            "Patients",
            f"Mean, {unit} (95 % CI)",
            "Standard deviation",
            "Median",
            "Patients paired with baseline",
            "Mean change from baseline (95 % CI)",
        ],
        rows=rows,
    )


def toxicity_tables(analysis: OutcomeAnalysis) -> list[Table]:
    """Adverse events by CTCAE term and grade, and per session (transposed)."""
    tox = analysis.toxicity_
    grades = [c for c in tox.by_term_.columns if re.fullmatch(r"grade_\d", str(c))]
    rows: list[list[Cell]] = []
    for r in tox.by_term_.to_dict(orient="records"):
        rows.append(
            [
                str(r["term"]),
                number(r["events"], digits=0),
                number(r["patients"], digits=0),
                number(r["sessions"], digits=0),
                *(number(r[g], digits=0) for g in grades),
                number(r["grade_3_plus"], digits=0),
                number(r["serious"], digits=0),
            ]
        )
    by_term = Table(
        columns=[
            "Term",
            "Events",
            "Patients",
            "Sessions",
            *(f"Grade {g.removeprefix('grade_')}" for g in grades),
            "Grade ≥ 3",
            "Serious",
        ],
        rows=rows,
        caption="Adverse events by term and grade (number of events unless stated)",
    )
    per_session: list[list[Cell]] = []
    if len(tox.per_session_):
        s = tox.per_session_.iloc[0].to_dict()
        per_session = [
            ["Sessions", number(s["sessions"], digits=0)],
            [
                "Sessions with any adverse event",
                _share(
                    s["sessions_any_ae"], s["any_ae_share"], s["any_ae_ci_low"], s["any_ae_ci_high"]
                ),
            ],
            [
                "Sessions with an adverse event of grade ≥ 3",
                _share(
                    s["sessions_grade_3_plus"],
                    s["grade_3_plus_share"],
                    s["grade_3_plus_ci_low"],
                    s["grade_3_plus_ci_high"],
                ),
            ],
        ]
        worst = sorted(str(k) for k in s if re.fullmatch(r"worst_grade_\d", str(k)))
        for key in worst:
            grade = key.removeprefix("worst_grade_")
            label = "no adverse event" if grade == "0" else f"grade {grade}"
            per_session.append(
                [f"Sessions whose worst event was {label}", number(s[key], digits=0)]
            )
    return [
        by_term,
        Table(
            columns=["Per session", "Sessions (share, 95 % CI)"],
            rows=per_session,
            caption="Per session",
        ),
    ]


# ---------------------------------------------------------------------- the report
def report_context(dataset: Dataset, analysis: OutcomeAnalysis) -> dict[str, Any]:
    """Everything the template shows, formatted for people (strings, tables, images)."""
    criteria = analysis.response_.criteria
    low, high = analysis.landmark_window_days
    context: dict[str, Any] = {
        "title": "OpenECT outcomes report",
        "version": __version__,
        "generated": dt.date.today().isoformat(),
        "criteria": criteria.title,
        "criteria_status": STATUS_WORDS.get(criteria.status, words(criteria.status)),
        "criteria_source": criteria.source,
        "landmark": number(analysis.landmark_days, "days", digits=0),
        "window": f"{number(low, digits=0)}–{number(high, 'days', digits=0)}",
        "synthetic": bool(summarise(dataset)["synthetic"]),
        "cohort": cohort_table(dataset),
        "rates": rates_table(analysis),
        "literature_bars": _axes_image(
            plot_literature_bars(analysis),
            "Bar chart of complete and objective response per lesion, this register next "
            "to published melanoma cohorts",
        ),
        "published_response": published_response_table(),
        "published_pooled": published_pooled_table(),
        "subgroups": subgroups_table(analysis),
        "km_figures": [
            _axes_image(
                plot_km(analysis.local_control_by_immunotherapy_),
                "Kaplan-Meier local tumour control by concurrent immunotherapy",
            ),
            _axes_image(
                plot_km(analysis.survival_by_immunotherapy_),
                "Kaplan-Meier overall survival by concurrent immunotherapy",
            ),
        ],
        "local_control": km_table(
            [analysis.local_control_, analysis.local_control_by_immunotherapy_],
            "Lesions",
            "Local progressions",
        ),
        "survival": km_table(
            [analysis.survival_, analysis.survival_by_immunotherapy_], "Patients", "Deaths"
        ),
        "published_survival": published_survival_table(),
        "predictors": [],
        "notes": [words(note) for note in analysis.notes_],
    }
    context["local_control"].caption = "Local tumour control (per lesion, Kaplan-Meier)"
    context["survival"].caption = "Overall survival from the first ECT (per patient)"

    predictors: list[dict[str, Any]] = []
    if analysis.cox_ is not None:
        predictors.append(
            {
                "image": _axes_image(
                    plot_ratio_forest(
                        analysis.cox_.summary,
                        "hr",
                        "hr_low",
                        "hr_high",
                        title="Local progression (Cox model)",
                        xlabel="Hazard ratio (95 % CI)",
                        labels=COVARIATES,
                    ),
                    "Forest plot of hazard ratios of local progression",
                    "Cox model of local progression per lesion, robust standard errors "
                    "clustered on the patient.",
                ),
                "table": ratio_table(analysis.cox_.summary, "hr", "Hazard ratio"),
            }
        )
    if analysis.gee_ is not None:
        predictors.append(
            {
                "image": _axes_image(
                    plot_ratio_forest(
                        analysis.gee_.summary,
                        "or",
                        "or_low",
                        "or_high",
                        title="Complete response (logistic GEE)",
                        xlabel="Odds ratio (95 % CI)",
                        labels=COVARIATES,
                    ),
                    "Forest plot of odds ratios of complete response",
                    "Logistic GEE of complete response per lesion, exchangeable correlation "
                    "within patient.",
                ),
                "table": ratio_table(analysis.gee_.summary, "or", "Odds ratio"),
            }
        )
    context["predictors"] = predictors
    model = None if analysis.cr_model_ is None else analysis.cr_model_.to_dict()
    context["cr_model"] = None
    if analysis.cr_model_ is not None and model is not None and model["cv_auc"] is not None:
        context["cr_model"] = {
            "auc": estimate(model["cv_auc"], ".3f"),
            "brier": estimate(model["cv_brier"], ".3f"),
            "folds": number(model["folds"], digits=0),
            "calibration": calibration_table(analysis.cr_model_.calibration_),
        }

    # The literature: Spratt 2014's ECT studies pooled here, and the centres against it.
    studies = spratt2014("CR")
    meta = MetaAnalysis(method="REML", transform="logit").fit_proportions(
        studies["events"], studies["total"], labels=studies["label"].tolist()
    )
    spratt = table_info("spratt2014_ect_studies")
    citation = spratt.sources[0] if spratt.sources else spratt.title
    links = [url for url in spratt.sources if url.startswith("http")]
    context["meta"] = {
        "image": _axes_image(
            plot_forest(meta, title="CR per lesion, ECT studies of Spratt et al. 2014"),
            "Forest plot of complete response per lesion in published ECT studies",
        ),
        "estimate": percent(meta.estimate_),
        "ci": percent_interval(meta.ci_low_, meta.ci_high_),
        "pi": percent_interval(meta.pi_low_, meta.pi_high_),
        "i2": number(meta.i2_, "%", digits=0),
        "k": number(meta.k_, digits=0),
        "citation": citation,
        "links": [_source(url) for url in links],
    }
    centres = plot_centres(analysis, meta.estimate_)
    context["centres"] = (
        None
        if centres is None
        else _axes_image(
            centres, "Funnel plot of each centre's complete response rate against the literature"
        )
    )

    qol = analysis.quality_of_life_
    context["qol_figure"] = _image(
        qol.trajectory_figure(), "Pain and self-rated health over the follow-up visits"
    )
    context["pain"] = score_table(qol.pain_, "points")
    context["pain"].caption = "Pain, numeric rating scale (0–10 points)"
    context["eq_vas"] = score_table(qol.eq_vas_, "points")
    context["eq_vas"].caption = "Self-rated health, EQ visual analogue scale (0–100 points)"
    context["toxicity"] = toxicity_tables(analysis)
    context["evidence_tables"] = [
        {
            "title": info.title,
            "citation": (
                info.sources[0]
                if info.sources and not info.sources[0].startswith("http")
                else f"{number(info.rows, digits=0)} rows, each with its source"
            ),
        }
        for info in (table_info(name) for name in EVIDENCE_TABLES)
    ]
    return context


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("openect.reports", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def outcomes_report_html(dataset: Dataset, analysis: OutcomeAnalysis | None = None) -> str:
    """The outcomes report of ``dataset`` as one HTML document (str)."""
    if analysis is None:
        analysis = OutcomeAnalysis().fit(dataset)
    template = _environment().get_template(TEMPLATE)
    return template.render(report_context(dataset, analysis))


def write_outcomes_report(
    dataset: Dataset, path: str | Path, analysis: OutcomeAnalysis | None = None
) -> Path:
    """Write the outcomes report of ``dataset`` to ``path`` (HTML); return the path."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    text = outcomes_report_html(dataset, analysis)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(out)
    return out
