"""The protocol's electrode rules and the field engine's electrode catalogue agree.

The session planner (``openect.protocol``) chooses an electrode and its voltage from the
rule set; the field engine (``openect.field``) simulates that electrode from its own
catalogue. Both must describe the same device: the same electrode distance, the same
voltage (field x distance), the same number of pulse trains and the same generator
limit, in every shipped rule set.
"""

from __future__ import annotations

import math

import pytest

from openect.field.electrodes import catalogue, electrode, generator_max_voltage_v
from openect.protocol import load_rule_set, shipped_rule_sets
from openect.protocol.electrodes import Electrode

#: The catalogue's key for the distance between the conductors of a pulse train (mm).
DISTANCE_KEY = {
    Electrode.PLATE: "gap_mm",
    Electrode.LINEAR: "row_distance_mm",
    Electrode.HEXAGONAL: "spacing_mm",
    Electrode.FINGER: "gap_mm",
}

RULE_SETS = shipped_rule_sets()


def test_every_protocol_electrode_has_a_field_model() -> None:
    assert {e.value for e in Electrode} <= set(catalogue()["electrodes"])


@pytest.mark.parametrize("rule_set", RULE_SETS)
@pytest.mark.parametrize("kind", list(Electrode))
def test_distance_and_voltage_agree(rule_set: str, kind: Electrode) -> None:
    rules = load_rule_set(rule_set)
    rule = rules.table(f"electrode.{kind.value}")
    spec = catalogue()["electrodes"][kind.value]
    assert rule["distance_mm"] == pytest.approx(spec[DISTANCE_KEY[kind]])
    voltage = rule["field_v_per_cm"] * rule["distance_mm"] / 10.0
    assert voltage == pytest.approx(spec["voltage_v"])
    assert electrode(kind.value).max_voltage_v == pytest.approx(voltage)


@pytest.mark.parametrize("rule_set", RULE_SETS)
@pytest.mark.parametrize("kind", list(Electrode))
def test_pulse_trains_agree(rule_set: str, kind: Electrode) -> None:
    """One train per needle pair: the rule's ``pairs`` (1 when absent) is the number of
    pulse trains the field engine fires."""
    rule = load_rule_set(rule_set).table(f"electrode.{kind.value}")
    assert len(electrode(kind.value).pairs) == rule.get("pairs", 1)


def test_hexagonal_is_seven_needles_at_the_rule_spacing() -> None:
    """ESOPE type III: centre needle and a hexagon of six at the spacing of the rule."""
    geometry = electrode("hexagonal")
    spacing = load_rule_set(RULE_SETS[0]).number("electrode.hexagonal", "distance_mm")
    assert len(geometry.conductors) == 7
    centre = geometry.conductors[0]
    radii = sorted(
        math.hypot(c.x_mm - centre.x_mm, c.y_mm - centre.y_mm) for c in geometry.conductors[1:]
    )
    assert radii == pytest.approx([spacing] * 6)


@pytest.mark.parametrize("rule_set", RULE_SETS)
def test_generator_limit_agrees(rule_set: str) -> None:
    rules = load_rule_set(rule_set)
    assert rules.number("electrode.generator_max_voltage") == generator_max_voltage_v()
