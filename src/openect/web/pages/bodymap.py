"""Geometry of the body map: front and back outlines and where each lesion is drawn.

The map is one SVG with two figures side by side, the front view on the left and the
back view on the right, each :data:`VIEW_WIDTH` x :data:`VIEW_HEIGHT` units. Lesions
are placed in the region of their ``body_site`` (:data:`REGIONS`):

* ``trunk_posterior`` (and its sides) on the back view, every other site on the front view;
* limbs are anatomical: the patient's left is the viewer's right on the front view;
* several lesions of one site are spread so that their circles do not overlap: each
  takes, in registry order, the free point nearest the centre of its region (spilling
  around it when the region is full). The placement is deterministic, and adding a
  lesion never moves those drawn before it.

Circle radius grows with the lesion's longest diameter (:func:`radius`); the circle holds
the lesion's number (``1`` for ``L1``) and links to the lesion's page. Drawing (the
SVG markup) is the template's job; this module only computes numbers and paths.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Literal

from openect.data.enums import BodySite

View = Literal["front", "back"]

#: Size of one figure (SVG user units); the SVG scales to its container.
VIEW_WIDTH = 200.0
VIEW_HEIGHT = 420.0
#: Horizontal offset of the back view; room above the figures for their captions.
BACK_OFFSET = 220.0
TOP_MARGIN = 28.0
#: The whole drawing (``viewBox``).
WIDTH = BACK_OFFSET + VIEW_WIDTH
HEIGHT = TOP_MARGIN + VIEW_HEIGHT
MIDLINE = VIEW_WIDTH / 2

#: Smallest and largest circle radius (units) and growth per mm of longest diameter.
MIN_RADIUS = 7.0
MAX_RADIUS = 14.0
RADIUS_PER_MM = 0.2
#: Space kept between two circles (units).
CLEARANCE = 1.5
#: Spacing of the candidate points of a region (units).
GRID_STEP = 2.5
#: When a region is full, its ellipse is enlarged by these factors before circles overlap.
SPILL_SCALES = (1.0, 1.6, 2.4, 3.5, 5.0)

Point = tuple[float, float]

#: Right half of the silhouette as the viewer sees it (x >= MIDLINE), from the top of
#: the neck down the arm and back up to the armpit, down the trunk and the leg to the
#: crotch. The left half is its mirror image; the head is an ellipse (:data:`HEAD`).
HALF_OUTLINE: tuple[Point, ...] = (
    (109.0, 56.0),  # neck, under the chin
    (111.0, 72.0),  # neck base
    (130.0, 80.0),  # trapezius
    (148.0, 86.0),  # top of the shoulder
    (157.0, 100.0),  # shoulder
    (159.0, 140.0),  # upper arm, outside
    (164.0, 188.0),  # elbow / forearm, outside
    (169.0, 234.0),  # wrist, outside
    (175.0, 252.0),  # hand
    (167.0, 268.0),  # fingertips
    (158.0, 254.0),  # hand, inside
    (155.0, 234.0),  # wrist, inside
    (149.0, 190.0),  # forearm, inside
    (144.0, 150.0),  # elbow, inside
    (140.0, 112.0),  # armpit
    (137.0, 150.0),  # chest, side
    (131.0, 192.0),  # waist
    (138.0, 226.0),  # hip
    (137.0, 280.0),  # thigh, outside
    (131.0, 330.0),  # knee, outside
    (129.0, 382.0),  # ankle, outside
    (136.0, 402.0),  # foot
    (109.0, 406.0),  # foot, inside
    (110.0, 382.0),  # ankle, inside
    (109.0, 330.0),  # knee, inside
    (105.0, 268.0),  # thigh, inside
    (100.0, 246.0),  # crotch (on the midline)
)

#: Head: centre x, centre y, radius x, radius y.
HEAD = (100.0, 33.0, 18.0, 23.0)


@dataclass(frozen=True)
class Region:
    """Where the lesions of one body site go: an ellipse on one view.

    ``rx`` is the half-width across the region, ``ry`` the half-length along it;
    ``angle`` (degrees, clockwise on screen) turns the long axis from the vertical.
    """

    view: View
    cx: float
    cy: float
    rx: float
    ry: float
    angle: float = 0.0


def _arm_angle() -> float:
    """Tilt of the arm (degrees): the line from the shoulder to the wrist."""
    (x0, y0), (x1, y1) = (150.0, 104.0), (162.0, 234.0)
    return -math.degrees(math.atan2(x1 - x0, y1 - y0))


_ARM = _arm_angle()

#: Region of each body site. Front view: the patient's left is on the viewer's right.
REGIONS: dict[BodySite, Region] = {
    BodySite.HEAD_NECK: Region("front", 100.0, 40.0, 12.0, 20.0),
    BodySite.TRUNK_ANTERIOR: Region("front", 100.0, 152.0, 26.0, 58.0),
    BodySite.TRUNK_POSTERIOR: Region("back", 100.0, 152.0, 26.0, 58.0),
    BodySite.HEAD: Region("front", 100.0, 32.0, 10.0, 12.0),
    BodySite.NECK: Region("front", 100.0, 56.0, 5.0, 3.0),
    BodySite.TRUNK_ANTERIOR_LEFT: Region("front", 113.0, 152.0, 11.0, 56.0),
    BodySite.TRUNK_ANTERIOR_RIGHT: Region("front", 87.0, 152.0, 11.0, 56.0),
    # back view: the patient's left is on the viewer's left
    BodySite.TRUNK_POSTERIOR_LEFT: Region("back", 87.0, 152.0, 11.0, 56.0),
    BodySite.TRUNK_POSTERIOR_RIGHT: Region("back", 113.0, 152.0, 11.0, 56.0),
    BodySite.UPPER_LIMB_LEFT: Region("front", 156.0, 170.0, 6.0, 66.0, _ARM),
    BodySite.UPPER_LIMB_RIGHT: Region("front", 44.0, 170.0, 6.0, 66.0, -_ARM),
    BodySite.LOWER_LIMB_LEFT: Region("front", 120.0, 318.0, 8.0, 66.0),
    BodySite.LOWER_LIMB_RIGHT: Region("front", 80.0, 318.0, 8.0, 66.0),
    BodySite.GENITAL_PERINEAL: Region("front", 100.0, 236.0, 8.0, 6.0),
}


@dataclass(frozen=True)
class LesionMark:
    """What the map needs to know of one lesion."""

    lesion_id: str
    body_site: BodySite
    longest_diameter_mm: float
    category: str
    """Current response category: CR, PR, SD, PD, or NE (not evaluable / not assessed)."""
    label: str
    """Text for screen readers and the tooltip, e.g. ``P1-L1, lower limb left: CR``."""
    href: str
    number: str = ""
    """The lesion's short number drawn in the circle (``L1``); the category when empty."""


@dataclass(frozen=True)
class Marker:
    """One lesion drawn on the map, in the coordinates of its view."""

    mark: LesionMark
    view: View
    x: float
    y: float
    r: float

    @property
    def text(self) -> str:
        """What the circle shows: the number of the lesion's short number (``1`` of
        ``L1`` or ``L01``; the whole short number when it is not a letter and a number),
        else its category."""
        found = re.fullmatch(r"[A-Za-z]*0*(\d+)", self.mark.number)
        if found is not None:
            return found.group(1)
        return self.mark.number or self.mark.category

    @property
    def text_size(self) -> float:
        """Font size of the text inside the circle: one or two characters fill it,
        longer ones are set smaller to stay inside."""
        size = max(5.0, self.r * 1.05)
        if len(self.text) > 2:
            size = max(3.5, size * 2.0 / len(self.text))
        return round(size, 2)


@dataclass(frozen=True)
class BodyMap:
    """Everything the template draws."""

    outline: str
    head: tuple[float, float, float, float]
    front: tuple[Marker, ...]
    back: tuple[Marker, ...]
    width: float = WIDTH
    height: float = HEIGHT
    back_offset: float = BACK_OFFSET
    top: float = TOP_MARGIN
    view_width: float = VIEW_WIDTH
    midline: float = MIDLINE


def radius(longest_diameter_mm: float | None) -> float:
    """Circle radius (units) for a lesion whose longest diameter is ``longest_diameter_mm``."""
    if longest_diameter_mm is None or not math.isfinite(longest_diameter_mm):
        return MIN_RADIUS
    value = MIN_RADIUS + RADIUS_PER_MM * max(0.0, longest_diameter_mm)
    return round(min(MAX_RADIUS, value), 2)


def mirror(points: Iterable[Point]) -> list[Point]:
    """Points mirrored about the figure's vertical midline."""
    return [(2 * MIDLINE - x, y) for x, y in points]


def _fmt(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def smooth_closed_path(points: Sequence[Point]) -> str:
    """SVG path data of a smooth closed curve through the midpoints of ``points``.

    Each point is the control point of a quadratic curve between the midpoints of its
    two edges: corners are rounded and the curve never overshoots the polygon.
    """
    n = len(points)
    if n < 3:
        raise ValueError(f"points: {n}; allowed at least 3")
    mids = [
        ((points[i][0] + points[(i + 1) % n][0]) / 2, (points[i][1] + points[(i + 1) % n][1]) / 2)
        for i in range(n)
    ]
    start = mids[-1]
    parts = [f"M{_fmt(start[0])} {_fmt(start[1])}"]
    for i in range(n):
        (cx, cy), (mx, my) = points[i], mids[i]
        parts.append(f"Q{_fmt(cx)} {_fmt(cy)} {_fmt(mx)} {_fmt(my)}")
    return " ".join(parts) + " Z"


def outline_path() -> str:
    """Path data of the body silhouette (without the head), in figure coordinates."""
    half = list(HALF_OUTLINE)
    other = mirror(half[:-1])  # the crotch point lies on the midline: only once
    points = half + list(reversed(other))
    return smooth_closed_path(points)


@cache
def candidates(region: Region, step: float = GRID_STEP, scale: float = 1.0) -> tuple[Point, ...]:
    """Points of ``region`` (enlarged ``scale`` times) on a grid, nearest the centre first.

    The distance is measured in units of the ellipse (so a long region fills along its
    length first); ties are broken by angle, then by position. Deterministic.
    """
    out: list[tuple[float, float, float, float]] = []
    turn = math.radians(region.angle)
    cos, sin = math.cos(turn), math.sin(turn)
    rx, ry = region.rx * scale, region.ry * scale
    across_steps = int(rx // step)
    along_steps = int(ry // step)
    for i in range(-along_steps, along_steps + 1):
        along = i * step
        for j in range(-across_steps, across_steps + 1):
            across = j * step
            norm = (across / rx) ** 2 + (along / ry) ** 2
            if norm > 1.0 + 1e-9:
                continue
            # local (across, along) -> screen: x to the right, y downwards
            x = region.cx + across * cos - along * sin
            y = region.cy + across * sin + along * cos
            out.append((round(norm, 9), round(math.atan2(along, across), 9), x, y))
    out.sort()
    return tuple((round(x, 2), round(y, 2)) for _, _, x, y in out)


def _place(r: float, region: Region, placed: Sequence[Marker]) -> Point:
    """The first point of ``region`` where a circle of radius ``r`` overlaps no placed one.

    The region is tried as it is, then enlarged (:data:`SPILL_SCALES`); when even the
    largest is full, the point of the region with the most room (least overlap).
    """
    best: Point = (region.cx, region.cy)
    best_room = -math.inf
    for index, scale in enumerate(SPILL_SCALES):
        for x, y in candidates(region, GRID_STEP, scale):
            room = math.inf
            for other in placed:
                gap = math.hypot(x - other.x, y - other.y) - r - other.r - CLEARANCE
                if gap < room:
                    room = gap
                    if room < best_room:
                        break
            if room >= 0:
                return (x, y)
            if index == 0 and room > best_room:
                best, best_room = (x, y), room
    return best


def place(marks: Sequence[LesionMark]) -> list[Marker]:
    """Markers for ``marks`` (in their order), spread so that circles do not overlap."""
    placed: dict[View, list[Marker]] = {"front": [], "back": []}
    out: list[Marker] = []
    for mark in marks:
        region = REGIONS[BodySite(mark.body_site)]
        r = radius(mark.longest_diameter_mm)
        x, y = _place(r, region, placed[region.view])
        marker = Marker(mark, region.view, x, y, r)
        placed[region.view].append(marker)
        out.append(marker)
    return out


def body_map(marks: Sequence[LesionMark]) -> BodyMap:
    """The body map of a patient's lesions (``marks`` in registry order)."""
    markers = place(marks)
    return BodyMap(
        outline=outline_path(),
        head=HEAD,
        front=tuple(m for m in markers if m.view == "front"),
        back=tuple(m for m in markers if m.view == "back"),
    )


#: Sites the picker offers (the finer ones: the region or side not recorded is chosen in
#: the list only).
PICKABLE: tuple[BodySite, ...] = tuple(
    site
    for site in BodySite
    if site not in (BodySite.HEAD_NECK, BodySite.TRUNK_ANTERIOR, BodySite.TRUNK_POSTERIOR)
)


@dataclass(frozen=True)
class PickArea:
    """A body site as a tappable ellipse of the site picker (figure coordinates)."""

    site: str
    label: str
    view: View
    cx: float
    cy: float
    rx: float
    ry: float
    angle: float


def pick_areas() -> tuple[PickArea, ...]:
    """The site picker's areas: each finer body site's region, a little larger so that a
    finger hits it (at least 7 units across), on the view it is drawn on."""
    out = []
    for site in PICKABLE:
        region = REGIONS[site]
        out.append(
            PickArea(
                site=site.value,
                label=site.value.replace("_", " "),
                view=region.view,
                cx=region.cx,
                cy=region.cy,
                rx=max(region.rx + 2.0, 7.0),
                ry=max(region.ry + 2.0, 7.0),
                angle=round(region.angle, 2),
            )
        )
    return tuple(out)
