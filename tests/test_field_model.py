"""Field engine parts: exact oracles, conductivity models, catalogues, model checks."""

from __future__ import annotations

import math

import numpy as np
import pytest

from openect.field.analytic import NeedlePair, plate_current_a, plate_field_v_per_cm
from openect.field.conductivity import SigmaModel, TissueParameters, conductivity
from openect.field.electrodes import (
    electrode,
    electrode_names,
    generator_max_voltage_v,
)
from openect.field.geometry import FieldModel, Tumour, homogeneous, skin_layered
from openect.field.mesh import build_mesh, depth_levels
from openect.field.simulate import simulate
from openect.field.tissues import tissue, tissue_names, tissue_source

TUMOUR = TissueParameters("tumour", 0.2, 0.7, 400.0, 800.0)


@pytest.mark.parametrize(
    ("voltage", "distance", "midpoint", "bisector"),
    [(400, 4.0, 836.5, 411.7), (730, 7.3, 661.9, 329.4), (1000, 10.0, 598.3, 298.4)],
)
def test_two_cylinder_table(
    voltage: float, distance: float, midpoint: float, bisector: float
) -> None:
    pair = NeedlePair(voltage, distance, 0.35)
    assert pair.midpoint_field_v_per_cm == pytest.approx(midpoint, abs=0.05)
    assert pair.field_v_per_cm(0.0, 0.0) == pytest.approx(midpoint, abs=0.05)
    assert pair.field_v_per_cm(0.0, distance / 2) == pytest.approx(bisector, abs=0.05)
    # Between needles the field is only 0.5-0.84 of U/D.
    assert 0.5 < midpoint / (voltage / distance * 10) < 0.84


def test_typical_linear_array_current() -> None:
    # ~1 A per pair at 0.2 S/m for 10 mm insertion at 400 V, ~3.6 A at 0.7 S/m.
    pair = NeedlePair(400, 4.0, 0.35)
    assert pair.current_per_length_a_per_mm(0.2) * 10 == pytest.approx(1.03, abs=0.02)
    assert pair.current_per_length_a_per_mm(0.7) * 10 == pytest.approx(3.6, abs=0.05)


def test_plates() -> None:
    assert plate_field_v_per_cm(780.0, 6.0) == 1300.0
    # sigma U A / gap = 0.2 * 780 * 100 mm2 / 6 mm * 1e-3
    assert plate_current_a(780.0, 6.0, 100.0, 0.2) == pytest.approx(2.6)


def test_needle_radius_must_fit_between_the_needles() -> None:
    with pytest.raises(ValueError, match=r"radius_mm=2\.5"):
        NeedlePair(400, 4.0, 2.5)


@pytest.mark.parametrize(
    ("model", "field", "expected"),
    [
        (SigmaModel.CONSTANT, 1000.0, 0.2),
        (SigmaModel.STEP, 399.0, 0.2),
        (SigmaModel.STEP, 400.0, 0.7),
        (SigmaModel.RAMP, 400.0, 0.2),
        (SigmaModel.RAMP, 600.0, 0.45),
        (SigmaModel.RAMP, 800.0, 0.7),
        (SigmaModel.RAMP, 2000.0, 0.7),
        # Sel sigmoid at A = (E_irr + E_rev)/2: sigma0 + (sigma1 - sigma0) / (1 + D) = 0.2 + 0.5/11
        (SigmaModel.SIGMOID, 600.0, 0.2 + 0.5 / 11),
        (SigmaModel.SIGMOID, 0.0, 0.2 + 0.5 / (1 + 10 * math.exp(12))),
    ],
)
def test_conductivity_models(model: SigmaModel, field: float, expected: float) -> None:
    assert conductivity(model, TUMOUR, np.array([field]))[0] == pytest.approx(expected)


def test_conductivity_is_monotone_and_bounded() -> None:
    e = np.linspace(0, 3000, 301)
    for model in SigmaModel:
        sigma = conductivity(model, TUMOUR, e)
        assert np.all(np.diff(sigma) >= -1e-15)
        assert sigma.min() >= 0.2 - 1e-12
        assert sigma.max() <= 0.7 + 1e-12


def test_tissue_parameters_checked() -> None:
    with pytest.raises(ValueError, match="sigma0"):
        TissueParameters("x", 0.8, 0.7, 400, 800)
    with pytest.raises(ValueError, match="E_rev"):
        TissueParameters("x", 0.2, 0.7, 800, 400)


def test_tissue_sets_have_sources() -> None:
    assert {"tumour", "skin", "fat", "muscle", "liver"} <= set(tissue_names())
    for name in tissue_names():
        status, source = tissue_source(name)
        assert status in {"verified", "to_verify"}
        assert source.strip()
    assert tissue("tumour") == TUMOUR
    assert tissue("tumour", sigma0=0.9).sigma1 == 0.9
    with pytest.raises(ValueError, match="tissue='bone'"):
        tissue("bone")


def test_catalogue_geometry() -> None:
    assert electrode_names() == ["finger", "hexagonal", "linear", "needle-pair", "plate"]
    pair = electrode("needle-pair")
    assert [(c.x_mm, c.y_mm) for c in pair.conductors] == [(-2.0, 0.0), (2.0, 0.0)]
    hexagonal = electrode("hexagonal")
    assert len(hexagonal.conductors) == 7
    assert len(hexagonal.pairs) == 12
    distances = [
        math.dist(
            (hexagonal.conductors[p.positive[0]].x_mm, hexagonal.conductors[p.positive[0]].y_mm),
            (hexagonal.conductors[p.negative[0]].x_mm, hexagonal.conductors[p.negative[0]].y_mm),
        )
        for p in hexagonal.pairs
    ]
    assert distances == pytest.approx([7.3] * 12)  # the 12 nearest-neighbour pairs
    linear = electrode("linear")
    assert len(linear.conductors) == 8
    assert {c.x_mm for c in linear.conductors} == {-2.0, 2.0}
    plate = electrode("plate")
    assert plate.conductors[1].bounds()[0] - plate.conductors[0].bounds()[1] == pytest.approx(6.0)
    assert plate.max_voltage_v == 780.0
    assert generator_max_voltage_v() == 1000.0
    for name in electrode_names():
        assert electrode(name).source


def test_catalogue_overrides_and_errors() -> None:
    wide = electrode("needle-pair", gap_mm=8.0, voltage_v=800.0)
    assert wide.conductors[1].x_mm == 4.0
    assert wide.pairs[0].voltage_v == 800.0
    with pytest.raises(ValueError, match="electrode='tripolar': unknown; allowed: finger"):
        electrode("tripolar")
    with pytest.raises(ValueError, match="gap_mm does not apply to electrode 'hexagonal'"):
        electrode("hexagonal", gap_mm=5.0)


def test_model_refuses_needles_and_tumours_outside_the_block() -> None:
    with pytest.raises(ValueError, match=r"conductor 0 .* outside the block"):
        FieldModel(electrode("needle-pair", gap_mm=80.0), homogeneous(), half_width_mm=30.0)
    with pytest.raises(ValueError, match=r"tumour reaching .* outside the block"):
        FieldModel(
            electrode("needle-pair"),
            homogeneous(),
            Tumour(TUMOUR, 70, 10, 10, 6),
            half_width_mm=30.0,
        )
    with pytest.raises(ValueError, match="above the skin surface"):
        Tumour(TUMOUR, 10, 10, 10, 3.0)


def test_refuses_a_grid_too_large_for_memory() -> None:
    model = FieldModel(electrode("hexagonal"), homogeneous())
    with pytest.raises(ValueError, match=r"resolution_mm=0\.03: about .* unknowns"):
        simulate(model, 0.03)


def test_depth_levels_hit_every_interface() -> None:
    model = FieldModel(electrode("needle-pair", depth_mm=7.3), skin_layered(1.5, 4.0))
    levels = depth_levels(model, 0.4)
    for depth in (1.5, 5.5, 7.3):
        assert np.min(np.abs(levels - depth)) < 1e-12
    assert levels[0] == 0.0
    assert levels[-1] == model.depth_mm


def test_mesh_labels_layers_and_tumour() -> None:
    tumour = Tumour(TUMOUR, 6.0, 6.0, 4.0, 3.0)
    model = FieldModel(electrode("needle-pair"), skin_layered(1.5, 4.0), tumour)
    mesh = build_mesh(model, 0.5)
    centroids = mesh.points[mesh.tets].mean(axis=1)
    skin = mesh.labels == 0
    assert np.all(centroids[skin, 2] < 1.5)
    assert np.all(centroids[mesh.labels == 2, 2] > 5.5)
    in_tumour = mesh.labels == 3
    from openect.field.fem import P1Space

    volume = P1Space.build(mesh.points, mesh.tets).volumes[in_tumour].sum()
    assert volume == pytest.approx(tumour.volume_mm3(), rel=0.1)
    # No tetrahedron inside a needle above its tip.
    for conductor in model.electrode.conductors:
        inside = (
            np.hypot(centroids[:, 0] - conductor.x_mm, centroids[:, 1] - conductor.y_mm)
            < conductor.radius_mm * 0.9
        ) & (centroids[:, 2] < conductor.depth_mm)
        assert not inside.any()


def test_mask_tumour_matches_the_ellipsoid_it_samples() -> None:
    from openect.field.geometry import MaskTumour

    ellipsoid = Tumour(TUMOUR, 8.0, 6.0, 4.0, 3.0)
    spacing = 0.25
    axes = [
        np.arange(-5, 5 + 1e-9, spacing),
        np.arange(-5, 5 + 1e-9, spacing),
        np.arange(0, 6 + 1e-9, spacing),
    ]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1)
    mask = ellipsoid.contains(grid.reshape(-1, 3)).reshape(grid.shape[:3])
    voxels = MaskTumour(TUMOUR, mask, (-5.0, -5.0, 0.0), (spacing, spacing, spacing))
    assert voxels.volume_mm3() == pytest.approx(ellipsoid.volume_mm3(), rel=0.03)
    assert voxels.bounds_mm()[5] == pytest.approx(5.0, abs=spacing)
    probes = np.array([[0.0, 0.0, 3.0], [3.9, 0.0, 3.0], [0.0, 0.0, 5.5], [6.0, 0.0, 3.0]])
    assert voxels.contains(probes).tolist() == [True, True, False, False]
    for tumour in (ellipsoid, voxels):
        model = FieldModel(electrode("needle-pair"), homogeneous(), tumour, SigmaModel.CONSTANT)
        result = simulate(model, 0.6).result
        assert result.coverage.tumour_volume_mm3 == pytest.approx(ellipsoid.volume_mm3(), rel=0.15)
    with pytest.raises(ValueError, match="at least one tumour voxel"):
        MaskTumour(TUMOUR, np.zeros((2, 2, 2), dtype=bool), (0.0, 0.0, 0.0), (1.0, 1.0, 1.0))
