"""Body-surface area and creatinine clearance.

BSA formulas (height in cm, weight in kg, result in m2):
- Mosteller: sqrt(height * weight / 3600) (Mosteller, N Engl J Med 1987);
- DuBois: 0.007184 * weight^0.425 * height^0.725 (DuBois & DuBois, Arch Intern Med 1916).

Creatinine clearance by Cockcroft-Gault (mL/min):
(140 - age) * weight / (72 * serum creatinine in mg/dL), times 0.85 for women
(Cockcroft & Gault, Nephron 1976). 1 mg/dL creatinine = 88.42 umol/L.

With obesity (BMI >= 30 kg/m2) the actual weight overestimates the clearance; the
adjusted body weight IBW + 0.4 * (weight - IBW) overestimates it less (Demirovic et al.
Am J Health Syst Pharm 2009;66:642-648), with the ideal body weight of Devine (1974):
50 kg (men) or 45.5 kg (women) + 2.3 kg per inch of height over 5 feet.
"""

from __future__ import annotations

import math
from enum import StrEnum

from openect.data.enums import Sex

#: umol/L of creatinine per mg/dL.
CREATININE_UMOL_PER_MG_DL = 88.42
#: Cockcroft-Gault factor for women.
FEMALE_FACTOR = 0.85
#: Centimetres per inch.
CM_PER_INCH = 2.54
#: Share of the weight above the ideal weight counted in the adjusted body weight.
ADJUSTED_WEIGHT_SHARE = 0.4


class CrclWeight(StrEnum):
    """The weight in Cockcroft-Gault: the actual weight, or the adjusted body weight when
    the BMI is at or above the rule's threshold (``dose.crcl_weight``)."""

    ACTUAL = "actual"
    ADJUSTED_IF_OBESE = "adjusted_if_obese"


def body_mass_index(height_cm: float, weight_kg: float) -> float:
    """BMI (kg/m2) from height (cm) and weight (kg)."""
    return weight_kg / (height_cm / 100.0) ** 2


def ideal_body_weight(height_cm: float, sex: Sex) -> float:
    """Ideal body weight (kg) by Devine (1974): 50 kg (men) or 45.5 kg (women and sex X,
    the lower) + 2.3 kg per inch over 60 inches; never below 0."""
    base = 50.0 if sex is Sex.M else 45.5
    return max(0.0, base + 2.3 * (height_cm / CM_PER_INCH - 60.0))


def adjusted_body_weight(height_cm: float, weight_kg: float, sex: Sex) -> float:
    """Adjusted body weight (kg): IBW + 0.4 * (weight - IBW); the actual weight when it is
    not above the ideal one."""
    ideal = ideal_body_weight(height_cm, sex)
    if weight_kg <= ideal:
        return weight_kg
    return ideal + ADJUSTED_WEIGHT_SHARE * (weight_kg - ideal)


class BsaFormula(StrEnum):
    """Body-surface area formula."""

    MOSTELLER = "mosteller"
    DUBOIS = "dubois"


def body_surface_area(height_cm: float, weight_kg: float, formula: BsaFormula) -> float:
    """Body-surface area (m2, unrounded) from height (cm) and weight (kg)."""
    if height_cm <= 0 or weight_kg <= 0:
        raise ValueError(f"height_cm={height_cm}, weight_kg={weight_kg}: both must be > 0")
    if formula is BsaFormula.MOSTELLER:
        return math.sqrt(height_cm * weight_kg / 3600.0)
    return float(0.007184 * weight_kg**0.425 * height_cm**0.725)


def creatinine_mg_dl(umol_per_l: float) -> float:
    """Serum creatinine in mg/dL from umol/L."""
    return umol_per_l / CREATININE_UMOL_PER_MG_DL


def cockcroft_gault(
    age_years: float, weight_kg: float, sex: Sex, creatinine_mg_per_dl: float
) -> float:
    """Creatinine clearance (mL/min) by Cockcroft-Gault.

    Sex ``X`` uses the female factor (the lower, more cautious estimate).
    """
    if creatinine_mg_per_dl <= 0:
        raise ValueError(f"creatinine_mg_dl={creatinine_mg_per_dl}: must be > 0 mg/dL")
    clearance = (140.0 - age_years) * weight_kg / (72.0 * creatinine_mg_per_dl)
    if sex is not Sex.M:
        clearance *= FEMALE_FACTOR
    return clearance
