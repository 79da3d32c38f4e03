"""The plan page: plan a session for a patient, then record it.

* ``GET /patients/<patient_id>/plan/`` (``session-plan``): the planning form with the
  registry's defaults; when they are complete (height and weight of an earlier session)
  the page opens with the plan.
* ``POST /patients/<patient_id>/plan/``: plans with the form's values.
* ``POST /patients/<patient_id>/sessions/new/`` (``session-new``): records the session
  (the plan's values, as edited) and goes on to its recording page; the planning form's
  values come along (hidden) so that the page can be shown again with any error.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from pydantic import ValidationError

from openect.data.dataset import Dataset
from openect.data.enums import Drug, Route
from openect.data.field_errors import field_errors
from openect.data.models import Patient, Session, patient_label
from openect.errors import AccessDeniedError, RecordInvalidError, RuleError
from openect.protocol import plan_session
from openect.protocol.recording import (
    TO_VERIFY,
    next_session,
    prior_bleomycin_iu,
    treatment_history,
)
from openect.protocol.session_plan import SessionPlan
from openect.registry import services
from openect.registry.access import Actor
from openect.registry.access_log import AccessAction, Read
from openect.web.access_log import log_read
from openect.web.pages.common import allow, with_actor
from openect.web.pages.forms import add_errors, add_field_errors, cleaned_values
from openect.web.pages.sessions import rule_sets
from openect.web.pages.sessions.forms import PlanForm, as_query, error_summary, session_form
from openect.web.pages.sessions.plan_view import plan_view

#: Prefixes of the two forms of the page.
PLAN, SESSION = "plan", "session"


@dataclass
class PlanPage:
    """The patient's records and what the page needs of them."""

    actor: Actor
    dataset: Dataset
    patient: Patient

    @classmethod
    def load(cls, actor: Actor, patient_id: str) -> PlanPage:
        """The records of ``patient_id`` in the actor's scope (NotFoundError otherwise)."""
        dataset = services.patient_records(actor, patient_id)
        patient = next(p for p in dataset.patients if p.patient_id == patient_id)
        return cls(actor, dataset, patient)

    @property
    def may_write(self) -> bool:
        """True when the actor may record sessions of this patient."""
        return self.actor.may_write(self.patient.centre_id)

    def plan_form(
        self, data: Any = None, initial: dict[str, Any] | None = None, auto_id: bool = True
    ) -> PlanForm:
        """The planning form of this patient (bound to ``data`` when given; without ids
        on its inputs unless ``auto_id``)."""
        return PlanForm(
            data,
            prefix=PLAN,
            initial=initial,
            auto_id="id_%s" if auto_id else False,
            lesions=self.dataset.lesions,
            rule_sets=rule_sets.offered(),
        )

    def sessions(self) -> list[Session]:
        """The patient's sessions, earliest first."""
        return sorted(self.dataset.sessions, key=lambda s: (s.session_date, s.session_number))


def plan_initial(page: PlanPage, today: dt.date) -> dict[str, Any]:
    """Plan form defaults: the models' defaults, then the latest session's height, weight
    and clearance, the patient's recorded lung function, lifetime bleomycin from the
    registry (its sessions and the bleomycin of other therapies) and every lesion of the
    patient."""
    sessions = page.sessions()
    latest = sessions[-1] if sessions else None
    patient = page.patient
    defaults = {name: field.initial for name, field in PlanForm.base_fields.items()}
    return defaults | {
        "session_date": today,
        "height_cm": latest.height_cm if latest else None,
        "weight_kg": latest.weight_kg if latest else None,
        "creatinine_clearance_ml_min": latest.creatinine_clearance_ml_min if latest else None,
        "dlco_percent_predicted": patient.dlco_percent_predicted,
        "dlco_date": patient.dlco_date,
        "chest_imaging_date": patient.chest_imaging_date,
        "prior_bleomycin_iu": prior_bleomycin_iu(
            page.dataset.sessions, therapies=page.dataset.systemic_therapies
        ),
        "lesions": [lesion.lesion_id for lesion in page.dataset.lesions],
    }


def planned(page: PlanPage, form: PlanForm) -> tuple[SessionPlan | None, list[str]]:
    """The plan of a bound form, or None with the problems that are on no field of the
    form (those on a field are put on it)."""
    if not form.is_valid():
        return None, []
    try:
        history = treatment_history(
            page.dataset.sessions, page.dataset.applications, form.cleaned_data["session_date"]
        )
        request = form.request_for(page.patient, page.dataset.lesions, history)
        return plan_session(request, form.rule_set), []
    except ValidationError as error:  # the planner's models refuse a value
        return None, add_field_errors(form, field_errors(error))
    except (RuleError, ValueError) as error:
        return None, [str(error)]


def session_initial(page: PlanPage, plan: SessionPlan, form: PlanForm) -> dict[str, Any]:
    """Session form defaults from the plan and the planning form (the bolus end time is
    entered on the day)."""
    session_id, number = next_session(page.patient.patient_id, page.dataset.sessions)
    intravenous = plan.route is Route.INTRAVENOUS
    return {
        "session_id": session_id,
        "session_date": form.cleaned_data["session_date"],
        "session_number": number,
        "anaesthesia": plan.anaesthesia.value,
        "drug": plan.drug.value,
        "route": plan.route.value,
        "dose": {
            Drug.BLEOMYCIN: plan.dose_iu,
            Drug.CISPLATIN: plan.dose_mg,
            Drug.CALCIUM_CHLORIDE: plan.dose_ml,
        }[plan.drug],
        "dose_per_m2": plan.dose_per_m2_iu if intravenous else None,
        "bsa_m2": plan.bsa_m2,
        "height_cm": form.cleaned_data["height_cm"],
        "weight_kg": form.cleaned_data["weight_kg"],
        "creatinine_clearance_ml_min": plan.creatinine_clearance_ml_min,
        "rule_set": plan.rule_set,
    }


def record_session(
    request: HttpRequest, page: PlanPage, values: dict[str, Any], override: str | None = None
) -> Session:
    """Create the session (:func:`services.record_session`: the patient's last contact
    date moves up with it) and say so. A specialist's decision to treat past a stop
    (``override``) is kept in the audit trail with the session. RecordInvalidError if
    refused."""
    patient = page.patient
    item = services.validated(Session, values | {"patient_id": patient.patient_id})
    reason = "recorded from the session plan (web)"
    if override:
        reason += f"; specialist's decision to treat past a stop: {override}"
    created, moved_from = services.record_session(page.actor, item, reason=reason)
    if moved_from is not None:
        messages.info(
            request,
            f"Last contact date of {patient.patient_id} moved from {moved_from.isoformat()} "
            f"to {created.session_date.isoformat()}.",
        )
    return created


def render_plan(
    request: HttpRequest,
    page: PlanPage,
    form: PlanForm,
    plan: SessionPlan | None,
    problems: list[str],
    recording: forms.Form | None = None,
) -> HttpResponse:
    """The plan page: the form, the plan and the form recording it (new, unless given)."""
    if plan is not None and recording is None:
        recording = session_form(None, session_initial(page, plan, form))
    return render(
        request,
        "web/sessions/plan.html",
        {
            "patient": page.patient,
            "plan_form": form,
            # the planning form's values, carried (hidden, without ids) by the session form
            "carried": page.plan_form(form.data, auto_id=False) if plan is not None else None,
            "plan": plan_view(plan) if plan is not None else None,
            "session_form": recording,
            "problems": problems,
            "may_write": page.may_write,
            "no_lesions": not page.dataset.lesions,
            "sessions": page.sessions(),
            "to_verify": TO_VERIFY,
            "errors": error_summary(recording),
            "label": patient_label(page.patient.centre_id, page.patient.patient_number),
        },
    )


@allow("GET", "POST")
@with_actor
def session_plan(request: HttpRequest, patient_id: str, *, actor: Actor) -> HttpResponse:
    """GET: the planning form (with the plan when the registry's defaults are complete);
    POST: the plan of the form's values."""
    page = PlanPage.load(actor, patient_id)
    centre = page.patient.centre_id
    log_read(request, actor, Read(AccessAction.VIEW, "patients", patient_id, "", centre))
    if request.method == "POST":
        form = page.plan_form(request.POST)
    else:
        initial = plan_initial(page, timezone.localdate())
        form = page.plan_form(as_query(initial, PLAN))
        if not form.is_valid():  # incomplete defaults: the empty fields to fill in
            form = page.plan_form(initial=initial)
    plan, problems = planned(page, form) if form.is_bound else (None, [])
    return render_plan(request, page, form, plan, problems)


@allow("POST")
@with_actor
def session_new(request: HttpRequest, patient_id: str, *, actor: Actor) -> HttpResponse:
    """Record the planned session (the session form's values) and go to its recording
    page; the plan page again, with the errors, when the registry refuses it."""
    page = PlanPage.load(actor, patient_id)
    if not page.may_write:
        raise AccessDeniedError(
            f"user {actor.username!r} ({actor.role.value}) may not record sessions"
        )
    form = page.plan_form(request.POST)
    plan, problems = planned(page, form)
    if plan is None:
        return render_plan(request, page, form, plan, problems)
    recording = session_form(request.POST, session_initial(page, plan, form))
    if recording.is_valid():
        try:
            created = record_session(
                request, page, cleaned_values(recording), plan.specialist_override
            )
        except RecordInvalidError as error:
            add_errors(recording, error)
        else:
            messages.success(request, f"Session {created.session_id} recorded.")
            query = urlencode({"window": form.cleaned_data["window"]})
            url = reverse("session-record", args=[created.session_id])
            return HttpResponseRedirect(f"{url}?{query}")
    return render_plan(request, page, form, plan, problems, recording)
