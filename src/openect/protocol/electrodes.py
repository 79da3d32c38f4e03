"""Electrode, needle length, voltage, pulses and applications for each lesion.

Voltage = field rule (V/cm) x electrode distance (cm). Applications are estimated from
the area one application adds against the lesion area plus a margin on each side, the
lesion taken as an ellipse: ceil(pi/4 * (a + 2m) * (b + 2m) / area per application).
The area per application is the coverage planner's (:mod:`openect.protocol.footprints`)
where its table holds the electrode, voltage and thickness; otherwise the rule's
``footprint_cm2``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum

from openect.data.enums import Layer
from openect.errors import RuleError
from openect.protocol.footprints import table_footprint
from openect.protocol.inputs import LesionToTreat
from openect.protocol.rules import RuleSet


class Electrode(StrEnum):
    """Electrode types of the rule sets (ESOPE types I-III and the finger electrode)."""

    PLATE = "plate"
    LINEAR = "linear"
    HEXAGONAL = "hexagonal"
    FINGER = "finger"


@dataclass(frozen=True)
class ElectrodePlan:
    """Electrode and pulses for one lesion, with the rule ids behind them."""

    electrode: Electrode
    needle_length_mm: float | None
    voltage_v: float
    pulses: int
    pulse_duration_us: float
    frequency_hz: float
    applications: int
    target_area_cm2: float
    rule_ids: list[str]
    notes: list[str] = field(default_factory=list)
    #: Area per application the count was made with (cm2), and where it came from.
    footprint_cm2: float = 0.0
    footprint_source: str = ""


def choose_electrode(rules: RuleSet, lesion: LesionToTreat) -> tuple[Electrode, list[str]]:
    """Electrode type for a lesion (rule ``electrode.choice``) and notes.

    Mucosal: finger. Cutaneous with a known thickness up to the plate's depth limit:
    plate. Longest diameter below ``linear_below_mm`` and not deeper than
    ``deep_thickness_mm``: linear needles. Otherwise: hexagonal.
    """
    choice = "electrode.choice"
    notes: list[str] = []
    if lesion.mucosal:
        return Electrode.FINGER, notes
    thickness = lesion.thickness_mm
    if thickness is None:
        notes.append("thickness unknown: needle electrode assumed; measure the depth")
    plate_depth = rules.number("electrode.plate", "max_thickness_mm")
    if lesion.layer is Layer.CUTANEOUS and thickness is not None and thickness <= plate_depth:
        return Electrode.PLATE, notes
    linear_below = rules.number(choice, "linear_below_mm")
    deep = rules.number(choice, "deep_thickness_mm")
    if lesion.longest_diameter_mm < linear_below and (thickness is None or thickness <= deep):
        return Electrode.LINEAR, notes
    return Electrode.HEXAGONAL, notes


def _plate_notes(rules: RuleSet, lesion: LesionToTreat) -> list[str]:
    """Why plates may not cover this lesion (layer, depth limit)."""
    limit = rules.number("electrode.plate", "max_thickness_mm")
    notes = []
    if lesion.layer.value != "cutaneous":
        notes.append("subcutaneous lesion: plate electrodes are for cutaneous lesions")
    if lesion.thickness_mm is None:
        notes.append(f"thickness unknown: the plate's depth limit ({limit:g} mm) not checked")
    elif lesion.thickness_mm > limit:
        notes.append(
            f"thickness {lesion.thickness_mm:g} mm is beyond the plate's depth limit "
            f"({limit:g} mm); deep margin not covered"
        )
    return notes


def within_generator(rules: RuleSet, electrode: Electrode, maximum: float) -> str:
    """What stays within the generator's ``maximum`` (V) when ``electrode``'s distance
    needs more: the largest distance of the same kind at its field, and the other kinds
    of the rule set whose voltage (field x distance) fits."""
    rule_id = f"electrode.{electrode.value}"
    field = rules.number(rule_id, "field_v_per_cm")
    largest_mm = maximum / field * 10.0
    fitting = []
    for other in Electrode:
        if other is electrode or f"electrode.{other.value}" not in rules.rules:
            continue
        other_id = f"electrode.{other.value}"
        field_other = rules.number(other_id, "field_v_per_cm")
        volts = round(field_other * rules.number(other_id, "distance_mm") / 10.0, 1)
        if volts <= maximum:
            fitting.append(f"{other.value} ({volts:g} V)")
    text = (
        f"within it: {electrode.value} models with a distance up to {largest_mm:.1f} mm "
        f"at {field:g} V/cm"
    )
    return text + (f", or {', '.join(fitting)}" if fitting else "")


def plan_electrode(
    rules: RuleSet,
    lesion: LesionToTreat,
    margin_mm: float,
    margin_rule: str,
    electrode: Electrode | None = None,
) -> ElectrodePlan:
    """Electrode, needle length, voltage, pulse train and estimated applications.

    The electrode is the rules' choice (:func:`choose_electrode`) unless ``electrode``
    is given; a given electrode that the rules would not choose, or that does not suit
    the lesion (a plate beyond its depth limit or on a subcutaneous lesion), is planned
    all the same, with notes saying so.
    """
    suggested, notes = choose_electrode(rules, lesion)
    if electrode is None or electrode is suggested:
        electrode = suggested
        ids = ["electrode.choice", f"electrode.{electrode.value}", "pulses.train"]
        if not lesion.mucosal and electrode is not Electrode.PLATE:
            ids.append("electrode.plate")  # its depth limit ruled plates out
    else:
        notes = [f"electrode {electrode.value} given; the rules suggest {suggested.value}"]
        ids = [f"electrode.{electrode.value}", "pulses.train"]
        if electrode is Electrode.PLATE:
            notes += _plate_notes(rules, lesion)
    rule_id = f"electrode.{electrode.value}"
    spec = rules.table(rule_id)
    distance_cm = rules.number(rule_id, "distance_mm") / 10.0
    voltage = round(rules.number(rule_id, "field_v_per_cm") * distance_cm, 1)
    maximum = rules.number("electrode.generator_max_voltage")
    ids.append("electrode.generator_max_voltage")
    if voltage > maximum:
        notes.append(
            f"{voltage:g} V exceeds the generator's {maximum:g} V; "
            + within_generator(rules, electrode, maximum)
        )

    needle_length: float | None = None
    if "needle_lengths_mm" in spec:
        lengths = sorted(float(x) for x in spec["needle_lengths_mm"])
        if not lengths:
            raise RuleError(f"rule {rule_id}: needle_lengths_mm is empty")
        margin = rules.number("electrode.needle_depth_margin")
        ids.append("electrode.needle_depth_margin")
        if lesion.thickness_mm is None:
            needle_length = lengths[-1]
        else:
            deep_enough = [x for x in lengths if x >= lesion.thickness_mm + margin]
            if deep_enough:
                needle_length = deep_enough[0]
            else:
                needle_length = lengths[-1]
                notes.append(
                    f"deepest part {lesion.thickness_mm:g} mm: the longest needle "
                    f"({needle_length:g} mm) does not reach {margin:g} mm below it; "
                    "deep margin not covered"
                )

    train = rules.table("pulses.train")
    pairs = int(rules.number(rule_id, "pairs")) if "pairs" in spec else 1
    pulses = int(rules.number("pulses.train", "pulses")) * pairs

    longest = lesion.longest_diameter_mm
    perpendicular = lesion.perpendicular_diameter_mm or longest
    area_cm2 = math.pi / 4.0 * (longest + 2 * margin_mm) * (perpendicular + 2 * margin_mm) / 100.0
    footprint = rules.number(rule_id, "footprint_cm2")
    if footprint <= 0:
        raise RuleError(f"rule {rule_id}: footprint_cm2 must be > 0")
    footprint_source = footprint_origin(rule_id, lesion.thickness_mm, None)
    computed = table_footprint(electrode.value, voltage, lesion.thickness_mm)
    if computed is not None:
        footprint = computed.area_cm2
        footprint_source = footprint_origin(rule_id, lesion.thickness_mm, computed.thicknesses_mm)
    applications = max(1, math.ceil(area_cm2 / footprint - 1e-9))
    ids.append(margin_rule)
    return ElectrodePlan(
        electrode=electrode,
        needle_length_mm=needle_length,
        voltage_v=voltage,
        pulses=pulses,
        pulse_duration_us=float(train["pulse_duration_us"]),
        frequency_hz=float(train["frequency_hz"]),
        applications=applications,
        target_area_cm2=round(area_cm2, 3),
        rule_ids=ids,
        notes=notes,
        footprint_cm2=footprint,
        footprint_source=footprint_source,
    )


def footprint_origin(
    rule_id: str, thickness_mm: float | None, table_thicknesses_mm: tuple[float, ...] | None
) -> str:
    """Where the area per application came from, in words."""
    if table_thicknesses_mm is not None:
        at = " / ".join(f"{t:g}" for t in table_thicknesses_mm)
        return f"coverage planner (field-engine footprints; table at {at} mm deep)"
    if thickness_mm is None:
        return f"rule {rule_id} (thickness unknown)"
    return f"rule {rule_id} (no coverage-planner entry at {thickness_mm:g} mm)"
