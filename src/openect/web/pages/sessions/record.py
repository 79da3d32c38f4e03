"""The recording page of a session: the pulse-window countdown, the bolus end time and
the electrode applications.

* ``GET /sessions/<session_id>/record/[?window=pk]`` (``session-record``): the page; the
  countdown runs in the browser (``static/web/sessions-countdown.js``).
* ``POST /sessions/<session_id>/bolus/`` (``session-bolus``): saves the bolus end time.
* ``POST /sessions/<session_id>/applications/new/`` (``application-new``): saves one
  application; one outside the window is saved with a warning.

A POST that the registry refuses shows the page again with the errors on the form.
Times of day are those of the ward: the bolus end time and the application times are
entered as clock times and compared with each other, never with the server's clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse

from openect.data.dataset import Dataset
from openect.data.enums import Drug, Route
from openect.data.models import Application, Patient, Session, patient_label
from openect.errors import AccessDeniedError, RecordInvalidError
from openect.formatting import clock
from openect.protocol.electrodes import Electrode
from openect.protocol.inputs import WindowVariant
from openect.protocol.recording import (
    TO_VERIFY,
    SessionWindow,
    age_at,
    check_window,
    checked_applications,
    lesion_injections,
    lesion_progress,
    planned_lesions,
    prior_bleomycin_iu,
    pulse_train,
    session_rules,
    session_window,
    window_choices,
)
from openect.protocol.route import OXYGEN_RULE, oxygen_advice
from openect.protocol.rules import RuleSet
from openect.protocol.session_plan import LesionPlan
from openect.registry import services
from openect.registry.access import Actor
from openect.registry.access_log import AccessAction, Read
from openect.web.access_log import log_read
from openect.web.pages.common import allow, with_actor
from openect.web.pages.forms import add_errors, cleaned_values
from openect.web.pages.sessions import rule_sets
from openect.web.pages.sessions.forms import (
    BolusForm,
    application_form,
    application_form_class,
    error_summary,
    planned_summary,
    split_electrode,
)
from openect.web.pages.voiding import undoable


def variant_of(request: HttpRequest) -> WindowVariant:
    """The window variant asked for (``window`` of the form or the query), else standard."""
    value = request.POST.get("window") or request.GET.get("window") or ""
    try:
        return WindowVariant(value)
    except ValueError:
        return WindowVariant.STANDARD


@dataclass
class RecordPage:
    """A session with its patient's records, its rule set, window and plan."""

    actor: Actor
    session: Session
    dataset: Dataset
    patient: Patient
    rules: RuleSet
    window: SessionWindow
    planned: dict[str, LesionPlan]

    @classmethod
    def load(cls, actor: Actor, session_id: str, variant: WindowVariant) -> RecordPage:
        """The session ``session_id`` in the actor's scope (NotFoundError otherwise)."""
        session = services.get(actor, Session, session_id)
        dataset = services.patient_records(actor, session.patient_id)
        patient = next(p for p in dataset.patients if p.patient_id == session.patient_id)
        offered = rule_sets.offered()
        rules, _ = session_rules(session.rule_set, offered)
        return cls(
            actor=actor,
            session=session,
            dataset=dataset,
            patient=patient,
            rules=rules,
            window=session_window(session, patient, variant, offered),
            planned=planned_lesions(session, patient, dataset.lesions, rules),
        )

    @property
    def may_write(self) -> bool:
        """True when the actor may record this session's applications."""
        return self.actor.may_write(self.patient.centre_id)

    def require_write(self) -> None:
        """AccessDeniedError when the actor may not record."""
        if not self.may_write:
            raise AccessDeniedError(
                f"user {self.actor.username!r} ({self.actor.role.value}) may not record sessions"
            )

    @property
    def last_application(self) -> Application | None:
        """The application recorded last in this session (highest number), if any."""
        own = [a for a in self.dataset.applications if a.session_id == self.session.session_id]
        return max(own, key=lambda a: application_number(a.application_id), default=None)

    def application_form(self, data: Any = None) -> forms.Form:
        """The application form, prefilled with the rule set's pulse train and, after an
        application, with its lesion and settings."""
        form_class = application_form_class(self.dataset.lesions)
        injections = (
            lesion_injections(self.session.session_id, self.dataset.applications)
            if self.session.route is Route.INTRATUMOURAL
            else None
        )
        return application_form(
            form_class,
            pulse_train(self.rules),
            data,
            self.planned,
            self.last_application,
            injections,
        )

    def url(self) -> str:
        """The recording page with its window variant."""
        url = reverse("session-record", args=[self.session.session_id])
        return f"{url}?{urlencode({'window': self.window.variant.value})}"


def lifetime_bleomycin(page: RecordPage) -> dict[str, Any] | None:
    """Lifetime bleomycin (IU) of a bleomycin session: before it (earlier sessions and
    other therapies), with it, and the rule set's caution and limit; None for others."""
    session = page.session
    if session.drug is not Drug.BLEOMYCIN:
        return None
    before = prior_bleomycin_iu(
        page.dataset.sessions,
        before=session.session_date,
        therapies=page.dataset.systemic_therapies,
    )
    after = before + (session.dose or 0.0)
    warning = page.rules.number("dose.cumulative_bleomycin_warning")
    limit = page.rules.number("dose.cumulative_bleomycin_limit")
    return {
        "before": before,
        "after": after,
        "warning": warning,
        "limit": limit,
        "level": "over" if after > limit else "caution" if after > warning else "",
    }


def application_number(application_id: str) -> int:
    """The sequence number at the end of an application id (``P1-S2-A12`` -> 12)."""
    tail = application_id.rsplit("-", 1)[-1].lstrip("A")
    return int(tail) if tail.isdigit() else 0


def render_record(
    request: HttpRequest,
    page: RecordPage,
    form: forms.Form | None = None,
    bolus_form: BolusForm | None = None,
) -> HttpResponse:
    """The recording page (new forms, unless given)."""
    session, window = page.session, page.window
    bolus = session.bolus_end_time
    applications = page.dataset.applications
    rows = checked_applications(session.session_id, applications, window, bolus)
    progress = lesion_progress(session.session_id, page.dataset.lesions, applications, page.planned)
    lesion_rows = [(p, planned_summary(p.planned) if p.planned else "") for p in progress]
    return render(
        request,
        "web/sessions/record.html",
        {
            "session": session,
            "patient": page.patient,
            "window": window,
            "variants": window_choices(page.rules, session.route, age_at(session, page.patient)),
            "bolus": bolus,
            "opens": window.opens_at(bolus) if bolus else None,
            "closes": window.closes_at(bolus) if bolus else None,
            "form": form or page.application_form(),
            "bolus_form": bolus_form or BolusForm(initial={"bolus_end_time": bolus}),
            "rows": rows,
            "outside": sum(1 for r in rows if r.check.outside),
            "lesion_rows": lesion_rows,
            "injections": lesion_injections(session.session_id, applications)
            if session.route is Route.INTRATUMOURAL
            else None,
            "may_write": page.may_write,
            "undo": undoable(page.actor, session.session_id) if page.may_write else None,
            "electrodes": [e.value for e in Electrode],
            "to_verify": TO_VERIFY,
            "oxygen": oxygen_advice(page.rules, session.anaesthesia, session.drug),
            "lifetime": lifetime_bleomycin(page),
            "oxygen_source": page.rules.rule(OXYGEN_RULE).source,
            "errors": error_summary(form, bolus_form),
            "label": patient_label(page.patient.centre_id, page.patient.patient_number),
            "last": page.last_application,
            "last_lesion": page.last_application.lesion_id.removeprefix(
                page.patient.patient_id + "-"
            )
            if page.last_application
            else "",
            "last_kind": split_electrode(page.last_application.electrode)[0]
            if page.last_application
            else "",
            "last_code": split_electrode(page.last_application.electrode)[1]
            if page.last_application
            else "",
        },
    )


@allow("GET")
@with_actor
def session_record(request: HttpRequest, session_id: str, *, actor: Actor) -> HttpResponse:
    """The recording page: countdown, bolus end time, applications."""
    page = RecordPage.load(actor, session_id, variant_of(request))
    centre = page.patient.centre_id
    log_read(request, actor, Read(AccessAction.VIEW, "sessions", session_id, "", centre))
    return render_record(request, page)


@allow("POST")
@with_actor
def session_bolus(request: HttpRequest, session_id: str, *, actor: Actor) -> HttpResponse:
    """Save the end of the bolus (clock time); the countdown runs from it."""
    page = RecordPage.load(actor, session_id, variant_of(request))
    page.require_write()
    bolus_form = BolusForm(request.POST)
    current = page.session.bolus_end_time
    recorded = sum(1 for a in page.dataset.applications if a.session_id == session_id)
    if bolus_form.is_valid() and bolus_form.check_change(current, recorded):
        new = bolus_form.cleaned_data["bolus_end_time"]
        reason = "bolus end time entered on the recording page"
        if recorded and current is not None and new != current:
            reason = (
                f"bolus end changed from {current.isoformat()} to {new.isoformat()} with "
                f"{recorded} application(s) recorded: {bolus_form.cleaned_data['reason'].strip()}"
            )
        try:
            services.update(actor, Session, session_id, {"bolus_end_time": new}, reason=reason)
        except RecordInvalidError as error:
            add_errors(bolus_form, error)
        else:
            messages.success(request, "Bolus end time saved; the countdown runs from it.")
            return HttpResponseRedirect(page.url())
    return render_record(request, page, bolus_form=bolus_form)


@allow("POST")
@with_actor
def application_new(request: HttpRequest, session_id: str, *, actor: Actor) -> HttpResponse:
    """Save one application of the session; warn when it is outside the pulse window."""
    page = RecordPage.load(actor, session_id, variant_of(request))
    page.require_write()
    form = page.application_form(request.POST)
    if form.is_valid():
        values = cleaned_values(form) | {"session_id": session_id}
        code = values.pop("device_code", None)
        if code:
            values["electrode"] = f"{values['electrode']}:{code}"
        try:
            # numbered <session>-A<n> in the writing transaction (a voided one's stays taken)
            item = services.create_numbered(
                actor, Application, values, reason="recorded on the session page (web)"
            )
        except RecordInvalidError as error:
            add_errors(form, error)
        else:
            at = f", {clock(item.time)}" if item.time else ""
            lesion = item.lesion_id.removeprefix(page.patient.patient_id + "-")
            number_ = item.application_id.removeprefix(session_id + "-")
            messages.success(
                request, f"Application {number_} saved ({lesion}, {item.electrode}{at})."
            )
            start = item.injection_end_time or page.session.bolus_end_time
            check = check_window(page.window, start, item.time)
            if check.outside:
                messages.warning(request, f"Warning: {check.message}.")
            return HttpResponseRedirect(page.url())
    return render_record(request, page, form=form)
