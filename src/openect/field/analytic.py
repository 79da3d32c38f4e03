"""Exact solutions used to validate the field engine.

Two parallel cylindrical needles of radius ``a`` (mm), centre distance ``D`` (mm),
potential difference ``U`` (V), in a homogeneous conductor of conductivity ``sigma``
(S/m), infinitely long (2-D): with h = D/2, c = sqrt(h^2 - a^2), lambda = arccosh(h/a),
k = U / (2 lambda), the field magnitude is |E| = 2 k c / (r1 r2), r1 and r2 being the
distances to the line charges at (-c, 0) and (c, 0); the current per unit length is
I' = pi sigma U / lambda. Between large parallel plates: E = U / gap, I = sigma U A / gap.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: V/mm to V/cm.
V_PER_MM_TO_V_PER_CM = 10.0


@dataclass(frozen=True)
class NeedlePair:
    """Two long parallel needles: voltage (V), centre distance and radius (mm)."""

    voltage_v: float
    distance_mm: float
    radius_mm: float

    def __post_init__(self) -> None:
        if not 0 < self.radius_mm < self.distance_mm / 2:
            raise ValueError(
                f"radius_mm={self.radius_mm}: allowed 0 < radius < distance/2 "
                f"({self.distance_mm / 2} mm)"
            )

    @property
    def _c(self) -> float:
        h = self.distance_mm / 2
        return math.sqrt(h * h - self.radius_mm**2)

    @property
    def _lambda(self) -> float:
        return math.acosh(self.distance_mm / 2 / self.radius_mm)

    def field_v_per_cm(self, x_mm: float, y_mm: float) -> float:
        """|E| (V/cm) at (x, y) mm, needles centred at (+-D/2, 0)."""
        c, lam = self._c, self._lambda
        k = self.voltage_v / (2 * lam)
        r1 = math.hypot(x_mm + c, y_mm)
        r2 = math.hypot(x_mm - c, y_mm)
        return 2 * k * c / (r1 * r2) * V_PER_MM_TO_V_PER_CM

    @property
    def midpoint_field_v_per_cm(self) -> float:
        """|E| (V/cm) midway between the needles: U / (c lambda)."""
        return self.voltage_v / (self._c * self._lambda) * V_PER_MM_TO_V_PER_CM

    def current_per_length_a_per_mm(self, sigma_s_per_m: float) -> float:
        """Current per unit needle length (A/mm): pi sigma U / lambda."""
        return math.pi * sigma_s_per_m * self.voltage_v / self._lambda * 1e-3


def plate_field_v_per_cm(voltage_v: float, gap_mm: float) -> float:
    """Field (V/cm) between large parallel plates: U / gap."""
    return voltage_v / gap_mm * V_PER_MM_TO_V_PER_CM


def plate_current_a(voltage_v: float, gap_mm: float, area_mm2: float, sigma: float) -> float:
    """Current (A) between large parallel plates filled with tissue: sigma U A / gap."""
    return sigma * voltage_v * area_mm2 / gap_mm * 1e-3
