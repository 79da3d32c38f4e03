"""Area per electrode application from the coverage planner's table.

The session plan counts a lesion's applications as ceil(target area / area per
application). The area per application comes from ``footprint_table.toml``, which
the coverage planner generated (:mod:`openect.planning.footprint_table`: its placements
over reference lesions, field-engine footprints, the rule voltage, the planner's default
tissue). The rule's ``footprint_cm2`` is the fallback where the table has no entry: the
thickness unknown or beyond the table, a voltage other than the table's (another rule
set's field or distance), or an electrode the table does not hold (finger).

Between two thicknesses of the table the smaller of their two areas is used, so that
the estimate never counts fewer applications than either neighbour.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources

from openect.errors import RuleError

#: Voltages (V) closer than this count as the table's voltage.
_VOLTAGE_TOLERANCE_V = 0.5


@dataclass(frozen=True)
class TableFootprint:
    """The area per application for one electrode, voltage and lesion thickness."""

    area_cm2: float
    #: Table thicknesses (mm) the area was taken from (one, or the two around it).
    thicknesses_mm: tuple[float, ...]
    #: The tissue preset and rule set the table was computed with.
    tissue: str
    rule_set: str


@dataclass(frozen=True)
class _Entry:
    electrode: str
    voltage_v: float
    thickness_mm: float
    area_cm2: float


@cache
def _table() -> tuple[dict[str, object], tuple[_Entry, ...]]:
    path = resources.files("openect.protocol") / "footprint_table.toml"
    if not path.is_file():
        return {}, ()
    try:
        document = tomllib.loads(path.read_text("utf-8"))
        meta = dict(document["table"])
        entries = tuple(
            _Entry(
                electrode=str(row["electrode"]),
                voltage_v=float(row["voltage_v"]),
                thickness_mm=float(row["thickness_mm"]),
                area_cm2=float(row["area_per_application_cm2"]),
            )
            for row in document.get("entries", [])
        )
    except (tomllib.TOMLDecodeError, KeyError, TypeError, ValueError) as error:
        raise RuleError(f"footprint_table.toml: unreadable table: {error}") from error
    for entry in entries:
        if not entry.area_cm2 > 0:
            raise RuleError(
                f"footprint_table.toml: {entry.electrode} at {entry.thickness_mm:g} mm: "
                f"area_per_application_cm2={entry.area_cm2:g}: must be > 0"
            )
    return meta, entries


def table_footprint(
    electrode: str, voltage_v: float, thickness_mm: float | None
) -> TableFootprint | None:
    """The table's area per application (cm2) for ``electrode`` at ``voltage_v`` (V) over
    a lesion ``thickness_mm`` (mm) deep, or None where the table has no entry for it."""
    if thickness_mm is None or not thickness_mm > 0:
        return None
    meta, entries = _table()
    rows = sorted(
        (
            e
            for e in entries
            if e.electrode == electrode and abs(e.voltage_v - voltage_v) <= _VOLTAGE_TOLERANCE_V
        ),
        key=lambda e: e.thickness_mm,
    )
    if not rows or thickness_mm > rows[-1].thickness_mm + 1e-9:
        return None
    deeper = next(e for e in rows if e.thickness_mm >= thickness_mm - 1e-9)
    around = [deeper]
    shallower = [e for e in rows if e.thickness_mm < thickness_mm - 1e-9]
    if shallower and abs(deeper.thickness_mm - thickness_mm) > 1e-9:
        around.insert(0, shallower[-1])
    return TableFootprint(
        area_cm2=min(e.area_cm2 for e in around),
        thicknesses_mm=tuple(e.thickness_mm for e in around),
        tissue=str(meta.get("tissue", "")),
        rule_set=str(meta.get("rule_set", "")),
    )
