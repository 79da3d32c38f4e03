"""The session plan counts applications with the coverage planner's area per application
(the shipped table), the rule's footprint only as a fallback."""

from __future__ import annotations

import math
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from openect.planning.footprint_table import table_entry
from openect.planning.session import plan_session_covered
from openect.protocol.electrodes import plan_electrode
from openect.protocol.footprints import table_footprint
from openect.protocol.inputs import LesionToTreat, SessionRequest
from openect.protocol.rules import load_rule_set
from openect.protocol.session_plan import plan_session

PATIENT = {"age_years": 50, "sex": "M", "height_cm": 180, "weight_kg": 80}


def shipped() -> dict[str, Any]:
    path = resources.files("openect.protocol") / "footprint_table.toml"
    return tomllib.loads(path.read_text("utf-8"))


def entry(electrode: str, thickness_mm: float) -> dict[str, Any]:
    rows = shipped()["entries"]
    return next(
        r for r in rows if r["electrode"] == electrode and r["thickness_mm"] == thickness_mm
    )


def lesion(lesion_id: str, longest: float, perpendicular: float, **fields: Any) -> dict[str, Any]:
    return {
        "lesion_id": lesion_id,
        "body_site": "trunk_anterior",
        "layer": "cutaneous",
        "longest_diameter_mm": longest,
        "perpendicular_diameter_mm": perpendicular,
        **fields,
    }


def test_table_covers_the_rule_electrodes_at_their_rule_voltages() -> None:
    rules = load_rule_set("sop-2018")
    table = shipped()
    assert table["table"]["tissue"] == "skin-layered"
    for electrode in ("plate", "linear", "hexagonal"):
        rows = [r for r in table["entries"] if r["electrode"] == electrode]
        assert rows, electrode
        volts = (
            rules.number(f"electrode.{electrode}", "field_v_per_cm")
            * rules.number(f"electrode.{electrode}", "distance_mm")
            / 10.0
        )
        assert [r["voltage_v"] for r in rows] == pytest.approx([volts] * len(rows))
        for row in rows:
            # One application alone covers more than it adds to a tiling.
            assert 0 < row["area_per_application_cm2"] < row["single_application_cm2"]


def test_between_two_table_thicknesses_the_smaller_area_is_used() -> None:
    deep3, deep4 = entry("linear", 3.0), entry("linear", 4.0)
    between = table_footprint("linear", 400.0, 3.5)
    assert between is not None
    assert between.thicknesses_mm == (3.0, 4.0)
    assert between.area_cm2 == min(
        deep3["area_per_application_cm2"], deep4["area_per_application_cm2"]
    )
    exact = table_footprint("linear", 400.0, 3.0)
    assert exact is not None
    assert exact.thicknesses_mm == (3.0,)
    assert exact.area_cm2 == deep3["area_per_application_cm2"]
    # Thinner than the first row: that row.
    thin = table_footprint("plate", 780.0, 0.2)
    assert thin is not None
    assert thin.thicknesses_mm == (0.5,)


def test_no_entry_falls_back_to_the_rule() -> None:
    assert table_footprint("linear", 400.0, None) is None
    assert table_footprint("linear", 400.0, 40.0) is None  # beyond the table
    assert table_footprint("linear", 500.0, 3.0) is None  # another voltage
    assert table_footprint("finger", 400.0, 3.0) is None  # not in the table
    rules = load_rule_set("sop-2018")
    unknown = LesionToTreat.model_validate(lesion("L1", 12, 10))
    plan = plan_electrode(rules, unknown, 3.0, "coverage.margin")
    assert plan.footprint_cm2 == rules.number("electrode.linear", "footprint_cm2") == 0.4
    assert plan.footprint_source == "rule electrode.linear (thickness unknown)"
    area = math.pi / 4 * (12 + 6) * (10 + 6) / 100
    assert plan.applications == math.ceil(area / 0.4)


def test_a_rule_set_with_another_voltage_keeps_its_own_footprint(tmp_path: Path) -> None:
    centre = tmp_path / "centre.toml"
    centre.write_text(
        '[rule_set]\nid = "centre"\nbase = "sop-2018"\ntitle = "t"\nversion = "1"\n'
        'source = "local"\n\n[rules."electrode.linear"]\n'
        "value = { field_v_per_cm = 1000, distance_mm = 5, footprint_cm2 = 0.35, "
        "needle_lengths_mm = [10, 20, 30] }\n"
        'status = "to_verify"\nsource = "local electrode"\n',
        encoding="utf-8",
    )
    rules = load_rule_set(str(centre))
    deep = LesionToTreat.model_validate(lesion("L1", 12, 10, thickness_mm=4))
    plan = plan_electrode(rules, deep, 3.0, "coverage.margin")
    assert plan.voltage_v == 500
    assert plan.footprint_cm2 == 0.35
    assert plan.footprint_source == "rule electrode.linear (no coverage-planner entry at 4 mm)"


def test_session_plan_counts_with_the_table_and_says_so() -> None:
    request = SessionRequest.model_validate(
        {
            "patient": PATIENT,
            "lesions": [lesion("L1", 20, 16, thickness_mm=4), lesion("L2", 10, 8)],
            "options": {},
        }
    )
    plan = plan_session(request)
    first, second = plan.lesions
    area4 = entry("linear", 4.0)["area_per_application_cm2"]
    assert first.footprint_cm2 == area4
    assert first.footprint_source.startswith("coverage planner")
    assert first.applications == math.ceil(first.target_area_cm2 / area4 - 1e-9)
    # The rule's 0.4 cm2 would have given far fewer applications.
    assert first.applications > math.ceil(first.target_area_cm2 / 0.4)
    assert second.footprint_source == "rule electrode.linear (thickness unknown)"


# Lesions of sizes and shapes other than the table's circular references.
AGREEMENT_LESIONS = [
    lesion("N1", 8, 6, thickness_mm=4),
    lesion("N2", 14, 10, thickness_mm=4),
    lesion("N3", 24, 18, thickness_mm=4),
    lesion("P1", 8, 8, thickness_mm=1),
    lesion("P2", 16, 12, thickness_mm=1),
    lesion("P3", 26, 20, thickness_mm=1),
]


def test_session_plan_counts_agree_with_the_coverage_planner_within_15_percent() -> None:
    """The area estimate against the coverage planner's own placement of each lesion:
    within 15 % (one application where 15 % is less than one), and the session total
    within 15 %."""
    request = SessionRequest.model_validate(
        {"patient": PATIENT, "lesions": AGREEMENT_LESIONS, "options": {}}
    )
    estimate = plan_session(request)
    _, placed, notes = plan_session_covered(request)
    assert notes == []
    assert [les.electrode for les in estimate.lesions] == ["linear"] * 3 + ["plate"] * 3
    total_estimate = total_placed = 0
    for les in estimate.lesions:
        count = placed[les.lesion_id].count
        assert les.footprint_source.startswith("coverage planner")
        assert abs(les.applications - count) <= max(1.0, 0.15 * count), (
            les.lesion_id,
            les.applications,
            count,
        )
        total_estimate += les.applications
        total_placed += count
    assert abs(total_estimate - total_placed) <= 0.15 * total_placed


def test_shipped_table_is_in_step_with_the_coverage_planner() -> None:
    """Regenerate with scripts/footprint_table.py when this fails."""
    row = entry("plate", 1.0)
    computed = table_entry("plate", 1.0)
    assert list(computed.counts) == row["counts"]
    assert computed.area_per_application_cm2 == pytest.approx(row["area_per_application_cm2"])
    assert computed.voltage_v == row["voltage_v"]
