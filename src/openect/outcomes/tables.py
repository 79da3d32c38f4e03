"""Analysis tables: one row per treated lesion and one per patient, with their covariates.

These are the inputs of every outcome analysis (rates, Kaplan-Meier, Cox, predictors);
they join :class:`~openect.response.ResponseEvaluation` results with the dataset's
lesion, patient, session and therapy records. Times are in days.
"""

from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np
import pandas as pd

from openect.data.dataset import Dataset
from openect.data.summary import (
    CONCURRENT_WINDOW_DAYS,
    LARGE_LESION_MM,
    concurrent_immunotherapy,
    first_session_dates,
)
from openect.response.evaluation import ResponseEvaluation

#: Subgroup columns of the lesion table (boolean or categorical).
SUBGROUPS = (
    "large",
    "layer",
    "ulcerated",
    "previously_irradiated",
    "electrode",
    "drug",
    "concurrent_immunotherapy",
)


def _electrode_family(code: str) -> str:
    """Catalogue family of an electrode code (``linear:DEVICE`` -> ``linear``)."""
    return code.split(":", 1)[0]


def lesion_table(
    dataset: Dataset,
    evaluation: ResponseEvaluation,
    window_days: int = CONCURRENT_WINDOW_DAYS,
) -> pd.DataFrame:
    """One row per treated lesion: response, local control and covariates.

    Columns: those of ``evaluation.lesions_`` plus ``longest_diameter_mm``, ``large``
    (longest >= 30 mm, Mali 2013), ``layer``, ``body_site``, ``ulcerated``,
    ``previously_irradiated``, ``electrode`` (the family used most on the lesion in its
    first session), ``drug`` (drug and route of that session, e.g. ``bleomycin
    intravenous``, ``calcium_chloride intratumoural``), ``concurrent_immunotherapy``
    (a checkpoint inhibitor within ``window_days`` of the patient's first session),
    ``cr`` and ``objective`` (landmark CR and CR+PR, missing when not evaluable) and
    ``progression`` (0/1).
    """
    lesions = evaluation.lesions_.copy()
    records = {lesion.lesion_id: lesion for lesion in dataset.lesions}
    session_date = {s.session_id: s.session_date for s in dataset.sessions}
    given = {s.session_id: f"{s.drug.value} {s.route.value}" for s in dataset.sessions}
    drug_of: dict[str, str] = {}
    used: dict[str, Counter[str]] = defaultdict(Counter)
    first = dict(zip(lesions["lesion_id"], lesions["first_treatment_date"], strict=True))
    for application in dataset.applications:
        start = first.get(application.lesion_id)
        if start is not None and session_date.get(application.session_id) == start:
            used[application.lesion_id][_electrode_family(application.electrode)] += 1
            drug_of.setdefault(application.lesion_id, given[application.session_id])
    immuno = concurrent_immunotherapy(dataset, window_days)

    ids = lesions["lesion_id"]
    lesions["longest_diameter_mm"] = [records[i].longest_diameter_mm for i in ids]
    lesions["large"] = lesions["longest_diameter_mm"] >= LARGE_LESION_MM
    lesions["layer"] = [records[i].layer.value for i in ids]
    lesions["body_site"] = [records[i].body_site.value for i in ids]
    lesions["ulcerated"] = [bool(records[i].ulcerated) for i in ids]
    lesions["previously_irradiated"] = [bool(records[i].previously_irradiated) for i in ids]
    lesions["electrode"] = [
        min(used[i].items(), key=lambda kv: (-kv[1], kv[0]))[0] if used[i] else "unknown"
        for i in ids
    ]
    lesions["drug"] = [drug_of.get(i, "unknown") for i in ids]
    lesions["concurrent_immunotherapy"] = lesions["patient_id"].isin(immuno)
    evaluable = lesions["landmark_response"] != "NE"
    lesions["cr"] = np.where(evaluable, lesions["landmark_response"] == "CR", np.nan)
    lesions["objective"] = np.where(
        evaluable, lesions["landmark_response"].isin(["CR", "PR"]), np.nan
    )
    lesions["progression"] = lesions["local_progression"].astype(int)
    return lesions


def patient_table(
    dataset: Dataset,
    evaluation: ResponseEvaluation,
    window_days: int = CONCURRENT_WINDOW_DAYS,
) -> pd.DataFrame:
    """One row per treated patient: response, overall survival from the first ECT.

    Columns: those of ``evaluation.patients_`` plus ``first_session_date``,
    ``os_days`` (to death or last contact), ``death`` (0/1), ``stage``, ``ecog``,
    ``visceral_metastases`` and ``concurrent_immunotherapy``. Patients without a
    known end of follow-up are dropped from ``os_days`` (NaN).
    """
    patients = evaluation.patients_.copy()
    records = {p.patient_id: p for p in dataset.patients}
    first = first_session_dates(dataset)
    immuno = concurrent_immunotherapy(dataset, window_days)
    ids = patients["patient_id"]
    os_days: list[float] = []
    death: list[int] = []
    for patient_id in ids:
        record = records[patient_id]
        end = record.death_date or record.last_contact_date
        start = first.get(patient_id)
        os_days.append(float((end - start).days) if end and start else float("nan"))
        death.append(int(record.death_date is not None))
    patients["first_session_date"] = [first.get(i) for i in ids]
    patients["os_days"] = os_days
    patients["death"] = death
    patients["stage"] = [records[i].stage for i in ids]
    patients["ecog"] = [records[i].ecog for i in ids]
    patients["visceral_metastases"] = [records[i].visceral_metastases for i in ids]
    patients["concurrent_immunotherapy"] = patients["patient_id"].isin(immuno)
    return patients
