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
* **Measurability** (RECIST 1.1): a lesion under ``measurable_min`` (10 mm) longest
  diameter at baseline is non-measurable and classified qualitatively: CR, NN
  (non-CR/non-PD) or PD, never PR or SD (``non_measurable="qualitative"``, the
  default). ``non_measurable="percentage"`` applies the percentage thresholds to every
  lesion (the behaviour of earlier versions, kept as an explicit option).
* **Best overall response** (course 1): the best category (CR > PR > SD/NC/NN > PD)
  observed from the first treatment up to and including the first PD. Where the
  criterion asks for confirmation (WHO: ``confirmation_days = 28``), a CR or PR counts
  as confirmed only when an assessment at least that many days later shows the same or
  a better category, every assessment in between included; ``best_confirmation`` says
  confirmed / unconfirmed (``not required`` under RECIST) and
  ``confirmed_best_response`` is the best response counting unconfirmed CR and PR as
  stable (NC under WHO).
* **Landmark response**: the course-1 category at the assessment nearest to the
  landmark (default 60 days) within the window (default 40-100 days); of two equally
  near, the earlier; NE when none.
* **Local progression**: the first course-1 PD (derived or overridden): regrowth over the
  nadir after a response, growth without response, or a new in-field lesion.
  Without it, the lesion is censored at its last course-1 assessment (optionally at
  death, ``censor_at_death``). Retreatment ends course 1: a lesion retreated without a
  recorded PD is censored at its last assessment before the retreatment.
* **Per patient**, by one of two rules (``patient_rule``), named in every output:

  - ``"lesions"`` (default; status U, to verify): CR when every evaluable treated lesion
    is CR, PD when any is PD, PR when at least one responded (CR or PR), NN when every
    evaluable lesion is NN, else SD (NC under WHO); NE when no lesion is evaluable.
    Based on the landmark response by default, or on the best overall response.
  - ``"sum"``: RECIST 1.1 overall response. The measurable treated lesions are the
    target lesions; at each date on which all of them were measured, their measures are
    summed (diameters under RECIST, products under WHO) and the sum is categorised like
    one lesion (PR: -30 % vs the baseline sum; PD: +20 % and +5 mm over the smallest
    sum so far; CR: every target gone). Non-measurable lesions are non-target: CR of the
    targets with a non-target still present is PR; a non-target PD, or an override PD
    (a new lesion in the field), is PD. A patient with only non-measurable lesions is
    CR, NN or PD. Under WHO one progressing lesion is PD (``pd_per_lesion``). The
    landmark is the date nearest to the landmark day in the window, the best the best
    date up to the first PD.
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
from openect.response.criteria import (
    RANK,
    Category,
    ResponseCriteria,
    categorise,
    load_criteria,
)

#: Default landmark of the main response assessment (days after the first treatment).
LANDMARK_DAYS = 60
#: Default window (days, inclusive) in which an assessment counts for the landmark.
LANDMARK_WINDOW_DAYS = (40, 100)

RESPONDED = frozenset({Category.CR, Category.PR})

PatientRule = Literal["lesions", "sum"]
NonMeasurable = Literal["qualitative", "percentage"]

#: The per-patient rules, in words (``sum``: the criterion's measure is summed).
PATIENT_RULES: dict[str, str] = {
    "lesions": "lesion-based: CR if every evaluable lesion is CR, PD if any is PD, "
    "PR if one responded",
    "sum": "RECIST sum of diameters of the measurable (target) lesions",
}
#: Default per-patient rule (today's convention; see docs/outcomes.md, to verify).
PATIENT_RULE: PatientRule = "lesions"

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
    "best_confirmation",
    "confirmed_best_response",
    "landmark_response",
    "landmark_date",
    "landmark_days",
    "landmark_confirmation",
    "local_progression",
    "local_progression_date",
    "control_end_date",
    "control_days",
]

PATIENT_COLUMNS = [
    "patient_id",
    "centre_id",
    "rule",
    "lesions",
    "measurable_lesions",
    "evaluable_lesions",
    "response",
    "response_date",
    "baseline_sum",
    "response_sum",
    "lesions_cr",
    "lesions_pr",
    "lesions_sd",
    "lesions_nn",
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


@dataclass(frozen=True)
class _Fitted:
    """One treated lesion as evaluated: what the per-patient sum rule needs."""

    lesion_id: str
    patient_id: str
    classified_measurable: bool
    baseline: float | None
    first_treatment: dt.date
    steps: list[_Step]


def _pct(value: float | None, reference: float | None) -> float | None:
    if value is None or reference is None or reference == 0.0:
        return None
    return 100.0 * (value - reference) / reference


def patient_category(categories: Sequence[Category], stable: Category = Category.SD) -> Category:
    """Per-patient response from the categories of the patient's treated lesions (the
    lesion-based rule); ``stable`` is SD, or NC under WHO."""
    evaluable = [c for c in categories if c is not Category.NE]
    if not evaluable:
        return Category.NE
    if any(c is Category.PD for c in evaluable):
        return Category.PD
    if all(c is Category.CR for c in evaluable):
        return Category.CR
    if any(c in RESPONDED for c in evaluable):
        return Category.PR
    if all(c is Category.NN for c in evaluable):
        return Category.NN
    return stable


def _combine(
    target: Category | None, others: Sequence[Category | None], progression: bool
) -> Category:
    """Overall response at one date (RECIST 1.1 tables 1 and 2): ``target`` is the
    category of the sum of the target lesions (None without target lesions), ``others``
    the categories of the non-target lesions that date (None: not assessed)."""
    if progression or target is Category.PD:
        return Category.PD
    known = [c for c in others if c is not None and c is not Category.NE]
    complete = len(known) == len(others)
    if target is None:
        if not others or not complete:
            return Category.NE
        return Category.CR if all(c is Category.CR for c in known) else Category.NN
    if target is Category.CR:
        return Category.CR if complete and all(c is Category.CR for c in known) else Category.PR
    return target


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
        ``"landmark"`` or ``"best"``: which response the per-patient response uses.
    patient_rule:
        ``"lesions"`` (lesion-based, the default) or ``"sum"`` (RECIST sum of diameters
        of the target lesions); see :data:`PATIENT_RULES`.
    non_measurable:
        ``"qualitative"`` (default): lesions under the criterion's measurable minimum
        are CR, NN or PD; ``"percentage"``: every lesion by the percentage thresholds
        (earlier versions).
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
        patient_rule: PatientRule = "lesions",
        non_measurable: NonMeasurable = "qualitative",
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
        if patient_rule not in PATIENT_RULES:
            raise ValueError(f"patient_rule={patient_rule!r}: allowed lesions, sum")
        if non_measurable not in ("qualitative", "percentage"):
            raise ValueError(f"non_measurable={non_measurable!r}: allowed qualitative, percentage")
        self.landmark_days = landmark_days
        self.landmark_window_days = (low, high)
        self.patient_basis = patient_basis
        self.patient_rule = patient_rule
        self.non_measurable = non_measurable
        self.censor_at_death = censor_at_death

    @property
    def patient_rule_title(self) -> str:
        """The per-patient rule in words (the sum of products under WHO)."""
        if self.patient_rule == "sum" and self.criteria.measure == "product":
            return "WHO sum of the products of the measurable lesions"
        return PATIENT_RULES[self.patient_rule]

    @property
    def split_measurable(self) -> bool:
        """True when non-measurable lesions are classified and reported apart (a criterion
        with a measurable minimum, ``non_measurable="qualitative"``)."""
        return self.non_measurable == "qualitative" and self.criteria.measurable_min > 0

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
        self._fitted: dict[str, list[_Fitted]] = defaultdict(list)
        for lesion in dataset.lesions:
            dates = sorted(treated.get(lesion.lesion_id, ()))
            if not dates:
                continue
            visits = sorted(series.get(lesion.lesion_id, ()), key=lambda a: a.assessment_date)
            baseline = self.criteria.measure_of(
                lesion.longest_diameter_mm, lesion.perpendicular_diameter_mm
            )
            measurable = self.criteria.is_measurable(lesion.longest_diameter_mm)
            classified = measurable or not self.split_measurable
            steps = self._steps(visits, dates, baseline, classified)
            self._fitted[lesion.patient_id].append(
                _Fitted(lesion.lesion_id, lesion.patient_id, classified, baseline, dates[0], steps)
            )
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
                    measurable,
                    classified,
                    steps,
                    death.get(lesion.patient_id),
                )
            )
        self.assessments_ = pd.DataFrame(assessment_rows, columns=ASSESSMENT_COLUMNS)
        self.lesions_ = pd.DataFrame(lesion_rows, columns=LESION_COLUMNS)
        self.patients_ = self._patients(self.lesions_)
        return self

    def _steps(
        self,
        visits: list[Assessment],
        dates: list[dt.date],
        baseline: float | None,
        measurable: bool,
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
            derived = categorise(measure, reference, nadir, self.criteria, measurable)
            category = derived
            if visit.override_response is not None:  # the data model requires its reason
                category = self.criteria.named(Category(str(visit.override_response)), measurable)
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

    def _confirmed(self, index: int, steps: list[_Step]) -> bool:
        """True when the CR or PR of ``steps[index]`` is kept (same or better category)
        up to an assessment at least ``confirmation_days`` later."""
        step = steps[index]
        keeps = {Category.CR} if step.category is Category.CR else set(RESPONDED)
        for later in steps[index + 1 :]:
            if later.category is None or later.category is Category.NE:
                continue
            if later.category not in keeps:
                return False
            if later.days - step.days >= self.criteria.confirmation_days:
                return True
        return False

    def _confirmation(self, index: int | None, steps: list[_Step]) -> str | None:
        """``confirmed`` / ``unconfirmed`` / ``not required`` for a CR or PR; None else."""
        if index is None or steps[index].category not in RESPONDED:
            return None
        if self.criteria.confirmation_days == 0:
            return "not required"
        return "confirmed" if self._confirmed(index, steps) else "unconfirmed"

    def _lesion_row(
        self,
        lesion_id: str,
        patient_id: str,
        centre_id: str | None,
        dates: list[dt.date],
        baseline: float | None,
        measurable: bool,
        classified: bool,
        steps: list[_Step],
        death_date: dt.date | None,
    ) -> list[Any]:
        start = dates[0]
        first = [s for s in steps if s.course == 1]
        best: int | None = None
        confirmed_best: Category | None = None
        progression: _Step | None = None
        for index, step in enumerate(first):
            if step.category is None or step.category is Category.NE:
                continue
            if best is None or RANK[step.category] < RANK[first[best].category]:  # type: ignore[index]
                best = index
            effective: Category = step.category
            if (
                effective in RESPONDED
                and self.criteria.confirmation_days
                and not self._confirmed(index, first)
            ):
                effective = self.criteria.named(self.criteria.stable, classified)
            if confirmed_best is None or RANK[effective] < RANK[confirmed_best]:
                confirmed_best = effective
            if step.category is Category.PD:
                progression = step
                break
        best_step = None if best is None else first[best]
        best_category = best_step.category if best_step and best_step.category else Category.NE
        best_confirmation: str | None = None
        if best_category in RESPONDED:
            if self.criteria.confirmation_days == 0:
                best_confirmation = "not required"
            else:
                best_confirmation = (
                    "confirmed" if confirmed_best is best_category else "unconfirmed"
                )
        low, high = self.landmark_window_days
        landmark: int | None = None
        for index, step in enumerate(first):
            if low <= step.days <= high and step.category not in (None, Category.NE):
                distance = abs(step.days - self.landmark_days)
                if landmark is None or distance < abs(first[landmark].days - self.landmark_days):
                    landmark = index
        landmark_step = None if landmark is None else first[landmark]
        if progression is not None:
            end: dt.date | None = progression.assessment.assessment_date
        elif first:
            end = first[-1].assessment.assessment_date
            if self.censor_at_death and death_date is not None and death_date > end:
                retreated = len(dates) > 1 and dates[1] <= death_date
                end = end if retreated else death_date
        else:
            end = None
        return [
            lesion_id,
            patient_id,
            centre_id,
            start,
            len(dates),
            baseline,
            measurable,
            len(first),
            best_category.value,
            None if best_step is None else best_step.assessment.assessment_date,
            best_confirmation,
            (confirmed_best or Category.NE).value,
            (
                landmark_step.category.value
                if landmark_step and landmark_step.category
                else Category.NE.value
            ),
            None if landmark_step is None else landmark_step.assessment.assessment_date,
            None if landmark_step is None else landmark_step.days,
            self._confirmation(landmark, first),
            progression is not None,
            None if progression is None else progression.assessment.assessment_date,
            end,
            None if end is None else (end - start).days,
        ]

    # ------------------------------------------------------------------ per patient
    def _sum_points(
        self, lesions: list[_Fitted]
    ) -> tuple[float | None, list[tuple[int, dt.date, Category, float | None]]]:
        """The baseline sum of the target lesions and, per assessment date, the days
        from the patient's first treatment, the overall category and the sum."""
        targets = [f for f in lesions if f.classified_measurable]
        others = [f for f in lesions if not f.classified_measurable]
        start = min(f.first_treatment for f in lesions)
        by_date: dict[str, dict[dt.date, _Step]] = {
            f.lesion_id: {s.assessment.assessment_date: s for s in f.steps if s.course == 1}
            for f in lesions
        }
        dates = sorted({d for steps in by_date.values() for d in steps})
        baselines = [f.baseline for f in targets]
        baseline_sum = (
            sum(b for b in baselines if b is not None)
            if targets and all(b is not None for b in baselines)
            else None
        )
        nadir = baseline_sum
        points: list[tuple[int, dt.date, Category, float | None]] = []
        for date in dates:
            target_steps = [by_date[f.lesion_id].get(date) for f in targets]
            other_steps = [by_date[f.lesion_id].get(date) for f in others]
            progression = any(
                s is not None and s.category is Category.PD for s in other_steps
            ) or any(
                s is not None
                and s.category is Category.PD
                and (s.derived is not Category.PD or self.criteria.pd_per_lesion)
                for s in target_steps
            )
            measures = [None if s is None else s.measure for s in target_steps]
            total: float | None = None
            target: Category | None = None
            if targets:
                target = Category.NE
                if baseline_sum is not None and all(m is not None for m in measures):
                    total = sum(m for m in measures if m is not None)
                    target = categorise(total, baseline_sum, nadir, self.criteria)
            category = _combine(
                target, [None if s is None else s.category for s in other_steps], progression
            )
            points.append(((date - start).days, date, category, total))
            if total is not None and nadir is not None and total < nadir:
                nadir = total
        return baseline_sum, points

    def _sum_response(
        self, lesions: list[_Fitted]
    ) -> tuple[Category, dt.date | None, float | None, float | None]:
        """Per-patient response by the sum rule: category, date, baseline sum, sum."""
        baseline_sum, points = self._sum_points(lesions)
        chosen: tuple[int, dt.date, Category, float | None] | None = None
        if self.patient_basis == "landmark":
            low, high = self.landmark_window_days
            for point in points:
                if low <= point[0] <= high and point[2] is not Category.NE:
                    distance = abs(point[0] - self.landmark_days)
                    if chosen is None or distance < abs(chosen[0] - self.landmark_days):
                        chosen = point
        else:
            for point in points:
                if point[2] is Category.NE:
                    continue
                if chosen is None or RANK[point[2]] < RANK[chosen[2]]:
                    chosen = point
                if point[2] is Category.PD:
                    break
        if chosen is None:
            return Category.NE, None, baseline_sum, None
        return chosen[2], chosen[1], baseline_sum, chosen[3]

    def _patients(self, lesions: pd.DataFrame) -> pd.DataFrame:
        column = "landmark_response" if self.patient_basis == "landmark" else "best_response"
        rows: list[list[Any]] = []
        for (patient_id, centre_id), group in lesions.groupby(
            ["patient_id", "centre_id"], sort=True, dropna=False
        ):
            categories = [Category(c) for c in group[column]]
            counts = {c: sum(1 for x in categories if x is c) for c in Category}
            fitted = self._fitted[str(patient_id)]
            date: dt.date | None = None
            baseline_sum: float | None = None
            total: float | None = None
            if self.patient_rule == "sum":
                response, date, baseline_sum, total = self._sum_response(fitted)
            else:
                response = patient_category(categories, self.criteria.stable)
            rows.append(
                [
                    patient_id,
                    centre_id,
                    self.patient_rule,
                    len(categories),
                    sum(1 for f in fitted if f.classified_measurable),
                    len(categories) - counts[Category.NE],
                    response.value,
                    date,
                    baseline_sum,
                    total,
                    counts[Category.CR],
                    counts[Category.PR],
                    counts[Category.SD] + counts[Category.NC],
                    counts[Category.NN],
                    counts[Category.PD],
                ]
            )
        return pd.DataFrame(rows, columns=PATIENT_COLUMNS)

    # ------------------------------------------------------------------ results
    def _lesion_groups(self, column: str) -> list[tuple[str, pd.Series]]:
        """(label, lesion responses in ``column``): measurable and non-measurable apart,
        or all lesions together under ``non_measurable="percentage"``."""
        name = "lesion landmark" if column == "landmark_response" else "lesion best"
        series = self.lesions_[column]
        if not self.split_measurable:
            return [(name, series)]
        measurable = self.lesions_["measurable"].astype(bool)
        return [
            (f"{name}, measurable", series[measurable]),
            (f"{name}, non-measurable", series[~measurable]),
        ]

    def rates(self) -> dict[str, dict[str, float | int | None] | None]:
        """Crude CR and objective-response shares at the landmark.

        ``lesion``: measurable lesions (every lesion under ``non_measurable=
        "percentage"``); ``lesion_non_measurable``: the non-measurable lesions apart (CR,
        NN and PD; None under ``"percentage"``); ``patient``: by the per-patient rule.
        """
        out: dict[str, dict[str, float | int | None] | None] = {}
        groups = self._lesion_groups("landmark_response")
        units = [("lesion", groups[0][1]), ("patient", self.patients_["response"])]
        for unit, series in units:
            evaluable = series[series != Category.NE.value]
            n = len(evaluable)
            cr = int((evaluable == "CR").sum())
            orr = int(evaluable.isin(["CR", "PR"]).sum())
            out[unit] = {
                "evaluable": n,
                "cr": cr,
                "or": orr,
                "cr_rate": cr / n if n else None,
                "or_rate": orr / n if n else None,
            }
        out["lesion_non_measurable"] = None
        if self.split_measurable:
            series = groups[1][1]
            evaluable = series[series != Category.NE.value]
            n = len(evaluable)
            cr = int((evaluable == "CR").sum())
            out["lesion_non_measurable"] = {
                "evaluable": n,
                "cr": cr,
                "nn": int((evaluable == "NN").sum()),
                "pd": int((evaluable == "PD").sum()),
                "cr_rate": cr / n if n else None,
            }
        return {k: out[k] for k in ("lesion", "lesion_non_measurable", "patient")}

    @property
    def summary(self) -> pd.DataFrame:
        """Counts of each landmark and best response category: per lesion (measurable and
        non-measurable apart) and per patient (the row names the rule)."""
        rows = []
        levels = [
            *self._lesion_groups("landmark_response"),
            *self._lesion_groups("best_response"),
            (f"patient ({self.patient_rule} rule)", self.patients_["response"]),
        ]
        for name, series in levels:
            counts = series.value_counts()
            rows.append(
                {
                    "level": name,
                    **{c.value: int(counts.get(c.value, 0)) for c in self.criteria.categories},
                }
            )
        return pd.DataFrame(rows).set_index("level")

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable result: settings (with the per-patient rule), counts, rates."""
        counts = {k: dict(v) for k, v in self.summary.to_dict(orient="index").items()}
        counts["patient"] = counts.pop(f"patient ({self.patient_rule} rule)")
        return {
            "criteria": self.criteria.name,
            "criteria_status": self.criteria.status,
            "criteria_source": self.criteria.source,
            "landmark_days": self.landmark_days,
            "landmark_window_days": list(self.landmark_window_days),
            "patient_basis": self.patient_basis,
            "patient_rule": self.patient_rule,
            "patient_rule_title": self.patient_rule_title,
            "non_measurable": self.non_measurable,
            "measurable_min": self.criteria.measurable_min,
            "confirmation_days": self.criteria.confirmation_days,
            "lesions": len(self.lesions_),
            "measurable_lesions": int(self.lesions_["measurable"].astype(bool).sum()),
            "patients": len(self.patients_),
            "assessments": int((self.assessments_["course"] > 0).sum()),
            "counts": counts,
            "rates": self.rates(),
            "local_progressions": int(self.lesions_["local_progression"].sum()),
        }

    def __str__(self) -> str:
        rates = self.rates()
        lesion, patient = rates["lesion"] or {}, rates["patient"] or {}
        unit = "measurable lesions" if self.split_measurable else "lesions (all, % rule)"
        lines = [
            f"Response ({self.criteria.title}; landmark {self.landmark_days} d, window "
            f"{self.landmark_window_days[0]}-{self.landmark_window_days[1]} d)",
            f"  {unit}: {lesion['evaluable']} evaluable, CR {percent(lesion['cr_rate'])}, "
            f"OR {percent(lesion['or_rate'])}",
        ]
        apart = rates["lesion_non_measurable"]
        if apart is not None:
            lines.append(
                f"  non-measurable lesions (< {self.criteria.measurable_min:g} mm, CR/NN/PD): "
                f"{apart['evaluable']} evaluable, CR {percent(apart['cr_rate'])}, "
                f"NN {apart['nn']}, PD {apart['pd']}"
            )
        lines.append(
            f"  patients ({self.patient_rule_title}): {patient['evaluable']} evaluable, "
            f"CR {percent(patient['cr_rate'])}, OR {percent(patient['or_rate'])}"
        )
        return "\n".join(lines)
