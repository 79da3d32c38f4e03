"""The plan page's view model, built without a request: each rule id of a lesion and
each finding carries whether its rule was verified in its cited source."""

from __future__ import annotations

from pathlib import Path

from openect.protocol import plan_session
from openect.protocol.inputs import SessionRequest
from openect.protocol.rules import RuleStatus
from openect.web.pages.sessions.plan_view import plan_view

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "patient.yaml"


def example_plan():  # type: ignore[no-untyped-def]
    import yaml

    return plan_session(SessionRequest.model_validate(yaml.safe_load(EXAMPLE.read_text())))


def test_unverified_rules_are_those_the_plan_marks_to_verify() -> None:
    plan = example_plan()
    view = plan_view(plan)
    expected = {r["id"] for r in plan.rules if r["status"] == RuleStatus.TO_VERIFY.value}
    assert view.unverified == expected
    assert expected  # the shipped rule sets hold practice values still to verify
    assert view.rules == list(plan.rules)


def test_every_lesion_and_finding_carries_its_rules_status() -> None:
    plan = example_plan()
    view = plan_view(plan)
    assert [row.lesion for row in view.lesions] == list(plan.lesions)
    for row, lesion in zip(view.lesions, plan.lesions, strict=True):
        assert [rule for rule, _ in row.rules] == lesion.rule_ids
        assert all(flag == (rule in view.unverified) for rule, flag in row.rules)
    assert [row.finding for row in view.findings] == list(plan.eligibility.findings)
    assert all(row.to_verify == (row.finding.rule_id in view.unverified) for row in view.findings)
    assert view.intravenous == (plan.route.value == "intravenous")
