"""Synthetic multi-centre ECT register of melanoma patients (SYNTHETIC data, not real patients).

:func:`generate_cohort` builds a complete :class:`~openect.data.dataset.Dataset` that looks
like an InspECT-style register of electrochemotherapy (ECT) of cutaneous and subcutaneous
melanoma metastases: centres, patients, lesions, sessions, electrode applications,
follow-up measurements, adverse events, patient-reported outcomes and systemic therapies.
It is meant for demonstrations, tests and benchmarks; every record is invented.

Modules
    * :mod:`openect.synth.calibration` - the invented population, its course and the
      operators' practice where a protocol leaves a choice, with published sources;
    * :mod:`openect.synth.protocol` - the session's rule set: every clinical number of a
      session (BSA formula, doses, route, anaesthesia, electrode, voltage, pulses,
      applications, coverage margin, pulse window) comes from the protocol's rules and
      functions (:mod:`openect.protocol`), never from a copy;
    * :mod:`openect.synth.cohort` - the generator.

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
      clearance (mL/min, :func:`openect.protocol.body.cockcroft_gault`) and the
      body-surface area (m2, by the rule set's formula, ``dose.bsa_formula``) follow.
      First ECT dates are uniform over 2018-2025; the data cut-off is
      :data:`SYNTHETIC_CUTOFF`.
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
      +-5 %, rounded to 1 mm) that never meets the progression criterion of RECIST 1.1
      adapted to skin (:mod:`openect.response`: >= 20 % above the nadir AND >= 5 mm);
      the first measurement after progression exceeds the nadir by the criterion's
      thresholds plus a margin (>= 30 % and >= 6 mm), and the lesion keeps growing.
    * Sessions: the first treats all initial lesions; a locally progressed lesion may be
      retreated (not before the 40-100 day landmark window of
      :data:`openect.response.LANDMARK_WINDOW_DAYS` has passed) and new in-transit
      lesions may appear; at most three sessions, at least 28 days apart. Each centre
      plans with its earlier rule set (ESOPE 2006) until it adopts the later one (the
      2018 SOP) between mid-2018 and mid-2021; the session records which. Intravenous
      bleomycin per m2 by the rule set's dose policy (``dose.iv_policy``: full dose
      under ESOPE; renal and age reductions under the 2018 SOP, the age reduction taken
      up by a calibrated share of operators), or, where the rules allow the
      intratumoural route for few small lesions (``route.choice``), intratumoural
      bleomycin for a share of sessions by the ellipsoid volume of each lesion at the
      flat InspECT concentration (``dose.it_bleomycin_flat``); from 2017 and under the
      later rule set a small share of these sessions is calcium electroporation
      (calcium chloride 220 mM by ``dose.it_calcium``, drawn from a stream of its own,
      ``default_rng([seed, 3, patient_index])``). Anaesthesia from the
      rules' suggestion (``anaesthesia.choice``) with practice variation. Electrode by
      the rules' choice (``electrode.choice``; a share of operators take the next larger
      type), its voltage, pulse train and number of applications over the lesion plus
      the coverage margin (``electrode.*``, ``pulses.train``, ``coverage.margin``), all
      inside the rules' pulse window after the bolus or injection (``window.iv``,
      ``window.it``).
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
      adapted to skin: CR ~60 % [62 %], objective response ~82 % [84 %] (InspECT
      melanoma, Kunte 2017: CR 58 %, OR 77 % of 394 lesions; Clover 2020 melanoma
      subgroup: CR 64 %, OR 82 %).
    * Tumours >= 30 mm: CR ~33 % [33 %] vs ~60 % below [64 %] (Mali 2013: CR 33.3 % vs
      59.5 %; OR 68.2 % vs 85.7 % [about 63 % vs 85 %]).
    * Local tumour control (Kaplan-Meier per lesion) ~85 % at 200 days [85 %] (InspECT,
      "86 % at 200 days"), better with concurrent immunotherapy [91 % vs 82 %] (Campana
      2021, pembrolizumab + ECT: 1-year local progression-free survival 86 %).
    * Overall survival from the first ECT ~67 % at 1 year [66 %] (Kunte 2017: 67 %,
      95 % CI 57-77 %), better with concurrent immunotherapy [75 % vs 61 %] (Campana
      2021: 88 % vs 64 %).
"""

from openect.synth.calibration import (
    CALIBRATION,
    DEFAULT_RULE_SETS,
    MAX_CENTRES,
    MAX_PATIENTS,
    SYNTHETIC_CUTOFF,
    CalibrationParameters,
)
from openect.synth.cohort import generate_cohort

__all__ = [
    "CALIBRATION",
    "DEFAULT_RULE_SETS",
    "MAX_CENTRES",
    "MAX_PATIENTS",
    "SYNTHETIC_CUTOFF",
    "CalibrationParameters",
    "generate_cohort",
]
