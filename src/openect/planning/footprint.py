"""Footprint of one electrode application: where on the skin the field stays above the
reversible threshold E_rev through the whole treated depth.

The footprint is a raster in the electrode's own frame (mm; the electrode centred at
the origin, as in the field engine's catalogue): for each point (x, y) the lowest |E|
(V/cm) over depths 0..T, T the lesion thickness. A point is covered by the application
when that lowest field reaches E_rev, so that the full column below it, down to the
deepest part of the lesion, is electroporated.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from openect.planning.local_field import ApplicationSetup, LocalField


@dataclass(frozen=True)
class Footprint:
    """Lowest field over the treated depth on a regular grid in the electrode frame."""

    #: Grid coordinates (mm), ascending and evenly spaced.
    x_mm: NDArray[np.float64]
    y_mm: NDArray[np.float64]
    #: (len(y_mm), len(x_mm)): lowest |E| (V/cm) over depths 0..thickness at (x, y).
    e_min_v_per_cm: NDArray[np.float64]
    #: Reversible electroporation threshold of the lesion tissue (V/cm).
    e_rev_v_per_cm: float
    #: Catalogue name of the electrode.
    electrode: str
    #: (k, 2) centres of the needles or plates in the electrode frame (mm), for drawing.
    conductors_mm: NDArray[np.float64]
    #: Everything the footprint was computed from (JSON-serialisable).
    parameters: dict[str, object] = field(default_factory=dict)

    @property
    def spacing_mm(self) -> float:
        """Grid spacing (mm)."""
        return float(self.x_mm[1] - self.x_mm[0])

    @property
    def mask(self) -> NDArray[np.bool_]:
        """(ny, nx) True where the column is covered."""
        return np.asarray(self.e_min_v_per_cm >= self.e_rev_v_per_cm)

    @property
    def area_mm2(self) -> float:
        """Covered area (mm2)."""
        return float(self.mask.sum() * self.spacing_mm**2)

    def covered(self, points_mm: NDArray[np.float64]) -> NDArray[np.bool_]:
        """For points (N, 2) in the electrode frame (mm): is the column covered? Points
        off the grid are not covered (nearest grid point inside)."""
        h = self.spacing_mm
        ix = np.rint((points_mm[:, 0] - self.x_mm[0]) / h).astype(np.int64)
        iy = np.rint((points_mm[:, 1] - self.y_mm[0]) / h).astype(np.int64)
        inside = (ix >= 0) & (ix < len(self.x_mm)) & (iy >= 0) & (iy < len(self.y_mm))
        out = np.zeros(len(points_mm), dtype=bool)
        mask = self.mask
        out[inside] = mask[iy[inside], ix[inside]]
        return out

    def extent_mm(self) -> float:
        """Largest distance of a covered grid point from the electrode centre (mm)."""
        yy, xx = np.meshgrid(self.y_mm, self.x_mm, indexing="ij")
        mask = self.mask
        if not mask.any():
            return 0.0
        return float(np.hypot(xx[mask], yy[mask]).max())


#: Grid spacing of footprint rasters (mm).
FOOTPRINT_SPACING_MM = 0.1
#: Raise when the stored format changes, so that older cache entries are recomputed.
FOOTPRINT_FORMAT = 2


def cache_dir() -> Path:
    """Where footprints are cached: the setting ``OPENECT_CACHE_DIR``, by default the user
    cache directory (``$XDG_CACHE_HOME/openect`` or ``~/.cache/openect``), sub-folder
    ``footprints``."""
    from openect.settings import get_settings

    return get_settings().cache_dir / "footprints"


def cache_key(parameters: dict[str, object]) -> str:
    """Hash of every parameter the footprint depends on (and the format version)."""
    text = json.dumps({**parameters, "format": FOOTPRINT_FORMAT}, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def compute_footprint(local: LocalField) -> Footprint:
    """The footprint of one application with the lesion tissue under the whole block
    down to the thickness (a lesion larger than the footprint): the lowest nodal field
    over depths 0..thickness of each 2-D column, interpolated on a regular grid."""
    from matplotlib.tri import LinearTriInterpolator, Triangulation

    setup = local.setup
    mesh = local.mesh
    in_lesion = local.centroids[:, 2] <= setup.thickness_mm + 1e-9
    field_max, _ = local.solve(in_lesion)
    # Conservative nodal values: the lowest field of the elements around each node, so
    # that the footprint does not claim what an element-wise verification would miss.
    nodal = np.full(len(mesh.points), np.inf)
    for k in range(4):
        np.minimum.at(nodal, mesh.tets[:, k], field_max)
    depth = mesh.levels[mesh.node_levels]
    shallow = depth <= setup.thickness_mm + 1e-9
    lowest = np.full(len(mesh.points2d), np.inf)
    np.minimum.at(lowest, mesh.columns[shallow], nodal[shallow])
    # Columns without tissue nodes lie inside a conductor: the needle itself.
    lowest[~np.isfinite(lowest)] = 1e6
    conductors = local.model.electrode.conductors
    reach = max(max(abs(v) for v in c.bounds()) for c in conductors) + 4.0
    h = FOOTPRINT_SPACING_MM
    axis = np.arange(-reach, reach + h / 2, h)
    xx, yy = np.meshgrid(axis, axis)
    triangulation = Triangulation(mesh.points2d[:, 0], mesh.points2d[:, 1], mesh.triangles2d)
    values = LinearTriInterpolator(triangulation, lowest)(xx, yy)
    e_min = np.asarray(np.ma.filled(values, 0.0), dtype=np.float64)
    return Footprint(
        x_mm=axis,
        y_mm=axis.copy(),
        e_min_v_per_cm=e_min,
        e_rev_v_per_cm=local.e_rev_v_per_cm,
        electrode=setup.electrode,
        conductors_mm=np.array([[c.x_mm, c.y_mm] for c in conductors]),
        parameters=setup.parameters(),
    )


def load_or_compute(
    setup: ApplicationSetup, directory: Path | None = None
) -> tuple[Footprint, bool]:
    """The footprint for ``setup`` from the disk cache, or computed and stored; the
    second value says whether it came from the cache."""
    directory = directory or cache_dir()
    parameters = setup.parameters()
    path = directory / f"{cache_key(parameters)}.npz"
    if path.exists():
        try:
            with np.load(path, allow_pickle=False) as data:
                stored = json.loads(str(data["parameters"]))
                if stored == parameters:
                    return (
                        Footprint(
                            x_mm=data["x_mm"],
                            y_mm=data["y_mm"],
                            e_min_v_per_cm=data["e_min_v_per_cm"],
                            e_rev_v_per_cm=float(data["e_rev_v_per_cm"]),
                            electrode=setup.electrode,
                            conductors_mm=data["conductors_mm"],
                            parameters=parameters,
                        ),
                        True,
                    )
        except (OSError, ValueError, KeyError):
            pass  # unreadable entry: recompute and replace it
    footprint = compute_footprint(LocalField.build(setup))
    directory.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=directory, suffix=".npz.part")
    try:
        with os.fdopen(handle, "wb") as stream:
            np.savez_compressed(
                stream,
                x_mm=footprint.x_mm,
                y_mm=footprint.y_mm,
                e_min_v_per_cm=footprint.e_min_v_per_cm,
                e_rev_v_per_cm=np.float64(footprint.e_rev_v_per_cm),
                conductors_mm=footprint.conductors_mm,
                parameters=np.str_(json.dumps(parameters, sort_keys=True)),
            )
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    return footprint, False
