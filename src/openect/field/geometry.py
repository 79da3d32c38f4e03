"""The tissue model: a block with the skin at z = 0, tissue layers, a tumour, an electrode.

Depth z > 0 in mm. Presets: ``homogeneous`` (one tissue) and ``skin-layered`` (skin,
subcutaneous fat, muscle to the bottom). The block is sized from the electrode and the
tumour so that its far boundaries (insulating) do not change the result.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from openect.field.conductivity import SigmaModel, TissueParameters
from openect.field.electrodes import ElectrodeGeometry
from openect.field.tissues import tissue

#: Block half-width and depth at least this many times the treated region's extent.
BLOCK_FACTOR = 3.0
#: Smallest block half-width and depth (mm).
MIN_BLOCK_MM = 25.0


@dataclass(frozen=True)
class Layer:
    """A tissue layer from ``top_mm`` to ``bottom_mm`` depth."""

    tissue: TissueParameters
    top_mm: float
    bottom_mm: float


@dataclass(frozen=True)
class Tumour:
    """An ellipsoidal tumour: diameters along x, y, z (mm), centre (x, y, depth) in mm."""

    tissue: TissueParameters
    diameter_x_mm: float
    diameter_y_mm: float
    diameter_z_mm: float
    depth_mm: float
    x_mm: float = 0.0
    y_mm: float = 0.0

    def __post_init__(self) -> None:
        for name in ("diameter_x_mm", "diameter_y_mm", "diameter_z_mm"):
            if getattr(self, name) <= 0:
                raise ValueError(f"tumour {name}={getattr(self, name)}: must be > 0 mm")
        if self.depth_mm - self.diameter_z_mm / 2 < 0:
            raise ValueError(
                f"tumour depth_mm={self.depth_mm}: its top is above the skin surface; "
                f"allowed depth >= diameter_z / 2 ({self.diameter_z_mm / 2:g} mm)"
            )

    @property
    def bottom_mm(self) -> float:
        """Depth of the deepest point (mm)."""
        return self.depth_mm + self.diameter_z_mm / 2

    def bounds_mm(self) -> tuple[float, float, float, float, float, float]:
        """(x_min, x_max, y_min, y_max, z_min, z_max) in mm."""
        return (
            self.x_mm - self.diameter_x_mm / 2,
            self.x_mm + self.diameter_x_mm / 2,
            self.y_mm - self.diameter_y_mm / 2,
            self.y_mm + self.diameter_y_mm / 2,
            self.depth_mm - self.diameter_z_mm / 2,
            self.bottom_mm,
        )

    def contains(self, points_mm: NDArray[np.float64]) -> NDArray[np.bool_]:
        """Which points (mm, z = depth) lie inside the ellipsoid."""
        r = (
            ((points_mm[:, 0] - self.x_mm) / (self.diameter_x_mm / 2)) ** 2
            + ((points_mm[:, 1] - self.y_mm) / (self.diameter_y_mm / 2)) ** 2
            + ((points_mm[:, 2] - self.depth_mm) / (self.diameter_z_mm / 2)) ** 2
        )
        return np.asarray(r <= 1.0)

    def volume_mm3(self) -> float:
        """Exact ellipsoid volume (mm3)."""
        return math.pi / 6 * self.diameter_x_mm * self.diameter_y_mm * self.diameter_z_mm


@dataclass(frozen=True, eq=False)
class MaskTumour:
    """A tumour given as a voxel label mask (e.g. segmented from imaging).

    ``mask[i, j, k]`` is true where voxel (i, j, k) is tumour; its centre lies at
    ``origin_mm + (i, j, k) * spacing_mm`` (x, y, depth; mm).
    """

    tissue: TissueParameters
    mask: NDArray[np.bool_]
    origin_mm: tuple[float, float, float]
    spacing_mm: tuple[float, float, float]

    def __post_init__(self) -> None:
        if self.mask.ndim != 3 or not self.mask.any():
            raise ValueError("tumour mask: must be a 3-D array with at least one tumour voxel")
        if min(self.spacing_mm) <= 0:
            raise ValueError(f"tumour spacing_mm={self.spacing_mm}: each must be > 0 mm")
        if self.bounds_mm()[4] < 0:
            raise ValueError("tumour mask: voxels above the skin surface (depth < 0)")

    def bounds_mm(self) -> tuple[float, float, float, float, float, float]:
        """Bounding box of the tumour voxels (mm), voxel faces included."""
        index = np.argwhere(self.mask)
        low = np.array(self.origin_mm) + (index.min(axis=0) - 0.5) * np.array(self.spacing_mm)
        high = np.array(self.origin_mm) + (index.max(axis=0) + 0.5) * np.array(self.spacing_mm)
        return (
            float(low[0]), float(high[0]), float(low[1]), float(high[1]),
            float(low[2]), float(high[2]),
        )  # fmt: skip

    @property
    def bottom_mm(self) -> float:
        """Depth of the deepest voxel face (mm)."""
        return self.bounds_mm()[5]

    @property
    def depth_mm(self) -> float:
        """Depth of the centre of the bounding box (mm)."""
        bounds = self.bounds_mm()
        return (bounds[4] + bounds[5]) / 2

    def contains(self, points_mm: NDArray[np.float64]) -> NDArray[np.bool_]:
        """Which points (mm) fall in a tumour voxel."""
        index = np.rint((points_mm - np.array(self.origin_mm)) / np.array(self.spacing_mm))
        index = index.astype(np.int64)
        inside = np.all((index >= 0) & (index < np.array(self.mask.shape)), axis=1)
        result = np.zeros(len(points_mm), dtype=bool)
        i, j, k = index[inside].T
        result[inside] = self.mask[i, j, k]
        return result

    def volume_mm3(self) -> float:
        """Tumour volume from the voxel count (mm3)."""
        return float(self.mask.sum() * np.prod(self.spacing_mm))


@dataclass(frozen=True)
class FieldModel:
    """Everything a simulation needs apart from the discretisation."""

    electrode: ElectrodeGeometry
    layers: tuple[Layer, ...]
    tumour: Tumour | MaskTumour | None = None
    sigma_model: SigmaModel = SigmaModel.SIGMOID
    half_width_mm: float = field(default=0.0)
    depth_mm: float = field(default=0.0)

    def __post_init__(self) -> None:
        if not self.layers or self.layers[0].top_mm != 0:
            raise ValueError("layers must start at the skin surface (depth 0)")
        extent = self.treated_extent_mm()
        deepest = self.deepest_mm()
        width = self.half_width_mm or max(MIN_BLOCK_MM, BLOCK_FACTOR * extent)
        depth = self.depth_mm or max(MIN_BLOCK_MM, BLOCK_FACTOR * deepest)
        object.__setattr__(self, "half_width_mm", width)
        object.__setattr__(self, "depth_mm", depth)
        for k, conductor in enumerate(self.electrode.conductors):
            x0, x1, y0, y1 = conductor.bounds()
            if min(x0, y0) <= -width or max(x1, y1) >= width or conductor.depth_mm > depth:
                raise ValueError(
                    f"conductor {k} at ({conductor.x_mm:g}, {conductor.y_mm:g}) mm, depth "
                    f"{conductor.depth_mm:g} mm: outside the block (half-width {width:g} mm, "
                    f"depth {depth:g} mm)"
                )
        if self.tumour is not None:
            t = self.tumour
            reach = max(abs(v) for v in t.bounds_mm()[:4])
            if reach >= width or t.bottom_mm >= depth:
                raise ValueError(
                    f"tumour reaching {reach:g} mm sideways and {t.bottom_mm:g} mm deep: outside "
                    f"the block (half-width {width:g} mm, depth {depth:g} mm)"
                )
        bottom = self.layers[-1].bottom_mm
        if bottom < depth and not math.isinf(bottom):
            raise ValueError(f"layers end at {bottom:g} mm, above the block bottom {depth:g} mm")

    def treated_extent_mm(self) -> float:
        """Half-size of the region holding the conductors and the tumour (mm)."""
        extent = 0.0
        for conductor in self.electrode.conductors:
            x0, x1, y0, y1 = conductor.bounds()
            extent = max(extent, abs(x0), abs(x1), abs(y0), abs(y1))
        if self.tumour is not None:
            extent = max(extent, *(abs(v) for v in self.tumour.bounds_mm()[:4]))
        return extent

    def deepest_mm(self) -> float:
        """Deepest conductor tip or tumour point (mm)."""
        deepest = max(c.depth_mm for c in self.electrode.conductors)
        if self.tumour is not None:
            deepest = max(deepest, self.tumour.bottom_mm)
        return deepest

    def interfaces_mm(self) -> list[float]:
        """Depths where the tissue or the conductors change (mm)."""
        depths = {layer.bottom_mm for layer in self.layers if math.isfinite(layer.bottom_mm)}
        depths |= {c.depth_mm for c in self.electrode.conductors}
        return sorted(d for d in depths if 0 < d < self.depth_mm)


def homogeneous(name: str = "tumour", sigma0: float | None = None) -> tuple[Layer, ...]:
    """One tissue from the skin surface down."""
    return (Layer(tissue(name, sigma0), 0.0, math.inf),)


def skin_layered(skin_mm: float = 1.5, fat_mm: float = 4.0) -> tuple[Layer, ...]:
    """Skin (epidermis + dermis), subcutaneous fat, then muscle to the bottom."""
    if skin_mm <= 0 or fat_mm <= 0:
        raise ValueError(f"skin_mm={skin_mm}, fat_mm={fat_mm}: both must be > 0 mm")
    return (
        Layer(tissue("skin"), 0.0, skin_mm),
        Layer(tissue("fat"), skin_mm, skin_mm + fat_mm),
        Layer(tissue("muscle"), skin_mm + fat_mm, math.inf),
    )
