"""The generator of the synthetic register: centres, patients and their course.

See :mod:`openect.synth` for the generative model and its calibration. Every clinical
protocol number of a session comes from the session's rule set through
:class:`openect.synth.protocol.SessionRules`; response thresholds from
:mod:`openect.response`.
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
import math
import operator
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, SupportsIndex

import numpy as np
from pydantic import TypeAdapter

from openect import __version__
from openect.data import models
from openect.data.dataset import Dataset, DatasetInfo, collection_paused
from openect.data.enums import (
    AgentClass,
    Anaesthesia,
    Analgesia,
    AssessmentMethod,
    BodySite,
    BrafStatus,
    DeathCause,
    Drug,
    Layer,
    PrimaryTumour,
    Route,
    Sex,
    Symptom,
)
from openect.protocol.body import BsaFormula, body_surface_area, cockcroft_gault
from openect.protocol.electrodes import Electrode, ElectrodePlan
from openect.protocol.inputs import LesionToTreat
from openect.protocol.rules import RuleSet
from openect.response.criteria import Category, ResponseCriteria, categorise, load_criteria
from openect.synth.calibration import (
    ADOPTION_RANGE,
    ADVERSE_EVENTS,
    BRAF_MEK_AGENTS,
    CALIBRATION,
    CENTRE_COUNTRIES,
    DEFAULT_RULE_SETS,
    ELECTRODE_CURRENT_A,
    ENROLMENT_END,
    ENROLMENT_START,
    INCOMPLETE_SHARE,
    MAX_CENTRES,
    MAX_PATIENTS,
    PRIOR_BLEOMYCIN,
    PRIOR_IMMUNOTHERAPY,
    SERIOUS_SHARE_BY_GRADE,
    SYNTHETIC_CUTOFF,
    CalibrationParameters,
)
from openect.synth.protocol import SessionRules, lesion_to_treat

#: Random-stream tags: ``default_rng([seed, tag, index])``.
_CENTRE_STREAM: Final[int] = 0
_PATIENT_STREAM: Final[int] = 1
#: The clinical-safety columns (lung function, chest imaging, earlier bleomycin, session
#: pain and analgesia) draw from a stream of their own, so that adding them changed no
#: other value of the register.
_SAFETY_STREAM: Final[int] = 2
#: The choice of calcium chloride over bleomycin for an intratumoural session draws from
#: a stream of its own, opened only for the sessions that may get it, so that adding it
#: changed no other value of the register.
_CALCIUM_STREAM: Final[int] = 3

#: Response categories of one treatment of one lesion (order of the latent score).
_CR, _PR, _SD, _PD = 0, 1, 2, 3
_NEVER: Final[float] = math.inf
#: Response criterion whose progression the caliper noise must never mimic.
_CRITERION: Final[str] = "recist"

_LIMB_SITES: Final[frozenset[BodySite]] = frozenset(
    {
        BodySite.UPPER_LIMB_LEFT,
        BodySite.UPPER_LIMB_RIGHT,
        BodySite.LOWER_LIMB_LEFT,
        BodySite.LOWER_LIMB_RIGHT,
    }
)
_CUTOFF_DAY: Final[int] = SYNTHETIC_CUTOFF.toordinal()
_ENROLMENT_FIRST_DAY: Final[int] = ENROLMENT_START.toordinal()
_ENROLMENT_DAYS: Final[int] = ENROLMENT_END.toordinal() - _ENROLMENT_FIRST_DAY + 1
_ADOPTION_FIRST_DAY: Final[int] = ADOPTION_RANGE[0].toordinal()
_ADOPTION_LAST_DAY: Final[int] = ADOPTION_RANGE[1].toordinal()

#: A rule set as ``generate_cohort`` accepts it: shipped id, file path or loaded.
RuleSetLike = RuleSet | str | Path


def generate_cohort(
    patients: int,
    centres: int = 4,
    seed: int = 0,
    *,
    rule_sets: Sequence[RuleSetLike] = DEFAULT_RULE_SETS,
) -> Dataset:
    """Generate a SYNTHETIC multi-centre register of ECT for melanoma skin metastases.

    Args:
        patients: number of patients, 1 to 1,000,000.
        centres: number of treating centres, 1 to 99 and at most ``patients``.
        seed: non-negative seed of the random streams.
        rule_sets: the centres' earlier and later protocol (shipped rule-set ids, rule-set
            files or loaded rule sets): each centre plans its sessions with the first
            until its adoption day of the second (by default ESOPE 2006, then the 2018
            SOP). Doses, voltages, pulses, applications and windows follow them.

    Returns:
        A dataset whose ``info`` is marked ``synthetic=True``; identical for identical
        arguments, and patient *i*'s records do not depend on ``patients``. Dates run up
        to :data:`SYNTHETIC_CUTOFF`; lengths are in mm, doses in IU, voltages in V,
        currents in A. ``info.parameters`` names the rule sets when they are not the
        default ones.

    Raises:
        TypeError: an argument is not an integer.
        ValueError: an argument is out of its allowed range.
        openect.protocol.RuleError: a rule set cannot be loaded or lacks a rule.
    """
    patients = _check_int("patients", patients, 1, MAX_PATIENTS)
    centres = _check_int("centres", centres, 1, MAX_CENTRES)
    seed = _check_int("seed", seed, 0, None)
    if centres > patients:
        raise ValueError(
            f"centres={centres} exceeds patients={patients}; allowed: 1 <= centres <= patients"
        )
    if isinstance(rule_sets, str | Path | RuleSet) or len(rule_sets) != 2:
        raise ValueError(
            f"rule_sets={rule_sets!r}; allowed: two rule sets, the earlier and the later one"
        )
    earlier, later = (SessionRules.of(rule_set) for rule_set in rule_sets)
    parameters: dict[str, Any] = {"patients": patients, "centres": centres, "seed": seed}
    if tuple(rule_sets) != DEFAULT_RULE_SETS:
        parameters["rule_sets"] = [earlier.id, later.id]
    practice = _Practice(earlier, later, _criterion())

    profiles = [_CentreProfile.draw(seed, j) for j in range(centres)]
    cumulative: list[float] = []
    total = 0.0
    for profile in profiles:
        total += profile.weight
        cumulative.append(total)

    dataset = Dataset(
        info=DatasetInfo(
            generator=f"openect {__version__} (openect.synth)",
            synthetic=True,
            description=(
                "SYNTHETIC data, not real patients: a generated multi-centre register of "
                "electrochemotherapy of cutaneous melanoma metastases, data cut-off "
                f"{SYNTHETIC_CUTOFF.isoformat()}."
            ),
            parameters=parameters,
        ),
        centres=[profile.centre for profile in profiles],
    )
    rows = _Rows()
    with collection_paused():
        for index in range(patients):
            rng = np.random.default_rng([seed, _PATIENT_STREAM, index])
            if index < centres:
                centre = profiles[index]
            else:
                position = bisect.bisect_right(cumulative, rng.random() * total)
                centre = profiles[min(position, centres - 1)]
            safety = np.random.default_rng([seed, _SAFETY_STREAM, index])
            _PatientSimulator(
                index, rng, centre, CALIBRATION, practice, rows, safety, seed=seed
            ).run()
        _number_patients(rows.patients)
        for model in _ROW_MODELS:
            records = _list_adapter(model).validate_python(getattr(rows, model.table))
            setattr(dataset, model.table, records)
    return dataset


def _number_patients(patients: list[dict[str, Any]]) -> None:
    """Number the patients within their centre in the order they were generated (their
    label ``C01-0042``): patient *i*'s number depends only on the patients before it."""
    counts: dict[str, int] = {}
    for row in patients:
        counts[row["centre_id"]] = counts.get(row["centre_id"], 0) + 1
        row["patient_number"] = counts[row["centre_id"]]


@dataclass
class _Rows:
    """Field values of the generated records, one dict per record, validated in bulk."""

    patients: list[dict[str, Any]] = field(default_factory=list)
    lesions: list[dict[str, Any]] = field(default_factory=list)
    sessions: list[dict[str, Any]] = field(default_factory=list)
    applications: list[dict[str, Any]] = field(default_factory=list)
    assessments: list[dict[str, Any]] = field(default_factory=list)
    adverse_events: list[dict[str, Any]] = field(default_factory=list)
    patient_reported: list[dict[str, Any]] = field(default_factory=list)
    systemic_therapies: list[dict[str, Any]] = field(default_factory=list)


_ROW_MODELS: Final[tuple[type[models.Record], ...]] = (
    models.Patient,
    models.Lesion,
    models.Session,
    models.Application,
    models.Assessment,
    models.AdverseEvent,
    models.PatientReported,
    models.SystemicTherapy,
)


@dataclass(frozen=True)
class _Practice:
    """What every synthetic centre plans with: its earlier and later rule set, and the
    response criterion whose progression the caliper noise must not mimic."""

    earlier: SessionRules
    later: SessionRules
    criterion: ResponseCriteria


@functools.cache
def _criterion() -> ResponseCriteria:
    """The response criterion of the calibration figures (RECIST 1.1 adapted to skin)."""
    return load_criteria(_CRITERION)


@functools.cache
def _list_adapter(model: type[models.Record]) -> TypeAdapter[list[models.Record]]:
    """Validator of a list of records of ``model`` (the model's own checks, in bulk)."""
    return TypeAdapter(list[model])  # type: ignore[valid-type]


def _check_int(name: str, value: object, low: int, high: int | None) -> int:
    """``value`` as an ``int`` in ``[low, high]``; TypeError or ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, SupportsIndex):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    number = operator.index(value)
    if number < low or (high is not None and number > high):
        allowed = f"{low} to {high:,}" if high is not None else f">= {low}"
        raise ValueError(f"{name}={number} is out of range; allowed: {allowed}")
    return number


@dataclass(frozen=True)
class _CentreProfile:
    """A centre and its practice: size weight, operators, adoption of the later rule set
    (ordinal day)."""

    centre: models.Centre
    weight: float
    operators: int
    assessors: int
    adoption_day: int

    @staticmethod
    def draw(seed: int, index: int) -> _CentreProfile:
        rng = np.random.default_rng([seed, _CENTRE_STREAM, index])
        number = index + 1
        if index < len(CENTRE_COUNTRIES):
            country = CENTRE_COUNTRIES[index]
        else:
            country = CENTRE_COUNTRIES[int(rng.integers(0, len(CENTRE_COUNTRIES)))]
        weight = float(rng.gamma(2.0, 1.0)) + 0.2
        operators = int(rng.integers(2, 5))
        assessors = int(rng.integers(1, 4))
        adoption_day = int(rng.integers(_ADOPTION_FIRST_DAY, _ADOPTION_LAST_DAY + 1))
        centre = models.Centre(
            centre_id=f"C{number:02d}", name=f"Synthetic centre {number:02d}", country=country
        )
        return _CentreProfile(centre, weight, operators, assessors, adoption_day)


class _Draws:
    """Buffered draws from one patient's generator (numpy scalar calls are slow).

    Uniform variates are drawn in blocks; the other distributions are derived from them
    (inversion, Box-Muller), so that the sequence depends on the generator's seed only.
    """

    _BLOCK: Final[int] = 128

    def __init__(self, generator: np.random.Generator) -> None:
        self.generator = generator
        self._uniform: list[float] = []
        self._normal: list[float] = []

    def random(self) -> float:
        """Uniform on [0, 1)."""
        if not self._uniform:
            self._uniform = self.generator.random(self._BLOCK).tolist()
        return self._uniform.pop()

    def normal(self, mean: float = 0.0, sd: float = 1.0) -> float:
        """Normal variate (Box-Muller on the uniform stream, in pairs)."""
        if not self._normal:
            radius = math.sqrt(-2.0 * math.log(1.0 - self.random()))
            angle = 2.0 * math.pi * self.random()
            self._normal = [radius * math.cos(angle), radius * math.sin(angle)]
        return mean + sd * self._normal.pop()

    def logistic(self) -> float:
        """Standard logistic variate."""
        u = min(max(self.random(), 1e-12), 1.0 - 1e-12)
        return math.log(u / (1.0 - u))

    def exponential(self, mean: float = 1.0) -> float:
        return -mean * math.log(1.0 - self.random())

    def uniform(self, bounds: tuple[float, float]) -> float:
        return bounds[0] + (bounds[1] - bounds[0]) * self.random()

    def integer(self, bounds: tuple[int, int]) -> int:
        """Uniform integer in the closed range ``bounds``."""
        return bounds[0] + int(self.random() * (bounds[1] - bounds[0] + 1))

    def geometric(self, p: float) -> int:
        """Number of trials to the first success (>= 1)."""
        return 1 + int(math.log(1.0 - self.random()) / math.log(1.0 - p))


@dataclass
class _LesionState:
    """A lesion and the treatment episode it is in (times in ordinal days)."""

    number: int
    lesion_id: str
    layer: Layer
    body_site: BodySite
    baseline_mm: float
    perpendicular_ratio: float
    thickness_mm: float
    ulcerated: bool
    first_session_day: int
    # current episode (from the last session that treated the lesion)
    episode_day: int = 0
    episode_mm: float = 0.0
    category: int = _CR
    nadir_fraction: float = 0.0
    nadir_days: float = 30.0
    progression_days: float = _NEVER
    nadir_mm: float = 0.0
    last_mm: float = 0.0
    #: Perpendicular diameter last recorded (mm; baseline or assessment).
    last_perpendicular_mm: float = 0.0
    progressed: bool = False
    retreat_day: int | None = None
    assessments: int = 0
    responded: bool = False


@dataclass
class _SessionPlan:
    day: int
    number: int
    session_id: str
    lesions: list[_LesionState] = field(default_factory=list)


class _PatientSimulator:
    """Simulates one patient from the first ECT to death or censoring."""

    def __init__(
        self,
        index: int,
        rng: np.random.Generator,
        centre: _CentreProfile,
        params: CalibrationParameters,
        practice: _Practice,
        rows: _Rows,
        safety: np.random.Generator,
        *,
        seed: int,
    ) -> None:
        self.rng = _Draws(rng)
        #: Draws of the clinical-safety columns (their own stream).
        self.safety = _Draws(safety)
        #: Draws of the drug of intratumoural sessions (their own stream, opened lazily).
        self._calcium_key = (seed, index)
        self._calcium: _Draws | None = None
        self.centre = centre
        self.p = params
        self.practice = practice
        self.out = rows
        self.patient_id = f"SYN-{index + 1:05d}"
        self.lesions: list[_LesionState] = []
        self.sessions: list[_SessionPlan] = []
        self.event_days: list[int] = []
        self.adverse_event_count = 0

    # ------------------------------------------------------------------ helpers
    def uniform(self, bounds: tuple[float, float]) -> float:
        return self.rng.uniform(bounds)

    def integer(self, bounds: tuple[int, int]) -> int:
        """Uniform integer in the closed range ``bounds``."""
        return self.rng.integer(bounds)

    def pick(self, weights: tuple[float, ...]) -> int:
        x = self.rng.random() * sum(weights)
        for position, weight in enumerate(weights):
            x -= weight
            if x < 0:
                return position
        return len(weights) - 1

    # ------------------------------------------------------------------ patient
    def run(self) -> None:
        p, rng = self.p, self.rng
        self.first_day = _ENROLMENT_FIRST_DAY + rng.integer((0, _ENROLMENT_DAYS - 1))
        self.female = rng.random() < p.female_share
        age = rng.normal(p.age_mean_years, p.age_sd_years)
        self.age = int(min(max(age, p.age_min_years), p.age_max_years))
        stage_index = self.pick(tuple(weight for _, weight, _ in p.stages))
        self.stage, _, stage_log_hr = p.stages[stage_index]
        self.stage_iv = self.stage.startswith("IV")
        self.visceral = self.stage in ("IV-M1b", "IV-M1c", "IV-M1d")
        self.ecog = self.pick(tuple(weight for weight, _ in p.ecog))
        ecog_log_hr = p.ecog[self.ecog][1]
        x = rng.random()
        if x < p.braf_mutant_share:
            self.braf = BrafStatus.MUTANT
        elif x < 1.0 - p.braf_unknown_share:
            self.braf = BrafStatus.WILDTYPE
        else:
            self.braf = BrafStatus.UNKNOWN
        sex = 0 if self.female else 1
        self.height_cm = round(
            min(max(rng.normal(p.height_mean_cm[sex], p.height_sd_cm), 140.0), 205.0), 0
        )
        self.weight_kg = round(
            min(max(rng.normal(p.weight_mean_kg[sex], p.weight_sd_kg), 40.0), 160.0), 1
        )
        creatinine = p.creatinine_median_mg_dl[sex] * math.exp(
            rng.normal(0.0, p.creatinine_log_sd) + 0.006 * max(self.age - 60, 0)
        )
        self.creatinine_mg_dl = min(max(creatinine, 0.45), 3.5)
        share = p.immunotherapy_share_stage_iv if self.stage_iv else p.immunotherapy_share_stage_iii
        self.immunotherapy = rng.random() < share
        #: Per-patient random effect of the response latent score (correlated lesions).
        self.response_effect = float(rng.normal(0.0, p.response_patient_sd))
        self.size_effect = float(rng.normal(0.0, p.lesion_log_sd_patient))
        self.irradiated = rng.random() < p.previously_irradiated_patient_share

        # survival and censoring (days from the first session)
        log_hr = stage_log_hr + ecog_log_hr
        if self.immunotherapy:
            log_hr += p.survival_log_hr_immunotherapy
        e = rng.exponential()
        death_after = p.survival_scale_days * (e * math.exp(-log_hr)) ** (
            1.0 / p.survival_weibull_shape
        )
        death_day = self.first_day + max(int(death_after), 2)
        lost_day = (
            self.first_day + self.integer((30, 1500))
            if rng.random() < p.lost_to_follow_up_share
            else None
        )
        self.death_day: int | None = None
        self.end_day = _CUTOFF_DAY  # last day on which an event may be recorded
        self.lost = False
        if lost_day is not None and lost_day < min(death_day, _CUTOFF_DAY):
            self.end_day = lost_day
            self.lost = True
        elif death_day <= _CUTOFF_DAY:
            self.death_day = death_day
            self.end_day = death_day - 1

        n_lesions = min(rng.geometric(p.lesions_geometric_p), p.max_initial_lesions)
        initial = [self.new_lesion(self.first_day, initial=True) for _ in range(n_lesions)]
        self.follow_up(initial)
        self.systemic_therapies()
        self.patient_reported()
        self.emit_patient()

    def new_lesion(self, session_day: int, initial: bool) -> _LesionState:
        """A lesion first treated on ``session_day``; initial ones may have an earlier baseline."""
        p, rng = self.p, self.rng
        number = len(self.lesions) + 1
        log_size = (
            math.log(p.lesion_median_mm)
            + self.size_effect
            + rng.normal(0.0, p.lesion_log_sd_lesion)
        )
        longest = float(round(min(max(math.exp(log_size), p.lesion_min_mm), p.lesion_max_mm)))
        ratio = 1.0 - 0.45 * rng.random() ** 1.7  # perpendicular / longest: 0.55-1, mean 0.83
        subcutaneous = rng.random() < p.subcutaneous_share
        layer = Layer.SUBCUTANEOUS if subcutaneous else Layer.CUTANEOUS
        spread = math.exp(rng.normal(0.0, 0.3))
        if subcutaneous:
            thickness = min(max(2.0 + 0.5 * longest * spread, 3.0), 60.0)
        else:
            thickness = min(max(0.3 * longest * spread, 0.5), 12.0)
        size_logit = -1.9 + 1.4 * math.log(longest / p.lesion_median_mm)
        ulcerated = (not subcutaneous) and rng.random() < 1.0 / (1.0 + math.exp(-size_logit))
        site = p.body_sites[self.pick(tuple(weight for _, weight in p.body_sites))][0]
        lesion = _LesionState(
            number=number,
            lesion_id=f"{self.patient_id}-L{number:02d}",
            layer=layer,
            body_site=site,
            baseline_mm=longest,
            perpendicular_ratio=ratio,
            thickness_mm=round(thickness * 2.0) / 2.0,
            ulcerated=ulcerated,
            first_session_day=session_day,
        )
        lesion.last_mm = longest
        perpendicular = float(max(round(longest * ratio), 1.0))
        lesion.last_perpendicular_mm = perpendicular
        # baseline measurement up to three weeks before the first session, or on the day
        baseline_day = session_day
        if initial and rng.random() < 0.3:
            baseline_day = session_day - self.integer((1, 21))
        bleeding = (ulcerated and rng.random() < 0.5) or rng.random() < 0.02
        irradiated = self.irradiated and rng.random() < 0.7
        symptoms: list[Symptom] = []
        if rng.random() < 0.15 + 0.35 * ulcerated + 0.1 * (longest >= 20):
            symptoms.append(Symptom.PAIN)
        if bleeding:
            symptoms.append(Symptom.BLEEDING)
        if ulcerated and longest >= 20 and rng.random() < 0.3:
            symptoms.append(Symptom.ODOUR)
        if ulcerated and rng.random() < 0.06:
            symptoms.append(Symptom.INFECTION)
        if ulcerated and rng.random() < 0.5:
            symptoms.append(Symptom.EXUDATE)
        self.lesions.append(lesion)
        self.event_days.append(baseline_day)
        self.out.lesions.append(
            {
                "lesion_id": lesion.lesion_id,
                "patient_id": self.patient_id,
                "body_site": site,
                "layer": layer,
                "baseline_date": dt.date.fromordinal(baseline_day),
                "longest_diameter_mm": longest,
                "perpendicular_diameter_mm": perpendicular,
                "thickness_mm": lesion.thickness_mm,
                "ulcerated": ulcerated,
                "bleeding": bleeding,
                "previously_irradiated": irradiated,
                "symptoms": symptoms,
            }
        )
        return lesion

    # ------------------------------------------------------------------ lesion course
    def start_episode(self, lesion: _LesionState, day: int, retreatment: bool) -> None:
        """Draw the response of ``lesion`` to the treatment given on ``day``."""
        p, rng = self.p, self.rng
        size = max(lesion.last_mm, 1.0)
        score = (
            p.response_intercept
            + p.response_log_size_slope * math.log(size / p.lesion_median_mm)
            + self.response_effect
            + rng.logistic()
        )
        if lesion.layer is Layer.SUBCUTANEOUS:
            score += p.response_subcutaneous
        if self.immunotherapy:
            score += p.response_immunotherapy
        if retreatment:
            score += p.response_retreatment
        if score > 0.0:
            category, fraction, nadir = _CR, 0.0, self.uniform(p.nadir_days_cr)
        elif score > p.response_pr_cut:
            fraction = self.uniform(p.nadir_fraction_pr)
            category, nadir = _PR, self.uniform(p.nadir_days_pr)
        elif score > p.response_sd_cut:
            fraction = self.uniform(p.nadir_fraction_sd)
            category, nadir = _SD, self.uniform(p.nadir_days_sd)
        else:
            category, fraction, nadir = _PD, 1.0, 1.0
        if category == _PD:
            progression = self.uniform(p.primary_progression_days)
        else:
            mean = (
                p.progression_mean_days_cr,
                p.progression_mean_days_pr,
                p.progression_mean_days_sd,
            )[category]
            log_hr = p.progression_log_hr_patient * self.response_effect
            if self.immunotherapy:
                log_hr += p.progression_log_hr_immunotherapy
            progression = nadir + rng.exponential(mean * math.exp(-log_hr))
        lesion.episode_day = day
        lesion.episode_mm = size
        lesion.category = category
        lesion.nadir_fraction = fraction
        lesion.nadir_days = nadir
        lesion.progression_days = progression
        lesion.nadir_mm = size
        lesion.last_mm = size
        lesion.progressed = False
        lesion.retreat_day = None
        lesion.responded = lesion.responded or category in (_CR, _PR)

    def progress(self, lesion: _LesionState, day: int) -> float:
        """Longest diameter (mm) at a visit on ``day`` at or after local progression.

        The first measurement after progression exceeds the nadir by the criterion's
        progression thresholds plus a margin (RECIST: >= 20 % and >= 5 mm, so >= 30 % and
        >= 6 mm with the calibrated margins); later ones keep growing, slowly, up to three
        times the size at the last treatment.
        """
        p, rng = self.p, self.rng
        if lesion.progressed:
            ceiling = min(max(3.0 * lesion.episode_mm, 30.0), 150.0)
            grown = lesion.last_mm * rng.uniform((1.0, 1.10)) + rng.uniform((0.0, 1.5))
            return float(max(min(math.ceil(grown), ceiling), lesion.last_mm))
        nadir = lesion.nadir_mm
        criterion = self.practice.criterion
        low_pct, high_pct = p.progression_excess_pct
        low_mm, high_mm = p.progression_excess_mm
        relative = (
            1.0 + (criterion.pd_increase_pct + low_pct) / 100.0,
            1.0 + (criterion.pd_increase_pct + high_pct) / 100.0,
        )
        absolute = (criterion.pd_min_increase + low_mm, criterion.pd_min_increase + high_mm)
        grown = max(nadir * rng.uniform(relative), nadir + rng.uniform(absolute))
        lesion.progressed = True
        if rng.random() < p.retreatment_share:
            lesion.retreat_day = max(
                day + rng.integer(p.retreatment_delay_days),
                lesion.first_session_day + p.retreatment_min_days,
            )
        return float(min(math.ceil(grown), 300))

    def follow_up(self, initial: list[_LesionState]) -> None:
        """Sessions and visits, in date order, until death or censoring."""
        p, rng = self.p, self.rng
        self.treat(self.first_day, initial, [])
        new_lesions_day = (
            self.first_day + 30 + int(rng.exponential(p.new_lesions_mean_days))
            if rng.random() < p.new_lesions_share
            else None
        )
        origin = self.first_day
        visit = origin + self.integer(p.early_visit_gap_days)
        assessor = f"AS-{self.centre.centre.centre_id}-{self.integer((1, self.centre.assessors))}"
        while True:
            session_day: int | None = None
            retreat: list[_LesionState] = []
            if len(self.sessions) < p.max_sessions:
                candidates = [
                    lesion.retreat_day for lesion in self.lesions if lesion.retreat_day is not None
                ]
                if new_lesions_day is not None:
                    candidates.append(new_lesions_day)
                if candidates:
                    session_day = max(
                        min(candidates), self.sessions[-1].day + p.min_session_gap_days
                    )
            if session_day is not None and session_day <= visit and session_day <= self.end_day:
                retreat = [
                    lesion
                    for lesion in self.lesions
                    if lesion.retreat_day is not None and lesion.retreat_day <= session_day
                ]
                new: list[_LesionState] = []
                if new_lesions_day is not None and new_lesions_day <= session_day:
                    room = p.max_lesions - len(self.lesions)
                    count = min(1 + self.pick((0.55, 0.30, 0.15)), room)
                    new = [self.new_lesion(session_day, initial=False) for _ in range(count)]
                    new_lesions_day = (
                        session_day + 30 + int(rng.exponential(p.new_lesions_mean_days))
                        if rng.random() < p.new_lesions_share
                        else None
                    )
                if not new and not retreat:  # no room for more lesions
                    new_lesions_day = None
                    continue
                self.treat(session_day, new, retreat)
                origin = session_day
                visit = origin + self.integer(p.early_visit_gap_days)
                continue
            if visit > self.end_day:
                break
            self.visit(visit, assessor)
            gap = (
                p.early_visit_gap_days
                if visit - origin < p.early_follow_up_days
                else p.late_visit_gap_days
            )
            visit += self.integer(gap)

    def visit(self, day: int, assessor: str) -> None:
        """Measure every lesion treated before ``day``."""
        rng = self.rng
        date = dt.date.fromordinal(day)
        self.event_days.append(day)
        x = rng.random()
        if x < 0.88:
            method = AssessmentMethod.CALIPER
        elif x < 0.96:
            method = AssessmentMethod.PHOTO
        else:
            method = AssessmentMethod.ULTRASOUND
        append = self.out.assessments.append
        noise_max = self.p.caliper_noise_max
        criterion = self.practice.criterion
        for lesion in self.lesions:
            if lesion.first_session_day >= day:
                continue
            t = day - lesion.episode_day
            u, v = rng.random(), rng.random()  # caliper error: u + v - 1 and u - v
            if lesion.progressed or t >= lesion.progression_days:
                longest = self.progress(lesion, day)
            else:
                # linear shrinkage to the nadir, then a plateau; bounded caliper noise
                size = lesion.episode_mm
                if t < lesion.nadir_days:
                    size *= 1.0 - (1.0 - lesion.nadir_fraction) * t / lesion.nadir_days
                else:
                    size *= lesion.nadir_fraction
                if size <= 0.0:
                    longest = 0.0
                else:
                    longest = float(max(round(size * (1.0 + noise_max * (u + v - 1.0))), 1))
                    nadir = lesion.nadir_mm
                    if longest > nadir and (
                        categorise(longest, lesion.episode_mm, nadir, criterion) is Category.PD
                    ):
                        longest = nadir  # noise never reads as progression
                if longest < lesion.nadir_mm:
                    lesion.nadir_mm = longest
            lesion.last_mm = longest
            if longest == 0.0:
                perpendicular = 0.0
            else:
                # u - v is uncorrelated with the caliper noise u + v - 1 (triangular)
                ratio = lesion.perpendicular_ratio * (1.0 + 0.03 * (u - v))
                perpendicular = float(min(max(round(longest * ratio), 1), longest))
            lesion.last_perpendicular_mm = perpendicular
            lesion.assessments += 1
            append(
                {
                    "assessment_id": f"{lesion.lesion_id}-V{lesion.assessments:03d}",
                    "lesion_id": lesion.lesion_id,
                    "assessment_date": date,
                    "longest_diameter_mm": longest,
                    "perpendicular_diameter_mm": perpendicular,
                    "method": method,
                    "assessor": assessor,
                }
            )

    # ------------------------------------------------------------------ sessions
    def treat(self, day: int, new: list[_LesionState], retreat: list[_LesionState]) -> None:
        """Record the session on ``day`` treating the initial/new and retreated lesions."""
        p, rng = self.p, self.rng
        number = len(self.sessions) + 1
        session = _SessionPlan(day, number, f"{self.patient_id}-S{number}")
        self.sessions.append(session)
        self.event_days.append(day)
        for lesion in new:
            self.start_episode(lesion, day, retreatment=False)
        for lesion in retreat:
            self.start_episode(lesion, day, retreatment=True)
        treated = sorted(new + retreat, key=lambda lesion: lesion.number)
        session.lesions = treated

        age = self.age + (day - self.first_day) // 365
        weight = (
            self.weight_kg
            if number == 1
            else round(self.weight_kg * (1.0 + rng.normal(0.0, 0.025)), 1)
        )
        practice = self.practice
        rules = practice.later if day >= self.centre.adoption_day else practice.earlier
        bsa = rules.bsa_m2(self.height_cm, weight)
        sex = Sex.F if self.female else Sex.M
        clearance = cockcroft_gault(age, weight, sex, self.creatinine_mg_dl)
        clearance = round(min(max(clearance, 5.0), 250.0), 0)
        lesions = [
            lesion_to_treat(
                lesion.lesion_id,
                lesion.body_site,
                lesion.layer,
                lesion.last_mm,
                lesion.last_mm * lesion.perpendicular_ratio,
                lesion.thickness_mm,
            )
            for lesion in treated
        ]

        # Route: intravenous, or intratumoural where the rules allow it for a share of
        # sessions (or where the rule set's dose policy gives no intravenous dose).
        dose_per_m2: float | None = None
        intratumoural = (
            rules.route(lesions) is Route.INTRATUMOURAL
            and rng.random() < p.intratumoural_share_small
        )
        if not intratumoural:
            with_age, without = rules.iv_doses_per_m2(age, clearance)
            dose_per_m2 = without
            if (
                with_age is not None
                and without is not None
                and with_age < without
                and rng.random() < p.reduced_dose_share_over_65
            ):
                dose_per_m2 = with_age
        drug = Drug.BLEOMYCIN
        if dose_per_m2 is None:
            route = Route.INTRATUMOURAL
            if intratumoural and self.calcium(rules, day):
                # calcium electroporation: mL by the diameters last recorded (whole mm)
                drug = Drug.CALCIUM_CHLORIDE
                calcium_ml = rules.calcium_ml(
                    [(lesion.last_mm, lesion.last_perpendicular_mm) for lesion in treated]
                )
                dose = max(calcium_ml, p.calcium_it_min_ml)
            else:
                it_iu = rules.it_dose_iu(lesions, p.it_policy)
                dose = max(round(it_iu, -1), p.bleomycin_it_min_iu)
            anaesthesia = rules.anaesthesia(lesions)
        else:
            route = Route.INTRAVENOUS
            dose = round(dose_per_m2 * bsa, -1)
            anaesthesia = self.anaesthesia(rules.anaesthesia(lesions))
        bolus_end_s = (8 * 60 + 30 + self.integer((0, 390))) * 60
        operator = f"OP-{self.centre.centre.centre_id}-{self.integer((1, self.centre.operators))}"
        self.out.sessions.append(
            {
                "session_id": session.session_id,
                "patient_id": self.patient_id,
                "session_date": dt.date.fromordinal(day),
                "session_number": number,
                "anaesthesia": anaesthesia,
                "drug": drug,
                "route": route,
                "dose": float(dose),
                "dose_per_m2": dose_per_m2,
                "bsa_m2": bsa,
                "height_cm": self.height_cm,
                "weight_kg": weight,
                "creatinine_clearance_ml_min": float(clearance),
                "bolus_end_time": _time_of_day(bolus_end_s),
                "rule_set": rules.id,
                "operator": operator,
                **self.pain(anaesthesia),
            }
        )
        self.applications(session, rules, lesions, bolus_end_s, route)
        self.adverse_events(session, route is Route.INTRATUMOURAL)

    def calcium(self, rules: SessionRules, day: int) -> bool:
        """Whether an intratumoural session on ``day`` planned with ``rules`` injects
        calcium chloride instead of bleomycin: a calibrated share of the sessions from
        ``calcium_from`` on under the later rule set, where it has the calcium rule."""
        p = self.p
        if (
            rules is not self.practice.later
            or rules.calcium_ml_per_cm3 is None
            or day < p.calcium_from.toordinal()
        ):
            return False
        if self._calcium is None:
            seed, index = self._calcium_key
            self._calcium = _Draws(np.random.default_rng([seed, _CALCIUM_STREAM, index]))
        return self._calcium.random() < p.calcium_share_intratumoural

    def pain(self, anaesthesia: Anaesthesia | None) -> dict[str, Any]:
        """Pain NRS during and after the procedure and the analgesia given (a share of
        sessions; by the anaesthesia)."""
        p, rng = self.p, self.safety
        if anaesthesia is None or rng.random() >= p.pain_recorded_share:
            return {"pain_during_nrs": None, "pain_after_nrs": None, "analgesia": []}
        during_mean, during_sd, after_mean, after_sd = dict(p.pain_nrs)[anaesthesia]
        during = None if during_mean is None else _nrs(rng.normal(during_mean, during_sd))
        after = _nrs(rng.normal(after_mean, after_sd))
        given = [
            analgesic
            for analgesic, share in dict(p.analgesia_given)[anaesthesia]
            if rng.random() < share
        ]
        return {
            "pain_during_nrs": during,
            "pain_after_nrs": after,
            "analgesia": sorted(given, key=list(Analgesia).index) or [Analgesia.NONE],
        }

    def anaesthesia(self, suggested: Anaesthesia) -> Anaesthesia:
        """Anaesthesia given for an intravenous session whose rules suggest ``suggested``."""
        shares = dict(self.p.anaesthesia_given)[suggested]
        return shares[self.pick(tuple(share for _, share in shares))][0]

    def applications(
        self,
        session: _SessionPlan,
        rules: SessionRules,
        lesions: Sequence[LesionToTreat],
        bolus_end_s: int,
        route: Route,
    ) -> None:
        """Electrode applications of one session, in the rules' pulse window (times in s)."""
        p, rng = self.p, self.rng
        #: (lesion id, the lesion's electrode plan, median current of the lesion in A)
        plan: list[tuple[str, ElectrodePlan, float]] = []
        for lesion in lesions:
            electrode = self.electrode(rules, lesion)
            count = min(electrode.applications, p.max_applications_per_lesion)
            current = ELECTRODE_CURRENT_A[electrode.electrode.value] * math.exp(0.3 * rng.normal())
            plan.extend([(lesion.lesion_id, electrode, current)] * count)
        window = rules.window(route)
        opens_s, last_s = window.start_min * 60.0, window.end_min * 60.0
        if route is Route.INTRATUMOURAL:
            first_s = opens_s + self.integer(p.it_first_application_s)
        else:
            earliest, latest = p.iv_first_application_min
            first_s = int(self.uniform((opens_s + earliest * 60.0, opens_s + latest * 60.0)))
        start_s = bolus_end_s + first_s
        spacing = min(60.0, (last_s - first_s) / len(plan))  # one a minute, if time allows
        session_id = session.session_id
        append = self.out.applications.append
        aborted = rng.geometric(INCOMPLETE_SHARE)  # next train the generator aborts
        for k, (lesion_id, electrode, current) in enumerate(plan, start=1):
            complete = k != aborted
            if not complete:
                aborted += rng.geometric(INCOMPLETE_SHARE)
            current *= 0.8 + 0.4 * rng.random()  # contact and tissue, train to train
            append(
                {
                    "application_id": f"{session_id}-A{k:03d}",
                    "session_id": session_id,
                    "lesion_id": lesion_id,
                    "time": _time_of_day(int(start_s + int((k - 1) * spacing))),
                    "electrode": electrode.electrode.value,
                    "voltage_v": electrode.voltage_v,
                    "pulses": electrode.pulses,
                    "frequency_hz": electrode.frequency_hz,
                    "pulse_duration_us": electrode.pulse_duration_us,
                    "current_a": round(min(max(current, 1.0), 8.0), 1),
                    "complete": complete,
                }
            )

    def electrode(self, rules: SessionRules, lesion: LesionToTreat) -> ElectrodePlan:
        """The rules' electrode for the lesion (electrode.choice) or, for a calibrated share
        of lesions, the next larger type; with its voltage, pulses and applications."""
        x = self.rng.random()
        electrode = rules.electrode(lesion)
        if electrode is Electrode.PLATE and x >= self.p.plate_as_suggested_share:
            electrode = Electrode.LINEAR
        elif electrode is Electrode.LINEAR and x >= self.p.linear_as_suggested_share:
            electrode = Electrode.HEXAGONAL
        return rules.electrode_plan(lesion, electrode)

    def adverse_events(self, session: _SessionPlan, intratumoural: bool) -> None:
        rng = self.rng
        large = any(lesion.last_mm >= 30 or lesion.ulcerated for lesion in session.lesions)
        limb = any(lesion.body_site in _LIMB_SITES for lesion in session.lesions)
        for term, probability, grades, onset in ADVERSE_EVENTS:
            if term == "Skin ulceration" and large:
                probability *= 3.0
            if term in ("Nausea", "Allergic reaction", "Skin hyperpigmentation") and intratumoural:
                probability *= 0.2
            if term == "Edema limbs" and not limb:
                continue
            if rng.random() >= probability:
                continue
            grade = 1 + self.pick(grades)
            day = session.day + self.integer(onset)
            if day > self.end_day:
                continue
            self.event_days.append(day)
            self.adverse_event_count += 1
            self.out.adverse_events.append(
                {
                    "event_id": f"{self.patient_id}-AE{self.adverse_event_count:02d}",
                    "patient_id": self.patient_id,
                    "session_id": session.session_id,
                    "onset_date": dt.date.fromordinal(day),
                    "term": term,
                    "grade": grade,
                    "serious": rng.random() < SERIOUS_SHARE_BY_GRADE[grade - 1],
                }
            )

    # ------------------------------------------------------------------ other files
    def systemic_therapies(self) -> None:
        p, rng = self.p, self.rng
        first = self.first_day
        lines: list[tuple[AgentClass, str, int, int | None]] = []
        end: int | None
        if self.braf is BrafStatus.MUTANT and rng.random() < p.prior_braf_mek_share_of_mutant:
            start = first - self.integer((200, 1100))
            end = min(start + self.integer((90, 700)), first - self.integer((31, 120)))
            agent = BRAF_MEK_AGENTS[self.pick((0.6, 0.3, 0.1))]
            lines.append((AgentClass.BRAF_MEK, agent, start, max(end, start)))
        if self.stage_iv and rng.random() < p.prior_chemotherapy_share:
            start = first - self.integer((400, 1500))
            lines.append((AgentClass.CHEMOTHERAPY, "dacarbazine", start, start + 90))
        if self.immunotherapy:
            agent_class, agent, _ = p.immunotherapy_agents[
                self.pick(tuple(weight for _, _, weight in p.immunotherapy_agents))
            ]
            start = min(first + self.integer((-150, 14)), self.end_day)
            end = max(start + self.integer((60, 730)), first + 31)
            lines.append((agent_class, agent, start, end))
        else:
            if self.stage_iv and rng.random() < p.prior_immunotherapy_share_stage_iv:
                agent_class, agent = PRIOR_IMMUNOTHERAPY[self.pick((0.45, 0.35, 0.1, 0.1))]
                end = first - self.integer((45, 400))
                start = end - self.integer((60, 700))
                lines.append((agent_class, agent, start, end))
            if rng.random() < p.later_immunotherapy_share:
                start = first + self.integer((45, 400))
                if start <= self.end_day:
                    end = start + self.integer((60, 730))
                    lines.append((AgentClass.ANTI_PD1, "pembrolizumab", start, end))
        bleomycin: dict[tuple[str, int], float] = {}  # (agent, start) -> cumulative IU
        prior = self.prior_bleomycin()
        if prior is not None:
            agent, start, end, iu = prior
            lines.append((AgentClass.CHEMOTHERAPY, agent, start, end))
            bleomycin[(agent, start)] = iu
        lines.sort(key=lambda line: line[2])
        for k, (agent_class, agent, start, end_day) in enumerate(lines, start=1):
            if end_day is not None and end_day > self.end_day:
                end_day = self.death_day if self.death_day is not None else None
            self.event_days.append(start)
            if end_day is not None:
                self.event_days.append(end_day)
            self.out.systemic_therapies.append(
                {
                    "therapy_id": f"{self.patient_id}-T{k}",
                    "patient_id": self.patient_id,
                    "agent_class": agent_class,
                    "agent": agent,
                    "start_date": dt.date.fromordinal(start),
                    "end_date": None if end_day is None else dt.date.fromordinal(end_day),
                    "bleomycin_iu": bleomycin.get((agent, start)),
                }
            )

    def prior_bleomycin(self) -> tuple[str, int, int, float] | None:
        """An earlier bleomycin chemotherapy for another cancer (a small share of the
        patients): agent, first and last day, cumulative IU."""
        p, rng = self.p, self.safety
        if rng.random() >= p.prior_bleomycin_share:
            return None
        latest_years = min(p.prior_bleomycin_years[1], self.age - 18)
        if latest_years < p.prior_bleomycin_years[0]:
            return None
        index = _pick(rng, tuple(share for _, share in PRIOR_BLEOMYCIN))
        agent, per_dose, per_m2, doses_range, gap_days, men_only = PRIOR_BLEOMYCIN[index][0]
        if men_only and self.female:
            agent, per_dose, per_m2, doses_range, gap_days, _ = PRIOR_BLEOMYCIN[0][0]
        doses = rng.integer(doses_range)
        years = rng.integer((p.prior_bleomycin_years[0], latest_years))
        start = self.first_day - 365 * years - rng.integer((0, 364))
        end = start + (doses - 1) * gap_days
        # BSA then by Mosteller (an oncology ward's dose, not an ECT rule set's)
        bsa = body_surface_area(self.height_cm, self.weight_kg, BsaFormula.MOSTELLER)
        if not per_m2:
            bsa = 1.0
        return agent, start, end, float(round(doses * per_dose * bsa, -3))

    def lung_and_chest(self) -> dict[str, Any]:
        """Lung function (DLCO) and chest imaging before the first session, for shares of
        the patients."""
        p, rng = self.p, self.safety
        out: dict[str, Any] = {
            "dlco_percent_predicted": None,
            "dlco_date": None,
            "chest_imaging_date": None,
        }
        if rng.random() < p.dlco_recorded_share:
            low, high = p.dlco_range_pct
            value = rng.normal(p.dlco_mean_pct - 0.25 * max(self.age - 60, 0), p.dlco_sd_pct)
            out["dlco_percent_predicted"] = float(round(min(max(value, low), high)))
            out["dlco_date"] = dt.date.fromordinal(self.first_day - rng.integer(p.dlco_days_before))
        if rng.random() < p.chest_imaging_share:
            out["chest_imaging_date"] = dt.date.fromordinal(
                self.first_day - rng.integer(p.chest_imaging_days_before)
            )
        return out

    def patient_reported(self) -> None:
        """Pain NRS, EQ-5D-3L and EQ-VAS at baseline and 1, 2, 4 and 10 months."""
        p, rng = self.p, self.rng
        initial = [lesion for lesion in self.lesions if lesion.first_session_day == self.first_day]
        painful = sum(lesion.ulcerated or lesion.baseline_mm >= 20 for lesion in initial)
        baseline_pain = 1.5 + 1.5 * min(painful, 3) + 0.5 * self.ecog + rng.normal(0.0, 1.5)
        responded = sum(lesion.responded for lesion in initial) / len(initial)
        for k, offset in enumerate(p.pro_days):
            day = self.first_day + offset + (self.integer((-5, 7)) if offset else 0)
            if day > self.end_day or (offset and rng.random() >= p.pro_completion_share):
                continue
            relief = 0.0 if offset == 0 else 0.6 * responded * min(offset / 30.0, 1.0)
            pain = int(min(max(round(baseline_pain * (1 - relief) + rng.normal(0, 1.0)), 0), 10))
            decline = 0.0 if offset == 0 else offset / 365.0
            mobility = _level(0.25 * self.ecog + 0.01 * (self.age - 70) + decline, rng)
            selfcare = _level(0.25 * self.ecog - 0.3 + decline, rng)
            activity = _level(0.3 * self.ecog + 0.05 * pain, rng)
            discomfort = 1 if pain <= 1 else 2 if pain <= 6 else 3
            anxiety = _level(0.1 * pain - 0.1, rng)
            vas = 82 - 8 * self.ecog - 2.0 * pain + rng.normal(0.0, 10.0)
            self.event_days.append(day)
            self.out.patient_reported.append(
                {
                    "report_id": f"{self.patient_id}-PRO{k + 1}",
                    "patient_id": self.patient_id,
                    "report_date": dt.date.fromordinal(day),
                    "pain_nrs": pain,
                    "eq5d_mobility": mobility,
                    "eq5d_selfcare": selfcare,
                    "eq5d_activity": activity,
                    "eq5d_pain": discomfort,
                    "eq5d_anxiety": anxiety,
                    "eq_vas": int(min(max(round(vas), 0), 100)),
                }
            )

    def emit_patient(self) -> None:
        p, rng = self.p, self.rng
        death_cause: DeathCause | None = None
        if self.death_day is not None:
            last_contact = self.death_day
            x = rng.random()
            if x < p.melanoma_death_share:
                death_cause = DeathCause.MELANOMA
            elif x < p.melanoma_death_share + p.other_death_share:
                death_cause = DeathCause.OTHER
            else:
                death_cause = DeathCause.UNKNOWN
        elif self.lost:
            last_contact = max(self.event_days)
        else:
            # vital status confirmed shortly before the cut-off
            last_contact = max(max(self.event_days), _CUTOFF_DAY - self.integer((0, 30)))
        first_year = dt.date.fromordinal(min(self.event_days)).year
        self.out.patients.append(
            {
                "patient_id": self.patient_id,
                "centre_id": self.centre.centre.centre_id,
                "sex": Sex.F if self.female else Sex.M,
                "birth_year": min(
                    dt.date.fromordinal(self.first_day).year - self.age - self.integer((0, 1)),
                    first_year,
                ),
                "primary_tumour": PrimaryTumour.MELANOMA,
                "stage": self.stage,
                "braf_status": self.braf,
                "ecog": self.ecog,
                "visceral_metastases": self.visceral,
                "last_contact_date": dt.date.fromordinal(last_contact),
                "death_date": (
                    None if self.death_day is None else dt.date.fromordinal(self.death_day)
                ),
                "death_cause": death_cause,
                **self.lung_and_chest(),
            }
        )


def _nrs(value: float) -> int:
    """A numeric rating scale score 0-10 from a latent value."""
    return int(min(max(round(value), 0), 10))


def _pick(rng: _Draws, weights: tuple[float, ...]) -> int:
    """Index drawn with probability proportional to ``weights``."""
    x = rng.random() * sum(weights)
    for position, weight in enumerate(weights):
        x -= weight
        if x < 0:
            return position
    return len(weights) - 1


def _level(latent: float, rng: _Draws) -> int:
    """EQ-5D-3L level 1-3 from a latent problem score plus logistic noise."""
    score = latent + 0.5 * rng.logistic()
    return 1 if score < 0.4 else 2 if score < 1.6 else 3


def _time_of_day(seconds: int) -> dt.time:
    """Time of day from seconds after midnight."""
    seconds = int(seconds)
    return dt.time(seconds // 3600, seconds // 60 % 60, seconds % 60)
