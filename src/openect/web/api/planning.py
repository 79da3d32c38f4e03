"""Planning API: a whole ECT session (``/api/plan/session``) and one lesion (``/api/plan/lesion``).

``plan/session`` runs :func:`openect.protocol.plan_session` on a request of the same
structure as ``openect plan session PATIENT.yaml`` reads, or on the registry's records of
one patient. ``plan/lesion`` counts the electrode applications of one lesion: by default
the rule-based estimate from the protocol's electrode footprints, with ``coverage=true``
the placement of the lesion coverage planner (:mod:`openect.planning`, footprint from the
field engine); its response says which in ``method``.

The coverage planner is a long computation: analysts may not start it (403; they read
the registry, they do not plan treatments) and each user runs at most one at a time in
a worker process (:data:`COVERAGE_RUNS_PER_USER`; 429 while one runs).
"""

# No ``from __future__ import annotations`` here: ninja reads the views' annotations,
# which refer to models made at import time.

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any, Literal

from django.http import HttpRequest
from ninja import Router
from ninja.errors import HttpError
from ninja.params import functions as param
from pydantic import BaseModel, Discriminator, Field, Tag, create_model

from openect import __version__
from openect.data.enums import BodySite
from openect.data.models import ID_PATTERN
from openect.errors import AccessDeniedError, RuleError
from openect.protocol.dose import ellipsoid_volume_cm3
from openect.protocol.electrodes import (
    Electrode,
    choose_electrode,
    plan_electrode,
)
from openect.protocol.inputs import (
    LesionToTreat,
    PlanOptions,
    SessionRequest,
    request_from_dataset,
)
from openect.protocol.rules import DEFAULT_RULE_SET, RuleStatus, load_rule_set
from openect.protocol.session_plan import SessionPlan, plan_session
from openect.registry import services
from openect.registry.models import Role
from openect.registry.services import RecordInvalidError
from openect.web.api.schemas import RuleSetId, actor_of, register_body, responses

router = Router(tags=["planning"])

#: How ``plan/lesion`` results are made: the rules' area estimate, or the coverage planner.
LESION_METHOD = (
    "area estimate (area per application from the coverage planner's table, or the rule's "
    "footprint); coverage=true places the applications with the coverage planner"
)
COVERAGE_METHOD = (
    "coverage planner: field-engine footprint and placement (3-D verification: openect plan lesion)"
)

_RULES_FIELD = Field(
    RuleSetId(DEFAULT_RULE_SET),
    description="Rule set: one shipped with OpenECT (a centre's own file is not accepted here)",
)

#: The planner's options, the rule set limited to the shipped ones.
ApiPlanOptions: type[PlanOptions] = create_model(
    "PlanOptions",
    __base__=PlanOptions,
    __doc__=PlanOptions.__doc__,
    rules=(RuleSetId, _RULES_FIELD),
)

#: ``PATIENT.yaml`` as JSON: patient, lesions and options.
ApiSessionRequest: type[SessionRequest] = create_model(
    "SessionRequest",
    __base__=SessionRequest,
    __doc__=SessionRequest.__doc__,
    options=(ApiPlanOptions, Field(default_factory=ApiPlanOptions)),
)

#: A patient of the registry and the options (at the top level).
PlanFromRegistry: type[PlanOptions] = create_model(
    "PlanFromRegistry",
    __base__=ApiPlanOptions,
    __doc__="Plan for a registry patient as at their first session (height, weight, "
    "creatinine clearance from it; the lesions treated at it), with these options.",
    patient_id=(str, Field(pattern=ID_PATTERN, description="A patient in your scope")),
)


def _form(value: Any) -> str:
    """Which form a plan/session body has: ``registry`` (a patient_id) or ``request``."""
    if isinstance(value, dict):
        return "registry" if "patient_id" in value else "request"
    return "registry" if isinstance(value, PlanFromRegistry) else "request"


PlanSessionBody = Annotated[
    Annotated[ApiSessionRequest, Tag("request")] | Annotated[PlanFromRegistry, Tag("registry")],
    Discriminator(_form),
]


#: The body parameter of plan/session: the whole body (a union, so named explicitly).
_BODY = param.Body(...)


def _invalid(loc: str | None, value: Any, message: str) -> RecordInvalidError:
    """A 422 for a planning input (RecordInvalidError is how the API reports those)."""
    return RecordInvalidError("plan", [(loc, None if value is None else str(value), message)])


@router.post(
    "/plan/session",
    response=responses({200: SessionPlan}, 404),
    operation_id="plan_session",
    url_name="plan-session",
    summary="Plan an ECT session",
    description="Body: the structure of `openect plan session PATIENT.yaml` (patient, lesions, "
    'options), or `{"patient_id": ..., ...options}` to plan from the registry\'s records of a '
    "patient in your scope. Returns the session plan (dose, window, electrodes, time budget, "
    "eligibility, the rules behind every number).",
)
def session_plan(
    request: HttpRequest,
    body: PlanSessionBody = _BODY,
) -> SessionPlan:
    """The session plan of a request or of a registry patient."""
    if isinstance(body, PlanFromRegistry):
        values = body.model_dump(exclude={"patient_id"})
        patient_id = str(body.patient_id)  # type: ignore[attr-defined]
        dataset = services.patient_records(actor_of(request), patient_id)
        try:
            planned: SessionRequest = request_from_dataset(
                dataset, patient_id, ApiPlanOptions.model_validate(values)
            )
        except KeyError as error:
            raise _invalid("patient_id", patient_id, str(error.args[0])) from error
    else:
        actor_of(request)  # a registry role is needed, as everywhere in the API
        planned = body
    try:
        return plan_session(planned)
    except (RuleError, ValueError) as error:
        raise _invalid(None, None, str(error)) from error


# ----------------------------------------------------------------------------- one lesion
#: Coverage plans one user may have running at once (in one worker process).
COVERAGE_RUNS_PER_USER = 1
#: The 429 answer while a user's coverage plan runs.
COVERAGE_BUSY = (
    "a coverage plan of yours is still being computed (at most "
    f"{COVERAGE_RUNS_PER_USER} at a time); wait for it to finish, then try again"
)
_running: dict[str, int] = {}
_running_lock = threading.Lock()


@contextmanager
def coverage_slot(username: str) -> Iterator[None]:
    """Hold one of ``username``'s coverage runs; HttpError 429 when all are in use."""
    with _running_lock:
        if _running.get(username, 0) >= COVERAGE_RUNS_PER_USER:
            raise HttpError(429, COVERAGE_BUSY)
        _running[username] = _running.get(username, 0) + 1
    try:
        yield
    finally:
        with _running_lock:
            left = _running.get(username, 1) - 1
            if left > 0:
                _running[username] = left
            else:
                _running.pop(username, None)


ElectrodeChoice = Literal["auto"] | Electrode

#: One lesion (the columns of lesions.csv; only the sizes, layer and mucosal matter here)
#: and the electrode, margin and rule set.
LesionPlanRequest: type[LesionToTreat] = create_model(
    "LesionPlanRequest",
    __base__=LesionToTreat,
    __doc__="One lesion to cover (the columns of lesions.csv; sizes, layer and mucosal are "
    "used) and the electrode (auto: the rule-based choice), margin and rule set.",
    lesion_id=(str, Field("lesion", pattern=ID_PATTERN, description="Lesion identifier")),
    body_site=(BodySite | None, None),
    electrode=(
        ElectrodeChoice,
        Field("auto", description="auto (the rule-based choice) or an electrode type"),
    ),
    margin_mm=(
        float | None,
        Field(
            None,
            ge=0,
            le=20,
            description="Margin around the lesion (mm); default: the rule coverage.margin",
        ),
    ),
    rules=(RuleSetId, _RULES_FIELD),
    coverage=(
        bool,
        Field(
            False,
            description="Place the applications with the coverage planner (footprint from "
            "the field engine, cached; needs thickness_mm) instead of the area estimate",
        ),
    ),
)


class LesionPlanOut(BaseModel):
    """Electrode, pulses and an estimated number of applications for one lesion."""

    method: str = Field(description="How this was computed")
    lesion_id: str
    longest_diameter_mm: float
    perpendicular_diameter_mm: float | None
    thickness_mm: float | None
    volume_cm3: float = Field(description="Ellipsoid volume pi/6 a b^2")
    electrode: Electrode
    electrode_source: Literal["rules", "request"]
    rule_based_electrode: Electrode = Field(description="What the rules choose for this lesion")
    needle_length_mm: float | None
    voltage_v: float
    pulses: int
    pulse_duration_us: float
    frequency_hz: float
    margin_mm: float
    target_area_cm2: float = Field(description="Ellipse of the lesion plus the margin")
    footprint_cm2: float = Field(description="Area per application the estimate used (cm2)")
    footprint_source: str = Field(
        description="Where footprint_cm2 came from: the coverage planner's table or the rule"
    )
    applications: int = Field(
        description="ceil(target area / footprint), or the coverage planner's count"
    )
    coverage_plan: dict[str, Any] | None = Field(
        None, description="The coverage planner's plan (with coverage=true)"
    )
    rule_set: str
    rule_set_chain: list[str]
    rule_ids: list[str]
    rules: list[dict[str, Any]]
    notes: list[str]
    warnings: list[str]
    software: dict[str, str]


@router.post(
    "/plan/lesion",
    response=responses({200: LesionPlanOut}, 429),
    operation_id="plan_lesion",
    url_name="plan-lesion",
    summary="Electrode and applications for one lesion (rule-based estimate)",
    description="The protocol's electrode choice (or the electrode given) and the number of "
    "applications estimated from the electrode's footprint against the lesion ellipse plus "
    f"a margin. `method` says: {LESION_METHOD}. coverage=true is refused to analysts (403) "
    "and runs one at a time per user (429 while one runs).",
)
def lesion_plan(
    request: HttpRequest,
    body: LesionPlanRequest,
) -> LesionPlanOut:
    """Electrode, pulses and applications for one lesion."""
    actor = actor_of(request)
    values: Any = body  # a LesionToTreat with electrode, margin_mm and rules
    if values.coverage and actor.role is Role.ANALYST:
        raise AccessDeniedError(
            "coverage=true: the coverage planner is not open to analysts "
            "(the rule-based estimate, coverage=false, is)"
        )
    given = None if values.electrode == "auto" else Electrode(values.electrode)
    try:
        rules = load_rule_set(str(values.rules))
        margin, margin_rule = rules.number_or_option(
            "margin_mm", values.margin_mm, "coverage.margin"
        )
        chosen, _ = choose_electrode(rules, body)
        plan = plan_electrode(rules, body, margin, margin_rule, electrode=given)
    except (RuleError, ValueError) as error:
        raise _invalid(None, None, str(error)) from error
    coverage_plan: dict[str, Any] | None = None
    if values.coverage:
        with coverage_slot(actor.username):
            coverage_plan = _coverage_plan(
                body, plan.electrode, values.margin_mm, str(values.rules)
            )
    ids = sorted({"electrode.choice", *plan.rule_ids} - {"option:margin_mm"})
    unverified = [r for r in ids if rules.rule(r).status is RuleStatus.TO_VERIFY]
    notes = list(plan.notes)
    warnings = [f"{body.lesion_id}: {note}" for note in notes]
    if unverified:
        warnings.append(
            f"{len(unverified)} rule(s) behind this estimate are to verify locally: "
            + ", ".join(unverified)
        )
    return LesionPlanOut(
        method=LESION_METHOD if coverage_plan is None else COVERAGE_METHOD,
        coverage_plan=coverage_plan,
        lesion_id=body.lesion_id,
        longest_diameter_mm=body.longest_diameter_mm,
        perpendicular_diameter_mm=body.perpendicular_diameter_mm,
        thickness_mm=body.thickness_mm,
        volume_cm3=round(
            ellipsoid_volume_cm3(body.longest_diameter_mm, body.perpendicular_diameter_mm), 3
        ),
        electrode=plan.electrode,
        electrode_source="rules" if given is None else "request",
        rule_based_electrode=chosen,
        needle_length_mm=plan.needle_length_mm,
        voltage_v=plan.voltage_v,
        pulses=plan.pulses,
        pulse_duration_us=plan.pulse_duration_us,
        frequency_hz=plan.frequency_hz,
        margin_mm=margin,
        target_area_cm2=plan.target_area_cm2,
        footprint_cm2=plan.footprint_cm2,
        footprint_source=plan.footprint_source,
        applications=plan.applications if coverage_plan is None else coverage_plan["count"],
        rule_set=rules.id,
        rule_set_chain=rules.chain,
        rule_ids=sorted({"electrode.choice", *plan.rule_ids}),
        rules=rules.describe(ids),
        notes=notes,
        warnings=warnings,
        software={"openect": __version__},
    )


def _coverage_plan(
    lesion: LesionToTreat, electrode: Electrode, margin_mm: float | None, rules: str
) -> dict[str, Any]:
    """The coverage planner's placement for the lesion (no 3-D verification here)."""
    from openect.planning.coverage_plan import plan_lesion, request_for_lesion

    if lesion.thickness_mm is None:
        raise _invalid("thickness_mm", None, "needed when coverage is true")
    try:
        plan, _ = plan_lesion(request_for_lesion(lesion, electrode.value, margin_mm, rules))
    except ValueError as error:
        raise _invalid(None, None, f"coverage planner: {error}") from error
    return plan.model_dump(mode="json")


register_body(
    "plan-session", ApiSessionRequest, request=ApiSessionRequest, registry=PlanFromRegistry
)
register_body("plan-lesion", LesionPlanRequest)
