"""The response of a candidate measurement, before it is saved (the live follow-up preview).

:func:`preview` adds a candidate :class:`~openect.data.models.Assessment` to a patient's
records (or, when an assessment of the same id exists, puts it in its place: an edit)
and derives its RECIST and WHO category with the same evaluation as the saved records.
The answer (:class:`ResponsePreview`) says whether the candidate was categorised, falls
on or before the lesion's first treatment (a baseline, no category) or belongs to a
lesion not treated yet.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from openect.data.dataset import Dataset
from openect.data.models import Assessment
from openect.errors import InputError
from openect.response.criteria import Category, load_criteria
from openect.response.evaluation import ResponseEvaluation
from openect.response.summary import CRITERIA, cell, for_evaluation

#: Identifier of a candidate that replaces no saved assessment.
PREVIEW_ID = "preview"

PreviewStatus = Literal["categorised", "pre_treatment", "untreated"]

#: What each status means, as the follow-up form says it.
MESSAGES: dict[str, str] = {
    "categorised": "Derived from this measurement; not saved yet.",
    "pre_treatment": (
        "On or before the first ECT session of this lesion: a baseline measurement, "
        "no response category."
    ),
    "untreated": (
        "This lesion has not been treated yet: a response is derived from the first "
        "ECT session that treated it."
    ),
}


class CriterionPreview(BaseModel):
    """The candidate under one criterion: its category and what it was compared with."""

    model_config = ConfigDict(frozen=True)

    title: str = Field(description="Name of the criterion")
    unit: str = Field(description="Unit of measure, reference and nadir: mm or mm2")
    category: Category | None = Field(
        None, description="Derived category; None before the first treatment or untreated"
    )
    course: int | None = Field(
        None, description="Treatment course (0: on or before the first treatment)"
    )
    measure: float | None = Field(None, description="The compared size of the candidate")
    reference: float | None = Field(None, description="Baseline of the course")
    nadir: float | None = Field(None, description="Smallest size of the course so far")
    change_from_reference_pct: float | None = Field(
        None, description="Change against the reference (%, one decimal)"
    )
    change_from_nadir_pct: float | None = Field(
        None, description="Change against the nadir (%, one decimal)"
    )


class ResponsePreview(BaseModel):
    """The response a candidate measurement would get; nothing is saved."""

    model_config = ConfigDict(frozen=True)

    lesion_id: str
    assessment_date: dt.date
    status: PreviewStatus = Field(
        description="categorised; pre_treatment (on or before the first treatment: a "
        "baseline); untreated (no session treated the lesion yet)"
    )
    category: Category | None = Field(description="The RECIST category (as criteria.recist)")
    message: str = Field(description="The status in words")
    criteria: dict[str, CriterionPreview] = Field(description="recist and who")


def _round(value: Any) -> float | None:
    """A percentage with one decimal; None for a missing cell."""
    value = cell(value)
    return None if value is None else round(float(value), 1)


def preview(dataset: Dataset, candidate: Assessment) -> ResponsePreview:
    """The response of ``candidate`` among the records of ``dataset`` (one patient's, or
    more), under every criterion of :data:`CRITERIA`.

    The candidate replaces the assessment of the same id (an edit) or is added (a new
    one; :data:`PREVIEW_ID` is a safe id for it). ``dataset`` is not changed. InputError
    when the candidate's lesion is not in ``dataset``.
    """
    if not any(lesion.lesion_id == candidate.lesion_id for lesion in dataset.lesions):
        raise InputError(f"lesion_id={candidate.lesion_id!r}: not a lesion of these records")
    trial = dataclasses.replace(
        dataset,
        assessments=[a for a in dataset.assessments if a.assessment_id != candidate.assessment_id]
        + [candidate],
    )
    evaluated = for_evaluation(trial)
    status: PreviewStatus = "categorised"
    results: dict[str, CriterionPreview] = {}
    for name in CRITERIA:
        criteria = load_criteria(name)
        frame = ResponseEvaluation(criteria).fit(evaluated).assessments_
        found = frame[frame["assessment_id"] == candidate.assessment_id]
        if found.empty:
            status = "untreated"
            results[name] = CriterionPreview(title=criteria.title, unit=criteria.unit)
            continue
        row = found.iloc[-1]
        derived = cell(row["derived"])
        if derived is None:
            status = "pre_treatment"
        results[name] = CriterionPreview(
            title=criteria.title,
            unit=criteria.unit,
            category=None if derived is None else Category(derived),
            course=int(row["course"]),
            measure=cell(row["measure"]),
            reference=cell(row["reference"]),
            nadir=cell(row["nadir"]),
            change_from_reference_pct=_round(row["change_from_reference_pct"]),
            change_from_nadir_pct=_round(row["change_from_nadir_pct"]),
        )
    return ResponsePreview(
        lesion_id=candidate.lesion_id,
        assessment_date=candidate.assessment_date,
        status=status,
        category=results["recist"].category,
        message=MESSAGES[status],
        criteria=results,
    )
