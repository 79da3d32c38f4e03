"""Plan the electrode applications of one lesion: footprint, placement, 3-D
verification, robustness and timing against the drug window.

1. The electrode (given, or chosen by the session planner's rules), its voltage and the
   needle length come from the protocol rules; needles are inserted to the lesion's
   thickness plus the rules' needle depth margin.
2. The footprint of one application is computed with the field engine (cached on
   disk, keyed by every parameter).
3. Applications are placed to cover the lesion and its margin (fewest applications,
   never more and never less coverage than a regular grid tiling).
4. The plan is verified in 3-D, application by application, with conductivity memory.
5. Optionally, coverage over conductivity samples (dask.distributed).
6. Applications x minutes per application against the pulse window.
The margin (default 3 mm) is common practice, not an SOP requirement.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import numpy as np
import shapely
from pydantic import BaseModel, ConfigDict, Field, model_validator

from openect import __version__
from openect.data.enums import BodySite, Layer, Route
from openect.planning.footprint import Footprint, load_or_compute
from openect.planning.local_field import PLANNING_RESOLUTION_MM, ApplicationSetup, LocalField
from openect.planning.outline import LesionOutline, check_treatable, ellipse, polygon
from openect.planning.placement import Application, Placement, place, treatment_order
from openect.planning.robustness import Robustness, robustness
from openect.planning.verify import Verification, Verifier
from openect.protocol.electrodes import Electrode, choose_electrode, plan_electrode
from openect.protocol.inputs import LesionToTreat, WindowVariant
from openect.protocol.rules import DEFAULT_RULE_SET, RuleSet, load_rule_set
from openect.protocol.window import pulse_window

#: Fraction of the target volume that must be above E_rev.
COVERAGE_TARGET = 0.99
#: Rounds of applications added where the 3-D verification finds the lesion (or more
#: than 1 - COVERAGE_TARGET of the target) uncovered.
REPAIR_ROUNDS = 2
#: Radius around an uncovered spot that an added application must cover (mm, first
#: round; doubled in the second).
REPAIR_REACH_MM = 1.0
#: Electrode orientations tried (degrees), by electrode.
ANGLES_DEG: dict[str, tuple[float, ...]] = {
    "hexagonal": (0.0, 30.0),
    "linear": (0.0, 45.0, 90.0, 135.0),
    "plate": (0.0, 45.0, 90.0, 135.0),
    "finger": (0.0, 45.0, 90.0, 135.0),
}
ElectrodeChoice = Literal["auto", "plate", "linear", "hexagonal", "finger"]


class LesionPlanRequest(BaseModel):
    """A lesion to cover: an ellipse (diameters, orientation) or an outline (mm)."""

    model_config = ConfigDict(extra="forbid")

    longest_mm: float | None = Field(None, gt=0, le=200, description="Longest diameter (mm)")
    perpendicular_mm: float | None = Field(
        None, gt=0, le=200, description="Perpendicular diameter (mm)"
    )
    thickness_mm: float = Field(gt=0, le=30, description="Depth of the deepest part (mm)")
    angle_deg: float = Field(0.0, ge=-180, le=180, description="Longest axis from +x (deg)")
    outline_mm: list[tuple[float, float]] | None = Field(
        None, description="Outline vertices (mm), instead of the ellipse"
    )
    electrode: ElectrodeChoice = "auto"
    margin_mm: float | None = Field(None, ge=0, le=20, description="Margin (mm; rule default)")
    layer: Layer = Layer.CUTANEOUS
    mucosal: bool = False
    tissue: Literal["skin-layered", "homogeneous"] = "skin-layered"
    resolution_mm: float = Field(PLANNING_RESOLUTION_MM, ge=0.2, le=2.0)
    verify: bool = True
    uncertainty: int = Field(0, ge=0, le=200, description="Conductivity samples")
    scheduler: str | None = None
    rules: str = DEFAULT_RULE_SET
    minutes_per_application: float | None = Field(None, gt=0, le=30)
    window: WindowVariant = WindowVariant.STANDARD
    age_years: int | None = Field(None, ge=0, le=120)
    #: Refuse a lesion whose applications cannot fit one pulse window (the session
    #: planner turns this off: it splits lesions across sessions instead).
    treatable_check: bool = True

    @model_validator(mode="after")
    def _shape_given(self) -> LesionPlanRequest:
        if self.outline_mm is None and self.longest_mm is None:
            raise ValueError("give longest_mm (and perpendicular_mm) or an outline")
        if (
            self.longest_mm is not None
            and self.perpendicular_mm is not None
            and self.perpendicular_mm > self.longest_mm
        ):
            raise ValueError(
                f"perpendicular_mm={self.perpendicular_mm:g}: allowed <= longest_mm "
                f"({self.longest_mm:g} mm)"
            )
        return self


class PlannedApplication(BaseModel):
    """One application: electrode centre on the skin (mm) and rotation (deg)."""

    number: int
    x_mm: float
    y_mm: float
    angle_deg: float


class PlanCoverage(BaseModel):
    """Coverage of the target (lesion + margin) and of the lesion, as fractions."""

    target_fraction_above_rev: float
    lesion_fraction_above_rev: float
    verified_3d: bool
    meets_target: bool
    target: float = COVERAGE_TARGET
    placement_target_fraction: float
    placement_lesion_fraction: float
    samples: int
    uncovered_spots: int


class CoveragePlan(BaseModel):
    """A lesion's electrode applications and how well they cover it (JSON)."""

    electrode: str
    electrode_choice: str
    voltage_v: float
    needle_length_mm: float | None
    insertion_depth_mm: float | None
    thickness_mm: float
    margin_mm: float
    margin_note: str
    target_area_mm2: float
    lesion_area_mm2: float
    footprint_area_mm2: float
    footprint_cached: bool
    applications: list[PlannedApplication]
    count: int
    method: str
    #: Applications added where the 3-D verification found gaps, and removed where the
    #: 3-D field of the others covered their share.
    added_after_verification: int
    removed_after_verification: int
    baseline: dict[str, float]
    coverage: PlanCoverage
    robustness: Robustness | None
    minutes_per_application: float
    time_min: float
    window_min: float
    fits_window: bool
    currents_a: list[list[float]]
    notes: list[str]
    rule_ids: list[str]
    timing_s: dict[str, float]
    parameters: dict[str, object]
    software: dict[str, str]


class PlanArtefacts(BaseModel):
    """What the plan figure needs besides the JSON."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    outline: LesionOutline
    target: shapely.Polygon
    footprint: Footprint
    applications: list[Application]
    uncovered_mm: np.ndarray

    def write_figure(self, plan: CoveragePlan, path: Path, label: str = "") -> Path:
        """The plan figure (PNG): outline, margin, numbered footprints, uncovered spots."""
        from openect.planning.figure import plan_figure

        title = (
            f"{label + ': ' if label else ''}{plan.count} x {plan.electrode}, "
            f"{100 * plan.coverage.target_fraction_above_rev:.1f} % of target above E_rev"
        )
        return plan_figure(
            self.outline,
            self.target,
            self.footprint,
            self.applications,
            self.uncovered_mm,
            path,
            title=title,
        )


def request_for_lesion(
    lesion: LesionToTreat, electrode: str, margin_mm: float | None, rules: str, **extra: object
) -> LesionPlanRequest:
    """A placement request (no 3-D verification, no one-window size check) for a lesion
    of the data model with the electrode the session planner chose."""
    return LesionPlanRequest.model_validate(
        {
            "longest_mm": lesion.longest_diameter_mm,
            "perpendicular_mm": lesion.perpendicular_diameter_mm,
            "thickness_mm": lesion.thickness_mm,
            "electrode": electrode,
            "margin_mm": margin_mm,
            "layer": lesion.layer,
            "mucosal": lesion.mucosal,
            "verify": False,
            "rules": rules,
            "treatable_check": False,
            **extra,
        }
    )


def lesion_outline(request: LesionPlanRequest) -> LesionOutline:
    """The lesion outline of a request."""
    if request.outline_mm is not None:
        return polygon(request.outline_mm)
    assert request.longest_mm is not None
    return ellipse(request.longest_mm, request.perpendicular_mm, request.angle_deg)


def _protocol_lesion(request: LesionPlanRequest, outline: LesionOutline) -> LesionToTreat:
    longest = request.longest_mm or outline.longest_mm
    perpendicular = request.perpendicular_mm
    if request.outline_mm is not None:
        perpendicular = min(longest, max(1e-3, outline.area_mm2 / (math.pi / 4 * longest)))
    return LesionToTreat(
        lesion_id="lesion",
        body_site=BodySite.TRUNK_ANTERIOR,
        layer=request.layer,
        longest_diameter_mm=round(longest, 3),
        perpendicular_diameter_mm=None if perpendicular is None else round(perpendicular, 3),
        thickness_mm=request.thickness_mm,
        mucosal=request.mucosal,
    )


def application_setup(
    request: LesionPlanRequest, rules: RuleSet, outline: LesionOutline, margin_mm: float
) -> tuple[ApplicationSetup, list[str], list[str], float | None, str]:
    """The field setup of one application (electrode, voltage, needle insertion), the
    protocol notes and rule ids, the needle length and how the electrode was chosen."""
    lesion = _protocol_lesion(request, outline)
    given = None if request.electrode == "auto" else Electrode(request.electrode)
    plan = plan_electrode(rules, lesion, margin_mm, "coverage.margin", given)
    name = plan.electrode.value
    insertion: float | None = None
    notes = list(plan.notes)
    if plan.needle_length_mm is not None:
        margin = rules.number("electrode.needle_depth_margin")
        insertion = min(plan.needle_length_mm, request.thickness_mm + margin)
    choice = "rules" if given is None or given is choose_electrode(rules, lesion)[0] else "given"
    setup = ApplicationSetup(
        electrode=name,
        thickness_mm=request.thickness_mm,
        insertion_depth_mm=insertion,
        voltage_v=plan.voltage_v,
        tissue=request.tissue,
        resolution_mm=request.resolution_mm,
    )
    return setup, notes, list(plan.rule_ids), plan.needle_length_mm, choice


def plan_lesion(
    request: LesionPlanRequest,
    progress: Callable[[str], None] | None = None,
    cache: Path | None = None,
) -> tuple[CoveragePlan, PlanArtefacts]:
    """Plan, verify and time the applications for one lesion."""
    started = time.perf_counter()
    say = progress or (lambda _message: None)
    rules = load_rule_set(request.rules)
    outline = lesion_outline(request)
    margin, margin_rule = rules.number_or_option("margin_mm", request.margin_mm, "coverage.margin")
    target = outline.target(margin)
    setup, notes, rule_ids, needle_length, choice = application_setup(
        request, rules, outline, margin
    )
    rule_ids.append(margin_rule)

    window = pulse_window(rules, Route.INTRAVENOUS, request.age_years, request.window)
    per_application, time_rule = rules.number_or_option(
        "minutes_per_application", request.minutes_per_application, "time.per_application"
    )
    rule_ids.append(time_rule)
    rule_ids.append(window.rule_id)

    say("footprint")
    footprint, cached = load_or_compute(setup, cache)
    footprint_done = time.perf_counter()
    if footprint.area_mm2 <= 0:
        raise ValueError(
            f"electrode {setup.electrode} at {setup.voltage_v:g} V covers no column down to "
            f"{setup.thickness_mm:g} mm above E_rev; the lesion is too thick for it"
        )
    most = max(1, math.floor(window.minutes / per_application + 1e-9))
    if request.treatable_check:
        check_treatable(outline, margin, footprint.area_mm2 * most)

    say("placement")
    angles = ANGLES_DEG.get(setup.electrode, (0.0, 90.0))
    placement: Placement = place(footprint, outline.polygon, target, angles_deg=angles)
    placed = time.perf_counter()
    apps = placement.applications

    verification: Verification | None = None
    repaired = pruned = 0
    if request.verify:
        say("verification")
        verifier = Verifier(LocalField.build(setup), outline.polygon, target)
        verifier.add(apps, lambda done, total: say(f"verification: application {done} of {total}"))
        verification = verifier.result()
        for round_ in range(REPAIR_ROUNDS):
            missed = verifier.uncovered_lesion_mm()
            if verification.target_fraction < COVERAGE_TARGET:
                missed = verification.uncovered_mm
            if not len(missed):
                break
            say(f"verification: adding applications over {len(missed)} uncovered spots")
            # Spots at the rim of a footprint are where the footprint and the 3-D
            # solution disagree: cover a neighbourhood of each (wider every round).
            spots = shapely.union_all(
                shapely.buffer(shapely.points(missed), REPAIR_REACH_MM * (round_ + 1))
            )
            extra = place(footprint, spots, spots, angles_deg=angles).applications
            verifier.add(
                extra, lambda done, total: say(f"verification: added application {done} of {total}")
            )
            apps = [*apps, *extra]
            repaired += len(extra)
            verification = verifier.result()
        if repaired:
            notes.append(
                f"{repaired} application(s) added where the 3-D verification found places the "
                "footprint estimate had counted as covered"
            )
        # The 3-D field reaches beyond the (conservative) footprint: drop applications
        # the others cover for; then verify the plan afresh in the order of the
        # procedure (serpentine rows), since the conductivity memory follows the order.
        redundant = verifier.redundant(COVERAGE_TARGET)
        if redundant or repaired:
            fewer = treatment_order(
                footprint, [a for k, a in enumerate(apps) if k not in redundant]
            )
            say(f"verification: {len(fewer)} applications in the order of the procedure")
            check = Verifier(verifier.local, outline.polygon, target)
            check.add(
                fewer, lambda done, total: say(f"verification: application {done} of {total}")
            )
            if check.meets(check.covered, COVERAGE_TARGET) or not verifier.meets(
                verifier.covered, COVERAGE_TARGET
            ):
                apps, verifier, verification = fewer, check, check.result()
                pruned = len(redundant)
            if pruned:
                notes.append(
                    f"{pruned} application(s) left out: the 3-D field of the others covers "
                    "their share"
                )
    verified = time.perf_counter()

    spread: Robustness | None = None
    if request.uncertainty:
        say("robustness")
        spread = robustness(setup, target, apps, request.uncertainty, request.scheduler)
    finished = time.perf_counter()

    if verification is not None:
        target_fraction = verification.target_fraction
        lesion_fraction = verification.lesion_fraction
        uncovered = verification.uncovered_mm
        samples = verification.samples
    else:
        target_fraction = placement.target_fraction
        lesion_fraction = placement.lesion_fraction
        uncovered = placement.uncovered_mm
        samples = -1
    time_min = len(apps) * per_application
    fits = time_min <= window.minutes + 1e-9
    if not fits:
        notes.append(
            f"{len(apps)} applications take {time_min:g} min, more than the "
            f"{window.minutes:g} min window: split the lesion across sessions"
        )
    if target_fraction < COVERAGE_TARGET:
        notes.append(
            f"only {100 * target_fraction:.1f} % of the target is above E_rev "
            f"(target {100 * COVERAGE_TARGET:g} %); see the uncovered spots"
        )
    plan = CoveragePlan(
        electrode=setup.electrode,
        electrode_choice=choice,
        voltage_v=float(setup.voltage_v or 0.0),
        needle_length_mm=needle_length,
        insertion_depth_mm=setup.insertion_depth_mm,
        thickness_mm=request.thickness_mm,
        margin_mm=margin,
        margin_note="margin: common practice (2-5 mm), not an SOP requirement",
        target_area_mm2=round(float(target.area), 2),
        lesion_area_mm2=round(outline.area_mm2, 2),
        footprint_area_mm2=round(footprint.area_mm2, 2),
        footprint_cached=cached,
        applications=[
            PlannedApplication(
                number=k + 1,
                x_mm=round(a.x_mm, 3),
                y_mm=round(a.y_mm, 3),
                angle_deg=round(a.angle_deg, 3),
            )
            for k, a in enumerate(apps)
        ],
        count=len(apps),
        method=placement.method,
        added_after_verification=repaired,
        removed_after_verification=pruned,
        baseline={
            "count": placement.baseline_count,
            "target_fraction": placement.baseline_target_fraction,
            "lesion_fraction": placement.baseline_lesion_fraction,
        },
        coverage=PlanCoverage(
            target_fraction_above_rev=target_fraction,
            lesion_fraction_above_rev=lesion_fraction,
            verified_3d=verification is not None,
            meets_target=target_fraction >= COVERAGE_TARGET,
            placement_target_fraction=placement.target_fraction,
            placement_lesion_fraction=placement.lesion_fraction,
            samples=samples,
            uncovered_spots=len(uncovered),
        ),
        robustness=spread,
        minutes_per_application=per_application,
        time_min=time_min,
        window_min=window.minutes,
        fits_window=fits,
        currents_a=verification.currents_a if verification is not None else [],
        notes=notes,
        rule_ids=sorted(set(rule_ids)),
        timing_s={
            "footprint": round(footprint_done - started, 3),
            "placement": round(placed - footprint_done, 3),
            "verification": round(verified - placed, 3),
            "robustness": round(finished - verified, 3),
            "total": round(finished - started, 3),
        },
        parameters={
            **setup.parameters(),
            "rules": rules.id,
            "outline": "polygon" if request.outline_mm is not None else "ellipse",
            "angle_deg": request.angle_deg,
            "coverage_target": COVERAGE_TARGET,
        },
        software={"openect": __version__},
    )
    artefacts = PlanArtefacts(
        outline=outline,
        target=target,
        footprint=footprint,
        applications=list(apps),
        uncovered_mm=np.asarray(uncovered),
    )
    return plan, artefacts
