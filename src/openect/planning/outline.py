"""Outline of a skin lesion in the skin plane (mm) and the treatment target around it.

The outline is a simple polygon in skin coordinates (x, y in mm). The treatment target is
the outline grown by a safety margin (mm) of apparently healthy skin.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely
import yaml
from shapely import affinity
from shapely.geometry.polygon import orient
from shapely.validation import explain_validity

from openect.errors import InputError

#: Largest safety margin accepted around a lesion (mm).
MAX_MARGIN_MM = 20.0
#: Largest lesion diameter accepted (mm).
MAX_LONGEST_MM = 200.0
#: Outlines with a smaller area (mm2) are degenerate.
MIN_AREA_MM2 = 0.01


class OutlineError(InputError):
    """A lesion outline, or a file holding one, is not usable."""


@dataclass(frozen=True)
class LesionOutline:
    """A lesion outline on the skin: a valid simple polygon (mm)."""

    #: The outline in skin coordinates (mm).
    polygon: shapely.Polygon
    #: How the outline was made: "ellipse" or "polygon".
    source: str

    @property
    def area_mm2(self) -> float:
        """Area of the lesion (mm2)."""
        return float(self.polygon.area)

    @property
    def longest_mm(self) -> float:
        """Longest extent of the lesion: largest distance between two vertices (mm)."""
        hull = np.asarray(self.polygon.convex_hull.exterior.coords, dtype=float)
        diff = hull[:, None, :] - hull[None, :, :]
        return float(np.sqrt((diff**2).sum(axis=-1)).max())

    @property
    def bounds_mm(self) -> tuple[float, float, float, float]:
        """Bounding box (min x, min y, max x, max y) of the lesion (mm)."""
        minx, miny, maxx, maxy = self.polygon.bounds
        return (float(minx), float(miny), float(maxx), float(maxy))

    def target(self, margin_mm: float) -> shapely.Polygon:
        """Treatment target: the outline grown by a safety margin (mm, 0-20)."""
        if not math.isfinite(margin_mm) or not 0.0 <= margin_mm <= MAX_MARGIN_MM:
            raise OutlineError(
                f"margin_mm={margin_mm:g}: allowed 0 <= margin <= {MAX_MARGIN_MM:g} mm"
            )
        if margin_mm == 0.0:
            return self.polygon
        return self.polygon.buffer(margin_mm, quad_segs=16)

    def centred(self) -> LesionOutline:
        """The same outline moved so that its centroid lies at the origin."""
        c = self.polygon.centroid
        moved = affinity.translate(self.polygon, xoff=-c.x, yoff=-c.y)
        return LesionOutline(polygon=moved, source=self.source)


def ellipse(
    longest_mm: float,
    perpendicular_mm: float | None = None,
    angle_deg: float = 0.0,
    segments: int = 72,
) -> LesionOutline:
    """Elliptical outline centred at the origin.

    longest_mm: longest diameter (mm), along the direction angle_deg (degrees,
    counter-clockwise from +x). perpendicular_mm: diameter across it (mm); a circle when
    omitted. segments: number of vertices.
    """
    if not math.isfinite(longest_mm) or not 0.0 < longest_mm <= MAX_LONGEST_MM:
        raise OutlineError(
            f"longest_mm={longest_mm:g}: allowed 0 < longest <= {MAX_LONGEST_MM:g} mm"
        )
    perp = longest_mm if perpendicular_mm is None else perpendicular_mm
    if not math.isfinite(perp) or not 0.0 < perp <= longest_mm:
        raise OutlineError(
            f"perpendicular_mm={perp:g}: allowed 0 < perpendicular <= longest ({longest_mm:g} mm)"
        )
    if not math.isfinite(angle_deg):
        raise OutlineError(f"angle_deg={angle_deg}: must be a finite number of degrees")
    if segments < 8:
        raise OutlineError(f"segments={segments}: allowed segments >= 8")
    t = np.linspace(0.0, 2.0 * np.pi, segments, endpoint=False)
    u = 0.5 * longest_mm * np.cos(t)
    v = 0.5 * perp * np.sin(t)
    a = np.deg2rad(angle_deg)
    x = u * np.cos(a) - v * np.sin(a)
    y = u * np.sin(a) + v * np.cos(a)
    return LesionOutline(polygon=shapely.Polygon(np.column_stack([x, y])), source="ellipse")


def polygon(points_mm: Sequence[tuple[float, float]]) -> LesionOutline:
    """Outline from its vertices (mm, skin coordinates, kept as given).

    Needs at least 3 distinct vertices, a non-zero area and no self-intersection.
    """
    pts = np.asarray(points_mm, dtype=float)
    if pts.size == 0:
        pts = pts.reshape(0, 2)
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise OutlineError("outline: vertices must be (x, y) pairs in mm")
    if not np.isfinite(pts).all():
        raise OutlineError("outline: coordinates must be finite numbers (mm)")
    # Drop repeated consecutive vertices and the closing vertex.
    if len(pts):
        keep = [0, *(i for i in range(1, len(pts)) if not np.array_equal(pts[i], pts[i - 1]))]
        pts = pts[keep]
    if len(pts) > 1 and np.array_equal(pts[0], pts[-1]):
        pts = pts[:-1]
    distinct = len(np.unique(pts, axis=0))
    if distinct < 3:
        raise OutlineError(f"outline: at least 3 distinct vertices needed, got {distinct}")
    if shapely.MultiPoint(pts).convex_hull.area < MIN_AREA_MM2:
        raise OutlineError("outline: zero area")
    poly = shapely.Polygon(pts)
    if not poly.is_valid:
        raise OutlineError(f"outline: self-intersecting ({explain_validity(poly)})")
    if poly.area < MIN_AREA_MM2:
        raise OutlineError("outline: zero area")
    return LesionOutline(polygon=orient(poly, 1.0), source="polygon")


def _number(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise OutlineError(f"{where}: {value!r} is not a number")
    try:
        out = float(value)
    except ValueError:
        raise OutlineError(f"{where}: {value!r} is not a number") from None
    if not math.isfinite(out):
        raise OutlineError(f"{where}: {value!r} is not a finite number")
    return out


def _read_csv(path: Path, text: str) -> list[tuple[float, float]]:
    reader = csv.DictReader(text.splitlines())
    fields = [f.strip() for f in (reader.fieldnames or [])]
    missing = [c for c in ("x_mm", "y_mm") if c not in fields]
    if missing:
        raise OutlineError(
            f"{path.name}: missing column {', '.join(missing)} (header needs x_mm,y_mm)"
        )
    points = []
    # Rows are numbered as in a spreadsheet: the header is row 1.
    for n, row in enumerate(reader, start=2):
        clean = {(k or "").strip(): v for k, v in row.items()}
        if all((v or "").strip() == "" for v in clean.values() if isinstance(v, str)):
            continue
        x = _number((clean.get("x_mm") or "").strip(), f"{path.name}: row {n}: x_mm")
        y = _number((clean.get("y_mm") or "").strip(), f"{path.name}: row {n}: y_mm")
        points.append((x, y))
    return points


def _read_mapping(path: Path, data: object) -> list[tuple[float, float]]:
    if isinstance(data, dict):
        if "points_mm" not in data:
            raise OutlineError(f"{path.name}: missing key points_mm")
        data = data["points_mm"]
    if not isinstance(data, list):
        raise OutlineError(f"{path.name}: expected a list of [x, y] pairs (mm)")
    points = []
    for n, item in enumerate(data, start=1):
        if not isinstance(item, list | tuple) or len(item) != 2:
            raise OutlineError(f"{path.name}: point {n}: expected an [x, y] pair, got {item!r}")
        points.append(
            (
                _number(item[0], f"{path.name}: point {n}: x"),
                _number(item[1], f"{path.name}: point {n}: y"),
            )
        )
    return points


def read_outline(path: Path) -> LesionOutline:
    """Read an outline (mm) from a CSV file with columns x_mm,y_mm (one vertex per row), or
    a JSON/YAML file holding a list of [x, y] pairs or {"points_mm": [[x, y], ...]}."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".json", ".yaml", ".yml"):
        raise OutlineError(f"{path.name}: unknown file type (use .csv, .json, .yaml or .yml)")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise OutlineError(f"{path.name}: unreadable ({exc})") from None
    if suffix == ".csv":
        points = _read_csv(path, text)
    else:
        try:
            data = json.loads(text) if suffix == ".json" else yaml.safe_load(text)
        except (json.JSONDecodeError, yaml.YAMLError) as exc:
            raise OutlineError(f"{path.name}: unreadable ({exc})") from None
        points = _read_mapping(path, data)
    try:
        return polygon(points)
    except OutlineError as exc:
        raise OutlineError(f"{path.name}: {exc}") from None


def check_treatable(outline: LesionOutline, margin_mm: float, max_area_mm2: float) -> None:
    """Refuse a target (lesion + margin, mm2) larger than the device can treat in one drug
    window (max_area_mm2: footprint area times the applications that fit the window)."""
    area = float(outline.target(margin_mm).area)
    if area > max_area_mm2:
        raise OutlineError(
            f"outline: target area {area:,.0f} mm2 (lesion + {margin_mm:g} mm margin) is larger "
            f"than the device can treat in one window (at most {max_area_mm2:,.0f} mm2 with "
            "this electrode)"
        )
