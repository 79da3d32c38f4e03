"""The lesion coverage planner end to end: footprints from the field engine, placement,
3-D verification with conductivity memory, timing, and the session plan's counts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from openect.cli import main
from openect.planning.coverage_plan import COVERAGE_TARGET, LesionPlanRequest, plan_lesion
from openect.planning.footprint import cache_dir, cache_key, load_or_compute
from openect.planning.local_field import ApplicationSetup, LocalField
from openect.planning.placement import Application
from openect.planning.verify import verify

#: Coarser than the planning default, to keep the suite quick; every check below holds
#: at this resolution with its own footprint.
RESOLUTION_MM = 0.8


def linear_request(longest: float, perpendicular: float, **extra: object) -> LesionPlanRequest:
    return LesionPlanRequest.model_validate(
        {
            "longest_mm": longest,
            "perpendicular_mm": perpendicular,
            "thickness_mm": 4.0,
            "electrode": "linear",
            "resolution_mm": RESOLUTION_MM,
            **extra,
        }
    )


@pytest.fixture(scope="module")
def linear_setup() -> ApplicationSetup:
    return ApplicationSetup("linear", 4.0, 6.0, 400.0, resolution_mm=RESOLUTION_MM)


def test_footprint_of_a_linear_electrode_lies_between_its_rows(
    linear_setup: ApplicationSetup, tmp_path: Path
) -> None:
    footprint, cached = load_or_compute(linear_setup, tmp_path)
    assert not cached
    # Between the rows (4 mm apart, needles at y = -3..3 mm) the column is covered;
    # 8 mm beyond the rows it is not.
    assert footprint.covered(np.array([[0.0, 0.0], [0.0, 2.5], [0.0, -2.5]])).all()
    assert not footprint.covered(np.array([[10.0, 0.0], [0.0, 12.0]])).any()
    # The area lies between the rows' span (4 x 6 mm) and a generous bound.
    assert 24 < footprint.area_mm2 < 120
    again, cached = load_or_compute(linear_setup, tmp_path)
    assert cached
    np.testing.assert_array_equal(again.e_min_v_per_cm, footprint.e_min_v_per_cm)
    # Every parameter is part of the key: a thicker lesion is another footprint.
    thicker = ApplicationSetup("linear", 5.0, 7.0, 400.0, resolution_mm=RESOLUTION_MM)
    assert cache_key(thicker.parameters()) != cache_key(linear_setup.parameters())
    deeper, _ = load_or_compute(thicker, tmp_path)
    assert deeper.area_mm2 <= footprint.area_mm2 + 1.0


def test_cache_dir_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENECT_CACHE_DIR", "/somewhere")
    assert cache_dir() == Path("/somewhere/footprints")


def test_a_lesion_smaller_than_one_footprint_needs_one_application() -> None:
    plan, _ = plan_lesion(linear_request(2.0, 2.0, margin_mm=0.5, thickness_mm=3.0))
    assert plan.count == 1
    assert plan.coverage.verified_3d
    assert plan.coverage.lesion_fraction_above_rev == 1.0
    assert plan.coverage.target_fraction_above_rev >= COVERAGE_TARGET


@pytest.mark.slow
def test_a_small_lesion_needs_one_hexagonal_application() -> None:
    request = LesionPlanRequest(
        longest_mm=8, perpendicular_mm=6, thickness_mm=4, electrode="hexagonal",
        margin_mm=2, resolution_mm=1.0,
    )  # fmt: skip
    plan, _ = plan_lesion(request)
    assert plan.count == 1
    assert plan.coverage.target_fraction_above_rev >= COVERAGE_TARGET
    assert len(plan.currents_a) == 1
    assert len(plan.currents_a[0]) == 12
    assert plan.needle_length_mm == 10
    assert plan.insertion_depth_mm == 6


@pytest.mark.slow
@pytest.mark.parametrize(
    ("longest", "perpendicular", "minutes"),
    # 12 x 5 mm: an elongated lesion, with the time per application given. A 35 x 25 mm
    # lesion (41 applications) is checked the same way by benchmarks/bench_planning.py.
    [(10, 8, None), (20, 15, None), (12, 5, 0.5)],
)
def test_ellipses_are_covered_in_3d(longest: float, perpendicular: float, minutes: float) -> None:
    extra = {} if minutes is None else {"minutes_per_application": minutes}
    plan, _ = plan_lesion(linear_request(longest, perpendicular, **extra))
    coverage = plan.coverage
    assert coverage.verified_3d
    assert coverage.target_fraction_above_rev >= COVERAGE_TARGET
    assert coverage.lesion_fraction_above_rev == 1.0
    # Never more applications than the regular grid tiling, nor less coverage.
    placed = plan.count - plan.added_after_verification + plan.removed_after_verification
    assert placed <= plan.baseline["count"]
    assert coverage.placement_target_fraction >= plan.baseline["target_fraction"] - 1e-12
    assert plan.time_min == pytest.approx(plan.count * plan.minutes_per_application)


@pytest.mark.slow
def test_the_plan_never_beats_physics() -> None:
    """Removing any application of a verified plan leaves part of the lesion, or more
    than 1 % of the target, below E_rev in 3-D."""
    plan, artefacts = plan_lesion(linear_request(6, 4))
    local = LocalField.build(
        ApplicationSetup(
            "linear", 4.0, plan.insertion_depth_mm, plan.voltage_v, resolution_mm=RESOLUTION_MM
        )
    )
    apps = artefacts.applications
    assert len(apps) >= 2
    for k in range(len(apps)):
        fewer = [a for j, a in enumerate(apps) if j != k]
        result = verify(local, artefacts.outline.polygon, artefacts.target, fewer)
        assert result.lesion_fraction < 1.0 or result.target_fraction < COVERAGE_TARGET, (
            f"application {k + 1} is not needed"
        )


def test_conductivity_memory_raises_the_next_application_field(
    linear_setup: ApplicationSetup,
) -> None:
    """The second of two overlapping applications starts from the conductivity the first
    left: its current is at least that of a fresh application."""
    local = LocalField.build(linear_setup)
    from openect.planning.outline import ellipse

    lesion = ellipse(6, 6).polygon
    first = verify(local, lesion, lesion.buffer(1), [Application(0, 0, 0)])
    both = verify(local, lesion, lesion.buffer(1), [Application(0, 0, 0), Application(0, 0, 0)])
    assert both.currents_a[0] == pytest.approx(first.currents_a[0])
    assert both.currents_a[1][0] > first.currents_a[0][0] * 1.01


@pytest.mark.slow
def test_plans_are_deterministic() -> None:
    one, _ = plan_lesion(linear_request(6, 4))
    two, _ = plan_lesion(linear_request(6, 4))
    assert one.count >= 2  # conductivity memory between applications
    keep = {"timing_s", "footprint_cached"}
    assert one.model_dump(exclude=keep) == two.model_dump(exclude=keep)


@pytest.mark.slow
def test_cli_plan_lesion_json_and_png(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    png = tmp_path / "plan.png"
    code = main(
        [
            "plan", "lesion", "--longest-mm", "7", "--perpendicular-mm", "5",
            "--thickness-mm", "4", "--electrode", "linear", "--angle-deg", "30",
            "--resolution-mm", str(RESOLUTION_MM), "--json", "--png", str(png),
        ]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    plan = json.loads(out)
    for key in ("electrode", "needle_length_mm", "applications", "count", "coverage",
                "robustness", "time_min", "fits_window"):  # fmt: skip
        assert key in plan
    assert plan["count"] == len(plan["applications"])
    assert set(plan["applications"][0]) >= {"x_mm", "y_mm", "angle_deg"}
    assert set(plan["coverage"]) >= {"target_fraction_above_rev", "verified_3d"}
    assert plan["coverage"]["verified_3d"] is True
    assert plan["fits_window"] is True
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_cli_plan_lesion_from_an_outline_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    outline = tmp_path / "outline.csv"
    outline.write_text("x_mm,y_mm\n0,0\n9,0\n10,6\n2,8\n", encoding="utf-8")
    code = main(
        ["plan", "lesion", "--outline", str(outline), "--thickness-mm", "3", "--electrode",
         "linear", "--margin-mm", "2", "--no-verify", "--resolution-mm", str(RESOLUTION_MM)]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    assert "applications" in out
    assert "footprint estimate" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--outline", "BOWTIE", "--thickness-mm", "3"], "self-intersecting"),
        (["--outline", "LINE", "--thickness-mm", "3"], "zero area"),
        (
            [
                "--longest-mm",
                "150",
                "--perpendicular-mm",
                "150",
                "--thickness-mm",
                "3",
                "--electrode",
                "linear",
                "--resolution-mm",
                "0.8",
            ],
            "larger than the device can treat in one window",
        ),
        (["--longest-mm", "10", "--thickness-mm", "0"], "--thickness-mm=0"),
        (
            ["--longest-mm", "10", "--perpendicular-mm", "12", "--thickness-mm", "3"],
            "perpendicular_mm=12",
        ),
        (["--longest-mm", "10", "--thickness-mm", "3", "--electrode", "spoon"], "--electrode"),
        (["--longest-mm", "10", "--thickness-mm", "3", "--uncertainty", "500"], "--uncertainty"),
    ],
)
def test_cli_plan_lesion_rejects_bad_input(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, args: list[str], message: str
) -> None:
    bowtie = tmp_path / "bowtie.csv"
    bowtie.write_text("x_mm,y_mm\n0,0\n10,10\n10,0\n0,10\n", encoding="utf-8")
    line = tmp_path / "line.csv"
    line.write_text("x_mm,y_mm\n0,0\n5,5\n10,10\n", encoding="utf-8")
    args = [{"BOWTIE": str(bowtie), "LINE": str(line)}.get(a, a) for a in args]
    code = main(["plan", "lesion", *args])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert "Traceback" not in err
