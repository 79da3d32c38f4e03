"""The centre dashboard: counts, response rates with CIs, local control, the literature.

Scope: what the signed-in actor may read (:func:`openect.registry.transfer.export_dataset`):
their own centre for clinicians and data managers, every centre for analysts and
administrators (with a row per centre). The analyses are those of ``openect analyse``
(:mod:`openect.outcomes`), limited to what a dashboard needs: the response evaluation,
CR and objective response per lesion and per patient with exact and cluster-robust
95 % CIs, and Kaplan-Meier local tumour control. Small data never break the page: a part
without enough data says so.
"""

from __future__ import annotations

import base64
import io
import logging
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from matplotlib.figure import Figure

from openect.data.dataset import Dataset
from openect.data.enums import PrimaryTumour
from openect.evidence.studies import melanoma_response_studies
from openect.formatting import number
from openect.outcomes.figures import plot_km
from openect.outcomes.rates import cluster_robust_ci, proportion_ci
from openect.outcomes.survival import KaplanMeier
from openect.outcomes.tables import lesion_table, patient_table
from openect.registry.access import Actor
from openect.registry.access_log import AccessAction, Read
from openect.registry.transfer import export_dataset
from openect.response.evaluation import ResponseEvaluation
from openect.web.access_log import log_read
from openect.web.pages.common import allow, with_actor

log = logging.getLogger(__name__)

#: Fewest lesions with follow-up for a Kaplan-Meier curve.
MIN_CURVE_LESIONS = 5
#: Below this many evaluable units, rates are shown with a "few data" note.
FEW = 10
#: Confidence level of every interval.
LEVEL = 0.95
#: Size (in) and resolution (dpi) of the Kaplan-Meier figure.
KM_SIZE_IN = (7.0, 5.4)
KM_DPI = 110


@dataclass
class Rate:
    """One proportion (0-1) with its exact and cluster-robust intervals; the template
    formats them (``percent``, ``interval`` filters)."""

    label: str
    events: int
    total: int
    rate: float | None = None
    low: float | None = None
    high: float | None = None
    cluster_low: float | None = None
    cluster_high: float | None = None
    note: str = ""

    @property
    def width(self) -> str:
        """Bar width (CSS %)."""
        return f"{100 * (self.rate or 0):.1f}"

    @property
    def ci_left(self) -> str:
        """CI band start (CSS %)."""
        return f"{100 * (self.low or 0):.1f}"

    @property
    def ci_width(self) -> str:
        """CI band width (CSS %)."""
        return f"{100 * max(0.0, (self.high or 0) - (self.low or 0)):.1f}"


def proportion(label: str, events: int, total: int) -> Rate:
    """``events / total`` with its exact (Clopper-Pearson) CI; "not enough data" if empty."""
    out = Rate(label, events, total)
    if total == 0:
        out.note = "not enough data"
        return out
    out.rate = events / total
    out.low, out.high = proportion_ci(events, total, "exact", LEVEL)
    return out


def rate(label: str, y: np.ndarray[Any, Any], clusters: np.ndarray[Any, Any] | None = None) -> Rate:
    """The proportion of 1s in ``y`` with its exact CI and, given ``clusters``, the
    cluster-robust CI (only with at least two clusters; otherwise not estimable)."""
    out = proportion(label, int(np.sum(y)), len(y))
    if out.total == 0:
        return out
    if clusters is not None:
        if len(set(clusters.tolist())) >= 2:
            try:
                _, out.cluster_low, out.cluster_high = cluster_robust_ci(y, clusters, LEVEL)
            except (ValueError, ZeroDivisionError, np.linalg.LinAlgError) as error:
                out.note = f"cluster-robust CI not estimable ({error})"
        else:
            out.note = "cluster-robust CI needs lesions of two or more patients"
    if out.total < FEW and not out.note:
        out.note = "few data: wide interval"
    return out


def response_rates(lesions: pd.DataFrame, patients: pd.DataFrame) -> list[Rate]:
    """CR and objective response per lesion (landmark) and per patient.

    Per-lesion rates are over the measurable lesions (RECIST 1.1: longest diameter
    >= 10 mm at baseline): a smaller lesion has no partial response, only CR,
    non-CR/non-PD or PD, so it would count as a non-responder in OR.
    """
    evaluable = lesions.dropna(subset=["cr"]) if len(lesions) else lesions
    if len(evaluable) and "measurable" in evaluable:
        evaluable = evaluable[evaluable["measurable"].astype(bool)]
    clusters = evaluable["patient_id"].to_numpy() if len(evaluable) else np.array([])
    known = patients[patients["response"] != "NE"] if len(patients) else patients
    responses = known["response"] if len(known) else pd.Series([], dtype=object)
    return [
        rate("CR per measurable lesion", evaluable["cr"].to_numpy(dtype=float), clusters),
        rate(
            "OR (CR + PR) per measurable lesion",
            evaluable["objective"].to_numpy(dtype=float),
            clusters,
        ),
        rate("CR per patient", (responses == "CR").to_numpy(dtype=float)),
        rate("OR (CR + PR) per patient", responses.isin(["CR", "PR"]).to_numpy(dtype=float)),
    ]


def png_data_uri(figure: Figure, dpi: int = KM_DPI) -> str:
    """A matplotlib figure as an inline PNG (``data:image/png;base64,...``) at ``dpi``.

    The figure is a :class:`~matplotlib.figure.Figure` of its own (never pyplot): nothing
    to close, safe in the server's threads.
    """
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def km_image(km: KaplanMeier) -> str:
    """The Kaplan-Meier curves of ``km`` (with the number at risk) as an inline PNG."""
    figure = Figure(figsize=KM_SIZE_IN, layout="constrained")
    plot_km(km, figure.add_subplot())
    return png_data_uri(figure)


@dataclass(frozen=True)
class Landmark:
    """Local control at a landmark (proportion 0-1 with its 95 % CI), or why not."""

    name: str
    value: float | None = None
    low: float | None = None
    high: float | None = None
    note: str = ""


@dataclass
class LocalControl:
    """Kaplan-Meier local tumour control, or why it is not shown."""

    lesions: int = 0
    events: int = 0
    image: str | None = None
    landmarks: list[Landmark] = field(default_factory=list)
    median: str = ""
    note: str = ""


def local_control(lesions: pd.DataFrame) -> LocalControl:
    """The Kaplan-Meier figure and landmarks of local control (per lesion)."""
    followed = lesions.dropna(subset=["control_days"]) if len(lesions) else lesions
    out = LocalControl(lesions=len(followed))
    if len(followed) < MIN_CURVE_LESIONS:
        out.note = (
            f"not enough data: {len(followed)} treated lesion(s) with follow-up; "
            f"the curve needs at least {MIN_CURVE_LESIONS}"
        )
        return out
    km = KaplanMeier("local-control", level=LEVEL).fit(followed)
    summary = km.summary.iloc[0]
    out.events = int(summary["events"])
    median = summary["median_days"]  # days; None or NaN when not reached
    out.median = number(_fraction(median), "days", digits=0, missing="not reached")
    for day, name in ((200, "200 days"), (365, "1 year")):
        value = summary.get(f"at_{day}d")
        if value is None or pd.isna(value):
            out.landmarks.append(Landmark(name, note="follow-up too short"))
        else:
            out.landmarks.append(
                Landmark(
                    name,
                    float(value),
                    _fraction(summary.get(f"at_{day}d_low")),
                    _fraction(summary.get(f"at_{day}d_high")),
                )
            )
    out.image = km_image(km)
    return out


def _fraction(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


@dataclass
class Comparison:
    """This scope's CR rate (melanoma only) next to the published melanoma cohorts."""

    level: str
    ours: Rate
    studies: list[tuple[Rate, str, str]] = field(default_factory=list)


def literature(lesions: pd.DataFrame, patients: pd.DataFrame, dataset: Dataset) -> list[Comparison]:
    """CR per lesion and per patient of the melanoma patients in scope, and the studies."""
    melanoma = {
        p.patient_id for p in dataset.patients if p.primary_tumour is PrimaryTumour.MELANOMA
    }
    out = []
    if len(lesions):
        ours_lesions = lesions[lesions["patient_id"].isin(melanoma)].dropna(subset=["cr"])
        y = ours_lesions["cr"].to_numpy(dtype=float)
        clusters = ours_lesions["patient_id"].to_numpy()
    else:
        y, clusters = np.array([]), np.array([])
    if len(patients):
        known = patients[patients["patient_id"].isin(melanoma) & (patients["response"] != "NE")]
        y_patients = (known["response"] == "CR").to_numpy(dtype=float)
    else:
        y_patients = np.array([])
    levels: tuple[tuple[Literal["lesion", "patient"], Rate], ...] = (
        ("lesion", rate("This register (melanoma)", y, clusters)),
        ("patient", rate("This register (melanoma)", y_patients)),
    )
    for level, ours in levels:
        comparison = Comparison(level=level, ours=ours)
        for row in melanoma_response_studies("CR", level).to_dict(orient="records"):
            study = proportion(str(row["label"]), int(row["events"]), int(row["total"]))
            flags = row["flags"] if isinstance(row["flags"], str) else ""
            if bool(row["derived"]):
                flags = (flags + "; " if flags else "") + "count derived from a percentage"
            url = row["source_url"] if isinstance(row["source_url"], str) else ""
            comparison.studies.append((study, flags, url))
        out.append(comparison)
    return out


def per_centre(lesions: pd.DataFrame, dataset: Dataset) -> list[dict[str, Any]]:
    """Patients, treated lesions and CR per lesion for each centre (pooled scopes)."""
    rows = []
    for centre in dataset.centres:
        patients = [p for p in dataset.patients if p.centre_id == centre.centre_id]
        mine = lesions[lesions["centre_id"] == centre.centre_id] if len(lesions) else lesions
        evaluable = mine.dropna(subset=["cr"]) if len(mine) else mine
        cr = rate(
            "CR per lesion",
            evaluable["cr"].to_numpy(dtype=float) if len(evaluable) else np.array([]),
        )
        rows.append(
            {
                "centre": centre,
                "patients": len(patients),
                "treated": len(mine),
                "cr": cr,
            }
        )
    return rows


def dashboard_context(actor: Actor) -> dict[str, Any]:
    """Everything the dashboard shows for ``actor``'s scope."""
    dataset = export_dataset(actor)
    counts = dataset.counts()
    context: dict[str, Any] = {
        "scope": "all centres" if actor.pooled else f"centre {actor.centre_id}",
        "pooled": actor.pooled,
        "counts": [(table.replace("_", " "), n) for table, n in counts.items()],
        "synthetic": bool(dataset.info.synthetic),
        "problems": [],
        "few": FEW,
        "min_curve": MIN_CURVE_LESIONS,
    }
    try:
        evaluation = ResponseEvaluation("recist").fit(dataset)
        lesions = lesion_table(dataset, evaluation)
        patients = patient_table(dataset, evaluation)
    except Exception as error:  # a broken analysis must not take the page down
        log.exception("dashboard: response evaluation failed")
        context["problems"].append(f"response evaluation failed: {error}")
        return context
    context["criteria"] = evaluation.criteria.title
    context["treated_lesions"] = len(lesions)
    context["evaluable_lesions"] = int(lesions["cr"].notna().sum()) if len(lesions) else 0
    context["evaluated_patients"] = len(patients)
    for name, compute in (
        ("rates", lambda: response_rates(lesions, patients)),
        ("local_control", lambda: local_control(lesions)),
        ("literature", lambda: literature(lesions, patients, dataset)),
        ("centres", lambda: per_centre(lesions, dataset) if actor.pooled else []),
    ):
        try:
            context[name] = compute()
        except Exception as error:  # each part stands on its own
            log.exception("dashboard: %s failed", name)
            context["problems"].append(f"{name.replace('_', ' ')} could not be computed: {error}")
    return context


@allow("GET")
@with_actor
def dashboard(request: HttpRequest, *, actor: Actor) -> HttpResponse:
    """The dashboard of the actor's centre (or of every centre for pooled roles): the
    centre's outcomes report, logged in the access log."""
    context = dashboard_context(actor)
    scope = "all-centres" if actor.pooled else str(actor.centre_id)
    log_read(request, actor, Read(AccessAction.REPORT, "outcomes", scope, "", actor.centre_id))
    return render(request, "web/dashboard.html", context)
