"""Conductivity of tissue as a function of the local field (electroporation).

Models (E in V/cm, sigma in S/m), for a tissue with sigma0 (intact), sigma1
(electroporated), reversible and irreversible thresholds E_rev < E_irr:

- ``constant``: sigma0;
- ``step``: sigma0 below E_rev, sigma1 from E_rev (discontinuous: fixed-point iteration
  may oscillate);
- ``ramp``: sigma0 below E_rev, sigma1 above E_irr, linear between (Go-Smart solver);
- ``sigmoid``: Sel et al. 2005 (IEEE TBME 52:816): sigma0 + (sigma1 - sigma0) /
  (1 + D exp(-(E - A) / B)), A = (E_irr + E_rev) / 2, B = (E_irr - E_rev) / C, C = 8,
  D = 10 (form and constants to verify against the paper). Not centred on the
  interval: 0.2 % of the rise at E_rev, 9.1 % at A, 84.5 % at E_irr, half at
  E_rev + 0.788 (E_irr - E_rev); not clipped outside it (docs/field.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray

#: Sel sigmoid constants (C, D).
SEL_C = 8.0
SEL_D = 10.0


class SigmaModel(StrEnum):
    """Conductivity model."""

    CONSTANT = "constant"
    STEP = "step"
    RAMP = "ramp"
    SIGMOID = "sigmoid"


@dataclass(frozen=True)
class TissueParameters:
    """Electrical parameters of one tissue: S/m and V/cm."""

    name: str
    sigma0: float
    sigma1: float
    e_rev: float
    e_irr: float

    def __post_init__(self) -> None:
        if not (0 < self.sigma0 <= self.sigma1):
            raise ValueError(
                f"{self.name}: sigma0={self.sigma0}, sigma1={self.sigma1}: "
                "allowed 0 < sigma0 <= sigma1 S/m"
            )
        if not (0 < self.e_rev < self.e_irr):
            raise ValueError(
                f"{self.name}: e_rev={self.e_rev}, e_irr={self.e_irr}: "
                "allowed 0 < E_rev < E_irr V/cm"
            )


def conductivity(
    model: SigmaModel, tissue: TissueParameters, field_v_per_cm: NDArray[np.float64]
) -> NDArray[np.float64]:
    """sigma (S/m) of ``tissue`` at the fields (V/cm), elementwise."""
    e = np.asarray(field_v_per_cm, dtype=float)
    s0, s1 = tissue.sigma0, tissue.sigma1
    if model is SigmaModel.CONSTANT:
        return np.full_like(e, s0)
    if model is SigmaModel.STEP:
        return np.where(e >= tissue.e_rev, s1, s0)
    if model is SigmaModel.RAMP:
        t = np.clip((e - tissue.e_rev) / (tissue.e_irr - tissue.e_rev), 0.0, 1.0)
        return s0 + (s1 - s0) * t
    a = (tissue.e_irr + tissue.e_rev) / 2
    b = (tissue.e_irr - tissue.e_rev) / SEL_C
    return s0 + (s1 - s0) / (1.0 + SEL_D * np.exp(-(e - a) / b))
