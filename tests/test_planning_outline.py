"""Lesion outlines: ellipses, polygons, files and the treatable-area check."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import shapely

from openect.planning.outline import (
    LesionOutline,
    OutlineError,
    check_treatable,
    ellipse,
    polygon,
    read_outline,
)

SQUARE = [(0.0, 0.0), (10.0, 0.0), (10.0, 6.0), (0.0, 6.0)]


@pytest.mark.parametrize(("longest", "perpendicular"), [(10.0, 8.0), (30.0, 12.0), (5.0, None)])
def test_ellipse_area_matches_formula(longest: float, perpendicular: float | None) -> None:
    outline = ellipse(longest, perpendicular)
    b = longest if perpendicular is None else perpendicular
    expected = math.pi / 4 * longest * b
    assert outline.source == "ellipse"
    assert abs(outline.area_mm2 - expected) / expected < 0.01
    assert outline.longest_mm == pytest.approx(longest, rel=1e-9)
    assert outline.polygon.centroid.distance(shapely.Point(0.0, 0.0)) < 1e-9


def test_ellipse_angle_rotates_longest_axis() -> None:
    flat = ellipse(20.0, 10.0)
    minx, miny, maxx, maxy = flat.bounds_mm
    assert maxx - minx == pytest.approx(20.0)
    assert maxy - miny == pytest.approx(10.0, rel=1e-3)
    upright = ellipse(20.0, 10.0, angle_deg=90.0)
    minx, miny, maxx, maxy = upright.bounds_mm
    assert maxx - minx == pytest.approx(10.0, rel=1e-3)
    assert maxy - miny == pytest.approx(20.0)
    diagonal = ellipse(20.0, 10.0, angle_deg=45.0)
    coords = np.asarray(diagonal.polygon.exterior.coords)
    far = coords[np.argmax(np.hypot(coords[:, 0], coords[:, 1]))]
    assert abs(far[0]) == pytest.approx(abs(far[1]), abs=1e-9)
    assert np.hypot(*far) == pytest.approx(10.0)


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"longest_mm": 0.0}, ["longest_mm=0", "0 < longest <= 200 mm"]),
        ({"longest_mm": -3.0}, ["longest_mm=-3"]),
        ({"longest_mm": 250.0}, ["longest_mm=250", "200 mm"]),
        ({"longest_mm": float("nan")}, ["longest_mm=nan"]),
        (
            {"longest_mm": 30.0, "perpendicular_mm": 40.0},
            ["perpendicular_mm=40", "0 < perpendicular <= longest (30 mm)"],
        ),
        ({"longest_mm": 30.0, "perpendicular_mm": 0.0}, ["perpendicular_mm=0"]),
    ],
)
def test_ellipse_rejects_bad_values(kwargs: dict[str, float], words: list[str]) -> None:
    with pytest.raises(OutlineError) as err:
        ellipse(**kwargs)
    for word in words:
        assert word in str(err.value)


def test_polygon_keeps_coordinates_and_centres_on_request() -> None:
    outline = polygon(SQUARE)
    assert outline.source == "polygon"
    assert outline.area_mm2 == pytest.approx(60.0)
    assert outline.bounds_mm == (0.0, 0.0, 10.0, 6.0)
    assert outline.longest_mm == pytest.approx(math.hypot(10.0, 6.0))
    centred = outline.centred()
    assert isinstance(centred, LesionOutline)
    assert centred.polygon.centroid.x == pytest.approx(0.0, abs=1e-12)
    assert centred.polygon.centroid.y == pytest.approx(0.0, abs=1e-12)
    assert centred.bounds_mm == pytest.approx((-5.0, -3.0, 5.0, 3.0))
    assert centred.area_mm2 == pytest.approx(60.0)


def test_polygon_accepts_closed_ring() -> None:
    assert polygon([*SQUARE, SQUARE[0]]).area_mm2 == pytest.approx(60.0)


def test_polygon_rejects_bow_tie() -> None:
    with pytest.raises(OutlineError, match=r"outline: self-intersecting \(.+\)"):
        polygon([(0.0, 0.0), (10.0, 10.0), (10.0, 0.0), (0.0, 10.0)])


def test_polygon_rejects_collinear_points() -> None:
    with pytest.raises(OutlineError, match="outline: zero area"):
        polygon([(0.0, 0.0), (5.0, 5.0), (10.0, 10.0), (2.0, 2.0)])


@pytest.mark.parametrize(
    "points",
    [[(0.0, 0.0), (1.0, 1.0)], [(0.0, 0.0), (1.0, 1.0), (1.0, 1.0), (0.0, 0.0)], []],
)
def test_polygon_needs_three_distinct_points(points: list[tuple[float, float]]) -> None:
    with pytest.raises(OutlineError, match="at least 3 distinct vertices"):
        polygon(points)


def test_polygon_rejects_non_finite() -> None:
    with pytest.raises(OutlineError, match="finite"):
        polygon([(0.0, 0.0), (float("inf"), 0.0), (1.0, 1.0)])


def test_target_adds_margin() -> None:
    outline = polygon(SQUARE)
    target = outline.target(2.0)
    # Rectangle grown by r: area + perimeter r + pi r^2 (rounded corners).
    expected = 60.0 + 32.0 * 2.0 + math.pi * 4.0
    assert target.area == pytest.approx(expected, rel=1e-3)
    assert target.contains(outline.polygon)
    assert outline.target(0.0).area == pytest.approx(60.0)
    with pytest.raises(OutlineError, match=r"margin_mm=-1: allowed 0 <= margin <= 20 mm"):
        outline.target(-1.0)
    with pytest.raises(OutlineError, match="margin_mm=25"):
        outline.target(25.0)


def _assert_same(a: LesionOutline, b: LesionOutline) -> None:
    assert a.polygon.equals(b.polygon)
    assert a.area_mm2 == pytest.approx(b.area_mm2)


def test_read_csv_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "lesion.csv"
    path.write_text("x_mm,y_mm\n" + "".join(f"{x},{y}\n" for x, y in SQUARE))
    _assert_same(read_outline(path), polygon(SQUARE))


def test_read_csv_extra_columns_and_spaces(tmp_path: Path) -> None:
    path = tmp_path / "lesion.csv"
    path.write_text(
        "label, x_mm , y_mm\n" + "".join(f"p{i}, {x} , {y}\n" for i, (x, y) in enumerate(SQUARE))
    )
    _assert_same(read_outline(path), polygon(SQUARE))


def test_read_json_list_and_mapping(tmp_path: Path) -> None:
    as_list = tmp_path / "a.json"
    as_list.write_text(json.dumps([list(p) for p in SQUARE]))
    as_map = tmp_path / "b.json"
    as_map.write_text(json.dumps({"points_mm": [list(p) for p in SQUARE]}))
    _assert_same(read_outline(as_list), polygon(SQUARE))
    _assert_same(read_outline(as_map), polygon(SQUARE))


@pytest.mark.parametrize("suffix", [".yaml", ".yml"])
def test_read_yaml(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"lesion{suffix}"
    path.write_text("points_mm:\n" + "".join(f"  - [{x}, {y}]\n" for x, y in SQUARE))
    _assert_same(read_outline(path), polygon(SQUARE))
    plain = tmp_path / f"plain{suffix}"
    plain.write_text("".join(f"- [{x}, {y}]\n" for x, y in SQUARE))
    _assert_same(read_outline(plain), polygon(SQUARE))


def test_read_csv_bad_row_named(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("x_mm,y_mm\n0,0\n10,zero\n10,6\n")
    with pytest.raises(OutlineError) as err:
        read_outline(path)
    message = str(err.value)
    assert "bad.csv" in message
    assert "row 3" in message
    assert "y_mm" in message
    assert "'zero' is not a number" in message


def test_read_csv_missing_column(tmp_path: Path) -> None:
    path = tmp_path / "cols.csv"
    path.write_text("x_mm,y\n0,0\n1,0\n1,1\n")
    with pytest.raises(OutlineError, match=r"cols\.csv: missing column y_mm"):
        read_outline(path)


@pytest.mark.parametrize(
    ("name", "text", "words"),
    [
        ("broken.json", "[[0, 0], [1,", "unreadable"),
        ("keys.json", '{"points": [[0, 0]]}', "missing key points_mm"),
        ("pair.yaml", "- [0, 0, 1]\n- [1, 0]\n- [1, 1]\n", "point 1"),
        ("text.yml", "- [0, a]\n- [1, 0]\n- [1, 1]\n", "point 1: y"),
        ("shape.txt", "0,0", "unknown file type"),
        ("tie.json", "[[0, 0], [10, 10], [10, 0], [0, 10]]", "self-intersecting"),
    ],
)
def test_read_bad_files(tmp_path: Path, name: str, text: str, words: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(OutlineError) as err:
        read_outline(path)
    assert name in str(err.value)
    assert words in str(err.value)


def test_read_missing_file(tmp_path: Path) -> None:
    with pytest.raises(OutlineError, match=r"absent\.csv: unreadable"):
        read_outline(tmp_path / "absent.csv")


def test_check_treatable() -> None:
    outline = ellipse(60.0, 50.0)
    check_treatable(outline, 3.0, max_area_mm2=5000.0)
    with pytest.raises(OutlineError) as err:
        check_treatable(outline, 3.0, max_area_mm2=2500.0)
    area = outline.target(3.0).area
    message = str(err.value)
    assert f"target area {area:,.0f} mm2 (lesion + 3 mm margin)" in message
    assert "at most 2,500 mm2 with this electrode" in message
    assert message.startswith("outline: ")
