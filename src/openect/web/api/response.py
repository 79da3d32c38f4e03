"""Response API: the live response of a follow-up measurement before it is saved.

``GET /api/lesions/{lesion_id}/response-preview`` derives the RECIST and WHO category of
a candidate measurement of a lesion in the caller's scope with
:func:`openect.response.preview` on the patient's records (nothing is written). The
follow-up form of the web pages (``static/web/patients-followup.js``) calls it as the
measurement is typed, signed in with its session cookie.
"""

# No ``from __future__ import annotations`` here: ninja reads the view's annotations.

import datetime as dt
from typing import Any

from django.http import HttpRequest
from ninja import Router, Status
from ninja.params import functions as param
from pydantic import ValidationError

from openect.data.field_errors import field_errors
from openect.data.models import Assessment, Lesion
from openect.data.schema import column_index
from openect.registry import services
from openect.response.preview import PREVIEW_ID, ResponsePreview, preview
from openect.web.api.schemas import InvalidInput, actor_of, responses

router = Router(tags=["response"])

_COLUMNS = column_index(Assessment)


def _described(name: str) -> str:
    """The data model's description of an assessment column, with its unit."""
    column = _COLUMNS[name]
    unit = f" ({column.unit})" if column.unit else ""
    return f"{column.description or name}{unit}; {column.allowed}"


#: The lesion: any text in the path, so that every unknown id is a JSON 404 (the
#: ``openect_id`` converter of :mod:`openect.web.api.records`).
LesionId = param.Path(..., min_length=1, max_length=200, description="A lesion in your scope")
Longest = param.Query(..., description=_described("longest_diameter_mm"))
Perpendicular = param.Query(None, description=_described("perpendicular_diameter_mm"))
AssessmentDate = param.Query(..., description="Date of the measurement (YYYY-MM-DD)")
EditedId = param.Query(
    None,
    max_length=200,
    description="When an existing assessment is being changed: its id (the candidate "
    "replaces it instead of being added)",
)


def _invalid(items: list[dict[str, Any]]) -> Status[InvalidInput]:
    """A 422 with the problems of the query parameters."""
    return Status(422, InvalidInput.model_validate({"detail": items}))


@router.get(
    "/lesions/{openect_id:lesion_id}/response-preview",
    response=responses({200: ResponsePreview}, 404),
    operation_id="response_preview",
    url_name="response-preview",
    summary="Response of a measurement before it is saved",
    description="The RECIST and WHO category a measurement of the lesion would get, derived "
    "from the patient's records as if it were saved (nothing is written). `status`: "
    "`categorised`; `pre_treatment` (on or before the lesion's first ECT session: a "
    "baseline, no category); `untreated` (no session treated the lesion yet). 404 for a "
    "lesion out of your scope; 422 with the data model's words for invalid values.",
)
def response_preview(
    request: HttpRequest,
    lesion_id: str = LesionId,
    longest_diameter_mm: float = Longest,
    assessment_date: dt.date = AssessmentDate,
    perpendicular_diameter_mm: float | None = Perpendicular,
    assessment_id: str | None = EditedId,
) -> ResponsePreview | Status[InvalidInput]:
    """The response of the candidate measurement of ``lesion_id``."""
    actor = actor_of(request)
    lesion = services.get(actor, Lesion, lesion_id)
    dataset = services.patient_records(actor, lesion.patient_id)
    editing = (assessment_id or "").strip()
    values: dict[str, Any] = {
        "assessment_id": editing or PREVIEW_ID,
        "lesion_id": lesion.lesion_id,
        "assessment_date": assessment_date,
        "longest_diameter_mm": longest_diameter_mm,
        "perpendicular_diameter_mm": perpendicular_diameter_mm,
    }
    given = {name: request.GET.get(name, value) for name, value in values.items()}
    try:
        candidate = Assessment.model_validate(values)
    except ValidationError as error:
        return _invalid(
            [
                {
                    "loc": ["query", e.field] if e.field else [],
                    "msg": e.message,
                    "value": e.shown_value,
                }
                for e in field_errors(error, Assessment, given)
            ]
        )
    if editing and not any(a.assessment_id == editing for a in dataset.assessments):
        return _invalid(
            [
                {
                    "loc": ["query", "assessment_id"],
                    "msg": f"no assessment {editing!r} of patient {lesion.patient_id!r}",
                    "value": editing,
                }
            ]
        )
    return preview(dataset, candidate)
