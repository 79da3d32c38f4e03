"""Electrode catalogue (``data/electrodes.toml``) and electrode geometry.

Conductors stand vertically in the tissue from the skin surface (z = 0) down to their
insertion or contact depth: needles as disks of their real radius, plates as thin
rectangles. A pulse sequence is a list of pairs (positive conductors, negative
conductors, voltage); conductors not in a pair float. Positions in mm: a needle pair at
x = +-gap/2, y = 0; the hexagon centred at the origin.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, replace
from functools import cache
from importlib import resources
from typing import Any, Literal

CatalogueKind = Literal["needle-pair", "linear", "hexagonal", "plate"]


@dataclass(frozen=True)
class Conductor:
    """A needle (``disk``: centre and radius) or a plate (``rect``: centre and half
    sizes), from the skin surface down to ``depth_mm``."""

    shape: Literal["disk", "rect"]
    x_mm: float
    y_mm: float
    depth_mm: float
    radius_mm: float = 0.0
    half_x_mm: float = 0.0
    half_y_mm: float = 0.0

    def bounds(self) -> tuple[float, float, float, float]:
        """(x_min, x_max, y_min, y_max) in mm."""
        if self.shape == "disk":
            r = self.radius_mm
            return self.x_mm - r, self.x_mm + r, self.y_mm - r, self.y_mm + r
        return (
            self.x_mm - self.half_x_mm,
            self.x_mm + self.half_x_mm,
            self.y_mm - self.half_y_mm,
            self.y_mm + self.half_y_mm,
        )


@dataclass(frozen=True)
class Pair:
    """One pulse train: ``positive`` conductors at +U/2, ``negative`` at -U/2 (indices)."""

    positive: tuple[int, ...]
    negative: tuple[int, ...]
    voltage_v: float


@dataclass(frozen=True)
class ElectrodeGeometry:
    """Conductors and pulse sequence of one electrode application."""

    name: str
    conductors: tuple[Conductor, ...]
    pairs: tuple[Pair, ...]
    status: str = "to_verify"
    source: str = ""

    def __post_init__(self) -> None:
        n = len(self.conductors)
        for k, pair in enumerate(self.pairs):
            used = pair.positive + pair.negative
            if not pair.positive or not pair.negative or len(set(used)) != len(used):
                raise ValueError(f"{self.name}: pair {k} needs distinct positive and negative")
            if any(not 0 <= i < n for i in used):
                raise ValueError(f"{self.name}: pair {k} names a conductor outside 0..{n - 1}")
            if pair.voltage_v <= 0:
                raise ValueError(f"{self.name}: pair {k} voltage {pair.voltage_v}: must be > 0 V")

    @property
    def max_voltage_v(self) -> float:
        """Highest pair voltage (V)."""
        return max(pair.voltage_v for pair in self.pairs)

    def with_voltage(self, voltage_v: float) -> ElectrodeGeometry:
        """The same electrode with every pair at ``voltage_v`` (V)."""
        pairs = tuple(replace(pair, voltage_v=voltage_v) for pair in self.pairs)
        return replace(self, pairs=pairs)


@cache
def catalogue() -> dict[str, Any]:
    """The electrode catalogue as read from ``data/electrodes.toml``."""
    text = (resources.files("openect.field") / "data" / "electrodes.toml").read_text("utf-8")
    return tomllib.loads(text)


def generator_max_voltage_v() -> float:
    """The pulse generator's voltage limit (V)."""
    return float(catalogue()["generator"]["max_voltage_v"])


def electrode_names() -> list[str]:
    """Ids of the catalogue's electrodes."""
    return sorted(catalogue()["electrodes"])


def needle_pair(
    gap_mm: float, radius_mm: float, depth_mm: float, voltage_v: float
) -> tuple[tuple[Conductor, ...], tuple[Pair, ...]]:
    """Two needles at x = -gap/2 (negative) and +gap/2 (positive), y = 0."""
    _positive("gap_mm", gap_mm)
    if not 0 < radius_mm < gap_mm / 2:
        raise ValueError(f"radius_mm={radius_mm}: allowed 0 < radius < gap/2 ({gap_mm / 2} mm)")
    needles = tuple(
        Conductor("disk", x, 0.0, depth_mm, radius_mm=radius_mm) for x in (-gap_mm / 2, gap_mm / 2)
    )
    return needles, (Pair((1,), (0,), voltage_v),)


def linear_array(
    row_distance_mm: float,
    needles_per_row: int,
    pitch_mm: float,
    radius_mm: float,
    depth_mm: float,
    voltage_v: float,
) -> tuple[tuple[Conductor, ...], tuple[Pair, ...]]:
    """Two rows of needles at x = +-row_distance/2; one train between the rows."""
    _positive("row_distance_mm", row_distance_mm)
    if needles_per_row < 1:
        raise ValueError(f"needles_per_row={needles_per_row}: must be >= 1")
    ys = [(i - (needles_per_row - 1) / 2) * pitch_mm for i in range(needles_per_row)]
    negative = tuple(
        Conductor("disk", -row_distance_mm / 2, y, depth_mm, radius_mm=radius_mm) for y in ys
    )
    positive = tuple(
        Conductor("disk", row_distance_mm / 2, y, depth_mm, radius_mm=radius_mm) for y in ys
    )
    n = needles_per_row
    return negative + positive, (Pair(tuple(range(n, 2 * n)), tuple(range(n)), voltage_v),)


def hexagon(
    spacing_mm: float, radius_mm: float, depth_mm: float, voltage_v: float
) -> tuple[tuple[Conductor, ...], tuple[Pair, ...]]:
    """A centre needle and six at ``spacing`` around it; the 12 nearest-neighbour pairs:
    centre-vertex (6) then vertex-vertex (6)."""
    _positive("spacing_mm", spacing_mm)
    needles = [Conductor("disk", 0.0, 0.0, depth_mm, radius_mm=radius_mm)]
    for k in range(6):
        angle = math.radians(60 * k)
        needles.append(
            Conductor(
                "disk",
                spacing_mm * math.cos(angle),
                spacing_mm * math.sin(angle),
                depth_mm,
                radius_mm=radius_mm,
            )
        )
    pairs = [Pair((k,), (0,), voltage_v) for k in range(1, 7)]
    pairs += [Pair((k,), (k % 6 + 1,), voltage_v) for k in range(1, 7)]
    return tuple(needles), tuple(pairs)


def plates(
    gap_mm: float, length_mm: float, thickness_mm: float, contact_depth_mm: float, voltage_v: float
) -> tuple[tuple[Conductor, ...], tuple[Pair, ...]]:
    """Two parallel plates, inner faces at x = +-gap/2, along y, to the contact depth."""
    for name, value in (
        ("gap_mm", gap_mm),
        ("length_mm", length_mm),
        ("thickness_mm", thickness_mm),
        ("contact_depth_mm", contact_depth_mm),
    ):
        _positive(name, value)
    offset = gap_mm / 2 + thickness_mm / 2
    conductors = tuple(
        Conductor(
            "rect", x, 0.0, contact_depth_mm, half_x_mm=thickness_mm / 2, half_y_mm=length_mm / 2
        )
        for x in (-offset, offset)
    )
    return conductors, (Pair((1,), (0,), voltage_v),)


def electrode(name: str, **overrides: float | None) -> ElectrodeGeometry:
    """An electrode of the catalogue, with chosen parameters overridden (None = keep).

    Overridable: ``gap_mm``, ``radius_mm``, ``depth_mm``, ``voltage_v`` and the
    kind-specific sizes of the catalogue entry.
    """
    entries = catalogue()["electrodes"]
    if name not in entries:
        raise ValueError(f"electrode={name!r}: unknown; allowed: {', '.join(sorted(entries))}")
    spec = dict(entries[name])
    for key, value in overrides.items():
        if value is None:
            continue
        if key not in spec or key in ("kind", "status", "source"):
            allowed = sorted(k for k in spec if k not in ("kind", "status", "source"))
            raise ValueError(
                f"{key} does not apply to electrode {name!r}; allowed: {', '.join(allowed)}"
            )
        spec[key] = value
    kind: CatalogueKind = spec["kind"]
    voltage = float(spec["voltage_v"])
    if kind == "needle-pair":
        conductors, pairs = needle_pair(
            spec["gap_mm"], spec["radius_mm"], spec["depth_mm"], voltage
        )
    elif kind == "linear":
        conductors, pairs = linear_array(
            spec["row_distance_mm"],
            int(spec["needles_per_row"]),
            spec["pitch_mm"],
            spec["radius_mm"],
            spec["depth_mm"],
            voltage,
        )
    elif kind == "hexagonal":
        conductors, pairs = hexagon(
            spec["spacing_mm"], spec["radius_mm"], spec["depth_mm"], voltage
        )
    else:
        conductors, pairs = plates(
            spec["gap_mm"],
            spec["length_mm"],
            spec["thickness_mm"],
            spec["contact_depth_mm"],
            voltage,
        )
    return ElectrodeGeometry(name, conductors, pairs, spec["status"], spec["source"])


def custom(
    needles: list[dict[str, float]], pairs: list[dict[str, Any]], name: str = "custom"
) -> ElectrodeGeometry:
    """A custom needle set: ``needles`` [{x_mm, y_mm, radius_mm, depth_mm}] and ``pairs``
    [{positive: [i, ...], negative: [j, ...], voltage_v}] (indices into ``needles``)."""
    conductors = tuple(
        Conductor(
            "disk",
            float(n["x_mm"]),
            float(n["y_mm"]),
            float(n["depth_mm"]),
            radius_mm=float(n["radius_mm"]),
        )
        for n in needles
    )
    sequence = tuple(
        Pair(
            tuple(int(i) for i in p["positive"]),
            tuple(int(i) for i in p["negative"]),
            float(p["voltage_v"]),
        )
        for p in pairs
    )
    for k, conductor in enumerate(conductors):
        if conductor.radius_mm <= 0 or conductor.depth_mm <= 0:
            raise ValueError(f"needle {k}: radius_mm and depth_mm must be > 0")
    return ElectrodeGeometry(name, conductors, sequence, "to_verify", "user-defined needle set")


def _positive(name: str, value: float) -> None:
    if not value > 0:
        raise ValueError(f"{name}={value}: must be > 0 mm")
