"""A session plan whose application counts come from the lesion coverage planner.

For every lesion with a known thickness, the coverage planner places the applications
of the electrode the rules choose (footprints from the disk cache, no 3-D verification
here: ``openect plan lesion`` verifies one lesion); the session planner then fits those
real counts into the pulse window and moves the lesions that do not fit to a next
session. Lesions without a thickness keep the rules' area estimate, with a note.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from openect.planning.coverage_plan import CoveragePlan, plan_lesion, request_for_lesion
from openect.planning.local_field import PLANNING_RESOLUTION_MM
from openect.protocol.inputs import SessionRequest
from openect.protocol.rules import RuleSet, load_rule_set
from openect.protocol.session_plan import SessionPlan, plan_session


def plan_session_covered(
    request: SessionRequest,
    rules: RuleSet | None = None,
    progress: Callable[[str], None] | None = None,
    cache: Path | None = None,
    resolution_mm: float = PLANNING_RESOLUTION_MM,
) -> tuple[SessionPlan, dict[str, CoveragePlan], list[str]]:
    """The session plan with the coverage planner's counts, the lesion plans, and
    notes on lesions the coverage planner could not plan."""
    rules = rules if rules is not None else load_rule_set(request.options.rules)
    estimate = plan_session(request, rules)
    counts: dict[str, int] = {}
    plans: dict[str, CoveragePlan] = {}
    notes: list[str] = []
    for lesion, lesion_plan in zip(request.lesions, estimate.lesions, strict=True):
        if progress is not None:
            progress(lesion.lesion_id)
        if lesion.thickness_mm is None:
            notes.append(
                f"{lesion.lesion_id}: thickness unknown; applications estimated from the "
                "area (measure the depth to plan them)"
            )
            continue
        try:
            plan, _ = plan_lesion(
                request_for_lesion(
                    lesion,
                    lesion_plan.electrode,
                    request.options.margin_mm,
                    request.options.rules,
                    minutes_per_application=request.options.minutes_per_application,
                    window=request.options.window,
                    age_years=request.patient.age,
                    resolution_mm=resolution_mm,
                ),
                cache=cache,
            )
        except ValueError as error:
            notes.append(
                f"{lesion.lesion_id}: coverage planner: {error}; rules' area estimate used"
            )
            continue
        counts[lesion.lesion_id] = plan.count
        plans[lesion.lesion_id] = plan
    session = plan_session(request, rules, applications=counts)
    return session, plans, notes
