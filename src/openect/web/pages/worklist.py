"""The worklist: what a clinic has to do today, the clinician's home page.

* **Sessions today and upcoming** (the living patients' sessions dated today or later);
* **follow-ups due or overdue**, from the follow-up schedule
  (:mod:`openect.response.follow_up`: the response assessment about 60 days after each
  patient's latest session, to verify locally);
* **recently seen**: the living patients with the latest last contact.

Centre scope as everywhere (:func:`openect.registry.access.readable`): a clinician or
data manager sees their centre, an administrator every centre; analysts, who work on
pooled pseudonymised data, have no worklist (403). Deceased patients are left out. The
page is one list read in the access log (query ``worklist``). Each patient is shown by
the short label (``C01-0042``) and the pseudonym; the page also holds the find-by-
hospital-number form and the way to register a new patient.

``/`` is the worklist for clinicians and the patient list for the other roles.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from openect.data.models import Assessment, Patient, Session, patient_label
from openect.errors import AccessDeniedError
from openect.registry.access import Actor, readable
from openect.registry.access_log import AccessAction, Read
from openect.registry.models import Role
from openect.response.follow_up import DueVisit, due_visits, load_schedule
from openect.web.access_log import log_read
from openect.web.pages.common import allow, with_actor
from openect.web.pages.patient_find import find_context
from openect.web.pages.patient_list import render_list

#: Longest list of each section (the rest is counted, and found in the patient list).
SHOWN = 50
#: Patients under "recently seen".
RECENT = 10
#: What the access log records of the page.
QUERY = "worklist"


def may_see_worklist(actor: Actor) -> bool:
    """Every role but analysts has a worklist."""
    return actor.role is not Role.ANALYST


def _labels(actor: Actor, ids: set[str]) -> dict[str, str | None]:
    rows = readable(actor, Patient).filter(pk__in=list(ids))
    return {
        str(pid): patient_label(str(centre), number)
        for pid, centre, number in rows.values_list("patient_id", "centre_id", "patient_number")
    }


def _sessions(actor: Actor, today: dt.date) -> tuple[list[dict[str, Any]], int]:
    """The living patients' sessions from today on (the first :data:`SHOWN`), and how many."""
    rows = (
        readable(actor, Session)
        .filter(session_date__gte=today, patient__death_date__isnull=True)
        .order_by("session_date", "patient_id", "session_id")
    )
    shown = list(
        rows.values("session_id", "patient_id", "session_date", "session_number", "drug", "route")[
            :SHOWN
        ]
    )
    return shown, rows.count() if len(shown) == SHOWN else len(shown)


def _due(actor: Actor, today: dt.date) -> list[DueVisit]:
    """The follow-ups due or overdue today (living patients)."""
    schedule = load_schedule()
    since = today - dt.timedelta(days=max(visit.listed_days for visit in schedule))
    sessions = readable(actor, Session).filter(
        session_date__gte=since, session_date__lte=today, patient__death_date__isnull=True
    )
    opened = since + dt.timedelta(days=min(visit.window_days[0] for visit in schedule))
    assessments = readable(actor, Assessment).filter(
        lesion__patient_id__in=sessions.values("patient_id"), assessment_date__gte=opened
    )
    return due_visits(
        sessions.values_list("patient_id", "session_id", "session_date"),
        assessments.values_list("lesion__patient_id", "assessment_date"),
        today,
        schedule,
    )


def _recent(actor: Actor, today: dt.date) -> list[dict[str, Any]]:
    """The living patients with the latest last contact (up to today)."""
    rows = (
        readable(actor, Patient)
        .filter(
            death_date__isnull=True,
            last_contact_date__isnull=False,
            last_contact_date__lte=today,
        )
        .order_by("-last_contact_date", "patient_id")
        .values("patient_id", "centre_id", "patient_number", "last_contact_date")[:RECENT]
    )
    return [
        {**row, "label": patient_label(str(row["centre_id"]), row["patient_number"])}
        for row in rows
    ]


def render_worklist(request: HttpRequest, actor: Actor) -> HttpResponse:
    """The worklist page of ``actor`` (403 for analysts)."""
    if not may_see_worklist(actor):
        raise AccessDeniedError(
            f"user {actor.username!r} ({actor.role.value}) has no worklist: it lists the "
            "patients a centre has to see"
        )
    today = timezone.localdate()
    sessions, session_count = _sessions(actor, today)
    due = _due(actor, today)
    recent = _recent(actor, today)
    labels = _labels(
        actor, {str(s["patient_id"]) for s in sessions} | {v.patient_id for v in due[:SHOWN]}
    )
    log_read(request, actor, Read(AccessAction.LIST, "patients", "", QUERY, actor.centre_id))
    context = {
        "today": today,
        "sessions": [{**s, "label": labels.get(str(s["patient_id"]))} for s in sessions],
        "session_count": session_count,
        "due": [{"visit": v, "label": labels.get(v.patient_id)} for v in due[:SHOWN]],
        "due_count": len(due),
        "overdue_count": sum(v.state == "overdue" for v in due),
        "recent": recent,
        "schedule": load_schedule(),
        "shown": SHOWN,
        "may_create": True,
        **find_context(actor),
    }
    return render(request, "web/worklist.html", context)


@allow("GET")
@with_actor
def worklist(request: HttpRequest, *, actor: Actor) -> HttpResponse:
    """Today's and upcoming sessions, follow-ups due or overdue, patients recently seen."""
    return render_worklist(request, actor)


@allow("GET")
@with_actor
def home(request: HttpRequest, *, actor: Actor) -> HttpResponse:
    """``/``: the worklist for clinicians, the patient list for the other roles."""
    if actor.role is Role.CLINICIAN:
        return render_worklist(request, actor)
    return render_list(request, actor)
