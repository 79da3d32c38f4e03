"""Per-lesion response of treated skin metastases (RECIST 1.1 adapted to skin, WHO).

:class:`ResponseEvaluation` derives, from a dataset's measurements, the category of every
assessment, the best overall and landmark (~60-day) response of every treated lesion,
the per-patient response and each lesion's local progression date. The criteria are
data (``criteria.toml``) with sources; see :mod:`openect.response.criteria`.
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

__all__ = [
    "LANDMARK_DAYS",
    "LANDMARK_WINDOW_DAYS",
    "Category",
    "ResponseCriteria",
    "ResponseEvaluation",
    "categorise",
    "criteria_names",
    "load_criteria",
    "patient_category",
]
