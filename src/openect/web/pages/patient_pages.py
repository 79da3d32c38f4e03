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
from openect.response.explain import explain_assessments
from openect.web.access_log import log_read
from openect.web.pages.bodymap import BodyMap, LesionMark, body_map
from openect.web.pages.common import allow, with_actor
from openect.web.pages.patient_timeline import (
    FILTERS,
    chosen,
    grouped_timeline,
    lesion_sessions,
    short_label,
)
from openect.web.pages.patient_views import (
    LesionRow,
    assessment_rows,
    legend,
    lesion_rows,
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


def numbered_map(patient_id: str, rows: list[LesionRow]) -> BodyMap:
    """The body map of the lesion ``rows``: each marker shows the lesion's short number
    (``L1``), is coloured by its current response and links to the lesion's page."""
    marks = []
    for row in rows:
        short = short_label(row.lesion.lesion_id, patient_id)
        marks.append(
            LesionMark(
                lesion_id=row.lesion.lesion_id,
                body_site=row.lesion.body_site,
                longest_diameter_mm=row.lesion.longest_diameter_mm,
                category=row.response.current_css,
                label=f"{short}: {row.label}",
                href=row.href,
                number=short,
            )
        )
    return body_map(marks)


@allow("GET")
@with_actor
def patient_detail(request: HttpRequest, patient_id: str, *, actor: Actor) -> HttpResponse:
    """A patient: summary, body map with the lesions' current response, timeline (grouped
    by session and visit; ``?show=`` chooses the kinds of entries, see
    :data:`~openect.web.pages.patient_timeline.FILTERS`)."""
    patient, dataset = patient_dataset(actor, patient_id)
    log_read(request, actor, Read(AccessAction.VIEW, "patients", patient_id, "", patient.centre_id))
    criteria = _criteria_name(request)
    lesion_responses, assessment_responses = evaluate(dataset, criteria)
    writable = actor.may_write(patient.centre_id)
    rows = lesion_rows(patient_id, dataset, lesion_responses)
    shown = chosen(request.GET.getlist("show"), "filter" in request.GET)
    context = {
        "patient": patient,
        "criteria": criteria,
        "criteria_title": load_criteria(criteria).title,
        "criteria_options": _criteria_options(),
        "lesions": rows,
        "map": numbered_map(patient_id, rows),
        "legend": legend(rows),
        "events": grouped_timeline(patient_id, dataset, assessment_responses, writable, shown),
        "filters": [(key, words, key in shown) for key, words in FILTERS.items()],
        "filtered": shown != set(FILTERS),
        "writable": writable,
    }
    return render(request, "web/patients/detail.html", context)


@allow("GET")
@with_actor
def lesion_detail(
    request: HttpRequest, patient_id: str, lesion_id: str, *, actor: Actor
) -> HttpResponse:
    """One lesion: baseline, the sessions that treated it, every assessment with its
    derived response under both criteria and why they differ where they do."""
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
    rows = assessment_rows(patient_id, lesion_id, dataset, responses, other_responses, writable)
    why = explain_assessments(dataset)
    context = {
        "patient": patient,
        "lesion": next(x for x in dataset.lesions if x.lesion_id == lesion_id),
        "response": lesion_responses[lesion_id],
        "criteria": criteria,
        "criteria_title": load_criteria(criteria).title,
        "other": other,
        "other_title": load_criteria(other).title,
        "criteria_options": _criteria_options(),
        "short": short_label(lesion_id, patient_id),
        "sessions": lesion_sessions(dataset, lesion_id),
        "assessments": rows,
        "differences": [
            (row.assessment, why[row.assessment.assessment_id])
            for row in rows
            if row.assessment.assessment_id in why
        ],
        "writable": writable,
    }
    return render(request, "web/patients/lesion.html", context)
