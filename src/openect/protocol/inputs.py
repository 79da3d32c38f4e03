"""What the session planner needs: the patient, the lesions to treat and the options.

``PATIENT.yaml`` (see ``examples/patient.yaml``) holds ``patient``, ``lesions`` and,
optionally, ``options``; command-line flags override the options.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

from openect.data.dataset import Dataset
from openect.data.enums import Drug, Route, Sex
from openect.data.models import Lesion, Patient
from openect.protocol.body import (
    BsaFormula,
    CrclWeight,
    adjusted_body_weight,
    body_mass_index,
    cockcroft_gault,
    creatinine_mg_dl,
)
from openect.protocol.rules import DEFAULT_RULE_SET


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Contraindications(_Input):
    """Yes/no findings the eligibility rules look at (all default to no)."""

    bleomycin_hypersensitivity: bool = False
    bleomycin_lung_toxicity: bool = False
    acute_lung_infection: bool = False
    severely_reduced_lung_function: bool = False
    ataxia_telangiectasia: bool = False
    breast_feeding: bool = False
    pregnancy: bool = False
    pacemaker: bool = Field(False, description="Pacemaker or defibrillator near the treated site")
    arrhythmia: bool = False
    anticoagulation: bool = False


class PatientToPlan(_Input):
    """The patient at the planned session.

    Give ``age_years`` or ``birth_year`` (age = year of ``session_date``, default
    today, minus birth year), and at most one of ``creatinine_mg_dl``,
    ``creatinine_umol_l`` (Cockcroft-Gault) or a measured
    ``creatinine_clearance_ml_min``.
    """

    patient_id: str | None = None
    age_years: int | None = Field(None, ge=0, le=120)
    birth_year: int | None = Field(None, ge=1900, le=2100)
    birth_date: dt.date | None = Field(
        None, description="Date of birth, for the exact age at the session (not stored)"
    )
    session_date: dt.date | None = None
    sex: Sex | None = None
    height_cm: float = Field(ge=50, le=250, description="Height (cm)")
    weight_kg: float = Field(ge=20, le=300, description="Weight (kg)")
    creatinine_mg_dl: float | None = Field(
        None, gt=0, le=25, description="Serum creatinine (mg/dL)"
    )
    creatinine_umol_l: float | None = Field(
        None, gt=0, le=2200, description="Serum creatinine (µmol/L)"
    )
    creatinine_clearance_ml_min: float | None = Field(
        None, gt=0, le=300, description="Measured or estimated creatinine clearance (mL/min)"
    )
    dialysis: bool = Field(False, description="On haemodialysis or peritoneal dialysis")
    dlco_percent_predicted: float | None = Field(
        None, gt=0, le=200, description="Lung diffusing capacity (DLCO), % of predicted"
    )
    dlco_date: dt.date | None = Field(None, description="Date of the DLCO measurement")
    chest_imaging_date: dt.date | None = Field(
        None, description="Date of the last chest X-ray or CT"
    )
    prior_bleomycin_iu: float = Field(
        0.0, ge=0, le=2_000_000, description="Lifetime bleomycin before this session (IU)"
    )
    contraindications: Contraindications = Field(default_factory=Contraindications)

    @model_validator(mode="after")
    def _one_age_one_renal_source(self) -> PatientToPlan:
        given = [
            name
            for name in ("creatinine_mg_dl", "creatinine_umol_l", "creatinine_clearance_ml_min")
            if getattr(self, name) is not None
        ]
        if len(given) > 1:
            raise ValueError(f"give at most one of {', '.join(given)}")
        if (
            self.birth_date is not None
            and self.birth_year is not None
            and self.birth_date.year != self.birth_year
        ):
            raise ValueError(
                f"birth_date {self.birth_date.isoformat()} is not in birth_year {self.birth_year}"
            )
        age = self.age
        if age is not None and age < 0:
            born = self.birth_date.isoformat() if self.birth_date else self.birth_year
            raise ValueError(f"born {born}: after the session date")
        serum = self.creatinine_mg_dl is not None or self.creatinine_umol_l is not None
        if serum and (age is None or self.sex is None):
            raise ValueError(
                "serum creatinine needs the age (age_years or birth_year) and the sex "
                "(Cockcroft-Gault); or give creatinine_clearance_ml_min"
            )
        return self

    @property
    def age(self) -> int | None:
        """Age in completed years at the session (``session_date``, default today):
        ``age_years``, else from ``birth_date`` (exact), else the year of the session
        minus ``birth_year`` (the age reached in that year, up to one year above the
        exact age); None when none is given."""
        if self.age_years is not None:
            return self.age_years
        on = self.session_date or dt.date.today()
        if self.birth_date is not None:
            before_birthday = (on.month, on.day) < (self.birth_date.month, self.birth_date.day)
            return on.year - self.birth_date.year - before_birthday
        if self.birth_year is None:
            return None
        return on.year - self.birth_year

    def clearance(
        self, weight: CrclWeight = CrclWeight.ACTUAL, bmi_at_least: float = 30.0
    ) -> tuple[float | None, str | None]:
        """Creatinine clearance (mL/min) and how it was found: measured as given, or by
        Cockcroft-Gault with the actual weight, or with the adjusted body weight when
        ``weight`` says so and the BMI (kg/m2) is at least ``bmi_at_least``."""
        if self.creatinine_clearance_ml_min is not None:
            return self.creatinine_clearance_ml_min, "as given"
        age, sex = self.age, self.sex
        if age is None or sex is None:
            return None, None
        if self.creatinine_mg_dl is not None:
            serum = self.creatinine_mg_dl
        elif self.creatinine_umol_l is not None:
            serum = creatinine_mg_dl(self.creatinine_umol_l)
        else:
            return None, None
        bmi = body_mass_index(self.height_cm, self.weight_kg)
        used = self.weight_kg
        how = f"Cockcroft-Gault with the actual weight {self.weight_kg:g} kg"
        if weight is CrclWeight.ADJUSTED_IF_OBESE and bmi >= bmi_at_least:
            used = adjusted_body_weight(self.height_cm, self.weight_kg, sex)
            how = (
                f"Cockcroft-Gault with the adjusted body weight {used:.1f} kg "
                f"(BMI {bmi:.1f} >= {bmi_at_least:g}; actual weight {self.weight_kg:g} kg)"
            )
        return cockcroft_gault(age, used, sex, serum), how

    @property
    def creatinine_clearance(self) -> float | None:
        """Creatinine clearance (mL/min): measured, or Cockcroft-Gault; None if unknown."""
        if self.creatinine_clearance_ml_min is not None:
            return self.creatinine_clearance_ml_min
        age, sex = self.age, self.sex
        if age is None or sex is None:
            return None
        if self.creatinine_mg_dl is not None:
            return cockcroft_gault(age, self.weight_kg, sex, self.creatinine_mg_dl)
        if self.creatinine_umol_l is not None:
            return cockcroft_gault(
                age, self.weight_kg, sex, creatinine_mg_dl(self.creatinine_umol_l)
            )
        return None


class LesionToTreat(Lesion):
    """A lesion as in the data model; patient and baseline date are optional here.

    ``mucosal`` marks a mucosal or cavity lesion (finger electrode).
    """

    patient_id: str | None = None  # type: ignore[assignment]
    baseline_date: dt.date | None = None  # type: ignore[assignment]
    mucosal: bool = False
    last_treated_date: dt.date | None = Field(
        None, description="Date of the lesion's last ECT session (a re-treatment)"
    )
    courses_before: int = Field(
        0, ge=0, le=100, description="ECT sessions that treated the lesion before this one"
    )


class IvPolicy(StrEnum):
    """Intravenous bleomycin dose-reduction policy."""

    NONE = "none"
    #: The age reduction and the InspECT series' reduced doses for renal dysfunction.
    AGE_RENAL = "age_renal"
    #: The label's renal table only.
    LABEL_RENAL = "label_renal"
    #: The age reduction and the label's renal table; the lowest dose wins.
    AGE_LABEL = "age_label"


class ItPolicy(StrEnum):
    """Intratumoural dose by tumour volume: step table or flat concentration."""

    STEP = "step"
    FLAT = "flat"


class WindowVariant(StrEnum):
    """Pulse window after the IV bolus: the SOP window or the pharmacokinetic variants."""

    STANDARD = "standard"
    PK = "pk"


class PlanOptions(_Input):
    """Choices of the planner; ``None`` means "as the rule set says"."""

    rules: str = Field(DEFAULT_RULE_SET, description="Rule set")
    drug: Drug = Field(Drug.BLEOMYCIN, description="Drug")
    route: Route | None = Field(None, description="Route")
    bsa_formula: BsaFormula | None = Field(None, description="BSA formula")
    iv_policy: IvPolicy | None = Field(None, description="IV dose policy")
    it_policy: ItPolicy | None = Field(None, description="IT dose policy")
    window: WindowVariant = Field(WindowVariant.STANDARD, description="Pulse window")
    minutes_per_application: float | None = Field(
        None, gt=0, le=30, description="Minutes per application"
    )
    margin_mm: float | None = Field(None, ge=0, le=20, description="Margin around each lesion (mm)")
    specialist_override: str | None = Field(
        None,
        min_length=10,
        max_length=500,
        description="A specialist's decision to treat past a stop that allows it (renal "
        "stop, pregnancy): who decided and why; kept in the session's audit trail",
    )


class SessionRequest(_Input):
    """Contents of ``PATIENT.yaml``: a patient, one or more lesions and options."""

    patient: PatientToPlan
    lesions: list[LesionToTreat] = Field(min_length=1, max_length=200)
    options: PlanOptions = Field(default_factory=PlanOptions)

    @model_validator(mode="after")
    def _age_known_and_unique_lesion_ids(self) -> SessionRequest:
        if self.patient.age is None:
            raise ValueError("patient: age_years or birth_year is required to plan a session")
        ids = [lesion.lesion_id for lesion in self.lesions]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"duplicate lesion_id: {', '.join(duplicates)}")
        return self


def session_request(
    patient: Patient,
    lesions: Iterable[Lesion],
    *,
    session_date: dt.date,
    height_cm: float,
    weight_kg: float,
    creatinine_mg_dl: float | None = None,
    creatinine_umol_l: float | None = None,
    creatinine_clearance_ml_min: float | None = None,
    prior_bleomycin_iu: float = 0.0,
    dialysis: bool = False,
    birth_date: dt.date | None = None,
    dlco_percent_predicted: float | None = None,
    dlco_date: dt.date | None = None,
    chest_imaging_date: dt.date | None = None,
    contraindications: Contraindications | None = None,
    options: PlanOptions | None = None,
    history: Mapping[str, tuple[dt.date, int]] | None = None,
) -> SessionRequest:
    """The planning request for a registry ``patient`` and the ``lesions`` to treat.

    Sex and year of birth come from the patient record; the measurements of the day
    (height in cm, weight in kg, renal function, lifetime bleomycin in IU) are given.
    ``history`` (lesion id -> date of its last session, sessions so far) marks the
    re-treated lesions. Raises pydantic's ``ValidationError`` when a value breaks the
    planner's bounds.
    """
    return SessionRequest(
        patient=PatientToPlan(
            patient_id=patient.patient_id,
            birth_year=patient.birth_year,
            birth_date=birth_date,
            session_date=session_date,
            sex=patient.sex,
            height_cm=height_cm,
            weight_kg=weight_kg,
            creatinine_mg_dl=creatinine_mg_dl,
            creatinine_umol_l=creatinine_umol_l,
            creatinine_clearance_ml_min=creatinine_clearance_ml_min,
            prior_bleomycin_iu=prior_bleomycin_iu,
            dialysis=dialysis,
            dlco_percent_predicted=dlco_percent_predicted,
            dlco_date=dlco_date,
            chest_imaging_date=chest_imaging_date,
            contraindications=contraindications or Contraindications(),
        ),
        lesions=[
            LesionToTreat.model_validate(
                lesion.model_dump()
                | (
                    {
                        "last_treated_date": history[lesion.lesion_id][0],
                        "courses_before": history[lesion.lesion_id][1],
                    }
                    if history and lesion.lesion_id in history
                    else {}
                )
            )
            for lesion in lesions
        ],
        options=options or PlanOptions(),
    )


def request_from_dataset(
    dataset: Dataset, patient_id: str, options: PlanOptions | None = None
) -> SessionRequest:
    """A planning request for a patient of a dataset, as at their first session.

    Age, height, weight and creatinine clearance come from the first session, lung
    function (DLCO, chest imaging) from the patient, the bleomycin given before it from
    the patient's other therapies (``bleomycin_iu`` of those started before); the lesions
    are those treated at it (all the patient's lesions if it has no applications).
    Raises ``KeyError`` for an unknown patient, one without sessions or one whose first
    session lacks height or weight.
    """
    patient = next((p for p in dataset.patients if p.patient_id == patient_id), None)
    if patient is None:
        raise KeyError(f"no patient {patient_id}")
    sessions = sorted(
        (s for s in dataset.sessions if s.patient_id == patient_id), key=lambda s: s.session_date
    )
    if not sessions:
        raise KeyError(f"patient {patient_id} has no session")
    first = sessions[0]
    if first.height_cm is None or first.weight_kg is None:
        raise KeyError(f"session {first.session_id} has no height or weight")
    treated = {a.lesion_id for a in dataset.applications if a.session_id == first.session_id}
    return session_request(
        patient,
        (
            lesion
            for lesion in dataset.lesions
            if lesion.patient_id == patient_id and (not treated or lesion.lesion_id in treated)
        ),
        session_date=first.session_date,
        height_cm=first.height_cm,
        weight_kg=first.weight_kg,
        creatinine_clearance_ml_min=first.creatinine_clearance_ml_min,
        prior_bleomycin_iu=float(
            sum(
                t.bleomycin_iu or 0.0
                for t in dataset.systemic_therapies
                if t.patient_id == patient_id and t.start_date < first.session_date
            )
        ),
        dlco_percent_predicted=patient.dlco_percent_predicted,
        dlco_date=patient.dlco_date,
        chest_imaging_date=patient.chest_imaging_date,
        options=options,
    )
