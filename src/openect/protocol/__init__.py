"""Session planner: the ECT standard operating procedure as versioned rule sets.

For one patient with several cutaneous metastases: eligibility, bleomycin (or
cisplatin) dose and route, pulse window, electrode and voltage per lesion,
anaesthesia, time budget and warnings, each number traced to a rule id and source.
"""

from openect.errors import RuleError
from openect.protocol.inputs import LesionToTreat, PatientToPlan, PlanOptions
from openect.protocol.rules import RuleSet, load_rule_set, shipped_rule_sets
from openect.protocol.session_plan import SessionPlan, plan_session

__all__ = [
    "LesionToTreat",
    "PatientToPlan",
    "PlanOptions",
    "RuleError",
    "RuleSet",
    "SessionPlan",
    "load_rule_set",
    "plan_session",
    "shipped_rule_sets",
]
