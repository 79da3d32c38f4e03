"""Placement of electrode applications on synthetic footprints (no field engine)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import shapely
from numpy.typing import NDArray

from openect.planning.figure import plan_figure
from openect.planning.footprint import Footprint
from openect.planning.outline import LesionOutline, ellipse
from openect.planning.placement import (
    Application,
    Placement,
    coverage,
    grid_baseline,
    place,
    sample_region,
    to_electrode_frame,
    to_skin_frame,
)

E_REV = 400.0
MARGIN_MM = 3.0


def _grid(half_mm: float) -> NDArray[np.float64]:
    n = round(half_mm / 0.1)
    return np.round(np.arange(-n, n + 1) * 0.1, 10)


def rectangle_footprint() -> Footprint:
    """Covered 4 mm (x) by 8 mm (y) rectangle, two plates along x = -2 and x = +2 mm."""
    x, y = _grid(6.0), _grid(6.0)
    yy, xx = np.meshgrid(y, x, indexing="ij")
    inside = (np.abs(xx) <= 2.0 + 1e-9) & (np.abs(yy) <= 4.0 + 1e-9)
    return Footprint(
        x_mm=x,
        y_mm=y,
        e_min_v_per_cm=np.where(inside, 1000.0, 0.0),
        e_rev_v_per_cm=E_REV,
        electrode="test plates 4x8",
        conductors_mm=np.array([[-2.0, -4.0], [-2.0, 4.0], [2.0, -4.0], [2.0, 4.0]]),
    )


def disk_footprint() -> Footprint:
    """Covered disk of radius 6 mm around the centre of a hexagonal needle array."""
    x, y = _grid(8.0), _grid(8.0)
    yy, xx = np.meshgrid(y, x, indexing="ij")
    angles = np.deg2rad(np.arange(0.0, 360.0, 60.0))
    return Footprint(
        x_mm=x,
        y_mm=y,
        e_min_v_per_cm=np.where(np.hypot(xx, yy) <= 6.0, 1000.0, 0.0),
        e_rev_v_per_cm=E_REV,
        electrode="test hexagon r6",
        conductors_mm=np.column_stack([4.0 * np.cos(angles), 4.0 * np.sin(angles)]),
    )


@pytest.fixture(scope="module")
def disk() -> Footprint:
    return disk_footprint()


@pytest.fixture(scope="module")
def rectangle() -> Footprint:
    return rectangle_footprint()


SIZES = [(10.0, 8.0), (20.0, 15.0), (35.0, 25.0)]


@pytest.fixture(scope="module")
def plans(disk: Footprint) -> dict[tuple[float, float], tuple[LesionOutline, Placement]]:
    out = {}
    for longest, perpendicular in SIZES:
        outline = ellipse(longest, perpendicular, angle_deg=20.0)
        out[(longest, perpendicular)] = (
            outline,
            place(disk, outline.polygon, outline.target(MARGIN_MM)),
        )
    return out


def test_frames_round_trip() -> None:
    rng = np.random.default_rng(7)
    points = rng.uniform(-20.0, 20.0, size=(50, 2))
    for app in (Application(3.0, -2.0, 37.0), Application(-1.5, 4.0, 90.0)):
        local = to_electrode_frame(points, app)
        np.testing.assert_allclose(to_skin_frame(local, app), points, atol=1e-12)
        # Distances to the electrode centre are kept.
        np.testing.assert_allclose(
            np.hypot(*local.T), np.hypot(points[:, 0] - app.x_mm, points[:, 1] - app.y_mm)
        )
    # Rotation by +90 degrees: the electrode's +x axis points along the skin's +y axis.
    app = Application(1.0, 2.0, 90.0)
    np.testing.assert_allclose(to_skin_frame(np.array([[1.0, 0.0]]), app), [[1.0, 3.0]])
    np.testing.assert_allclose(to_electrode_frame(np.array([[1.0, 3.0]]), app), [[1.0, 0.0]])


def test_sample_region_grid_and_tiny_region() -> None:
    points = sample_region(shapely.box(0.0, 0.0, 2.0, 1.0), 0.5)
    assert len(points) == 8
    assert set(np.round(points[:, 0], 9)) == {0.25, 0.75, 1.25, 1.75}
    tiny = sample_region(shapely.Point(0.1, 0.1).buffer(0.05), 0.5)
    assert tiny.shape == (1, 2)
    assert shapely.Point(0.1, 0.1).buffer(0.05).contains(shapely.Point(*tiny[0]))


def test_coverage_of_rotated_rectangle(rectangle: Footprint) -> None:
    upright = Application(10.0, 0.0, 0.0)
    turned = Application(10.0, 0.0, 90.0)
    points = np.array([[10.0, 3.5], [13.5, 0.0], [10.0, 0.0]])
    assert coverage(rectangle, [upright], points).tolist() == [True, False, True]
    assert coverage(rectangle, [turned], points).tolist() == [False, True, True]
    assert coverage(rectangle, [], points).tolist() == [False, False, False]


def test_small_lesion_needs_one_application(rectangle: Footprint) -> None:
    outline = ellipse(2.0)
    plan = place(rectangle, outline.polygon, outline.target(0.5))
    assert len(plan.applications) == 1
    assert plan.lesion_fraction == 1.0
    assert plan.target_fraction == 1.0
    assert len(plan.uncovered_mm) == 0


def test_grid_baseline_tiles_the_target(rectangle: Footprint) -> None:
    target = shapely.box(0.0, 0.0, 12.0, 16.0)
    tiles = grid_baseline(rectangle, target)
    assert len(tiles) == 6  # 3 columns of 4 mm by 2 rows of 8 mm
    samples = sample_region(target, 0.5)
    assert coverage(rectangle, tiles, samples).all()
    # Serpentine: rows from low y, the second row run backwards.
    assert [(a.x_mm, a.y_mm) for a in tiles] == [
        (2.0, 4.0),
        (6.0, 4.0),
        (10.0, 4.0),
        (10.0, 12.0),
        (6.0, 12.0),
        (2.0, 12.0),
    ]
    turned = grid_baseline(rectangle, target, angle_deg=90.0)
    assert len(turned) == 2 * 4
    assert all(app.angle_deg == 90.0 for app in turned)
    assert coverage(rectangle, turned, samples).all()


@pytest.mark.parametrize("size", SIZES)
def test_ellipses_fully_covered_and_no_worse_than_grid(
    plans: dict[tuple[float, float], tuple[LesionOutline, Placement]],
    size: tuple[float, float],
) -> None:
    _, plan = plans[size]
    assert plan.lesion_fraction == 1.0
    assert plan.target_fraction >= 0.99
    assert len(plan.applications) <= plan.baseline_count
    assert plan.target_fraction >= plan.baseline_target_fraction
    assert plan.lesion_fraction >= plan.baseline_lesion_fraction
    assert len(plan.uncovered_mm) == round((1.0 - plan.target_fraction) * len(plan.samples_mm))


def test_coverage_reported_matches_recomputed(
    disk: Footprint, plans: dict[tuple[float, float], tuple[LesionOutline, Placement]]
) -> None:
    outline, plan = plans[(20.0, 15.0)]
    target = outline.target(MARGIN_MM)
    samples = sample_region(target, 0.5)
    covered = coverage(disk, plan.applications, samples)
    in_lesion = shapely.contains_xy(outline.polygon, samples[:, 0], samples[:, 1])
    assert covered.mean() == pytest.approx(plan.target_fraction)
    assert covered[in_lesion].mean() == pytest.approx(plan.lesion_fraction)


def test_larger_lesions_beat_the_grid(
    plans: dict[tuple[float, float], tuple[LesionOutline, Placement]],
) -> None:
    counts = [len(plans[size][1].applications) for size in SIZES]
    assert counts == sorted(counts)
    for size in SIZES[1:]:
        plan = plans[size][1]
        assert plan.method == "greedy"
        assert len(plan.applications) < plan.baseline_count


@pytest.mark.parametrize("size", SIZES[1:])
def test_plan_is_minimal(
    disk: Footprint,
    plans: dict[tuple[float, float], tuple[LesionOutline, Placement]],
    size: tuple[float, float],
) -> None:
    _, plan = plans[size]
    assert plan.method == "greedy"
    assert plan.coverage_goal >= 0.99
    samples, in_lesion = plan.samples_mm, plan.lesion_samples
    for i in range(len(plan.applications)):
        rest = plan.applications[:i] + plan.applications[i + 1 :]
        covered = coverage(disk, rest, samples)
        lesion_ok = bool(covered[in_lesion].all())
        assert not (lesion_ok and covered.mean() >= plan.coverage_goal), f"#{i + 1} redundant"


def test_treatment_order_is_serpentine(
    disk: Footprint, plans: dict[tuple[float, float], tuple[LesionOutline, Placement]]
) -> None:
    _, plan = plans[(35.0, 25.0)]
    centres = np.array([[a.x_mm, a.y_mm] for a in plan.applications])
    steps = np.hypot(*np.diff(centres, axis=0).T)
    # Consecutive applications are neighbours: no jump across the target.
    assert steps.max() < 2.5 * disk.extent_mm()
    assert np.median(steps) < 1.5 * disk.extent_mm()


def test_deterministic(disk: Footprint) -> None:
    outline = ellipse(16.0, 11.0, angle_deg=-35.0)
    target = outline.target(2.0)
    first = place(disk, outline.polygon, target)
    second = place(disk, outline.polygon, target)
    assert first.applications == second.applications
    assert first.target_fraction == second.target_fraction
    np.testing.assert_array_equal(first.uncovered_mm, second.uncovered_mm)


def test_rectangle_footprint_with_rotations(rectangle: Footprint) -> None:
    outline = ellipse(14.0, 10.0)
    target = outline.target(1.0)  # 16 mm by 12 mm
    assert len(grid_baseline(rectangle, target, 0.0)) == 4 * 2
    assert len(grid_baseline(rectangle, target, 90.0)) == 2 * 3
    plan = place(rectangle, outline.polygon, target, angles_deg=(0.0, 90.0))
    # The grid with the 8 mm side along the lesion's long axis is the better one.
    assert plan.baseline_count == 6
    assert plan.lesion_fraction == 1.0
    assert plan.target_fraction >= 0.99
    assert len(plan.applications) <= 6
    only_upright = place(rectangle, outline.polygon, target, angles_deg=(0.0,))
    assert only_upright.baseline_count == 8
    assert all(app.angle_deg == 0.0 for app in only_upright.applications)


def test_bad_arguments(disk: Footprint) -> None:
    outline = ellipse(10.0)
    with pytest.raises(ValueError, match="goal"):
        place(disk, outline.polygon, outline.target(1.0), goal=1.5)
    with pytest.raises(ValueError, match="angles_deg"):
        place(disk, outline.polygon, outline.target(1.0), angles_deg=())


def test_plan_figure_writes_png(
    tmp_path: Path,
    disk: Footprint,
    plans: dict[tuple[float, float], tuple[LesionOutline, Placement]],
) -> None:
    outline, plan = plans[(20.0, 15.0)]
    gaps = np.array([[0.0, 0.0], [1.0, 1.0]])  # drawn even where the plan has none
    path = plan_figure(
        outline,
        outline.target(MARGIN_MM),
        disk,
        plan.applications,
        gaps,
        tmp_path / "plan.png",
        title="20 x 15 mm lesion, 3 mm margin",
    )
    assert path == tmp_path / "plan.png"
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 10_000


def test_plan_figure_many_applications(tmp_path: Path, rectangle: Footprint) -> None:
    outline = ellipse(40.0, 30.0)
    target = outline.target(2.0)
    apps = grid_baseline(rectangle, target)
    assert len(apps) > 40
    path = plan_figure(outline, target, rectangle, apps, np.zeros((0, 2)), tmp_path / "m.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
