"""A short descriptive summary of a dataset (what ``openect demo`` prints).

Counts and distributions only; response and survival analyses belong to
``openect.response`` and ``openect.outcomes``.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
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


def concurrent_immunotherapy_patients(
    first_sessions: Mapping[str, dt.date],
    therapies: Iterable[tuple[str, str, dt.date, dt.date | None]],
    window_days: int = CONCURRENT_WINDOW_DAYS,
) -> set[str]:
    """Patients with an immune checkpoint inhibitor overlapping their first session.

    ``first_sessions`` maps a patient id to the date of their first ECT session;
    ``therapies`` are ``(patient_id, agent_class, start_date, end_date)`` rows (``end_date``
    None while ongoing). A therapy of class anti-PD-1, anti-CTLA-4 or both counts when its
    interval ``[start_date, end_date]`` overlaps ``first session date ± window_days``
    (days, both ends included); other classes and patients without a session never count.
    The one rule behind :func:`concurrent_immunotherapy` (a dataset) and the registry's
    aggregate queries (the web patient list).
    """
    if window_days < 0:
        raise ValueError(f"window_days={window_days}: must be >= 0 days")
    window = dt.timedelta(days=window_days)
    patients: set[str] = set()
    for patient_id, agent_class, start, end in therapies:
        session_date = first_sessions.get(patient_id)
        if session_date is None or agent_class not in IMMUNOTHERAPY_CLASSES:
            continue
        starts_before_window_ends = start <= session_date + window
        ends_after_window_starts = end is None or end >= session_date - window
        if starts_before_window_ends and ends_after_window_starts:
            patients.add(patient_id)
    return patients


def concurrent_immunotherapy(
    dataset: Dataset, window_days: int = CONCURRENT_WINDOW_DAYS
) -> set[str]:
    """Patients of ``dataset`` with an immune checkpoint inhibitor overlapping their first
    session (see :func:`concurrent_immunotherapy_patients` for the rule)."""
    return concurrent_immunotherapy_patients(
        first_session_dates(dataset),
        (
            (t.patient_id, t.agent_class, t.start_date, t.end_date)
            for t in dataset.systemic_therapies
        ),
        window_days,
    )


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
