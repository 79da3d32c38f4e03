"""All outcome analyses of a dataset in one object: what ``openect analyse`` reports.

:class:`OutcomeAnalysis` runs, on one dataset: the response evaluation, response rates
per lesion and per patient, subgroup rates, Kaplan-Meier local tumour control and
overall survival (overall and with / without concurrent immunotherapy), the Cox model of
local progression, the logistic GEE of CR, the model-based CR probability with its
cross-validated checks, patient-reported outcomes and toxicity.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from typing import Any, Literal, TypeVar

import pandas as pd

from openect import __version__
from openect.data.dataset import Dataset
from openect.outcomes.models import CompleteResponseGEE, CompleteResponseModel, LocalControlCox
from openect.outcomes.quality_of_life import QualityOfLife
from openect.outcomes.rates import (
    LesionScope,
    ResponseRates,
    lesion_basis,
    measurable_rows,
    proportion_ci,
)
from openect.outcomes.survival import KaplanMeier
from openect.outcomes.tables import SUBGROUPS, lesion_table, patient_table
from openect.outcomes.toxicity import Toxicity
from openect.response.evaluation import (
    LANDMARK_DAYS,
    LANDMARK_WINDOW_DAYS,
    PATIENT_RULE,
    NonMeasurable,
    PatientRule,
    ResponseEvaluation,
)

T = TypeVar("T")


def subgroup_rates(
    lesions: pd.DataFrame, level: float = 0.95, lesion_scope: LesionScope = "measurable"
) -> pd.DataFrame:
    """Landmark CR and objective-response rates per lesion in each subgroup level.

    One row per (subgroup, level) of :data:`~openect.outcomes.tables.SUBGROUPS`, with
    evaluable lesions, CR and OR counts and rates, and Wilson CIs; over the measurable
    lesions (``lesion_scope="measurable"``, column ``measurable``) or all of them
    (``"all"``). The frame's ``attrs["basis"]`` says which.
    """
    evaluable = lesions.dropna(subset=["cr"])
    evaluable = evaluable[measurable_rows(evaluable, lesion_scope)]
    rows: list[dict[str, Any]] = []
    for subgroup in SUBGROUPS:
        for value, group in evaluable.groupby(subgroup, sort=True):
            n = len(group)
            row: dict[str, Any] = {"subgroup": subgroup, "level": str(value), "evaluable": n}
            for outcome in ("cr", "objective"):
                events = int(group[outcome].sum())
                low, high = proportion_ci(events, n, "wilson", level)
                row |= {
                    f"{outcome}_events": events,
                    f"{outcome}_rate": events / n,
                    f"{outcome}_low": low,
                    f"{outcome}_high": high,
                }
            rows.append(row)
    table = pd.DataFrame(rows)
    table.attrs["basis"] = lesion_basis(lesion_scope)
    return table


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    clean = frame.astype(object).where(frame.notna(), None)
    return [{str(k): v for k, v in row.items()} for row in clean.to_dict(orient="records")]


class OutcomeAnalysis:
    """Every outcome analysis of one dataset.

    Parameters
    ----------
    criteria:
        Response criteria, ``"recist"`` or ``"who"``.
    landmark_days, landmark_window_days:
        Main response assessment (days after the first treatment) and its window.
    level:
        Confidence level of every interval.
    patient_rule:
        Per-patient rule, ``"lesions"`` (default) or ``"sum"`` (RECIST sum of diameters).
    non_measurable:
        ``"qualitative"`` (default): lesions under 10 mm are CR / NN / PD and the lesion
        rates are over the measurable lesions, the others apart; ``"percentage"``: every
        lesion by the percentage rule, the lesion rates over all of them.
    """

    def __init__(
        self,
        criteria: Literal["recist", "who"] = "recist",
        landmark_days: int = LANDMARK_DAYS,
        landmark_window_days: tuple[int, int] = LANDMARK_WINDOW_DAYS,
        level: float = 0.95,
        patient_rule: PatientRule = PATIENT_RULE,
        non_measurable: NonMeasurable = "qualitative",
    ) -> None:
        self.criteria = criteria
        self.landmark_days = landmark_days
        self.landmark_window_days = landmark_window_days
        self.level = level
        self.patient_rule = patient_rule
        self.non_measurable = non_measurable

    def fit(self, dataset: Dataset) -> OutcomeAnalysis:
        """Run every analysis; returns self. ``timing_s_`` records each step (s)."""
        timing: dict[str, float] = {}

        def step(name: str, start: float) -> float:
            now = time.perf_counter()
            timing[name] = round(now - start, 3)
            return now

        t = time.perf_counter()
        self.response_ = ResponseEvaluation(
            self.criteria,
            self.landmark_days,
            self.landmark_window_days,
            patient_rule=self.patient_rule,
            non_measurable=self.non_measurable,
        ).fit(dataset)
        self.lesions_ = lesion_table(dataset, self.response_)
        self.patients_ = patient_table(dataset, self.response_)
        t = step("response", t)
        scope: LesionScope = "measurable" if self.response_.split_measurable else "all"
        self.lesion_scope = scope
        self.rates_ = ResponseRates(self.level, scope).fit(self.lesions_, self.patients_)
        self.subgroups_ = subgroup_rates(self.lesions_, self.level, scope)
        t = step("rates", t)
        self.local_control_ = KaplanMeier("local-control", level=self.level).fit(self.lesions_)
        self.local_control_by_immunotherapy_ = KaplanMeier(
            "local-control", by="concurrent_immunotherapy", level=self.level
        ).fit(self.lesions_)
        self.survival_ = KaplanMeier("overall-survival", level=self.level).fit(self.patients_)
        self.survival_by_immunotherapy_ = KaplanMeier(
            "overall-survival", by="concurrent_immunotherapy", level=self.level
        ).fit(self.patients_)
        t = step("kaplan_meier", t)
        self.notes_: list[str] = []
        self.cox_ = self._attempt(
            "Cox model of local progression",
            lambda: LocalControlCox(level=self.level).fit(self.lesions_),
        )
        self.gee_ = self._attempt(
            "GEE of complete response",
            lambda: CompleteResponseGEE(level=self.level).fit(self.lesions_),
        )
        self.cr_model_ = self._attempt(
            "CR probability model", lambda: CompleteResponseModel().fit(self.lesions_)
        )
        t = step("models", t)
        self.quality_of_life_ = QualityOfLife(level=self.level).fit(dataset)
        self.toxicity_ = Toxicity().fit(dataset)
        step("quality_of_life_and_toxicity", t)
        self.timing_s_ = timing
        return self

    def _attempt(self, name: str, run: Callable[[], T]) -> T | None:
        """Run one model fit; on failure or a numerical warning, say so in ``notes_``.

        Small datasets (few events, a covariate that separates the outcome) make some
        models inestimable; the other analyses still stand, and the note says why.
        """
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                result = run()
            except Exception as error:
                self.notes_.append(f"{name}: not estimable on these data ({error})")
                return None
        messages = sorted({str(w.message).split("\n")[0] for w in caught})
        if messages:
            self.notes_.append(
                f"{name}: numerical warnings, interpret with care: " + "; ".join(messages[:3])
            )
        return result

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable summary of every analysis (no per-lesion rows)."""

        def compact_km(km: KaplanMeier) -> dict[str, Any]:
            return {
                "endpoint": km.endpoint,
                "by": km.by,
                "groups": _records(km.summary.reset_index()),
            }

        return {
            "software": f"openect {__version__}",
            "criteria": self.response_.criteria.name,
            "patient_rule": self.response_.patient_rule,
            "patient_rule_title": self.response_.patient_rule_title,
            "non_measurable": self.response_.non_measurable,
            "lesion_rates_over": lesion_basis(self.lesion_scope),
            "landmark_days": self.landmark_days,
            "landmark_window_days": list(self.landmark_window_days),
            "level": self.level,
            "lesions": len(self.lesions_),
            "patients": len(self.patients_),
            "response": self.response_.to_dict()["counts"],
            "rates": self.rates_.to_dict(),
            "subgroups": _records(self.subgroups_),
            "local_control": compact_km(self.local_control_),
            "local_control_by_immunotherapy": compact_km(self.local_control_by_immunotherapy_),
            "overall_survival": compact_km(self.survival_),
            "overall_survival_by_immunotherapy": compact_km(self.survival_by_immunotherapy_),
            "cox_local_progression": None if self.cox_ is None else self.cox_.to_dict(),
            "gee_complete_response": None if self.gee_ is None else self.gee_.to_dict(),
            "cr_probability_model": None if self.cr_model_ is None else self.cr_model_.to_dict(),
            "notes": self.notes_,
            "quality_of_life": self.quality_of_life_.to_dict(),
            "toxicity": self.toxicity_.to_dict(),
            "timing_s": self.timing_s_,
        }
