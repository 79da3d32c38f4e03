"""The protocol as the synthetic centres apply it: every clinical number from a rule set.

:class:`SessionRules` holds one resolved rule set (:func:`openect.protocol.load_rule_set`)
and answers the generator's clinical questions with the protocol's own rules and
functions, never with copies of them:

* body-surface area by the rule set's formula (``dose.bsa_formula``,
  :func:`openect.protocol.body.body_surface_area`), rounded to 0.01 m2 as the planner
  records it;
* intravenous bleomycin per m2 by the rule set's policy (``dose.iv_policy``) and tables
  (``dose.iv_bleomycin_per_m2``, ``dose.iv_age_reduction``, ``dose.iv_renal_reduction``,
  ``dose.label_renal_table``; :func:`openect.protocol.dose.iv_dose_per_m2`);
* intratumoural bleomycin by the ellipsoid volume of each lesion
  (:func:`openect.protocol.dose.ellipsoid_volume_cm3`,
  :func:`openect.protocol.dose.it_bleomycin_iu`);
* intratumoural calcium chloride (calcium electroporation, mL of 220 mM) by the same
  ellipsoid volume and the rule set's mL per cm3 (``dose.it_calcium``), rounded as the
  planner rounds it (:func:`openect.protocol.session_plan.plan_dose`);
* route and anaesthesia suggestions (``route.choice``, ``anaesthesia.choice``);
* electrode choice, voltage, pulse train and the estimated number of applications over
  the lesion plus the coverage margin (``electrode.*``, ``pulses.train``,
  ``coverage.margin``; :func:`openect.protocol.electrodes.plan_electrode`);
* the pulse window after the bolus or injection (``window.iv``, ``window.it``;
  :func:`openect.protocol.window.pulse_window`).

Where a protocol leaves a choice to the operator, the share of operators taking each
option is calibration (:mod:`openect.synth.calibration`), not a rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from openect.data.enums import Anaesthesia, BodySite, Layer, Route
from openect.errors import RuleError
from openect.protocol.body import BsaFormula, body_surface_area
from openect.protocol.dose import (
    AGE_POLICIES,
    ellipsoid_volume_cm3,
    it_bleomycin_iu,
    iv_dose_per_m2,
)
from openect.protocol.electrodes import (
    Electrode,
    ElectrodePlan,
    choose_electrode,
    plan_electrode,
)
from openect.protocol.inputs import ItPolicy, IvPolicy, LesionToTreat, WindowVariant
from openect.protocol.route import suggest_anaesthesia, suggest_route
from openect.protocol.rules import RuleSet, load_rule_set
from openect.protocol.session_plan import CALCIUM_RULE
from openect.protocol.window import PulseWindow, pulse_window

#: Rule giving the margin of normal skin (mm) the applications cover around a lesion.
MARGIN_RULE = "coverage.margin"


def lesion_to_treat(
    lesion_id: str,
    body_site: BodySite,
    layer: Layer,
    longest_mm: float,
    perpendicular_mm: float,
    thickness_mm: float,
) -> LesionToTreat:
    """A lesion as the planner sees it on the session day (diameters and depth in mm)."""
    return LesionToTreat(
        lesion_id=lesion_id,
        body_site=body_site,
        layer=layer,
        longest_diameter_mm=longest_mm,
        perpendicular_diameter_mm=perpendicular_mm,
        thickness_mm=thickness_mm,
    )


@dataclass(frozen=True)
class SessionRules:
    """One rule set and the numbers the generator reads from it once.

    Attributes:
        rules: the resolved rule set; its id is recorded on every session planned with it.
        bsa_formula: body-surface area formula (rule ``dose.bsa_formula``).
        iv_policy: intravenous dose-reduction policy (rule ``dose.iv_policy``).
        margin_mm: margin of normal skin covered around each lesion (mm, ``coverage.margin``).
        windows: standard pulse window (minutes after the bolus or injection) by route.
        calcium_ml_per_cm3: calcium chloride 220 mM per cm3 of tumour (mL, rule
            ``dose.it_calcium``); None where the rule set has no such rule.
    """

    rules: RuleSet
    bsa_formula: BsaFormula
    iv_policy: IvPolicy
    margin_mm: float
    windows: dict[Route, PulseWindow]
    calcium_ml_per_cm3: float | None

    @classmethod
    def of(cls, rule_set: RuleSet | str | Path) -> SessionRules:
        """Read a rule set (shipped id, file path or a loaded :class:`RuleSet`).

        Raises:
            openect.protocol.RuleError: the rule set cannot be loaded or lacks a rule.
        """
        rules = rule_set if isinstance(rule_set, RuleSet) else load_rule_set(rule_set)
        return cls(
            rules=rules,
            bsa_formula=BsaFormula(rules.text("dose.bsa_formula", tuple(BsaFormula))),
            iv_policy=IvPolicy(rules.text("dose.iv_policy", tuple(IvPolicy))),
            margin_mm=rules.number(MARGIN_RULE),
            windows={
                route: pulse_window(rules, route, None, WindowVariant.STANDARD) for route in Route
            },
            calcium_ml_per_cm3=(
                rules.number(CALCIUM_RULE, "ml_per_cm3") if CALCIUM_RULE in rules.rules else None
            ),
        )

    @property
    def id(self) -> str:
        """Id of the rule set."""
        return self.rules.id

    def bsa_m2(self, height_cm: float, weight_kg: float) -> float:
        """Body-surface area (m2, rounded to 0.01) from height (cm) and weight (kg)."""
        return round(body_surface_area(height_cm, weight_kg, self.bsa_formula), 2)

    def iv_doses_per_m2(
        self, age_years: int, clearance_ml_min: float
    ) -> tuple[float | None, float | None]:
        """Intravenous bleomycin (IU/m2) with and without the age reduction applied.

        The two differ only under a policy with the age reduction (``age_label``,
        ``age_renal``) for a patient above the age limit whose renal-adjusted dose is
        higher than the age-reduced one. None where
        the policy gives no dose (a clearance below the label's table).
        """
        with_age = iv_dose_per_m2(self.rules, self.iv_policy, age_years, clearance_ml_min)
        if self.iv_policy not in AGE_POLICIES:
            return with_age.per_m2_iu, with_age.per_m2_iu
        without = iv_dose_per_m2(self.rules, self.iv_policy, None, clearance_ml_min)
        return with_age.per_m2_iu, without.per_m2_iu

    def it_dose_iu(self, lesions: Sequence[LesionToTreat], policy: ItPolicy) -> float:
        """Intratumoural bleomycin (IU, unrounded): the sum over the lesions of the dose
        for each one's ellipsoid volume (cm3) under ``policy``."""
        return sum(
            it_bleomycin_iu(
                self.rules,
                policy,
                ellipsoid_volume_cm3(lesion.longest_diameter_mm, lesion.perpendicular_diameter_mm),
            )[0]
            for lesion in lesions
        )

    def calcium_ml(self, diameters_mm: Sequence[tuple[float, float]]) -> float:
        """Intratumoural calcium chloride 220 mM (mL) for lesions of the given (longest,
        perpendicular) diameters (mm): per lesion the rule set's mL per cm3 of its
        ellipsoid volume rounded to 0.01 mL, summed and rounded to 0.01 mL, as the
        planner does (:func:`openect.protocol.session_plan.plan_dose`).

        Raises:
            openect.protocol.RuleError: the rule set has no ``dose.it_calcium`` rule.
        """
        per_cm3 = self.calcium_ml_per_cm3
        if per_cm3 is None:
            raise RuleError(f"rule set {self.id!r} has no rule {CALCIUM_RULE!r}")
        return round(
            sum(round(per_cm3 * ellipsoid_volume_cm3(a, b), 2) for a, b in diameters_mm), 2
        )

    def route(self, lesions: Sequence[LesionToTreat]) -> Route:
        """The route the rules allow: intratumoural for few and small lesions."""
        return suggest_route(self.rules, lesions)[0]

    def anaesthesia(self, lesions: Sequence[LesionToTreat]) -> Anaesthesia:
        """The anaesthesia the rules suggest for the number and size of the lesions."""
        return suggest_anaesthesia(self.rules, lesions)[0]

    def electrode(self, lesion: LesionToTreat) -> Electrode:
        """The electrode type the rules choose for the lesion (``electrode.choice``)."""
        return choose_electrode(self.rules, lesion)[0]

    def electrode_plan(
        self, lesion: LesionToTreat, electrode: Electrode | None = None
    ) -> ElectrodePlan:
        """Electrode (the rules' choice unless given), voltage (V), pulse train and the
        estimated applications over the lesion plus the coverage margin."""
        return plan_electrode(self.rules, lesion, self.margin_mm, MARGIN_RULE, electrode)

    def window(self, route: Route) -> PulseWindow:
        """Standard pulse window for the route (minutes after the bolus or injection)."""
        return self.windows[route]
