"""What the patient pages show, built from a patient's records (no request, no database).

:func:`timeline` lists a patient's sessions, assessments, therapies, adverse events and
reports newest first; :func:`lesion_rows` gives one row per lesion with its response
(for the lesion table and :func:`patient_map`, the body map); :func:`assessment_rows`
and :func:`treatments` fill the lesion page. Each takes a :class:`Dataset` (one
patient's records) and the responses of :func:`openect.response.evaluate`, so that they
can be built and tested without a request. Values are formatted by the templates
(``openect_format`` filters) except the one-line texts of the timeline and the map.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from django.urls import reverse

from openect.data.dataset import Dataset
from openect.data.models import DOSE_UNIT, Assessment, Lesion, Session
from openect.formatting import diameters, number, words
from openect.response import CATEGORY_LABELS, AssessmentResponse, LesionResponse
from openect.web.pages.bodymap import BodyMap, LesionMark, body_map


@dataclass(frozen=True)
class Event:
    """One entry of the patient's timeline.

    ``rank`` orders the entries of one day (lowest first: therapy, session, adverse
    event, assessment, report);
    ``category`` is the response badge of an assessment (with ``category_note``);
    ``href`` links the title, ``edit`` the record's edit form (None when not writable).
    """

    date: dt.date
    rank: int
    kind: str
    title: str
    detail: str
    category: str | None = None
    category_note: str = ""
    href: str | None = None
    edit: str | None = None


def _session_event(session: Session) -> Event:
    dose = ""
    if session.dose is not None:
        dose = number(session.dose, DOSE_UNIT[session.drug])
        if session.dose_per_m2 is not None:
            dose += f" ({number(session.dose_per_m2, 'IU/m²')})"
    return Event(
        session.session_date,
        1,
        "session",
        f"ECT session {session.session_number}",
        ", ".join(x for x in (words(session.drug), words(session.route), dose) if x),
        href=reverse("session-record", args=[session.session_id]),
    )


def _assessment_event(
    assessment: Assessment,
    response: AssessmentResponse | None,
    href: str | None,
    edit: str | None,
    patient_id: str = "",
) -> Event:
    note = ""
    category = None
    if response is not None and response.category is not None:
        category = response.category
        if response.overridden:
            note = f"override; derived {response.derived}"
    elif response is not None:
        note = "before treatment"
    else:
        note = "lesion not treated"
    method = f" ({words(assessment.method)})" if assessment.method is not None else ""
    return Event(
        assessment.assessment_date,
        3,
        "assessment",
        f"Assessment of {assessment.lesion_id.removeprefix(patient_id + '-')}",
        diameters(assessment.longest_diameter_mm, assessment.perpendicular_diameter_mm) + method,
        category,
        note,
        href=href,
        edit=edit,
    )


def timeline(
    patient_id: str,
    dataset: Dataset,
    assessments: Mapping[str, AssessmentResponse],
    writable: bool,
) -> list[Event]:
    """Sessions, assessments, therapies, adverse events and reports, newest first.

    ``assessments`` are the responses by assessment id (:func:`openect.response.evaluate`);
    edit links only when ``writable``.
    """
    lesion_href = {
        lesion.lesion_id: reverse("lesion-detail", args=[patient_id, lesion.lesion_id])
        for lesion in dataset.lesions
    }

    def edit(name: str, record_id: str) -> str | None:
        return reverse(name, args=[patient_id, record_id]) if writable else None

    events = [_session_event(s) for s in dataset.sessions]
    events += [
        _assessment_event(
            a,
            assessments.get(a.assessment_id),
            lesion_href.get(a.lesion_id),
            edit("assessment-edit", a.assessment_id),
            patient_id,
        )
        for a in dataset.assessments
    ]
    for t in dataset.systemic_therapies:
        agent = f" ({t.agent})" if t.agent else ""
        until = t.end_date.isoformat() if t.end_date else "ongoing"
        events.append(
            Event(
                t.start_date,
                0,
                "therapy",
                f"Systemic therapy: {words(t.agent_class)}{agent}",
                f"{t.start_date.isoformat()} to {until}",
                edit=edit("therapy-edit", t.therapy_id),
            )
        )
    for e in dataset.adverse_events:
        serious = ", serious" if e.serious else ""
        events.append(
            Event(
                e.onset_date,
                2,
                "adverse-event",
                f"Adverse event: {e.term}",
                f"CTCAE grade {e.grade}{serious}"
                + (f"; after session {e.session_id}" if e.session_id else ""),
                edit=edit("adverse-event-edit", e.event_id),
            )
        )
    for r in dataset.patient_reported:
        parts = []
        if r.pain_nrs is not None:
            parts.append(f"pain NRS {r.pain_nrs}/10")
        if r.eq_vas is not None:
            parts.append(f"EQ-VAS {r.eq_vas}/100")
        dimensions = [
            r.eq5d_mobility,
            r.eq5d_selfcare,
            r.eq5d_activity,
            r.eq5d_pain,
            r.eq5d_anxiety,
        ]
        if any(d is not None for d in dimensions):
            parts.append("EQ-5D-3L " + "".join("?" if d is None else str(d) for d in dimensions))
        events.append(
            Event(
                r.report_date,
                4,
                "report",
                "Patient-reported outcome",
                ", ".join(parts) or "no scores recorded",
                edit=edit("patient-reported-edit", r.report_id),
            )
        )
    events.sort(key=lambda e: (e.date, -e.rank), reverse=True)
    return events


@dataclass(frozen=True)
class LesionRow:
    """One lesion of the patient page: the record, its response and its page."""

    lesion: Lesion
    response: LesionResponse
    href: str

    @property
    def label(self) -> str:
        """One line for the body map's tooltip: id, site, size and current response."""
        lesion = self.lesion
        dimensions = diameters(lesion.longest_diameter_mm, lesion.perpendicular_diameter_mm)
        return (
            f"{lesion.lesion_id}, {words(lesion.body_site)}, {dimensions}: "
            f"{self.response.current_text}"
        )


def lesion_rows(
    patient_id: str, dataset: Dataset, responses: Mapping[str, LesionResponse]
) -> list[LesionRow]:
    """One row per lesion of ``dataset`` (registry order) for the map and its table."""
    return [
        LesionRow(
            lesion,
            responses[lesion.lesion_id],
            reverse("lesion-detail", args=[patient_id, lesion.lesion_id]),
        )
        for lesion in dataset.lesions
    ]


def patient_map(rows: list[LesionRow]) -> BodyMap:
    """The body map of the lesion ``rows`` (from :func:`lesion_rows`)."""
    return body_map(
        [
            LesionMark(
                lesion_id=row.lesion.lesion_id,
                body_site=row.lesion.body_site,
                longest_diameter_mm=row.lesion.longest_diameter_mm,
                category=row.response.current_css,
                label=row.label,
                href=row.href,
            )
            for row in rows
        ]
    )


def legend(rows: list[LesionRow]) -> list[tuple[str, str, int]]:
    """``(category, words, number of lesions)`` for the map's legend: the RECIST
    categories always, WHO's "no change" (NC) and the non-CR/non-PD of a non-measurable
    lesion (NN) only when a lesion has them."""
    counts = Counter(row.response.current_css for row in rows)
    return [
        (code, label, counts.get(code, 0))
        for code, label in CATEGORY_LABELS.items()
        if code not in ("NC", "NN") or counts.get(code, 0)
    ]


@dataclass(frozen=True)
class AssessmentRow:
    """One assessment of the lesion page, with its response under both criteria."""

    assessment: Assessment
    response: AssessmentResponse | None
    other: AssessmentResponse | None
    edit: str | None


def assessment_rows(
    patient_id: str,
    lesion_id: str,
    dataset: Dataset,
    responses: Mapping[str, AssessmentResponse],
    other: Mapping[str, AssessmentResponse],
    writable: bool,
) -> list[AssessmentRow]:
    """The assessments of ``lesion_id``, oldest first, with the responses under the chosen
    criteria (``responses``) and the other ones (``other``); edit links when ``writable``."""
    visits = sorted(
        (a for a in dataset.assessments if a.lesion_id == lesion_id),
        key=lambda a: a.assessment_date,
    )
    return [
        AssessmentRow(
            a,
            responses.get(a.assessment_id),
            other.get(a.assessment_id),
            reverse("assessment-edit", args=[patient_id, a.assessment_id]) if writable else None,
        )
        for a in visits
    ]
