"""The response of each lesion and assessment of a dataset, as the registry pages show it.

:func:`evaluate` runs :class:`~openect.response.evaluation.ResponseEvaluation` on a
dataset and returns, per assessment, its course, derived and final category and the
changes against the reference and the nadir (:class:`AssessmentResponse`) and, per
lesion, its current (latest assessment), best and landmark response and local
progression (:class:`LesionResponse`); untreated lesions are listed as such.

Readers without free-text access (analysts) see overrides with the reason blanked; the
evaluation honours an override only with its reason, so :func:`for_evaluation` puts
:data:`HIDDEN_REASON` in its place and the override keeps counting.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd

from openect.data.dataset import Dataset
from openect.response.evaluation import PATIENT_RULE, PatientRule, ResponseEvaluation

#: The response criteria offered side by side (names of ``criteria.toml``).
CRITERIA: tuple[str, ...] = ("recist", "who")
#: Words of each response category.
CATEGORY_LABELS: dict[str, str] = {
    "CR": "complete response",
    "PR": "partial response",
    "SD": "stable disease",
    "NC": "no change (WHO)",
    "NN": "non-CR/non-PD (non-measurable lesion)",
    "PD": "progressive disease",
    "NE": "not evaluable or not yet assessed",
}
#: Reason put in place of an override reason hidden from the reader, so that the
#: override still counts (the evaluation honours an override only with a reason).
HIDDEN_REASON = "(hidden)"


def cell(value: Any) -> Any:
    """A pandas cell as a Python value: NaN, NaT and None as None."""
    if value is None:
        return None
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        return value
    return value


def _rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of ``frame`` as dicts keyed by column name."""
    return [{str(k): v for k, v in row.items()} for row in frame.to_dict("records")]


@dataclass(frozen=True)
class AssessmentResponse:
    """The derived response of one assessment of a treated lesion.

    ``derived`` is None (and ``category`` too, unless overridden) for an assessment on
    or before the first treatment (course 0). Changes are in % (None when there is no
    reference or nadir to compare with).
    """

    course: int
    derived: str | None
    category: str | None
    change_from_reference_pct: float | None
    change_from_nadir_pct: float | None

    @property
    def overridden(self) -> bool:
        """True when an override replaced the derived category."""
        return self.category is not None and self.category != self.derived

    @property
    def css(self) -> str:
        """Badge class: the category, or NE when there is none (pre-treatment)."""
        return self.category or "NE"


@dataclass(frozen=True)
class LesionResponse:
    """Response of one lesion: current (latest assessment), best, landmark, progression."""

    treated: bool
    first_treatment_date: dt.date | None = None
    current: str | None = None
    current_date: dt.date | None = None
    best: str = "NE"
    landmark: str = "NE"
    local_progression: bool = False
    local_progression_date: dt.date | None = None

    @property
    def current_css(self) -> str:
        """Colour class of the current response (NE when not assessed yet)."""
        return self.current or "NE"

    @property
    def current_text(self) -> str:
        """The current category, or why there is none."""
        if self.current is not None:
            return self.current
        return "not yet assessed" if self.treated else "not treated yet"


def for_evaluation(dataset: Dataset) -> Dataset:
    """``dataset`` with overrides whose reason was hidden kept effective.

    Returns ``dataset`` itself when no reason is missing, else a shallow copy with
    :data:`HIDDEN_REASON` as the reason of those overrides (the input is not changed).
    """
    if all(a.override_response is None or a.override_reason for a in dataset.assessments):
        return dataset
    return dataclasses.replace(
        dataset,
        assessments=[
            a.model_copy(update={"override_reason": HIDDEN_REASON})
            if a.override_response is not None and not a.override_reason
            else a
            for a in dataset.assessments
        ],
    )


def evaluate(
    dataset: Dataset, criteria: str = "recist"
) -> tuple[dict[str, LesionResponse], dict[str, AssessmentResponse]]:
    """Response of every lesion and assessment of ``dataset`` under ``criteria``.

    Returns ``(by lesion id, by assessment id)``. Every lesion of the dataset is a key
    of the first (``treated=False`` when no session treated it); assessments of
    untreated lesions are absent from the second.
    """
    evaluation = ResponseEvaluation(criteria).fit(for_evaluation(dataset))
    by_assessment: dict[str, AssessmentResponse] = {}
    latest: dict[str, tuple[dt.date, str | None]] = {}
    for row in _rows(evaluation.assessments_):
        category = cell(row["category"])
        by_assessment[str(row["assessment_id"])] = AssessmentResponse(
            course=int(row["course"]),
            derived=cell(row["derived"]),
            category=category,
            change_from_reference_pct=cell(row["change_from_reference_pct"]),
            change_from_nadir_pct=cell(row["change_from_nadir_pct"]),
        )
        date: dt.date = row["assessment_date"]
        known = latest.get(str(row["lesion_id"]))
        if known is None or date >= known[0]:
            latest[str(row["lesion_id"])] = (date, category)
    by_lesion: dict[str, LesionResponse] = {}
    for row in _rows(evaluation.lesions_):
        lesion_id = str(row["lesion_id"])
        current_date, current = latest.get(lesion_id, (None, None))
        by_lesion[lesion_id] = LesionResponse(
            treated=True,
            first_treatment_date=cell(row["first_treatment_date"]),
            current=current,
            current_date=current_date,
            best=str(row["best_response"]),
            landmark=str(row["landmark_response"]),
            local_progression=bool(row["local_progression"]),
            local_progression_date=cell(row["local_progression_date"]),
        )
    for lesion in dataset.lesions:
        by_lesion.setdefault(lesion.lesion_id, LesionResponse(treated=False))
    return by_lesion, by_assessment


def patient_responses(
    dataset: Dataset,
    criteria: str = "recist",
    basis: Literal["landmark", "best"] = "best",
    rule: PatientRule = PATIENT_RULE,
) -> dict[str, str]:
    """Per-patient response (category text) of the patients of ``dataset`` with a treated
    lesion, from the lesions' ``basis`` responses, by the per-patient ``rule``
    (``lesions``: CR only if every evaluable lesion is CR, PD if any is PD, PR if one
    responded, else SD; ``sum``: RECIST sum of diameters; see
    :data:`~openect.response.evaluation.PATIENT_RULES`)."""
    evaluation = ResponseEvaluation(criteria, patient_basis=basis, patient_rule=rule)
    evaluation.fit(for_evaluation(dataset))
    return {
        str(row.patient_id): str(row.response)
        for row in evaluation.patients_.itertuples(index=False)
    }


def saved_summary(dataset: Dataset, assessment_id: str) -> str:
    """What the criteria derive for the assessment ``assessment_id`` of ``dataset``.

    E.g. ``RECIST: PD; WHO: PD``, ``RECIST: PD (override; derived CR); ...``, or
    ``... no category (before the first treatment)``.
    """
    parts = []
    for name in CRITERIA:
        _, responses = evaluate(dataset, name)
        response = responses.get(assessment_id)
        title = "RECIST" if name == "recist" else "WHO"
        if response is None:
            parts.append(f"{title}: no category (lesion not treated yet)")
        elif response.category is None:
            parts.append(f"{title}: no category (before the first treatment)")
        elif response.overridden:
            parts.append(f"{title}: {response.category} (override; derived {response.derived})")
        else:
            parts.append(f"{title}: {response.category}")
    return "; ".join(parts)
