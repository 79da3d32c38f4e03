"""The session plan with the coverage planner's counts, and the robustness of a plan
over conductivity samples on a dask.distributed cluster."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from openect.cli import main
from openect.planning.coverage_plan import LesionPlanRequest, plan_lesion
from openect.planning.robustness import SPREAD, sample_scales
from openect.planning.session import plan_session_covered
from openect.protocol.inputs import SessionRequest
from openect.protocol.session_plan import plan_session

RESOLUTION_MM = 0.8
PATIENT = {"age_years": 50, "sex": "M", "height_cm": 180, "weight_kg": 80}


def lesion(lesion_id: str, longest: float, perpendicular: float, **fields: Any) -> dict[str, Any]:
    return {
        "lesion_id": lesion_id,
        "body_site": "trunk_anterior",
        "layer": "cutaneous",
        "longest_diameter_mm": longest,
        "perpendicular_diameter_mm": perpendicular,
        **fields,
    }


def request(lesions: list[dict[str, Any]], **options: Any) -> SessionRequest:
    return SessionRequest.model_validate(
        {"patient": PATIENT, "lesions": lesions, "options": options}
    )


def test_session_plan_takes_given_application_counts() -> None:
    ask = request([lesion("L1", 10, 8, thickness_mm=5)])
    estimate = plan_session(ask)
    plan = plan_session(ask, applications={"L1": estimate.lesions[0].applications + 5})
    assert plan.lesions[0].applications == estimate.lesions[0].applications + 5
    assert plan.time_budget.needed_min == pytest.approx(
        plan.lesions[0].applications * plan.time_budget.minutes_per_application
    )
    assert "option:applications" in plan.lesions[0].rule_ids
    with pytest.raises(ValueError, match=r"applications\['L1'\]=0"):
        plan_session(ask, applications={"L1": 0})


def test_session_plan_carries_the_coverage_planner_counts() -> None:
    ask = request([lesion("L1", 10, 8, thickness_mm=4), lesion("L2", 6, 5)])
    plan, plans, notes = plan_session_covered(ask, resolution_mm=RESOLUTION_MM)
    assert set(plans) == {"L1"}
    assert plan.lesions[0].electrode == plans["L1"].electrode == "linear"
    assert plan.lesions[0].applications == plans["L1"].count
    assert plans["L1"].coverage.placement_lesion_fraction == 1.0
    # L2 has no thickness: the rules' estimate stays, with a note.
    assert plan.lesions[1].applications == plan_session(ask).lesions[1].applications
    assert any("L2: thickness unknown" in note for note in notes)


def test_lesions_that_do_not_fit_the_window_move_to_a_next_session() -> None:
    ask = request(
        [lesion("L1", 20, 15, thickness_mm=4), lesion("L2", 10, 8, thickness_mm=4, bleeding=True)],
        minutes_per_application=1.5,
        route="intravenous",
    )
    plan, plans, _ = plan_session_covered(ask, resolution_mm=RESOLUTION_MM)
    counts = {key: value.count for key, value in plans.items()}
    assert plan.time_budget.needed_min == pytest.approx(1.5 * sum(counts.values()))
    assert not plan.time_budget.fits
    # The bleeding lesion is treated first; the other waits for the next session.
    assert plan.time_budget.treat_now == ["L2"]
    assert plan.time_budget.next_session == ["L1"]


def test_cli_plan_session_coverage(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    patient = tmp_path / "patient.yaml"
    patient.write_text(
        yaml.safe_dump({"patient": PATIENT, "lesions": [lesion("L1", 8, 6, thickness_mm=3.5)]}),
        encoding="utf-8",
    )
    code = main(["plan", "session", str(patient), "--coverage", "--json"])
    out = capsys.readouterr().out
    assert code == 0
    payload = json.loads(out)
    assert payload["lesions"][0]["applications"] == payload["coverage_plans"]["L1"]["count"]


def test_conductivity_samples_span_a_four_fold_range() -> None:
    draws = sample_scales(200, seed=1)
    factors = [factor for draw in draws for _, factor in draw]
    assert min(factors) >= 1 / SPREAD
    assert max(factors) <= SPREAD
    assert min(factors) < 0.55
    assert max(factors) > 1.8
    assert sample_scales(3, seed=1) == draws[:3]


def test_robustness_runs_on_a_local_dask_cluster() -> None:
    request = LesionPlanRequest(
        longest_mm=6, perpendicular_mm=5, thickness_mm=3, electrode="linear", margin_mm=1,
        resolution_mm=1.0, verify=False, uncertainty=3,
    )  # fmt: skip
    plan, _ = plan_lesion(request)
    spread = plan.robustness
    assert spread is not None
    assert spread.samples == 3
    assert len(spread.fractions) == 3
    assert 0 <= spread.p5 <= spread.p50 <= spread.p95 <= 1
    assert spread.scheduler.startswith("LocalCluster")
    # Conductivities 2x lower or higher change the footprint, so the samples differ.
    assert len(set(spread.fractions)) > 1 or spread.fractions[0] == 1.0


def test_robustness_on_an_existing_cluster() -> None:
    """``--scheduler ADDRESS``: the samples run on a cluster started elsewhere."""
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        request = LesionPlanRequest(
            longest_mm=5, perpendicular_mm=4, thickness_mm=3, electrode="linear",
            margin_mm=1, resolution_mm=1.0, verify=False, uncertainty=2,
            scheduler=cluster.scheduler_address,
        )  # fmt: skip
        plan, _ = plan_lesion(request)
    assert plan.robustness is not None
    assert plan.robustness.scheduler == cluster.scheduler_address
    assert len(plan.robustness.fractions) == 2
