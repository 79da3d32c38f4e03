"""The patient's timeline grouped as people remember it, and a lesion's sessions.

:func:`grouped_timeline` turns a patient's records into entries, newest first: one per
ECT session with its electrode applications summarised ("12 applications on 3
lesions"), one per follow-up visit (the assessments of one date, one line per lesion
with its short number, size and response), and one per adverse event, patient-reported
outcome and systemic therapy (:func:`openect.web.pages.patient_views.timeline`).
:data:`FILTERS` name the kinds a reader may show or hide with the query string
(``?show=sessions&show=visits``; :func:`chosen`), so the filters work without
JavaScript. :func:`lesion_sessions` lists the sessions that treated one lesion (date,
number of applications, electrodes). No request and no database: built from a
:class:`~openect.data.dataset.Dataset` and the responses of
:func:`openect.response.evaluate`.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from django.urls import reverse

from openect.data.dataset import Dataset
from openect.data.models import DOSE_UNIT, Application, Assessment, Session
from openect.formatting import diameters, number, words
from openect.response import AssessmentResponse
from openect.web.pages.patient_views import timeline

#: Kinds of timeline entries a reader can show or hide: query value -> words.
FILTERS: dict[str, str] = {
    "sessions": "Sessions",
    "visits": "Visits",
    "adverse-events": "Adverse events",
    "reports": "Reports",
    "therapies": "Therapies",
}
#: The filter of each kind of entry.
_FILTER_OF = {
    "session": "sessions",
    "visit": "visits",
    "assessment": "visits",
    "adverse-event": "adverse-events",
    "report": "reports",
    "therapy": "therapies",
}


def chosen(values: Sequence[str], filtered: bool) -> set[str]:
    """The filters to show from the query's ``show`` values (unknown ones ignored);
    every filter when the query has none and no filter form was sent (``filtered``)."""
    shown = {v for v in values if v in FILTERS}
    if not shown and not filtered:
        return set(FILTERS)
    return shown


def short_label(lesion_id: str, patient_id: str) -> str:
    """The lesion's number as people say it: ``L1`` for ``P1-L1`` of patient ``P1``."""
    return lesion_id.removeprefix(f"{patient_id}-")


@dataclass(frozen=True)
class VisitLine:
    """One lesion measured at a visit."""

    short: str
    lesion_id: str
    href: str
    size: str
    category: str | None
    category_note: str
    edit: str | None


@dataclass(frozen=True)
class Entry:
    """One entry of the grouped timeline (``lines``: the lesions of a visit)."""

    date: dt.date
    rank: int
    kind: str
    title: str
    detail: str
    category: str | None = None
    category_note: str = ""
    href: str | None = None
    edit: str | None = None
    lines: tuple[VisitLine, ...] = ()

    @property
    def filter(self) -> str:
        """The filter (:data:`FILTERS`) this entry belongs to."""
        return _FILTER_OF[self.kind]


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def electrode_kind(electrode: str | None) -> str:
    """The catalogue kind of an application's electrode (``linear`` of
    ``linear:N-10-4B``); empty when unknown."""
    return (electrode or "").split(":", 1)[0]


def applications_summary(applications: Sequence[Application], patient_id: str) -> str:
    """``12 applications on 3 lesions (L1, L2, L3); linear, plate; 1 train aborted``."""
    if not applications:
        return "no electrode application recorded"
    lesions = list(dict.fromkeys(a.lesion_id for a in applications))
    kinds = sorted({electrode_kind(a.electrode) for a in applications} - {""})
    aborted = sum(1 for a in applications if a.complete is False)
    parts = [
        f"{_plural(len(applications), 'application')} on {_plural(len(lesions), 'lesion')} "
        f"({', '.join(short_label(x, patient_id) for x in lesions)})"
    ]
    if kinds:
        parts.append(", ".join(kinds))
    if aborted:
        parts.append(f"{_plural(aborted, 'train')} aborted")
    return "; ".join(parts)


def _session_entry(session: Session, applications: Sequence[Application], patient_id: str) -> Entry:
    dose = ""
    if session.dose is not None:
        dose = number(session.dose, DOSE_UNIT[session.drug])
        if session.dose_per_m2 is not None:
            dose += f" ({number(session.dose_per_m2, 'IU/m²')})"
    drug = ", ".join(x for x in (words(session.drug), words(session.route), dose) if x)
    return Entry(
        session.session_date,
        1,
        "session",
        f"ECT session {session.session_number}",
        f"{drug} · {applications_summary(applications, patient_id)}",
        href=reverse("session-record", args=[session.session_id]),
    )


def _response_note(response: AssessmentResponse | None) -> tuple[str | None, str]:
    if response is None:
        return None, "lesion not treated"
    if response.category is None:
        return None, "before treatment"
    return response.category, (
        f"override; derived {response.derived}" if response.overridden else ""
    )


def _visit_entry(
    patient_id: str,
    date: dt.date,
    assessments: Sequence[Assessment],
    responses: Mapping[str, AssessmentResponse],
    writable: bool,
) -> Entry:
    """One date's assessments: one entry of one lesion, or a visit of several."""
    lines = []
    for a in sorted(assessments, key=lambda a: a.lesion_id):
        category, note = _response_note(responses.get(a.assessment_id))
        method = f" ({words(a.method)})" if a.method is not None else ""
        lines.append(
            VisitLine(
                short=short_label(a.lesion_id, patient_id),
                lesion_id=a.lesion_id,
                href=reverse("lesion-detail", args=[patient_id, a.lesion_id]),
                size=diameters(a.longest_diameter_mm, a.perpendicular_diameter_mm) + method,
                category=category,
                category_note=note,
                edit=(
                    reverse("assessment-edit", args=[patient_id, a.assessment_id])
                    if writable
                    else None
                ),
            )
        )
    if len(lines) == 1:
        line = lines[0]
        return Entry(
            date,
            3,
            "assessment",
            f"Assessment of {line.short}",
            line.size,
            line.category,
            line.category_note,
            href=line.href,
            edit=line.edit,
        )
    return Entry(
        date,
        3,
        "visit",
        f"Follow-up visit: {_plural(len(lines), 'lesion')} assessed",
        "",
        lines=tuple(lines),
    )


def grouped_timeline(
    patient_id: str,
    dataset: Dataset,
    responses: Mapping[str, AssessmentResponse],
    writable: bool,
    shown: set[str] | None = None,
) -> list[Entry]:
    """The patient's timeline, newest first: sessions with their applications summarised,
    visits (assessments of one date), adverse events, reports and therapies; only the
    kinds of ``shown`` (:data:`FILTERS`; all when None). Edit links when ``writable``."""
    show = set(FILTERS) if shown is None else shown
    entries: list[Entry] = []
    if "sessions" in show:
        by_session: dict[str, list[Application]] = defaultdict(list)
        for application in dataset.applications:
            by_session[application.session_id].append(application)
        entries += [
            _session_entry(s, by_session.get(s.session_id, []), patient_id)
            for s in dataset.sessions
        ]
    if "visits" in show:
        by_date: dict[dt.date, list[Assessment]] = defaultdict(list)
        for assessment in dataset.assessments:
            by_date[assessment.assessment_date].append(assessment)
        entries += [
            _visit_entry(patient_id, date, items, responses, writable)
            for date, items in by_date.items()
        ]
    others = {"therapy", "adverse-event", "report"}
    for event in timeline(patient_id, dataset, responses, writable):
        if event.kind in others and _FILTER_OF[event.kind] in show:
            entries.append(
                Entry(
                    event.date,
                    event.rank,
                    event.kind,
                    event.title,
                    event.detail,
                    href=event.href,
                    edit=event.edit,
                )
            )
    entries.sort(key=lambda e: (e.date, -e.rank), reverse=True)
    return entries


@dataclass(frozen=True)
class LesionSession:
    """A session that treated one lesion: its applications on that lesion."""

    session: Session
    applications: int
    electrodes: tuple[str, ...]
    aborted: int
    href: str


def lesion_sessions(dataset: Dataset, lesion_id: str) -> list[LesionSession]:
    """The sessions whose applications treated ``lesion_id``, oldest first: the number of
    applications on it, their electrodes (catalogue ids, in order of use) and the trains
    the generator aborted."""
    sessions = {s.session_id: s for s in dataset.sessions}
    mine: dict[str, list[Application]] = defaultdict(list)
    for application in dataset.applications:
        if application.lesion_id == lesion_id and application.session_id in sessions:
            mine[application.session_id].append(application)
    out = [
        LesionSession(
            session=sessions[session_id],
            applications=len(items),
            electrodes=tuple(dict.fromkeys(a.electrode for a in items if a.electrode)),
            aborted=sum(1 for a in items if a.complete is False),
            href=reverse("session-record", args=[session_id]),
        )
        for session_id, items in mine.items()
    ]
    out.sort(key=lambda x: (x.session.session_date, x.session.session_number))
    return out
