"""Calibration of the synthetic register: the population, its course and the practice.

Everything here describes the invented population (ages, sizes, response, survival,
follow-up, adverse events) or the way the synthetic centres practise where a protocol
leaves a choice (how often the rules' suggested electrode or intratumoural route is
taken). No clinical protocol number lives here: doses, voltages, footprints, pulses,
margins, windows and formulas come from the session's rule set
(:mod:`openect.synth.protocol`), response thresholds from :mod:`openect.response`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final

from openect.data.enums import AgentClass, Anaesthesia, Analgesia, BodySite
from openect.protocol.inputs import ItPolicy
from openect.response.evaluation import LANDMARK_WINDOW_DAYS

#: Fixed data cut-off of every synthetic dataset: no record is dated after it.
SYNTHETIC_CUTOFF: Final[dt.date] = dt.date(2026, 6, 30)
#: First ECT (enrolment) dates are uniform over this closed range.
ENROLMENT_START: Final[dt.date] = dt.date(2018, 1, 1)
ENROLMENT_END: Final[dt.date] = dt.date(2025, 12, 31)
#: Largest cohort and number of centres accepted by ``generate_cohort``.
MAX_PATIENTS: Final[int] = 1_000_000
MAX_CENTRES: Final[int] = 99

#: Rule sets of the synthetic centres: each plans with the first (ESOPE SOP, 2006) until
#: it adopts the second (updated SOP, 2018) on a day drawn in :data:`ADOPTION_RANGE`.
DEFAULT_RULE_SETS: Final[tuple[str, str]] = ("esope-2006", "sop-2018")
#: Days on which the centres adopt the later rule set (uniform over the closed range).
ADOPTION_RANGE: Final[tuple[dt.date, dt.date]] = (dt.date(2018, 6, 1), dt.date(2021, 6, 1))

#: Anaesthesias, each with the share of sessions that get it.
_AnaesthesiaShares = tuple[tuple[Anaesthesia, float], ...]
#: Pain NRS of a session under one anaesthesia: (mean during, sd during, mean after, sd
#: after) of a normal rounded to 0-10; a mean of None: not assessable (left empty).
_PainNrs = tuple[float | None, float, float, float]
#: Analgesics given under one anaesthesia, each with the share of sessions that get it.
_AnalgesiaShares = tuple[tuple[Analgesia, float], ...]


@dataclass(frozen=True)
class CalibrationParameters:
    """Parameters of the generative model, each tuned to a published figure or assumed.

    Units are in the names: ``_mm`` millimetres, ``_days`` days, ``_years`` years,
    ``_cm`` centimetres, ``_kg`` kilograms, ``_mg_dl`` mg/dL, ``_iu`` IU of bleomycin,
    ``_s`` seconds, ``_min`` minutes, ``_pct`` percent. Shares are probabilities (0-1);
    ``log_hr`` are natural logarithms of hazard ratios. "Assumed" marks a value chosen
    to look plausible, without a figure in the evidence files.
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
    #: Earlier bleomycin chemotherapy for another cancer, years before the melanoma
    #: (ABVD for Hodgkin lymphoma, BEP for a germ-cell tumour): rare in a melanoma
    #: register (assumed 1.5 %); its cumulative IU in ``systemic_therapies.bleomycin_iu``.
    prior_bleomycin_share: float = 0.015
    prior_bleomycin_years: tuple[int, int] = (3, 30)
    #: Patients whose lung function (DLCO) before the first intravenous bleomycin is
    #: recorded (assumed: pulmonary function tests are not routine before ECT), its %
    #: predicted (normal, clamped; lower with age; assumed) and days before the session.
    dlco_recorded_share: float = 0.30
    dlco_mean_pct: float = 84.0
    dlco_sd_pct: float = 15.0
    dlco_range_pct: tuple[float, float] = (35.0, 135.0)
    dlco_days_before: tuple[int, int] = (7, 120)
    #: Patients with a chest X-ray or CT date recorded (staging of stage III/IV melanoma;
    #: assumed) and its days before the first session.
    chest_imaging_share: float = 0.85
    chest_imaging_days_before: tuple[int, int] = (3, 90)

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
    #: Diameter at the nadir as a fraction of the treated size. With the caliper noise
    #: these stay on their side of the RECIST partial-response threshold (a test checks).
    nadir_fraction_pr: tuple[float, float] = (0.10, 0.62)
    nadir_fraction_sd: tuple[float, float] = (0.80, 1.00)
    primary_progression_days: tuple[float, float] = (10.0, 30.0)
    #: The first measurement after local progression exceeds the nadir by the RECIST
    #: progression thresholds plus these margins (uniform): percent and mm.
    progression_excess_pct: tuple[float, float] = (10.0, 50.0)
    progression_excess_mm: tuple[float, float] = (1.0, 5.0)

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
    new_lesions_share: float = 0.15
    new_lesions_mean_days: float = 320.0
    max_sessions: int = 3
    min_session_gap_days: int = 28

    # ---- practice where the protocol leaves a choice (doses, electrodes, pulses,
    # margins and windows themselves come from the session's rule set)
    #: Under a rule set whose dose policy has the age reduction (``age_label``,
    #: ``age_renal``; dose.iv_policy), the share of
    #: sessions of patients over the age limit whose operator applies the age reduction
    #: (dose.iv_age_reduction); the others get the renal-adjusted dose (assumed: the
    #: InspECT centres mostly gave the full dose).
    reduced_dose_share_over_65: float = 0.25
    #: Intratumoural dose by the flat concentration (dose.it_bleomycin_flat) as the
    #: InspECT centres did (Clover 2020), whatever the rule set's dose.it_policy.
    it_policy: ItPolicy = ItPolicy.FLAT
    #: Smallest intratumoural dose given (IU): 0.1 mL of a 1,000 IU/mL solution.
    bleomycin_it_min_iu: float = 100.0
    #: Calcium electroporation: the share of the intratumoural sessions (those for which
    #: the rules allow the route and the operator takes it) that inject calcium chloride
    #: 220 mM (dose.it_calcium) instead of bleomycin, from ``calcium_from`` on and only
    #: under the later rule set. A modelling choice, not a published figure: calcium
    #: electroporation reached the clinic through trials from about 2017 (Falk et al.,
    #: Acta Oncol 2018;57:311-319) and stays rare in melanoma ECT registers (assumed 3 %).
    #: Its lesions keep the response model of bleomycin ECT: Falk 2018 found objective
    #: response 72 % vs 84 % and complete response 66 % vs 68 % (calcium vs bleomycin, 37
    #: tumours, not significantly different), so no separate effect is modelled and the
    #: calibration figures are those of bleomycin ECT.
    calcium_share_intratumoural: float = 0.03
    calcium_from: dt.date = dt.date(2017, 1, 1)
    #: Smallest calcium chloride volume given (mL; assumed, as for bleomycin: 0.1 mL),
    #: where the volume of a few tiny lesions rounds to less.
    calcium_it_min_ml: float = 0.1
    #: Share of sessions for which the rules allow the intratumoural route (route.choice)
    #: that are given intratumourally (assumed).
    intratumoural_share_small: float = 0.20
    #: Share of lesions treated with the electrode the rules suggest (electrode.choice);
    #: the others get the next larger type: plate -> linear, linear -> hexagonal (assumed).
    plate_as_suggested_share: float = 0.70
    linear_as_suggested_share: float = 0.85
    #: Most applications given to one lesion in one session (assumed).
    max_applications_per_lesion: int = 30
    #: Anaesthesia given for an intravenous session, by the rules' suggestion
    #: (anaesthesia.choice): shares in order (assumed).
    anaesthesia_given: tuple[tuple[Anaesthesia, _AnaesthesiaShares], ...] = (
        (Anaesthesia.GENERAL, ((Anaesthesia.GENERAL, 0.75), (Anaesthesia.LOCAL_SEDATION, 0.25))),
        (
            Anaesthesia.LOCAL_SEDATION,
            (
                (Anaesthesia.GENERAL, 0.45),
                (Anaesthesia.LOCAL_SEDATION, 0.45),
                (Anaesthesia.LOCAL, 0.10),
            ),
        ),
        (Anaesthesia.LOCAL, ((Anaesthesia.LOCAL, 0.55), (Anaesthesia.LOCAL_SEDATION, 0.45))),
    )
    #: Sessions with the procedure's pain recorded (numeric rating scale; assumed).
    pain_recorded_share: float = 0.80
    #: Pain NRS during and after the procedure by anaesthesia (assumed; median 3 during
    #: ECT under local anaesthesia, lower under sedation; not assessable during general
    #: anaesthesia, lowest after it).
    pain_nrs: tuple[tuple[Anaesthesia, _PainNrs], ...] = (
        (Anaesthesia.LOCAL, (3.2, 1.8, 2.0, 1.5)),
        (Anaesthesia.LOCAL_SEDATION, (2.2, 1.6, 1.8, 1.4)),
        (Anaesthesia.GENERAL, (None, 0.0, 1.2, 1.3)),
    )
    #: Analgesia of the sessions with pain recorded, by anaesthesia: each analgesic is
    #: given with its share (assumed); a session that gets none records ``none``.
    analgesia_given: tuple[tuple[Anaesthesia, _AnalgesiaShares], ...] = (
        (
            Anaesthesia.LOCAL,
            ((Analgesia.LOCAL_ANAESTHETIC, 1.0), (Analgesia.PARACETAMOL_NSAID, 0.45),
             (Analgesia.OPIOID, 0.05)),
        ),
        (
            Anaesthesia.LOCAL_SEDATION,
            ((Analgesia.LOCAL_ANAESTHETIC, 0.95), (Analgesia.PARACETAMOL_NSAID, 0.50),
             (Analgesia.OPIOID, 0.55)),
        ),
        (
            Anaesthesia.GENERAL,
            ((Analgesia.LOCAL_ANAESTHETIC, 0.20), (Analgesia.PARACETAMOL_NSAID, 0.65),
             (Analgesia.OPIOID, 0.30)),
        ),
    )  # fmt: skip
    #: First application after the pulse window opens (uniform, minutes; intravenous).
    iv_first_application_min: tuple[float, float] = (0.0, 3.0)
    #: First application after the window of an intratumoural injection opens (s).
    it_first_application_s: tuple[int, int] = (60, 150)

    # ---- follow-up (InspECT: visits every 4-6 weeks for >= 16 weeks; PROs at baseline,
    # 1, 2, 4 and 10 months)
    early_visit_gap_days: tuple[int, int] = (28, 42)
    early_follow_up_days: int = 183
    late_visit_gap_days: tuple[int, int] = (80, 100)
    #: Caliper error: triangular on +-5 % of the diameter (sd ~2 %), then 1 mm rounding.
    caliper_noise_max: float = 0.05
    pro_days: tuple[int, ...] = (0, 30, 61, 122, 304)
    pro_completion_share: float = 0.88  # assumed

    @property
    def retreatment_min_days(self) -> int:
        """No retreatment before the lesion's landmark response window (days after its
        first session, :data:`openect.response.LANDMARK_WINDOW_DAYS`) has passed."""
        return LANDMARK_WINDOW_DAYS[1] + 1


#: The calibration used by ``generate_cohort``.
CALIBRATION: Final[CalibrationParameters] = CalibrationParameters()

#: Countries of the synthetic centres (European ECT centres; InspECT is UK/IT/SI/DK/DE/IE
#: heavy). The first centres take them in order, later ones are drawn.
CENTRE_COUNTRIES: Final[tuple[str, ...]] = (
    "GB", "IT", "SI", "DK", "DE", "IE", "FR", "ES", "NL", "BE", "AT", "PL", "NO", "SE", "PT",
)  # fmt: skip
#: Median peak current (A) by electrode type (assumed).
ELECTRODE_CURRENT_A: Final[dict[str, float]] = {"plate": 2.8, "linear": 2.0, "hexagonal": 4.5}
#: Share of pulse trains aborted by the generator (complete = false); assumed.
INCOMPLETE_SHARE: Final[float] = 0.03

#: Adverse events: (CTCAE v5 term, probability per session, grade weights 1..3,
#: onset range in days after the session); assumed.
AdverseEventSpec = tuple[str, float, tuple[float, float, float], tuple[int, int]]
ADVERSE_EVENTS: Final[tuple[AdverseEventSpec, ...]] = (
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

#: Earlier systemic lines: BRAF/MEK combinations and checkpoint inhibitors.
BRAF_MEK_AGENTS: Final[tuple[str, ...]] = (
    "dabrafenib+trametinib", "encorafenib+binimetinib", "vemurafenib+cobimetinib",
)  # fmt: skip
#: Earlier bleomycin chemotherapy for another cancer: (agent, bleomycin per dose in IU,
#: per m2 of BSA or flat, doses given (closed range), days between doses, share of the
#: patients with such a line; men only for BEP). ABVD: 10,000 IU/m2 on days 1 and 15 of
#: 2-6 cycles (Bonadonna 1975); BEP: 30,000 IU on days 1, 8 and 15 of 3-4 cycles
#: (Einhorn; Williams 1987).
PriorBleomycin = tuple[str, float, bool, tuple[int, int], int, bool]
PRIOR_BLEOMYCIN: Final[tuple[tuple[PriorBleomycin, float], ...]] = (
    (("ABVD (Hodgkin lymphoma)", 10_000.0, True, (4, 12), 14, False), 0.6),
    (("BEP (germ-cell tumour)", 30_000.0, False, (9, 12), 7, True), 0.4),
)
PRIOR_IMMUNOTHERAPY: Final[tuple[tuple[AgentClass, str], ...]] = (
    (AgentClass.ANTI_PD1, "pembrolizumab"),
    (AgentClass.ANTI_PD1, "nivolumab"),
    (AgentClass.ANTI_PD1_CTLA4, "ipilimumab+nivolumab"),
    (AgentClass.ANTI_CTLA4, "ipilimumab"),
)
