"""Body-surface area and creatinine clearance.

BSA formulas (height in cm, weight in kg, result in m2):
- Mosteller: sqrt(height * weight / 3600) (Mosteller, N Engl J Med 1987);
- DuBois: 0.007184 * weight^0.425 * height^0.725 (DuBois & DuBois, Arch Intern Med 1916).

Creatinine clearance by Cockcroft-Gault (mL/min):
(140 - age) * weight / (72 * serum creatinine in mg/dL), times 0.85 for women
(Cockcroft & Gault, Nephron 1976). 1 mg/dL creatinine = 88.42 umol/L.
"""

from __future__ import annotations

import math
from enum import StrEnum

from openect.data.enums import Sex

#: umol/L of creatinine per mg/dL.
CREATININE_UMOL_PER_MG_DL = 88.42
#: Cockcroft-Gault factor for women.
FEMALE_FACTOR = 0.85


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
