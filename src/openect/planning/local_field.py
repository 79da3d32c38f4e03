"""The field of one electrode application on a mesh made once and reused.

Every application of a plan uses the same electrode, voltage, needle depth and tissue
layers; only where the lesion lies under it and the conductivity left by earlier
applications differ. So the mesh (electrode centred at the origin, in its own frame)
and its P1 space are built once, and each application only changes the tissue label
of the elements (lesion tissue inside the lesion's outline down to its thickness, the
layers elsewhere) and their starting conductivity. The block is sized by the field
engine so that its far boundaries do not matter.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
from numpy.typing import NDArray

from openect import __version__
from openect.field.conductivity import SigmaModel, TissueParameters
from openect.field.electrodes import ElectrodeGeometry, electrode
from openect.field.fem import P1Space
from openect.field.geometry import FieldModel, Layer, homogeneous, skin_layered
from openect.field.mesh import Mesh, build_mesh
from openect.field.solver import PairSolution, solve_pairs
from openect.field.tissues import tissue

#: Tissue of the lesion (the field engine's tumour parameter set).
LESION_TISSUE = "tumour"
#: Default mesh resolution of planning simulations (mm).
PLANNING_RESOLUTION_MM = 0.6
#: Picard tolerance of planning simulations (relative conductivity change): looser
#: than the field engine's 1e-3; coverage is decided against a threshold, and the field
#: changes by well under 1 % over the Picard steps this saves.
PLANNING_PICARD_TOL = 5e-3
TISSUE_PRESETS = ("skin-layered", "homogeneous")


@dataclass(frozen=True)
class ApplicationSetup:
    """What one application's field depends on (mm, V, S/m factors)."""

    electrode: str
    thickness_mm: float
    #: Needle insertion depth (mm); None for plates (their contact depth).
    insertion_depth_mm: float | None
    voltage_v: float | None = None
    tissue: str = "skin-layered"
    sigma_model: SigmaModel = SigmaModel.SIGMOID
    resolution_mm: float = PLANNING_RESOLUTION_MM
    #: Factor on sigma0 and sigma1 per tissue name (robustness samples).
    sigma_scale: tuple[tuple[str, float], ...] = ()

    def __post_init__(self) -> None:
        if self.tissue not in TISSUE_PRESETS:
            raise ValueError(f"tissue={self.tissue!r}: allowed: {', '.join(TISSUE_PRESETS)}")
        if not 0 < self.thickness_mm <= 30:
            raise ValueError(f"thickness_mm={self.thickness_mm}: allowed > 0 and <= 30 mm")

    def parameters(self) -> dict[str, object]:
        """JSON-serialisable parameters (the footprint cache key)."""
        return {
            "electrode": self.electrode,
            "thickness_mm": self.thickness_mm,
            "insertion_depth_mm": self.insertion_depth_mm,
            "voltage_v": self.voltage_v,
            "tissue": self.tissue,
            "sigma_model": self.sigma_model.value,
            "resolution_mm": self.resolution_mm,
            "sigma_scale": [list(item) for item in self.sigma_scale],
            "lesion_tissue": LESION_TISSUE,
            "picard_tolerance": PLANNING_PICARD_TOL,
            "openect": __version__,
        }

    def geometry(self) -> ElectrodeGeometry:
        """The electrode at the origin with this setup's voltage and insertion depth."""
        overrides: dict[str, float | None] = {"voltage_v": self.voltage_v}
        if self.insertion_depth_mm is not None:
            overrides["depth_mm"] = self.insertion_depth_mm
        return electrode(self.electrode, **overrides)


def _scaled(params: TissueParameters, scale: dict[str, float]) -> TissueParameters:
    factor = scale.get(params.name, 1.0)
    if factor == 1.0:
        return params
    return replace(params, sigma0=params.sigma0 * factor, sigma1=params.sigma1 * factor)


@dataclass
class LocalField:
    """Mesh and P1 space of one application, reused for every application of a plan."""

    setup: ApplicationSetup
    model: FieldModel
    mesh: Mesh
    space: P1Space
    #: Element centroids in the electrode frame (mm).
    centroids: NDArray[np.float64]
    #: Layer label of each element (index into ``tissues``); the lesion is ``lesion_label``.
    layer_labels: NDArray[np.int32]
    tissues: list[TissueParameters]
    seconds: float = 0.0
    solutions: list[PairSolution] = field(default_factory=list)

    @classmethod
    def build(cls, setup: ApplicationSetup) -> LocalField:
        """Mesh the application's block (electrode at the origin)."""
        import time

        started = time.perf_counter()
        geometry = setup.geometry()
        scale = dict(setup.sigma_scale)
        layers: tuple[Layer, ...] = (
            skin_layered() if setup.tissue == "skin-layered" else homogeneous("fat")
        )
        layers = tuple(replace(layer, tissue=_scaled(layer.tissue, scale)) for layer in layers)
        deepest = max(c.depth_mm for c in geometry.conductors)
        model = FieldModel(
            geometry,
            layers,
            None,
            setup.sigma_model,
            depth_mm=max(25.0, 3 * max(deepest, setup.thickness_mm)),
        )
        mesh = build_mesh(model, setup.resolution_mm)
        space = mesh.space()
        tissues = [layer.tissue for layer in layers] + [_scaled(tissue(LESION_TISSUE), scale)]
        return cls(
            setup=setup,
            model=model,
            mesh=mesh,
            space=space,
            centroids=mesh.points[mesh.tets].mean(axis=1),
            layer_labels=mesh.labels.copy(),
            tissues=tissues,
            seconds=time.perf_counter() - started,
        )

    @property
    def lesion_label(self) -> int:
        """Label of the lesion tissue."""
        return len(self.tissues) - 1

    @property
    def e_rev_v_per_cm(self) -> float:
        """Reversible threshold of the lesion tissue (V/cm)."""
        return self.tissues[-1].e_rev

    def solve(
        self,
        in_lesion: NDArray[np.bool_],
        initial_memory: NDArray[np.float64] | None = None,
        progress: Callable[[], None] | None = None,
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Fire every pair of the electrode with the lesion at the elements flagged
        ``in_lesion``; return the maximum field over pairs (V/cm) and the final
        conductivity (S/m), per element."""
        labels = np.where(in_lesion, self.lesion_label, self.layer_labels)
        solutions, field_max, sigma = solve_pairs(
            self.space,
            self.mesh.conductor_nodes,
            self.model.electrode.pairs,
            self.tissues,
            labels,
            self.model.sigma_model,
            progress,
            initial_memory=initial_memory,
            picard_tol=PLANNING_PICARD_TOL,
        )
        self.solutions = solutions
        if not all(s.converged for s in solutions):
            raise RuntimeError(
                "the non-linear field solve did not converge for this application; "
                "try a finer --resolution-mm or the step conductivity model"
            )
        return field_max, sigma
