"""Per-lesion response of treated skin metastases (RECIST 1.1 adapted to skin, WHO).

:class:`ResponseEvaluation` derives, from a dataset's measurements, the category of every
assessment, the best overall and landmark (~60-day) response of every treated lesion,
the per-patient response and each lesion's local progression date. The criteria are
data (``criteria.toml``) with sources; see :mod:`openect.response.criteria`.
:mod:`openect.response.summary` condenses an evaluation per lesion and assessment (what
the registry pages show); :mod:`openect.response.preview` derives the category of a
measurement before it is saved.
"""

from openect.response.criteria import (
    Category,
    ResponseCriteria,
    categorise,
    criteria_names,
    load_criteria,
)
from openect.response.evaluation import (
    LANDMARK_DAYS,
    LANDMARK_WINDOW_DAYS,
    ResponseEvaluation,
    patient_category,
)
from openect.response.preview import (
    CriterionPreview,
    ResponsePreview,
    preview,
)
from openect.response.summary import (
    CATEGORY_LABELS,
    CRITERIA,
    AssessmentResponse,
    LesionResponse,
    evaluate,
    for_evaluation,
    patient_responses,
)

__all__ = [
    "CATEGORY_LABELS",
    "CRITERIA",
    "LANDMARK_DAYS",
    "LANDMARK_WINDOW_DAYS",
    "AssessmentResponse",
    "Category",
    "CriterionPreview",
    "LesionResponse",
    "ResponseCriteria",
    "ResponseEvaluation",
    "ResponsePreview",
    "categorise",
    "criteria_names",
    "evaluate",
    "for_evaluation",
    "load_criteria",
    "patient_category",
    "patient_responses",
    "preview",
]
