"""A short descriptive summary of a dataset (what ``openect demo`` prints).

Counts and distributions only; response and survival analyses belong to
``openect.response`` and ``openect.outcomes``.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter, defaultdict
from typing import Any

from openect.data.dataset import Dataset
from openect.data.enums import IMMUNOTHERAPY_CLASSES

#: Default window (days) around a session within which a systemic therapy counts as
#: concurrent with it.
CONCURRENT_WINDOW_DAYS = 30

#: Lesions at or above this longest diameter (mm) respond less (Mali 2013, Radiol Oncol).
LARGE_LESION_MM = 30.0


def first_session_dates(dataset: Dataset) -> dict[str, dt.date]:
    """Date of each patient's first ECT session, by patient id."""
    first: dict[str, dt.date] = {}
    for session in dataset.sessions:
        known = first.get(session.patient_id)
        if known is None or session.session_date < known:
            first[session.patient_id] = session.session_date
    return first


def concurrent_immunotherapy(
    dataset: Dataset, window_days: int = CONCURRENT_WINDOW_DAYS
) -> set[str]:
    """Patients with an immune checkpoint inhibitor overlapping their first session.

    A therapy of class anti-PD-1, anti-CTLA-4 or both counts when its interval
    ``[start_date, end_date]`` (open-ended while ongoing) overlaps
    ``first session date +- window_days`` (days).
    """
    if window_days < 0:
        raise ValueError(f"window_days={window_days}: must be >= 0 days")
    first = first_session_dates(dataset)
    window = dt.timedelta(days=window_days)
    patients: set[str] = set()
    for therapy in dataset.systemic_therapies:
        session_date = first.get(therapy.patient_id)
        if session_date is None or therapy.agent_class not in IMMUNOTHERAPY_CLASSES:
            continue
        starts_before_window_ends = therapy.start_date <= session_date + window
        ends_after_window_starts = (
            therapy.end_date is None or therapy.end_date >= session_date - window
        )
        if starts_before_window_ends and ends_after_window_starts:
            patients.add(therapy.patient_id)
    return patients


def _pct(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def summarise(dataset: Dataset) -> dict[str, Any]:
    """Descriptive summary: counts, patients, lesions, sessions, electrodes, toxicity.

    Percentages are in %, diameters in mm, ages in years, follow-up in months
    (30.44 days). JSON-serialisable.
    """
    first = first_session_dates(dataset)
    patients = dataset.patients
    ages = [first[p.patient_id].year - p.birth_year for p in patients if p.patient_id in first]
    follow_up = []
    for patient in patients:
        start = first.get(patient.patient_id)
        end = patient.death_date or patient.last_contact_date
        if start is not None and end is not None:
            follow_up.append((end - start).days / 30.44)
    diameters = [lesion.longest_diameter_mm for lesion in dataset.lesions]
    sessions_per_patient: dict[str, int] = defaultdict(int)
    for session in dataset.sessions:
        sessions_per_patient[session.patient_id] += 1
    per_patient = Counter(sessions_per_patient.values())
    patients_by_centre = Counter(patient.centre_id for patient in patients)
    grade3 = sum(1 for event in dataset.adverse_events if event.grade >= 3)
    return {
        "synthetic": dataset.info.synthetic,
        "generator": dataset.info.generator,
        "counts": dataset.counts(),
        "patients": {
            "n": len(patients),
            "by_centre": {
                c.centre_id: patients_by_centre.get(c.centre_id, 0) for c in dataset.centres
            },
            "female_pct": _pct(sum(1 for p in patients if p.sex == "F"), len(patients)),
            "median_age_years": statistics.median(ages) if ages else None,
            "deaths": sum(1 for p in patients if p.death_date is not None),
            "median_follow_up_months": round(statistics.median(follow_up), 1)
            if follow_up
            else None,
            "concurrent_immunotherapy_pct": _pct(
                len(concurrent_immunotherapy(dataset)), len(patients)
            ),
        },
        "lesions": {
            "n": len(diameters),
            "per_patient_mean": round(len(diameters) / len(patients), 2) if patients else None,
            "median_longest_diameter_mm": statistics.median(diameters) if diameters else None,
            "large_pct": _pct(sum(1 for d in diameters if d >= LARGE_LESION_MM), len(diameters)),
            "by_layer": dict(Counter(lesion.layer.value for lesion in dataset.lesions)),
        },
        "sessions": {
            "n": len(dataset.sessions),
            "patients_by_number_of_sessions": {str(k): per_patient[k] for k in sorted(per_patient)},
            "intravenous_pct": _pct(
                sum(1 for s in dataset.sessions if s.route == "intravenous"), len(dataset.sessions)
            ),
        },
        "applications": {
            "n": len(dataset.applications),
            "by_electrode": dict(
                Counter(a.electrode.split(":")[0] for a in dataset.applications).most_common()
            ),
        },
        "adverse_events": {"n": len(dataset.adverse_events), "grade_3_or_more": grade3},
    }
