"""Outcomes report: one self-contained HTML file (figures embedded as PNG data URIs).

Sections: cohort, response per lesion and per patient next to the published melanoma
studies, subgroups, Kaplan-Meier local tumour control and overall survival (ECT alone vs
with concurrent immunotherapy), predictors (Cox and GEE forest plots, the model-based CR
probability with its cross-validated checks), the literature meta-analysis with its
forest plot, a funnel plot of the centres against the pooled literature, patient-reported
outcomes and toxicity, and the methods with their provenance.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from openect import __version__
from openect.data.dataset import Dataset
from openect.data.summary import summarise
from openect.evidence.meta import MetaAnalysis
from openect.evidence.plots import centre_funnel_figure, forest_figure
from openect.evidence.studies import melanoma_response_studies, spratt2014
from openect.outcomes.analysis import OutcomeAnalysis
from openect.outcomes.figures import (
    km_figure,
    ratio_forest_figure,
    response_bars_figure,
)

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem;
       color: #1d2733; line-height: 1.45; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.25rem; margin-top: 2.2rem;
     border-bottom: 1px solid #d0d7de; padding-bottom: .2rem; }
table { border-collapse: collapse; margin: .6rem 0 1rem; font-size: .85rem; }
th, td { border: 1px solid #d0d7de; padding: .25rem .5rem; text-align: right; }
th { background: #f3f5f7; } td:first-child, th:first-child { text-align: left; }
img { max-width: 100%; height: auto; display: block; margin: .5rem 0; }
.note { color: #57606a; font-size: .85rem; } .warn { background: #fff8c5; padding: .5rem; }
"""


def _png(figure: Figure, alt: str) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    plt.close(figure)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _table(frame: pd.DataFrame, digits: int = 3) -> str:
    return frame.to_html(index=False, border=0, float_format=lambda v: f"{v:.{digits}g}", na_rep="")


def _pct(value: Any) -> str:
    return "" if value is None or pd.isna(value) else f"{100 * float(value):.1f} %"


def _rates_frame(analysis: OutcomeAnalysis) -> pd.DataFrame:
    rows = []
    for r in analysis.rates_.to_dict():
        rows.append(
            {
                "unit": r["unit"],
                "outcome": "CR" if r["outcome"] == "cr" else "OR (CR+PR)",
                "events / evaluable": f"{r['events']} / {r['evaluable']}",
                "rate": _pct(r.get("rate")),
                "exact 95 % CI": f"{_pct(r.get('exact_low'))} - {_pct(r.get('exact_high'))}",
                "Wilson 95 % CI": f"{_pct(r.get('wilson_low'))} - {_pct(r.get('wilson_high'))}",
                "cluster-robust 95 % CI": (
                    f"{_pct(r.get('cluster_low'))} - {_pct(r.get('cluster_high'))}"
                    if r.get("cluster_low") is not None
                    else ""
                ),
            }
        )
    return pd.DataFrame(rows)


def _literature_bars(analysis: OutcomeAnalysis) -> list[tuple[str, float, float]]:
    """This dataset and the published melanoma lesion-level cohorts with both CR and OR."""
    rate = {(r["unit"], r["outcome"]): r.get("rate") for r in analysis.rates_.to_dict()}
    groups = [
        (
            "this register",
            float(rate[("lesion", "cr")] or 0.0),
            float(rate[("lesion", "objective")] or 0.0),
        )
    ]
    cr = melanoma_response_studies("CR", "lesion")
    orr = melanoma_response_studies("OR", "lesion")
    both = cr.merge(orr, on="label", suffixes=("_cr", "_or"))
    for _, row in both.iterrows():
        groups.append(
            (
                str(row["label"]),
                row["events_cr"] / row["total_cr"],
                row["events_or"] / row["total_or"],
            )
        )
    return groups


def outcomes_report_html(dataset: Dataset, analysis: OutcomeAnalysis | None = None) -> str:
    """The outcomes report of ``dataset`` as one HTML document (str)."""
    if analysis is None:
        analysis = OutcomeAnalysis().fit(dataset)
    summary = summarise(dataset)
    parts: list[str] = []
    add = parts.append
    title = "OpenECT outcomes report"
    add(f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{title}</title>")
    add("<meta name='viewport' content='width=device-width, initial-scale=1'>")
    add(f"<style>{STYLE}</style>")
    add(f"</head><body><h1>{title}</h1>")
    add(
        f"<p class='note'>openect {__version__}; generated {dt.date.today().isoformat()}; "
        f"response criteria: {html.escape(analysis.response_.criteria.title)} "
        f"(status {analysis.response_.criteria.status}); landmark "
        f"{analysis.landmark_days} days (window {analysis.landmark_window_days[0]}-"
        f"{analysis.landmark_window_days[1]} days); 95 % confidence intervals.</p>"
    )
    if summary["synthetic"]:
        add(
            "<p class='warn'>This dataset is SYNTHETIC (generated for demonstration); "
            "no real patient is described.</p>"
        )

    # ---------------------------------------------------------------- cohort
    p, lz, s = summary["patients"], summary["lesions"], summary["sessions"]
    cohort = pd.DataFrame(
        [
            ("centres", len(p["by_centre"])),
            ("patients", p["n"]),
            ("female", f"{p['female_pct']} %"),
            ("median age at first ECT (years)", p["median_age_years"]),
            ("concurrent immunotherapy", f"{p['concurrent_immunotherapy_pct']} %"),
            ("median follow-up (months)", p["median_follow_up_months"]),
            ("deaths", p["deaths"]),
            ("lesions", lz["n"]),
            ("median longest diameter (mm)", lz["median_longest_diameter_mm"]),
            ("lesions >= 30 mm", f"{lz['large_pct']} %"),
            ("sessions", s["n"]),
            ("intravenous bleomycin", f"{s['intravenous_pct']} % of sessions"),
        ],
        columns=["", "value"],
    )
    add("<h2>Cohort</h2>" + _table(cohort))

    # ---------------------------------------------------------------- response
    add("<h2>Response at the landmark</h2>")
    add(_table(_rates_frame(analysis)))
    add(
        "<p class='note'>Per lesion: lesions with an assessment in the landmark window. "
        "Per patient: CR when every evaluable lesion is CR, PD when any is PD, PR when at "
        "least one responded. The cluster-robust interval allows for several lesions per "
        "patient.</p>"
    )
    add(
        _png(
            response_bars_figure(
                _literature_bars(analysis),
                "Per-lesion response: this register and published melanoma cohorts",
            ),
            "Bar chart of CR and OR per lesion, this register next to published cohorts",
        )
    )
    sub = analysis.subgroups_[
        ["subgroup", "level", "evaluable", "cr_rate", "cr_low", "cr_high", "objective_rate"]
    ].copy()
    for column in ("cr_rate", "cr_low", "cr_high", "objective_rate"):
        sub[column] = sub[column].map(_pct)
    add("<h3>Subgroups (per lesion, Wilson 95 % CI)</h3>" + _table(sub))

    # ---------------------------------------------------------------- time to event
    add("<h2>Local tumour control and overall survival</h2>")
    add(
        _png(
            km_figure(analysis.local_control_by_immunotherapy_),
            "Kaplan-Meier local tumour control by concurrent immunotherapy",
        )
    )
    add(
        _png(
            km_figure(analysis.survival_by_immunotherapy_),
            "Kaplan-Meier overall survival by concurrent immunotherapy",
        )
    )
    km_rows = []
    for name, km in (
        ("local control", analysis.local_control_),
        ("local control", analysis.local_control_by_immunotherapy_),
        ("overall survival", analysis.survival_),
        ("overall survival", analysis.survival_by_immunotherapy_),
    ):
        for group, row in km.summary.iterrows():
            label = "all" if km.by is None else f"immunotherapy = {group}"
            km_rows.append(
                {
                    "endpoint": name,
                    "group": label,
                    "n": row["n"],
                    "events": row["events"],
                    "200 days": f"{_pct(row['at_200d'])} ({_pct(row['at_200d_low'])} - "
                    f"{_pct(row['at_200d_high'])})",
                    "1 year": f"{_pct(row['at_365d'])} ({_pct(row['at_365d_low'])} - "
                    f"{_pct(row['at_365d_high'])})",
                }
            )
    add(_table(pd.DataFrame(km_rows)))
    add(
        "<p class='note'>Published: local tumour control 86 % at 200 days (InspECT); "
        "1-year local progression-free survival 86 % with pembrolizumab + ECT vs 51 % "
        "(Campana 2021); 1-year overall survival 67 % (Kunte 2017).</p>"
    )

    # ---------------------------------------------------------------- predictors
    add("<h2>Who responds best</h2>")
    if analysis.cox_ is not None:
        add(
            _png(
                ratio_forest_figure(
                    analysis.cox_.summary,
                    "hr",
                    "hr_low",
                    "hr_high",
                    "Local progression: Cox model (robust SE by patient)",
                    "Hazard ratio (95 % CI)",
                ),
                "Forest plot of hazard ratios of local progression",
            )
        )
    if analysis.gee_ is not None:
        add(
            _png(
                ratio_forest_figure(
                    analysis.gee_.summary,
                    "or",
                    "or_low",
                    "or_high",
                    "Complete response: logistic GEE (exchangeable within patient)",
                    "Odds ratio (95 % CI)",
                ),
                "Forest plot of odds ratios of complete response",
            )
        )
    model = None if analysis.cr_model_ is None else analysis.cr_model_.to_dict()
    if analysis.cr_model_ is not None and model is not None and model["cv_auc"] is not None:
        add(
            f"<p>Predicted CR probability (<strong>model based</strong>, not a clinical rule): "
            f"cross-validated AUC {model['cv_auc']:.3f}, Brier score {model['cv_brier']:.3f} "
            f"({model['folds']} folds, whole patients per fold). Calibration by deciles of "
            f"predicted probability:</p>"
        )
        add(_table(analysis.cr_model_.calibration_))
    for note in analysis.notes_:
        add(f"<p class='note'>{html.escape(note)}</p>")

    # ---------------------------------------------------------------- literature
    add("<h2>The published evidence</h2>")
    studies = spratt2014("CR")
    meta = MetaAnalysis(method="REML", transform="logit").fit_proportions(
        studies["events"], studies["total"], labels=studies["label"].tolist()
    )
    add(
        _png(
            forest_figure(meta, title="CR per lesion, ECT studies of Spratt et al. 2014"),
            "Forest plot of CR per lesion in published ECT studies",
        )
    )
    add(
        f"<p>Pooled CR per lesion (random effects, REML, logit): {_pct(meta.estimate_)} "
        f"(95 % CI {_pct(meta.ci_low_)} - {_pct(meta.ci_high_)}; prediction interval "
        f"{_pct(meta.pi_low_)} - {_pct(meta.pi_high_)}; I2 {meta.i2_:.0f} %; "
        f"k = {meta.k_}).</p>"
    )
    evaluable = analysis.lesions_.dropna(subset=["cr"])
    centres = [
        (str(centre), float(group["cr"].sum()), float(len(group)))
        for centre, group in evaluable.groupby("centre_id", sort=True)
    ]
    if centres:
        add(
            _png(
                centre_funnel_figure(
                    meta.estimate_,
                    centres,
                    title="Centres: CR per lesion against the pooled literature",
                ),
                "Funnel plot of each centre's CR rate against the pooled literature",
            )
        )

    # ---------------------------------------------------------------- PROs and toxicity
    add("<h2>Symptoms and quality of life</h2>")
    qol = analysis.quality_of_life_
    add(_png(qol.trajectory_figure(), "Pain NRS and EQ-VAS over the follow-up visits"))
    add("<h3>Pain (NRS 0-10)</h3>" + _table(qol.pain_))
    add("<h3>EQ-VAS (0-100)</h3>" + _table(qol.eq_vas_))
    add("<h2>Toxicity (CTCAE v5)</h2>")
    tox = analysis.toxicity_
    add(_table(tox.by_term_))
    add(_table(tox.per_session_))

    # ---------------------------------------------------------------- methods
    add("<h2>Methods and provenance</h2>")
    add(
        "<ul>"
        f"<li>Response: {html.escape(analysis.response_.criteria.source)}.</li>"
        "<li>Exact (Clopper-Pearson) and Wilson intervals; cluster-robust (sandwich, by "
        "patient) interval on the logit scale.</li>"
        "<li>Kaplan-Meier with log-log (exponential Greenwood) intervals; local control "
        "per lesion from its first treatment to the first local progression, censored "
        "at the last assessment.</li>"
        "<li>Cox model (Efron ties) with robust variance clustered on the patient; "
        "logistic GEE with exchangeable correlation.</li>"
        "<li>Meta-analysis of the bundled published results (abstract-derived; see "
        "<code>openect evidence list</code>).</li>"
        "<li>Statistics checked against R (survival, sandwich, geepack, metafor) on "
        "committed reference values.</li>"
        "</ul></body></html>"
    )
    return "\n".join(parts)


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
