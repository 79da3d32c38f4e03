"""Response of every treated lesion of a dataset: per assessment, best, landmark, per patient.

Conventions (documented in docs/outcomes.md):

* **Time zero** of a lesion is the date of the first session that treated it (a session
  with an electrode application on the lesion). Lesions never treated are left out.
* **Courses.** Each session that treats the lesion starts a course. Course 1 is measured
  against the lesion's baseline (lesions.csv); a later course against the last
  measurement before it, or the baseline when that measurement is 0 (a CR) or missing.
  The nadir is the smallest measure of the course so far, its reference included.
  Assessments on or before the first treatment date are pre-treatment and get no
  category.
* **Overrides.** ``override_response`` replaces the derived category; the data model
  accepts one only with its ``override_reason`` (a reader without free-text access,
  such as an analyst, sees the override with the reason blanked). Both the derived and
  the final category are kept in the output.
  A new lesion inside the treated field is recorded as an override PD with that reason.
* **Best overall response** (course 1): the best category (CR > PR > SD > PD) observed
  from the first treatment up to and including the first PD; no confirmation required.
* **Landmark response**: the course-1 category at the assessment nearest to the
  landmark (default 60 days) within the window (default 40-100 days); of two equally
  near, the earlier; NE when none.
* **Local progression**: the first course-1 PD (derived or overridden): regrowth over the
  nadir after a response, growth without response, or a new in-field lesion.
  Without it, the lesion is censored at its last course-1 assessment (optionally at
  death, ``censor_at_death``). Retreatment ends course 1: a lesion retreated without a
  recorded PD is censored at its last assessment before the retreatment.
* **Per patient** (status U, ESOPE/InspECT practice): CR when every evaluable treated
  lesion is CR, PD when any is PD, PR when at least one responded (CR or PR), else SD;
  NE when no lesion is evaluable. Based on the landmark response by default, or on the
  best overall response.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd

from openect.data.dataset import Dataset
from openect.data.models import Assessment
from openect.formatting import percent
from openect.response.criteria import RANK, Category, ResponseCriteria, categorise, load_criteria

#: Default landmark of the main response assessment (days after the first treatment).
LANDMARK_DAYS = 60
#: Default window (days, inclusive) in which an assessment counts for the landmark.
LANDMARK_WINDOW_DAYS = (40, 100)

RESPONDED = frozenset({Category.CR, Category.PR})

ASSESSMENT_COLUMNS = [
    "assessment_id",
    "lesion_id",
    "patient_id",
    "assessment_date",
    "days",
    "course",
    "measure",
    "reference",
    "nadir",
    "change_from_reference_pct",
    "change_from_nadir_pct",
    "derived",
    "category",
    "override_reason",
]

LESION_COLUMNS = [
    "lesion_id",
    "patient_id",
    "centre_id",
    "first_treatment_date",
    "sessions",
    "baseline_measure",
    "measurable",
    "assessments",
    "best_response",
    "best_response_date",
    "landmark_response",
    "landmark_date",
    "landmark_days",
    "local_progression",
    "local_progression_date",
    "control_end_date",
    "control_days",
]

PATIENT_COLUMNS = [
    "patient_id",
    "centre_id",
    "lesions",
    "evaluable_lesions",
    "response",
    "lesions_cr",
    "lesions_pr",
    "lesions_sd",
    "lesions_pd",
]


@dataclass(frozen=True)
class _Step:
    """One categorised assessment of a lesion."""

    assessment: Assessment
    days: int
    course: int
    measure: float | None
    reference: float | None
    nadir: float | None
    derived: Category | None
    category: Category | None


def _pct(value: float | None, reference: float | None) -> float | None:
    if value is None or reference is None or reference == 0.0:
        return None
    return 100.0 * (value - reference) / reference


def patient_category(categories: Sequence[Category]) -> Category:
    """Per-patient response from the categories of the patient's treated lesions."""
    evaluable = [c for c in categories if c is not Category.NE]
    if not evaluable:
        return Category.NE
    if any(c is Category.PD for c in evaluable):
        return Category.PD
    if all(c is Category.CR for c in evaluable):
        return Category.CR
    if any(c in RESPONDED for c in evaluable):
        return Category.PR
    return Category.SD


class ResponseEvaluation:
    """Derive the response of every treated lesion and patient of a dataset.

    Parameters
    ----------
    criteria:
        ``"recist"`` (RECIST 1.1 adapted to skin, longest diameter) or ``"who"``
        (product of the diameters), or a :class:`ResponseCriteria`.
    landmark_days:
        Day of the main assessment after the first treatment (days).
    landmark_window_days:
        Inclusive window (days) in which the nearest assessment to the landmark counts.
    patient_basis:
        ``"landmark"`` or ``"best"``: which lesion response the per-patient response uses.
    censor_at_death:
        Censor lesions of patients who died without local progression at the death date
        instead of the last assessment.

    After :meth:`fit`: ``assessments_``, ``lesions_`` and ``patients_`` (DataFrames with
    the columns in ``ASSESSMENT_COLUMNS``, ``LESION_COLUMNS`` and ``PATIENT_COLUMNS``).
    """

    def __init__(
        self,
        criteria: str | ResponseCriteria = "recist",
        landmark_days: int = LANDMARK_DAYS,
        landmark_window_days: tuple[int, int] = LANDMARK_WINDOW_DAYS,
        patient_basis: Literal["landmark", "best"] = "landmark",
        censor_at_death: bool = False,
    ) -> None:
        self.criteria = load_criteria(criteria) if isinstance(criteria, str) else criteria
        low, high = landmark_window_days
        if not 0 < landmark_days <= 3650:
            raise ValueError(f"landmark_days={landmark_days}: allowed 1 to 3650 days")
        if not 0 < low <= landmark_days <= high:
            raise ValueError(
                f"landmark_window_days={landmark_window_days}: allowed "
                f"0 < start <= landmark_days ({landmark_days}) <= end"
            )
        if patient_basis not in ("landmark", "best"):
            raise ValueError(f"patient_basis={patient_basis!r}: allowed landmark, best")
        self.landmark_days = landmark_days
        self.landmark_window_days = (low, high)
        self.patient_basis = patient_basis
        self.censor_at_death = censor_at_death

    # ------------------------------------------------------------------ fitting
    def fit(self, dataset: Dataset) -> ResponseEvaluation:
        """Classify every assessment of every treated lesion of ``dataset``; return self."""
        session_date = {s.session_id: s.session_date for s in dataset.sessions}
        treated: dict[str, set[dt.date]] = defaultdict(set)
        for application in dataset.applications:
            date = session_date.get(application.session_id)
            if date is not None:
                treated[application.lesion_id].add(date)
        series: dict[str, list[Assessment]] = defaultdict(list)
        for assessment in dataset.assessments:
            series[assessment.lesion_id].append(assessment)
        centre = {p.patient_id: p.centre_id for p in dataset.patients}
        death = {p.patient_id: p.death_date for p in dataset.patients}

        assessment_rows: list[list[Any]] = []
        lesion_rows: list[list[Any]] = []
        for lesion in dataset.lesions:
            dates = sorted(treated.get(lesion.lesion_id, ()))
            if not dates:
                continue
            visits = sorted(series.get(lesion.lesion_id, ()), key=lambda a: a.assessment_date)
            baseline = self.criteria.measure_of(
                lesion.longest_diameter_mm, lesion.perpendicular_diameter_mm
            )
            steps = self._steps(visits, dates, baseline)
            for step in steps:
                a = step.assessment
                assessment_rows.append(
                    [
                        a.assessment_id,
                        lesion.lesion_id,
                        lesion.patient_id,
                        a.assessment_date,
                        step.days,
                        step.course,
                        step.measure,
                        step.reference,
                        step.nadir,
                        _pct(step.measure, step.reference),
                        _pct(step.measure, step.nadir),
                        None if step.derived is None else step.derived.value,
                        None if step.category is None else step.category.value,
                        a.override_reason,
                    ]
                )
            lesion_rows.append(
                self._lesion_row(
                    lesion.lesion_id,
                    lesion.patient_id,
                    centre.get(lesion.patient_id),
                    dates,
                    baseline,
                    lesion.longest_diameter_mm,
                    steps,
                    death.get(lesion.patient_id),
                )
            )
        self.assessments_ = pd.DataFrame(assessment_rows, columns=ASSESSMENT_COLUMNS)
        self.lesions_ = pd.DataFrame(lesion_rows, columns=LESION_COLUMNS)
        self.patients_ = self._patients(self.lesions_)
        return self

    def _steps(
        self, visits: list[Assessment], dates: list[dt.date], baseline: float | None
    ) -> list[_Step]:
        start = dates[0]
        steps: list[_Step] = []
        course = 0
        reference = baseline
        nadir = baseline
        last_measure: float | None = None
        for visit in visits:
            day = visit.assessment_date
            measure = self.criteria.measure_of(
                visit.longest_diameter_mm, visit.perpendicular_diameter_mm
            )
            if day <= start:
                last_measure = measure
                steps.append(_Step(visit, (day - start).days, 0, measure, None, None, None, None))
                continue
            started = bisect.bisect_left(dates, day)
            if started != course:
                course = started
                if course > 1:
                    # A lesion in CR (0) or never measured before its retreatment is
                    # measured against its baseline again.
                    reference = last_measure if last_measure else baseline
                nadir = reference
            derived = categorise(measure, reference, nadir, self.criteria)
            category = derived
            if visit.override_response is not None:  # the data model requires its reason
                category = Category(str(visit.override_response))
            steps.append(
                _Step(
                    visit, (day - start).days, course, measure, reference, nadir, derived, category
                )
            )
            if measure is not None and (nadir is None or measure < nadir):
                nadir = measure
            if measure is not None:
                last_measure = measure
        return steps

    def _lesion_row(
        self,
        lesion_id: str,
        patient_id: str,
        centre_id: str | None,
        dates: list[dt.date],
        baseline: float | None,
        longest_mm: float,
        steps: list[_Step],
        death_date: dt.date | None,
    ) -> list[Any]:
        start = dates[0]
        first = [s for s in steps if s.course == 1]
        best: _Step | None = None
        progression: _Step | None = None
        for step in first:
            if step.category is None or step.category is Category.NE:
                continue
            if best is None or RANK[step.category] < RANK[best.category]:  # type: ignore[index]
                best = step
            if step.category is Category.PD:
                progression = step
                break
        low, high = self.landmark_window_days
        landmark: _Step | None = None
        for step in first:
            if low <= step.days <= high and step.category not in (None, Category.NE):
                distance = abs(step.days - self.landmark_days)
                if landmark is None or distance < abs(landmark.days - self.landmark_days):
                    landmark = step
        if progression is not None:
            end: dt.date | None = progression.assessment.assessment_date
        elif first:
            end = first[-1].assessment.assessment_date
            if self.censor_at_death and death_date is not None and death_date > end:
                retreated = len(dates) > 1 and dates[1] <= death_date
                end = end if retreated else death_date
        else:
            end = None
        measurable = (
            self.criteria.measure == "product" or longest_mm >= self.criteria.measurable_min
        )
        return [
            lesion_id,
            patient_id,
            centre_id,
            start,
            len(dates),
            baseline,
            measurable,
            len(first),
            (best.category.value if best and best.category else Category.NE.value),
            None if best is None else best.assessment.assessment_date,
            (landmark.category.value if landmark and landmark.category else Category.NE.value),
            None if landmark is None else landmark.assessment.assessment_date,
            None if landmark is None else landmark.days,
            progression is not None,
            None if progression is None else progression.assessment.assessment_date,
            end,
            None if end is None else (end - start).days,
        ]

    def _patients(self, lesions: pd.DataFrame) -> pd.DataFrame:
        column = "landmark_response" if self.patient_basis == "landmark" else "best_response"
        rows: list[list[Any]] = []
        for (patient_id, centre_id), group in lesions.groupby(
            ["patient_id", "centre_id"], sort=True, dropna=False
        ):
            categories = [Category(c) for c in group[column]]
            counts = {c: sum(1 for x in categories if x is c) for c in Category}
            rows.append(
                [
                    patient_id,
                    centre_id,
                    len(categories),
                    len(categories) - counts[Category.NE],
                    patient_category(categories).value,
                    counts[Category.CR],
                    counts[Category.PR],
                    counts[Category.SD],
                    counts[Category.PD],
                ]
            )
        return pd.DataFrame(rows, columns=PATIENT_COLUMNS)

    # ------------------------------------------------------------------ results
    def rates(self) -> dict[str, dict[str, float | int | None]]:
        """Crude CR and objective-response shares per lesion and per patient (landmark)."""
        out: dict[str, dict[str, float | int | None]] = {}
        for unit, frame, column in (
            ("lesion", self.lesions_, "landmark_response"),
            ("patient", self.patients_, "response"),
        ):
            evaluable = frame[frame[column] != Category.NE.value]
            n = len(evaluable)
            cr = int((evaluable[column] == "CR").sum())
            orr = int(evaluable[column].isin(["CR", "PR"]).sum())
            out[unit] = {
                "evaluable": n,
                "cr": cr,
                "or": orr,
                "cr_rate": cr / n if n else None,
                "or_rate": orr / n if n else None,
            }
        return out

    @property
    def summary(self) -> pd.DataFrame:
        """Counts of each landmark and best response category, per lesion and per patient."""
        rows = []
        for name, series in (
            ("lesion landmark", self.lesions_["landmark_response"]),
            ("lesion best", self.lesions_["best_response"]),
            ("patient", self.patients_["response"]),
        ):
            counts = series.value_counts()
            rows.append({"level": name, **{c.value: int(counts.get(c.value, 0)) for c in Category}})
        return pd.DataFrame(rows).set_index("level")

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable result: settings, counts and rates."""
        return {
            "criteria": self.criteria.name,
            "criteria_status": self.criteria.status,
            "criteria_source": self.criteria.source,
            "landmark_days": self.landmark_days,
            "landmark_window_days": list(self.landmark_window_days),
            "patient_basis": self.patient_basis,
            "lesions": len(self.lesions_),
            "patients": len(self.patients_),
            "assessments": int((self.assessments_["course"] > 0).sum()),
            "counts": {k: dict(v) for k, v in self.summary.to_dict(orient="index").items()},
            "rates": self.rates(),
            "local_progressions": int(self.lesions_["local_progression"].sum()),
        }

    def __str__(self) -> str:
        rates = self.rates()
        lesion, patient = rates["lesion"], rates["patient"]

        return (
            f"Response ({self.criteria.title}; landmark {self.landmark_days} d, window "
            f"{self.landmark_window_days[0]}-{self.landmark_window_days[1]} d)\n"
            f"  lesions:  {lesion['evaluable']} evaluable, CR {percent(lesion['cr_rate'])}, "
            f"OR {percent(lesion['or_rate'])}\n"
            f"  patients: {patient['evaluable']} evaluable, CR {percent(patient['cr_rate'])}, "
            f"OR {percent(patient['or_rate'])}"
        )
