"""Build a :class:`~openect.field.geometry.FieldModel` from options or a YAML model file.

YAML model file (every key optional; command-line flags override it)::

    electrode: hexagonal          # catalogue id, or a custom needle set:
    # electrode: {needles: [{x_mm: -2, y_mm: 0, radius_mm: 0.35, depth_mm: 8}, ...],
    #             pairs: [{positive: [1], negative: [0], voltage_v: 400}]}
    voltage_v: 730
    gap_mm: 4                     # needle-pair, plate, finger
    needle_radius_mm: 0.35
    needle_depth_mm: 10
    tissue: skin-layered          # or homogeneous
    sigma: 0.2                    # homogeneous: intact conductivity (S/m)
    skin_mm: 1.5
    fat_mm: 4
    sigma_model: sigmoid          # constant | step | ramp | sigmoid
    tumour: {diameter_mm: 10, depth_mm: 5}   # or diameter_x_mm/_y_mm/_z_mm, x_mm, y_mm
    # tumour: {mask: tumour.npy, origin_mm: [-5, -5, 0.5], spacing_mm: [0.5, 0.5, 0.5]}
    #   a 3-D boolean label mask (numpy .npy), voxel (i, j, k) centred at
    #   origin + (i, j, k) * spacing (x, y, depth)
    resolution_mm: 0.4
    probes: [[0, 0, 5], [2, 0, 5]]
    block_half_width_mm: 30       # default: sized from the electrode and tumour
    block_depth_mm: 30
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import yaml

from openect.field.conductivity import SigmaModel
from openect.field.electrodes import ElectrodeGeometry, custom, electrode, generator_max_voltage_v
from openect.field.geometry import FieldModel, MaskTumour, Tumour, homogeneous, skin_layered
from openect.field.tissues import tissue

KNOWN_KEYS = {
    "electrode", "voltage_v", "gap_mm", "needle_radius_mm", "needle_depth_mm", "tissue",
    "sigma", "skin_mm", "fat_mm", "sigma_model", "tumour", "resolution_mm", "probes",
    "block_half_width_mm", "block_depth_mm",
}  # fmt: skip


def read_model_file(path: Path) -> dict[str, Any]:
    """The settings of a YAML model file (ValueError naming any problem)."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ValueError(f"model={str(path)!r}: cannot read: {error.strerror}") from error
    except yaml.YAMLError as error:
        raise ValueError(f"{path.name}: not valid YAML") from error
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise ValueError(f"{path.name}: expected a mapping of settings")
    tumour = document.get("tumour")
    if isinstance(tumour, dict) and "mask" in tumour and not Path(tumour["mask"]).is_absolute():
        tumour["mask"] = str(path.parent / tumour["mask"])  # relative to the model file
    unknown = sorted(set(document) - KNOWN_KEYS)
    if unknown:
        raise ValueError(
            f"{path.name}: unknown setting(s) {', '.join(unknown)}; "
            f"allowed: {', '.join(sorted(KNOWN_KEYS))}"
        )
    return document


def build_electrode(settings: dict[str, Any]) -> ElectrodeGeometry:
    """The electrode of the settings, with voltage and size overrides, checked against the
    generator's limit."""
    spec = settings.get("electrode", "needle-pair")
    if isinstance(spec, dict):
        geometry = custom(list(spec.get("needles", [])), list(spec.get("pairs", [])))
    else:
        kind = str(spec)
        overrides: dict[str, float | None] = {
            "voltage_v": settings.get("voltage_v"),
            "gap_mm": settings.get("gap_mm"),
            "radius_mm": settings.get("needle_radius_mm"),
            "depth_mm": settings.get("needle_depth_mm"),
        }
        geometry = electrode(kind, **overrides)
    if settings.get("voltage_v") is not None and isinstance(spec, dict):
        geometry = geometry.with_voltage(float(settings["voltage_v"]))
    limit = generator_max_voltage_v()
    if geometry.max_voltage_v > limit:
        raise ValueError(
            f"voltage={geometry.max_voltage_v:g} V: beyond the generator limit; "
            f"allowed <= {limit:g} V"
        )
    return geometry


def build_model(settings: dict[str, Any]) -> FieldModel:
    """A field model from settings (see the module docstring)."""
    geometry = build_electrode(settings)
    preset = settings.get("tissue", "homogeneous")
    if preset == "homogeneous":
        layers = homogeneous("tumour", settings.get("sigma"))
    elif preset == "skin-layered":
        if settings.get("sigma") is not None:
            raise ValueError("sigma: applies to the homogeneous tissue only")
        layers = skin_layered(
            float(settings.get("skin_mm", 1.5)), float(settings.get("fat_mm", 4.0))
        )
    else:
        raise ValueError(f"tissue={preset!r}: allowed: homogeneous, skin-layered")
    model_name = settings.get("sigma_model", SigmaModel.SIGMOID.value)
    try:
        sigma_model = SigmaModel(model_name)
    except ValueError:
        raise ValueError(
            f"sigma_model={model_name!r}: allowed: {', '.join(m.value for m in SigmaModel)}"
        ) from None
    tumour: Tumour | MaskTumour | None = None
    spec = settings.get("tumour")
    if spec and "mask" in spec:
        try:
            mask = np.load(Path(spec["mask"]), allow_pickle=False)
        except (OSError, ValueError) as error:
            raise ValueError(
                f"tumour mask={str(spec['mask'])!r}: cannot read a .npy array"
            ) from error
        tumour = MaskTumour(
            tissue("tumour"),
            np.asarray(mask, dtype=bool),
            tuple(float(v) for v in spec.get("origin_mm", (0.0, 0.0, 0.0))),  # type: ignore[arg-type]
            tuple(float(v) for v in spec.get("spacing_mm", (1.0, 1.0, 1.0))),  # type: ignore[arg-type]
        )
    elif spec:
        diameter = spec.get("diameter_mm")
        dx = float(spec.get("diameter_x_mm", diameter or 0))
        dy = float(spec.get("diameter_y_mm", diameter or 0))
        dz = float(spec.get("diameter_z_mm", diameter or 0))
        depth = float(spec.get("depth_mm", dz / 2))
        tumour = Tumour(
            tissue("tumour"),
            dx,
            dy,
            dz,
            depth,
            float(spec.get("x_mm", 0)),
            float(spec.get("y_mm", 0)),
        )
    return FieldModel(
        geometry,
        layers,
        tumour,
        sigma_model,
        half_width_mm=float(settings.get("block_half_width_mm", 0.0)),
        depth_mm=float(settings.get("block_depth_mm", 0.0)),
    )
