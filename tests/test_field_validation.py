"""The field engine against exact solutions, conservation laws and physical bounds.

Long needles through a homogeneous block make the 3-D problem exactly 2-D, so the
analytic two-cylinder solution applies at every depth (docs/field.md).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from openect.field.analytic import NeedlePair, plate_field_v_per_cm
from openect.field.conductivity import SigmaModel, TissueParameters
from openect.field.electrodes import ElectrodeGeometry, hexagon, needle_pair, plates
from openect.field.geometry import FieldModel, Layer, homogeneous
from openect.field.simulate import Simulation, simulate

DEPTH = 10.0
SIGMA = 0.2


def long_needles(
    gap_mm: float = 4.0,
    voltage_v: float = 400.0,
    resolution_mm: float = 0.5,
    half_width_mm: float = 30.0,
    model: SigmaModel = SigmaModel.CONSTANT,
    sigma0: float = SIGMA,
) -> Simulation:
    conductors, pairs = needle_pair(gap_mm, 0.35, DEPTH, voltage_v)
    geometry = ElectrodeGeometry("pair", conductors, pairs)
    tissue = TissueParameters("tumour", sigma0, 0.7, 400, 800)
    field_model = FieldModel(
        geometry,
        (Layer(tissue, 0.0, math.inf),),
        None,
        model,
        half_width_mm=half_width_mm,
        depth_mm=DEPTH,
    )
    probes = [(0.0, 0.0, DEPTH / 2), (0.0, gap_mm / 2, DEPTH / 2)]
    return simulate(field_model, resolution_mm, probes)


@pytest.fixture(scope="module")
def pair_sim() -> Simulation:
    return long_needles(resolution_mm=0.25)


def test_midpoint_and_bisector_field_match_the_two_cylinder_solution(pair_sim: Simulation) -> None:
    exact = NeedlePair(400.0, 4.0, 0.35)
    midpoint, bisector = (p.e_v_per_cm for p in pair_sim.result.probes)
    assert exact.midpoint_field_v_per_cm == pytest.approx(836.5, abs=0.1)
    assert midpoint == pytest.approx(exact.midpoint_field_v_per_cm, rel=0.02)
    assert bisector == pytest.approx(exact.field_v_per_cm(0.0, 2.0), rel=0.02)


def test_current_per_unit_length_matches_the_two_cylinder_solution(pair_sim: Simulation) -> None:
    exact = NeedlePair(400.0, 4.0, 0.35).current_per_length_a_per_mm(SIGMA) * DEPTH
    assert pair_sim.result.current_a[0] == pytest.approx(exact, rel=0.05)


def test_current_in_equals_current_out(pair_sim: Simulation) -> None:
    solution = pair_sim.solutions[0]
    assert solution.current_a > 0
    assert solution.current_in_a == pytest.approx(-solution.current_a, rel=0.01)


def test_error_decreases_under_mesh_refinement() -> None:
    exact = NeedlePair(400.0, 4.0, 0.35).current_per_length_a_per_mm(SIGMA) * DEPTH
    errors = [
        abs(long_needles(resolution_mm=h).result.current_a[0] / exact - 1) for h in (1.0, 0.5)
    ]
    assert errors[1] < errors[0]


def test_block_is_large_enough_that_its_boundaries_do_not_matter() -> None:
    default, wider = long_needles(), long_needles(half_width_mm=60.0)
    assert wider.result.current_a[0] == pytest.approx(default.result.current_a[0], rel=0.005)
    assert wider.result.probes[0].e_v_per_cm == pytest.approx(
        default.result.probes[0].e_v_per_cm, rel=0.005
    )


def test_default_block_is_at_least_three_times_the_treated_region() -> None:
    conductors, pairs = needle_pair(4.0, 0.35, 10.0, 400.0)
    model = FieldModel(ElectrodeGeometry("pair", conductors, pairs), homogeneous())
    assert model.half_width_mm >= 3 * 2.35
    assert model.depth_mm >= 3 * 10.0


def test_non_linear_current_lies_between_the_sigma0_and_sigma1_solutions() -> None:
    low = long_needles(resolution_mm=0.5, sigma0=SIGMA).result.current_a[0]
    high = long_needles(resolution_mm=0.5, sigma0=0.7).result.current_a[0]
    for model in (SigmaModel.RAMP, SigmaModel.SIGMOID):
        result = long_needles(resolution_mm=0.5, model=model).result
        assert result.converged
        assert low < result.current_a[0] < high


def test_field_between_large_plates_is_voltage_over_gap() -> None:
    conductors, pairs = plates(6.0, 24.0, 0.5, DEPTH, 780.0)
    geometry = ElectrodeGeometry("plates", conductors, pairs)
    model = FieldModel(
        geometry, homogeneous(sigma0=SIGMA), None, SigmaModel.CONSTANT, depth_mm=DEPTH
    )
    result = simulate(model, 0.6, [(0.0, 0.0, 5.0), (1.5, 3.0, 2.0)]).result
    expected = plate_field_v_per_cm(780.0, 6.0)
    assert expected == 1300.0
    for probe in result.probes:
        assert probe.e_v_per_cm == pytest.approx(expected, rel=0.01)


def test_hexagon_interior_stays_above_the_2d_lower_bound() -> None:
    # An isolated pair gives 495 V/cm at the centroid of its triangle (2c k / (c^2 + y^2),
    # y = 7.3 / (2 sqrt 3) mm): the 2-D lower bound of the maximum over the 12 pairs.
    # The third, floating needle of each triangle raises the centroid field above it.
    conductors, pairs = hexagon(7.3, 0.35, DEPTH, 730.0)
    geometry = ElectrodeGeometry("hexagonal", conductors, pairs)
    model = FieldModel(
        geometry, homogeneous(sigma0=SIGMA), None, SigmaModel.CONSTANT, depth_mm=DEPTH
    )
    centroids = [
        (7.3 / 3 * (math.cos(math.radians(a)) + math.cos(math.radians(a + 60))),
         7.3 / 3 * (math.sin(math.radians(a)) + math.sin(math.radians(a + 60))), DEPTH / 2)
        for a in range(0, 360, 60)
    ]  # fmt: skip
    interior = [
        (r * math.cos(math.radians(t)), r * math.sin(math.radians(t)), DEPTH / 2)
        for r in (1.5, 3.0, 4.5)
        for t in range(15, 360, 30)
    ]
    simulation = simulate(model, 0.5, centroids + interior)
    values = np.array([p.e_v_per_cm for p in simulation.result.probes], dtype=float)
    assert simulation.result.pairs == 12
    exact = NeedlePair(730.0, 7.3, 0.35).field_v_per_cm(0.0, 7.3 / (2 * math.sqrt(3)))
    assert exact == pytest.approx(495.0, rel=0.002)
    assert np.all(values[:6] >= exact * 0.98)
    assert np.all(values[:6] <= exact * 1.2)
    assert np.ptp(values[:6]) < 0.02 * exact  # the six triangles are alike
    assert values.min() >= exact * 0.98
