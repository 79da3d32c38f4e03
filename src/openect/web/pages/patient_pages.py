"""A patient's page (summary, body map, lesion table, timeline) and a lesion's page.

The views read the patient's records through :func:`openect.registry.services.patient_records`
(scope: another centre's patient looks absent), log the read in the access log
(:func:`openect.web.access_log.log_read`), derive the responses with
:func:`openect.response.evaluate` and render the view models of
:mod:`openect.web.pages.patient_views`.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from openect.data.dataset import Dataset
from openect.data.models import Lesion, Patient
from openect.errors import NotFoundError
from openect.registry import services
from openect.registry.access import Actor
from openect.registry.access_log import AccessAction, Read
from openect.response import CRITERIA, evaluate, load_criteria
from openect.web.access_log import log_read
from openect.web.pages.common import allow, with_actor
from openect.web.pages.patient_views import (
    assessment_rows,
    legend,
    lesion_rows,
    patient_map,
    timeline,
    treatments,
)


def patient_dataset(actor: Actor, patient_id: str) -> tuple[Patient, Dataset]:
    """The patient ``patient_id`` and all their records in the actor's scope.

    NotFoundError (a 404 page) when the patient is not in the actor's scope.
    """
    dataset = services.patient_records(actor, patient_id)
    patient = next(p for p in dataset.patients if p.patient_id == patient_id)
    return patient, dataset


def _criteria_name(request: HttpRequest) -> str:
    """The criteria asked for with ``?criteria=`` (one of :data:`CRITERIA`; RECIST else)."""
    name = str(request.GET.get("criteria", "recist")).lower()
    return name if name in CRITERIA else "recist"


def _criteria_options() -> list[tuple[str, str]]:
    return [(name, load_criteria(name).title) for name in CRITERIA]


@allow("GET")
@with_actor
def patient_detail(request: HttpRequest, patient_id: str, *, actor: Actor) -> HttpResponse:
    """A patient: summary, body map with the lesions' current response, timeline."""
    patient, dataset = patient_dataset(actor, patient_id)
    log_read(request, actor, Read(AccessAction.VIEW, "patients", patient_id, "", patient.centre_id))
    criteria = _criteria_name(request)
    lesion_responses, assessment_responses = evaluate(dataset, criteria)
    writable = actor.may_write(patient.centre_id)
    rows = lesion_rows(patient_id, dataset, lesion_responses)
    context = {
        "patient": patient,
        "criteria": criteria,
        "criteria_title": load_criteria(criteria).title,
        "criteria_options": _criteria_options(),
        "lesions": rows,
        "map": patient_map(rows),
        "legend": legend(rows),
        "events": timeline(patient_id, dataset, assessment_responses, writable),
        "writable": writable,
    }
    return render(request, "web/patients/detail.html", context)


@allow("GET")
@with_actor
def lesion_detail(
    request: HttpRequest, patient_id: str, lesion_id: str, *, actor: Actor
) -> HttpResponse:
    """One lesion: baseline, treatments, every assessment with its derived response."""
    lesion = services.get(actor, Lesion, lesion_id)
    if lesion.patient_id != patient_id:
        raise NotFoundError(f"lesions: no lesion_id={lesion_id!r} of patient {patient_id!r}")
    patient, dataset = patient_dataset(actor, patient_id)
    log_read(request, actor, Read(AccessAction.VIEW, "lesions", lesion_id, "", patient.centre_id))
    criteria = _criteria_name(request)
    other = "who" if criteria == "recist" else "recist"
    lesion_responses, responses = evaluate(dataset, criteria)
    _, other_responses = evaluate(dataset, other)
    writable = actor.may_write(patient.centre_id)
    context = {
        "patient": patient,
        "lesion": next(x for x in dataset.lesions if x.lesion_id == lesion_id),
        "response": lesion_responses[lesion_id],
        "criteria": criteria,
        "criteria_title": load_criteria(criteria).title,
        "other": other,
        "other_title": load_criteria(other).title,
        "criteria_options": _criteria_options(),
        "treatments": treatments(dataset, lesion_id),
        "assessments": assessment_rows(
            patient_id, lesion_id, dataset, responses, other_responses, writable
        ),
        "writable": writable,
    }
    return render(request, "web/patients/lesion.html", context)
