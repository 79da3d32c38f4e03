"""What the plan page shows of a session plan: each lesion, finding and rule with the
verification status of its rules. No request and no formatting: the template formats
numbers with the filters of :mod:`openect.web.templatetags.openect_format`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from openect.data.enums import Route
from openect.protocol.eligibility import Finding
from openect.protocol.rules import RuleStatus
from openect.protocol.session_plan import TO_VERIFY_NOTE, LesionPlan, SessionPlan


@dataclass(frozen=True)
class LesionRow:
    """One lesion of the plan with its rule ids, each marked True when not verified."""

    lesion: LesionPlan
    rules: list[tuple[str, bool]]


@dataclass(frozen=True)
class FindingRow:
    """One eligibility finding; ``to_verify`` when its rule was not verified."""

    finding: Finding
    to_verify: bool


@dataclass
class PlanView:
    """A plan as the page shows it."""

    plan: SessionPlan
    #: Ids of the plan's rules not verified in their cited source.
    unverified: frozenset[str]
    lesions: list[LesionRow] = field(default_factory=list)
    findings: list[FindingRow] = field(default_factory=list)
    #: The rules behind the plan (id, value, unit, status, source, origin).
    rules: list[dict[str, Any]] = field(default_factory=list)

    @property
    def warnings(self) -> list[str]:
        """The plan's warnings that call for action; the rules to verify locally are
        one line of their own (:attr:`unverified`), linked to the rule table."""
        return [w for w in self.plan.warnings if TO_VERIFY_NOTE not in w]

    @property
    def intravenous(self) -> bool:
        """True for an intravenous session (the window runs from the end of the bolus)."""
        return self.plan.route is Route.INTRAVENOUS


def plan_view(plan: SessionPlan) -> PlanView:
    """The plan for the page; every rule id carries its verification status."""
    status = {r["id"]: r["status"] for r in plan.rules}
    unverified = frozenset(i for i, s in status.items() if s == RuleStatus.TO_VERIFY.value)
    return PlanView(
        plan=plan,
        unverified=unverified,
        lesions=[
            LesionRow(lesion, [(r, r in unverified) for r in lesion.rule_ids])
            for lesion in plan.lesions
        ],
        findings=[
            FindingRow(finding, finding.rule_id in unverified)
            for finding in plan.eligibility.findings
        ],
        rules=list(plan.rules),
    )
