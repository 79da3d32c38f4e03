"""Synthetic multi-centre ECT register of melanoma patients (SYNTHETIC data, not real patients).

:func:`generate_cohort` builds a complete :class:`~openect.data.dataset.Dataset` that looks
like an InspECT-style register of electrochemotherapy (ECT) of cutaneous and subcutaneous
melanoma metastases: centres, patients, lesions, sessions, electrode applications,
follow-up measurements, adverse events, patient-reported outcomes and systemic therapies.
It is meant for demonstrations, tests and benchmarks; every record is invented.

Determinism
    Same arguments, same dataset. Every patient has its own random stream,
    ``numpy.random.default_rng([seed, 1, patient_index])``, and every centre its own,
    ``default_rng([seed, 0, centre_index])``, so patient *i*'s records do not depend on
    how many patients are generated (prefix stability). The first ``centres`` patients
    are assigned one per centre so that no centre is empty; the others are drawn with
    unequal centre weights.

Generative model (all times in days from the patient's first ECT session)
    * Patient: sex, age at first ECT (normal, years), AJCC 8th stage group (IIIB-IIID,
      IV-M1a..M1d; visceral metastases iff M1b-M1d), ECOG, BRAF status, height (cm),
      weight (kg) and serum creatinine (mg/dL) from which the Cockcroft-Gault creatinine
      clearance (mL/min) and the Mosteller body-surface area (m2) follow. First ECT dates
      are uniform over 2018-2025; the data cut-off is :data:`SYNTHETIC_CUTOFF`.
    * Concurrent immunotherapy (anti-PD-1, anti-CTLA-4 or both) overlapping the first
      session for about a third of the patients; earlier BRAF/MEK, immunotherapy or
      chemotherapy lines that ended before ECT; some later lines.
    * Survival: Weibull proportional hazards (stage, ECOG, concurrent immunotherapy);
      censoring administratively at the cut-off or by loss to follow-up.
    * Lesions: 1 + geometric count per patient; longest diameter log-normal (mm) with a
      per-patient size effect; perpendicular diameter, thickness (mm) by layer,
      ulceration, bleeding, previous irradiation and symptoms.
    * Response of each lesion to each treatment (an ordered-logit latent score):
      size (log of the longest diameter), subcutaneous layer, concurrent immunotherapy and a
      per-patient random effect (so that the lesions of one patient are correlated)
      choose complete response (CR), partial response (PR), stable disease (SD) or primary
      progression. The longest diameter shrinks linearly to the nadir (0 mm for CR) and
      stays there until local progression, whose time depends on the response, the
      patient effect and immunotherapy. Measurements carry bounded caliper noise (at most
      +-5 %, rounded to 1 mm) which can never meet the RECIST progression criterion
      (>= 20 % above the nadir AND >= 5 mm); the first measurement after progression
      exceeds the nadir by >= 30 % and >= 6 mm, and the lesion keeps growing.
    * Sessions: the first treats all initial lesions; a locally progressed lesion may be
      retreated (no earlier than 101 days after its first session, so that the 60-day
      assessment window stays untouched) and new in-transit lesions may appear; at most
      three sessions, at least 28 days apart. Intravenous bleomycin 15,000 IU/m2 (10,000
      or 7,500 IU/m2 for reduced creatinine clearance or some patients over 65), or
      intratumoural bleomycin 1,000 IU/cm3 of the ellipsoid volume pi/6 * a * b^2 for one
      or two small lesions. Electrode by size and depth, number of applications from the
      area with a 3 mm margin over the electrode footprint, all inside the 8-28 min
      window after the intravenous bolus.
    * Follow-up visits every 4-6 weeks for 6 months after each session, then every
      ~3 months, until death or censoring; every lesion is measured at every visit.
    * Adverse events (CTCAE v5 terms, grades 1-3) within 14 days of a session, and
      patient-reported pain (NRS) and EQ-5D-3L + EQ-VAS at baseline and 1, 2, 4 and
      10 months, lower pain when the lesions responded.

Calibration
    Targets from published ECT figures; the values in
    brackets are measured by ``tests/test_synth.py`` on the generated rows of a
    2,000-patient cohort (seed 2026), the way an analyst would compute them.

    * Per-lesion response at the assessment nearest to 60 days (40-100 days), RECIST 1.1
      adapted to skin: CR ~60 % [62 %], objective response ~82 % [83 %] (InspECT
      melanoma, Kunte 2017: CR 58 %, OR 77 % of 394 lesions; Clover 2020 melanoma
      subgroup: CR 64 %, OR 82 %).
    * Tumours >= 30 mm: CR ~33 % [32 %] vs ~60 % below [64 %] (Mali 2013: CR 33.3 % vs
      59.5 %; OR 68.2 % vs 85.7 % [about 61 % vs 85 %]).
    * Local tumour control (Kaplan-Meier per lesion) ~85 % at 200 days [85 %] (InspECT,
      "86 % at 200 days"), better with concurrent immunotherapy [91 % vs 82 %] (Campana
      2021, pembrolizumab + ECT: 1-year local progression-free survival 86 %).
    * Overall survival from the first ECT ~67 % at 1 year [66 %] (Kunte 2017: 67 %,
      95 % CI 57-77 %), better with concurrent immunotherapy [75 % vs 61 %] (Campana
      2021: 88 % vs 64 %).
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
import math
import operator
from dataclasses import dataclass, field
from typing import Any, Final, SupportsIndex

import numpy as np
from pydantic import TypeAdapter

from openect import __version__
from openect.data.dataset import Dataset, DatasetInfo, collection_paused
from openect.data.enums import (
    AgentClass,
    Anaesthesia,
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
from openect.data.models import (
    AdverseEvent,
    Application,
    Assessment,
    Centre,
    Lesion,
    Patient,
    PatientReported,
    Record,
    Session,
    SystemicTherapy,
)

__all__ = [
    "CALIBRATION",
    "MAX_CENTRES",
    "MAX_PATIENTS",
    "SYNTHETIC_CUTOFF",
    "CalibrationParameters",
    "generate_cohort",
]

#: Fixed data cut-off of every synthetic dataset: no record is dated after it.
SYNTHETIC_CUTOFF: Final[dt.date] = dt.date(2026, 6, 30)
#: First ECT (enrolment) dates are uniform over this closed range.
ENROLMENT_START: Final[dt.date] = dt.date(2018, 1, 1)
ENROLMENT_END: Final[dt.date] = dt.date(2025, 12, 31)
#: Largest cohort and number of centres accepted by :func:`generate_cohort`.
MAX_PATIENTS: Final[int] = 1_000_000
MAX_CENTRES: Final[int] = 99

#: Random-stream tags: ``default_rng([seed, tag, index])``.
_CENTRE_STREAM: Final[int] = 0
_PATIENT_STREAM: Final[int] = 1

#: Response categories of one treatment of one lesion (order of the latent score).
_CR, _PR, _SD, _PD = 0, 1, 2, 3
_NEVER: Final[float] = math.inf


@dataclass(frozen=True)
class CalibrationParameters:
    """Parameters of the generative model, each tuned to a published figure or assumed.

    Units are in the names: ``_mm`` millimetres, ``_days`` days, ``_years`` years,
    ``_cm`` centimetres, ``_kg`` kilograms, ``_mg_dl`` mg/dL, ``_iu_per_m2`` IU of
    bleomycin per m2 body-surface area, ``_iu_per_cm3`` IU per cm3 of tumour. Shares are
    probabilities (0-1); ``log_hr`` are natural logarithms of hazard ratios. "Assumed"
    marks a value chosen to look plausible, without a figure in the evidence files.
    """

    # ---- population at first ECT (assumed; typical of melanoma ECT series)
    female_share: float = 0.55
    age_mean_years: float = 70.0
    age_sd_years: float = 12.0
    age_min_years: int = 25
    age_max_years: int = 97
    #: AJCC 8th stage group: (stage, share, log hazard ratio of death); assumed.
    stages: tuple[tuple[str, float, float], ...] = (
        ("IIIB", 0.10, -0.70),
        ("IIIC", 0.33, -0.45),
        ("IIID", 0.08, -0.15),
        ("IV-M1a", 0.18, 0.0),
        ("IV-M1b", 0.12, 0.25),
        ("IV-M1c", 0.14, 0.60),
        ("IV-M1d", 0.05, 0.95),
    )
    #: ECOG 0..3: (share, log hazard ratio of death); assumed.
    ecog: tuple[tuple[float, float], ...] = (
        (0.42, -0.30), (0.38, 0.0), (0.16, 0.55), (0.04, 1.0),
    )  # fmt: skip
    #: BRAF V600 mutant ~45 % of cutaneous melanoma (assumed); some untested.
    braf_mutant_share: float = 0.45
    braf_unknown_share: float = 0.05
    height_mean_cm: tuple[float, float] = (163.0, 176.0)  # (female, male); assumed
    height_sd_cm: float = 7.0
    weight_mean_kg: tuple[float, float] = (69.0, 83.0)  # (female, male); assumed
    weight_sd_kg: float = 14.0
    #: Serum creatinine (female, male), log-normal, rising after 60 (Cockcroft-Gault input).
    creatinine_median_mg_dl: tuple[float, float] = (0.78, 0.98)
    creatinine_log_sd: float = 0.22

    # ---- systemic therapy: ~30-40 % on a checkpoint inhibitor at first ECT (assumed)
    immunotherapy_share_stage_iii: float = 0.25
    immunotherapy_share_stage_iv: float = 0.45
    #: Concurrent agents: (agent class, agent, share); assumed.
    immunotherapy_agents: tuple[tuple[AgentClass, str, float], ...] = (
        (AgentClass.ANTI_PD1, "pembrolizumab", 0.45),
        (AgentClass.ANTI_PD1, "nivolumab", 0.33),
        (AgentClass.ANTI_PD1_CTLA4, "ipilimumab+nivolumab", 0.12),
        (AgentClass.ANTI_CTLA4, "ipilimumab", 0.10),
    )
    #: Earlier and later lines (assumed): BRAF/MEK before ECT for BRAF-mutant patients,
    #: an earlier checkpoint inhibitor for stage IV, dacarbazine, anti-PD-1 after ECT.
    prior_braf_mek_share_of_mutant: float = 0.45
    prior_immunotherapy_share_stage_iv: float = 0.40
    prior_chemotherapy_share: float = 0.05
    later_immunotherapy_share: float = 0.15

    # ---- overall survival from the first session: Weibull proportional hazards, tuned
    # to 1-year OS ~67 % (Kunte 2017, InspECT melanoma: 67 %, 95 % CI 57-77 %)
    survival_weibull_shape: float = 1.15
    survival_scale_days: float = 670.0
    #: Concurrent immunotherapy; direction from Campana 2021 (1-year OS 88 % vs 64 %).
    survival_log_hr_immunotherapy: float = -0.80
    lost_to_follow_up_share: float = 0.08  # assumed
    melanoma_death_share: float = 0.85  # assumed; Kunte 2017: melanoma-specific 74 % at 1 y
    other_death_share: float = 0.11  # the rest: unknown cause

    # ---- lesions: median longest diameter 12 mm (Campana 2016: median 1 cm), ~7 %
    # >= 30 mm (the size class of Mali 2013); 1 to 15 per patient, mean ~3 (assumed)
    lesions_geometric_p: float = 0.38
    max_initial_lesions: int = 12
    max_lesions: int = 15
    lesion_median_mm: float = 12.0
    lesion_log_sd_patient: float = 0.30
    lesion_log_sd_lesion: float = 0.54
    lesion_min_mm: float = 2.0
    lesion_max_mm: float = 150.0
    subcutaneous_share: float = 0.45  # assumed
    #: Body sites (shares; assumed): in-transit melanoma favours the limbs and trunk.
    body_sites: tuple[tuple[BodySite, float], ...] = (
        (BodySite.HEAD_NECK, 0.09),
        (BodySite.TRUNK_ANTERIOR, 0.16),
        (BodySite.TRUNK_POSTERIOR, 0.16),
        (BodySite.UPPER_LIMB_LEFT, 0.08),
        (BodySite.UPPER_LIMB_RIGHT, 0.08),
        (BodySite.LOWER_LIMB_LEFT, 0.21),
        (BodySite.LOWER_LIMB_RIGHT, 0.21),
        (BodySite.GENITAL_PERINEAL, 0.01),
    )
    previously_irradiated_patient_share: float = 0.12  # assumed

    # ---- response of a lesion to one treatment (ordered logit). Tuned so that the
    # 60-day assessment gives CR ~60 %, OR ~82 % per lesion (Kunte 2017: 58 % / 77 %;
    # Clover 2020 melanoma: 64 % / 82 %) and CR ~33 % for tumours >= 30 mm (Mali 2013:
    # 33.3 % vs 59.5 %).
    response_intercept: float = 0.60
    #: Per unit of log(longest diameter / 12 mm): the size effect of Mali 2013.
    response_log_size_slope: float = -1.20
    response_subcutaneous: float = -0.25  # assumed
    response_immunotherapy: float = 0.35  # assumed (Campana 2021: better local control)
    response_retreatment: float = -0.50  # assumed
    #: SD of the per-patient random effect (lesions of one patient respond alike).
    response_patient_sd: float = 1.0
    #: Latent-score cut points below which the response is PR, SD, primary progression.
    response_pr_cut: float = -1.55
    response_sd_cut: float = -3.90
    #: Days to reach the nadir (uniform ranges): shrinkage complete by the 60-day visit.
    nadir_days_cr: tuple[float, float] = (18.0, 42.0)
    nadir_days_pr: tuple[float, float] = (18.0, 45.0)
    nadir_days_sd: tuple[float, float] = (14.0, 35.0)
    #: Diameter at the nadir as a fraction of the treated size (PR <= 0.7, SD > 0.7).
    nadir_fraction_pr: tuple[float, float] = (0.10, 0.62)
    nadir_fraction_sd: tuple[float, float] = (0.80, 1.00)
    primary_progression_days: tuple[float, float] = (10.0, 30.0)

    # ---- local progression after the nadir (exponential; mean days by response). Tuned
    # to local tumour control ~85 % at 200 days (InspECT: "86 % at 200 days"), better
    # with concurrent immunotherapy (Campana 2021: 1-year local PFS 86 % with
    # pembrolizumab + ECT; 1-year LPFS 78 % in InspECT melanoma)
    progression_mean_days_cr: float = 3000.0
    progression_mean_days_pr: float = 600.0
    progression_mean_days_sd: float = 330.0
    progression_log_hr_immunotherapy: float = -0.75
    #: Per unit of the patient random effect: good responders also stay controlled.
    progression_log_hr_patient: float = -0.50
    #: Retreatment of a locally progressed lesion and new in-transit lesions (assumed).
    retreatment_share: float = 0.45
    retreatment_delay_days: tuple[int, int] = (7, 42)
    #: No retreatment before the 40-100 day response window of the lesion has passed.
    retreatment_min_days: int = 101
    new_lesions_share: float = 0.15
    new_lesions_mean_days: float = 320.0
    max_sessions: int = 3
    min_session_gap_days: int = 28

    # ---- drug (ESOPE SOP, Mir 2006; updated SOP, Gehl 2018; bleomycin labels)
    bleomycin_iv_iu_per_m2: float = 15_000.0  # ESOPE / SOP
    #: Over 65 (Groselj 2018: 10,000 IU/m2, equal CR) or creatinine clearance < 50 mL/min.
    bleomycin_iv_reduced_iu_per_m2: float = 10_000.0
    #: Creatinine clearance < 30 mL/min (InspECT centres used 7,500 IU/m2).
    bleomycin_iv_renal_iu_per_m2: float = 7_500.0
    reduced_dose_share_over_65: float = 0.25  # assumed, under the 2018 SOP only
    #: Intratumoural: flat 1,000 IU per cm3 of tumour (InspECT).
    bleomycin_it_iu_per_cm3: float = 1_000.0
    #: Smallest intratumoural dose: 0.1 mL of a 1,000 IU/mL solution.
    bleomycin_it_min_iu: float = 100.0
    #: Share of sessions for one or two lesions <= 20 mm given intratumourally (assumed).
    intratumoural_share_small: float = 0.20
    intratumoural_max_mm: float = 20.0

    # ---- follow-up (InspECT: visits every 4-6 weeks for >= 16 weeks; PROs at baseline,
    # 1, 2, 4 and 10 months)
    early_visit_gap_days: tuple[int, int] = (28, 42)
    early_follow_up_days: int = 183
    late_visit_gap_days: tuple[int, int] = (80, 100)
    #: Caliper error: triangular on +-5 % of the diameter (sd ~2 %), then 1 mm rounding.
    caliper_noise_max: float = 0.05
    pro_days: tuple[int, ...] = (0, 30, 61, 122, 304)
    pro_completion_share: float = 0.88  # assumed


#: The calibration used by :func:`generate_cohort`.
CALIBRATION: Final[CalibrationParameters] = CalibrationParameters()

#: Countries of the synthetic centres (European ECT centres; InspECT is UK/IT/SI/DK/DE/IE
#: heavy). The first centres take them in order, later ones are drawn.
CENTRE_COUNTRIES: Final[tuple[str, ...]] = (
    "GB", "IT", "SI", "DK", "DE", "IE", "FR", "ES", "NL", "BE", "AT", "PL", "NO", "SE", "PT",
)  # fmt: skip
#: Rule sets used for planning: the ESOPE SOP (2006) and the updated SOP (2018).
RULE_SET_ESOPE: Final[str] = "esope-2006"
RULE_SET_SOP_2018: Final[str] = "sop-2018"

#: Electrodes: (catalogue id, footprint per application in cm2, voltage in V).
#: Plates: 1,300 V/cm x 6 mm gap = 780 V; linear needle rows 400 V; hexagonal 730 V.
PLATE: Final[tuple[str, float, float]] = ("plate", 0.5, 780.0)
LINEAR: Final[tuple[str, float, float]] = ("linear", 0.4, 400.0)
HEXAGONAL: Final[tuple[str, float, float]] = ("hexagonal", 1.5, 730.0)
#: Median peak current (A) by electrode.
ELECTRODE_CURRENT_A: Final[dict[str, float]] = {"plate": 2.8, "linear": 2.0, "hexagonal": 4.5}
#: Share of pulse trains aborted by the generator (complete = false).
INCOMPLETE_SHARE: Final[float] = 0.03
#: Margin of normal skin around the lesion covered by the applications (mm).
SAFETY_MARGIN_MM: Final[float] = 3.0
#: Pulse train: 8 pulses of 100 us at 5 kHz (ESOPE).
PULSES: Final[int] = 8
PULSE_DURATION_US: Final[float] = 100.0
FREQUENCY_HZ: Final[float] = 5000.0
#: Drug window after the end of the intravenous bolus (minutes).
IV_WINDOW_MIN: Final[tuple[float, float]] = (8.0, 28.0)
#: Pulses follow an intratumoural injection within this many minutes.
IT_WINDOW_MIN: Final[float] = 10.0

#: Adverse events: (CTCAE v5 term, probability per session, grade weights 1..3,
#: onset range in days after the session).
_AdverseEventSpec = tuple[str, float, tuple[float, float, float], tuple[int, int]]
ADVERSE_EVENTS: Final[tuple[_AdverseEventSpec, ...]] = (
    ("Pain", 0.32, (0.55, 0.38, 0.07), (0, 2)),
    ("Skin ulceration", 0.08, (0.40, 0.45, 0.15), (3, 14)),
    ("Skin hyperpigmentation", 0.10, (0.85, 0.15, 0.0), (5, 14)),
    ("Wound infection", 0.04, (0.0, 0.70, 0.30), (4, 14)),
    ("Fatigue", 0.08, (0.70, 0.28, 0.02), (0, 3)),
    ("Nausea", 0.05, (0.75, 0.25, 0.0), (0, 1)),
    ("Fever", 0.03, (0.80, 0.20, 0.0), (0, 2)),
    ("Pruritus", 0.04, (0.85, 0.15, 0.0), (2, 14)),
    ("Edema limbs", 0.04, (0.70, 0.30, 0.0), (0, 7)),
    ("Allergic reaction", 0.006, (0.30, 0.40, 0.30), (0, 0)),
)
#: Probability that an adverse event is serious, by grade 1..3.
SERIOUS_SHARE_BY_GRADE: Final[tuple[float, float, float]] = (0.0, 0.02, 0.60)

#: Earlier systemic lines: (agent class, agent).
BRAF_MEK_AGENTS: Final[tuple[str, ...]] = (
    "dabrafenib+trametinib", "encorafenib+binimetinib", "vemurafenib+cobimetinib",
)  # fmt: skip
PRIOR_IMMUNOTHERAPY: Final[tuple[tuple[AgentClass, str], ...]] = (
    (AgentClass.ANTI_PD1, "pembrolizumab"),
    (AgentClass.ANTI_PD1, "nivolumab"),
    (AgentClass.ANTI_PD1_CTLA4, "ipilimumab+nivolumab"),
    (AgentClass.ANTI_CTLA4, "ipilimumab"),
)

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
_SOP_2018_EARLIEST: Final[int] = dt.date(2018, 6, 1).toordinal()
_SOP_2018_LATEST: Final[int] = dt.date(2021, 6, 1).toordinal()


def generate_cohort(patients: int, centres: int = 4, seed: int = 0) -> Dataset:
    """Generate a SYNTHETIC multi-centre register of ECT for melanoma skin metastases.

    Args:
        patients: number of patients, 1 to 1,000,000.
        centres: number of treating centres, 1 to 99 and at most ``patients``.
        seed: non-negative seed of the random streams.

    Returns:
        A dataset whose ``info`` is marked ``synthetic=True``; identical for identical
        arguments, and patient *i*'s records do not depend on ``patients``. Dates run up
        to :data:`SYNTHETIC_CUTOFF`; lengths are in mm, doses in IU, voltages in V,
        currents in A.

    Raises:
        TypeError: an argument is not an integer.
        ValueError: an argument is out of its allowed range.
    """
    patients = _check_int("patients", patients, 1, MAX_PATIENTS)
    centres = _check_int("centres", centres, 1, MAX_CENTRES)
    seed = _check_int("seed", seed, 0, None)
    if centres > patients:
        raise ValueError(
            f"centres={centres} exceeds patients={patients}; allowed: 1 <= centres <= patients"
        )

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
            parameters={"patients": patients, "centres": centres, "seed": seed},
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
            _PatientSimulator(index, rng, centre, CALIBRATION, rows).run()
        for model in _ROW_MODELS:
            records = _list_adapter(model).validate_python(getattr(rows, model.table))
            setattr(dataset, model.table, records)
    return dataset


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


_ROW_MODELS: Final[tuple[type[Record], ...]] = (
    Patient,
    Lesion,
    Session,
    Application,
    Assessment,
    AdverseEvent,
    PatientReported,
    SystemicTherapy,
)


@functools.cache
def _list_adapter(model: type[Record]) -> TypeAdapter[list[Record]]:
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
    """A centre and its practice: size weight, operators, adoption of the 2018 SOP."""

    centre: Centre
    weight: float
    operators: int
    assessors: int
    sop_2018_day: int

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
        sop_day = int(rng.integers(_SOP_2018_EARLIEST, _SOP_2018_LATEST + 1))
        centre = Centre(
            centre_id=f"C{number:02d}", name=f"Synthetic centre {number:02d}", country=country
        )
        return _CentreProfile(centre, weight, operators, assessors, sop_day)


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
        rows: _Rows,
    ) -> None:
        self.rng = _Draws(rng)
        self.centre = centre
        self.p = params
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
                "perpendicular_diameter_mm": float(max(round(longest * ratio), 1.0)),
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

        The first measurement after progression exceeds the nadir by >= 30 % and >= 6 mm
        (RECIST progression: >= 20 % and >= 5 mm); later ones keep growing, slowly, up to
        three times the size at the last treatment.
        """
        p, rng = self.p, self.rng
        if lesion.progressed:
            ceiling = min(max(3.0 * lesion.episode_mm, 30.0), 150.0)
            grown = lesion.last_mm * rng.uniform((1.0, 1.10)) + rng.uniform((0.0, 1.5))
            return float(max(min(math.ceil(grown), ceiling), lesion.last_mm))
        nadir = lesion.nadir_mm
        grown = max(nadir * rng.uniform((1.30, 1.70)), nadir + rng.uniform((6.0, 10.0)))
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
                    if longest >= 1.2 * nadir and longest - nadir >= 5.0:
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
        bsa = round(math.sqrt(self.height_cm * weight / 3600.0), 2)
        clearance = (140 - age) * weight / (72.0 * self.creatinine_mg_dl)
        if self.female:
            clearance *= 0.85
        clearance = round(min(max(clearance, 5.0), 250.0), 0)
        rule_set = RULE_SET_SOP_2018 if day >= self.centre.sop_2018_day else RULE_SET_ESOPE

        sizes = [
            (lesion.last_mm, lesion.last_mm * lesion.perpendicular_ratio) for lesion in treated
        ]
        small = all(a <= p.intratumoural_max_mm for a, _ in sizes)
        intratumoural = len(treated) <= 2 and small and rng.random() < p.intratumoural_share_small
        dose_per_m2: float | None
        if intratumoural:
            route = Route.INTRATUMOURAL
            volume_cm3 = sum(math.pi / 6.0 * (a / 10.0) * (b / 10.0) ** 2 for a, b in sizes)
            dose = max(round(p.bleomycin_it_iu_per_cm3 * volume_cm3, -1), p.bleomycin_it_min_iu)
            dose_per_m2 = None
            anaesthesia = Anaesthesia.LOCAL
        else:
            route = Route.INTRAVENOUS
            if clearance < 30:
                dose_per_m2 = p.bleomycin_iv_renal_iu_per_m2
            elif clearance < 50 or (
                age > 65
                and rule_set == RULE_SET_SOP_2018
                and rng.random() < p.reduced_dose_share_over_65
            ):
                dose_per_m2 = p.bleomycin_iv_reduced_iu_per_m2
            else:
                dose_per_m2 = p.bleomycin_iv_iu_per_m2
            dose = round(dose_per_m2 * bsa, -1)
            largest = max(a for a, _ in sizes)
            x = rng.random()
            if len(treated) >= 5 or largest >= 30:
                anaesthesia = Anaesthesia.GENERAL if x < 0.75 else Anaesthesia.LOCAL_SEDATION
            elif len(treated) <= 2 and largest <= 15:
                anaesthesia = Anaesthesia.LOCAL if x < 0.55 else Anaesthesia.LOCAL_SEDATION
            elif x < 0.45:
                anaesthesia = Anaesthesia.GENERAL
            elif x < 0.9:
                anaesthesia = Anaesthesia.LOCAL_SEDATION
            else:
                anaesthesia = Anaesthesia.LOCAL
        bolus_end_s = (8 * 60 + 30 + self.integer((0, 390))) * 60
        operator = f"OP-{self.centre.centre.centre_id}-{self.integer((1, self.centre.operators))}"
        self.out.sessions.append(
            {
                "session_id": session.session_id,
                "patient_id": self.patient_id,
                "session_date": dt.date.fromordinal(day),
                "session_number": number,
                "anaesthesia": anaesthesia,
                "drug": Drug.BLEOMYCIN,
                "route": route,
                "dose": float(dose),
                "dose_per_m2": dose_per_m2,
                "bsa_m2": bsa,
                "height_cm": self.height_cm,
                "weight_kg": weight,
                "creatinine_clearance_ml_min": float(clearance),
                "bolus_end_time": _time_of_day(bolus_end_s),
                "rule_set": rule_set,
                "operator": operator,
            }
        )
        self.applications(session, sizes, bolus_end_s, intratumoural)
        self.adverse_events(session, intratumoural)

    def applications(
        self,
        session: _SessionPlan,
        sizes: list[tuple[float, float]],
        bolus_end_s: int,
        intratumoural: bool,
    ) -> None:
        """Electrode applications of one session, in the drug window (times in s)."""
        rng = self.rng
        #: (lesion id, electrode, voltage in V, median current of the lesion in A)
        plan: list[tuple[str, str, float, float]] = []
        for lesion, (a, b) in zip(session.lesions, sizes, strict=True):
            name, footprint, voltage = self.electrode(lesion, a)
            area_cm2 = math.pi / 4.0 * (a + 2 * SAFETY_MARGIN_MM) * (b + 2 * SAFETY_MARGIN_MM) / 100
            count = min(max(math.ceil(area_cm2 / footprint), 1), 30)
            current = ELECTRODE_CURRENT_A[name] * math.exp(0.3 * rng.normal())
            plan.extend([(lesion.lesion_id, name, voltage, current)] * count)
        if intratumoural:
            first_s, last_s = self.integer((60, 150)), IT_WINDOW_MIN * 60
        else:
            first_s = int(self.uniform((IV_WINDOW_MIN[0] * 60, 11 * 60)))
            last_s = IV_WINDOW_MIN[1] * 60
        start_s = bolus_end_s + first_s
        spacing = min(60.0, (last_s - first_s) / len(plan))  # one a minute, if time allows
        frequency = FREQUENCY_HZ if rng.random() < 0.98 else 1.0
        session_id = session.session_id
        append = self.out.applications.append
        aborted = rng.geometric(INCOMPLETE_SHARE)  # next train the generator aborts
        for k, (lesion_id, name, voltage, current) in enumerate(plan, start=1):
            complete = k != aborted
            if not complete:
                aborted += rng.geometric(INCOMPLETE_SHARE)
            current *= 0.8 + 0.4 * rng.random()  # contact and tissue, train to train
            append(
                {
                    "application_id": f"{session_id}-A{k:03d}",
                    "session_id": session_id,
                    "lesion_id": lesion_id,
                    "time": _time_of_day(start_s + int((k - 1) * spacing)),
                    "electrode": name,
                    "voltage_v": voltage,
                    "pulses": PULSES,
                    "frequency_hz": frequency,
                    "pulse_duration_us": PULSE_DURATION_US,
                    "current_a": round(min(max(current, 1.0), 8.0), 1),
                    "complete": complete,
                }
            )

    def electrode(self, lesion: _LesionState, longest_mm: float) -> tuple[str, float, float]:
        """Plates for thin small cutaneous nodules, linear below 3 cm, else hexagonal."""
        x = self.rng.random()
        if lesion.layer is Layer.CUTANEOUS and longest_mm <= 10 and lesion.thickness_mm <= 3:
            return PLATE if x < 0.7 else LINEAR
        if longest_mm < 30 and lesion.thickness_mm <= 20:
            return LINEAR if x < 0.85 else HEXAGONAL
        return HEXAGONAL

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
                }
            )

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
            }
        )


def _level(latent: float, rng: _Draws) -> int:
    """EQ-5D-3L level 1-3 from a latent problem score plus logistic noise."""
    score = latent + 0.5 * rng.logistic()
    return 1 if score < 0.4 else 2 if score < 1.6 else 3


def _time_of_day(seconds: int) -> dt.time:
    """Time of day from seconds after midnight."""
    seconds = int(seconds)
    return dt.time(seconds // 3600, seconds // 60 % 60, seconds % 60)
