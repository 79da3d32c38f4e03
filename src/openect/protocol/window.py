"""When the pulses may be delivered after the drug (minutes after the bolus ends)."""

from __future__ import annotations

from dataclasses import dataclass

from openect.data.enums import Route
from openect.errors import RuleError
from openect.protocol.inputs import WindowVariant
from openect.protocol.rules import RuleSet


@dataclass(frozen=True)
class PulseWindow:
    """Pulse window in minutes after the end of the bolus (IV) or injection (IT)."""

    start_min: float
    end_min: float
    rule_id: str

    @property
    def minutes(self) -> float:
        """Length of the window (min)."""
        return self.end_min - self.start_min


def pulse_window(
    rules: RuleSet, route: Route, age_years: int | None, variant: WindowVariant
) -> PulseWindow:
    """The window for the route; with ``pk``, the age-dependent pharmacokinetic variants
    (over 65: longer; under 65: earlier and shorter; exactly 65 or age unknown: the
    standard window)."""
    rule_id = "window.iv"
    if route is Route.INTRATUMOURAL:
        rule_id = "window.it"
    elif variant is WindowVariant.PK and age_years is not None:
        if age_years > rules.number("window.iv_pk_over_65", "age_above_years"):
            rule_id = "window.iv_pk_over_65"
        elif age_years < rules.number("window.iv_pk_under_65", "age_below_years"):
            rule_id = "window.iv_pk_under_65"
    start = rules.number(rule_id, "start_min")
    end = rules.number(rule_id, "end_min")
    if not 0 <= start < end:
        raise RuleError(f"rule {rule_id}: start_min {start:g} must be >= 0 and < end_min {end:g}")
    return PulseWindow(start, end, rule_id)
