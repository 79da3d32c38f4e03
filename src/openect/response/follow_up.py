"""Follow-up visits after an ECT session: which are due, which overdue (no Django).

The schedule is data (``follow_up.toml`` beside this module, each visit with its source
and status; a centre may pass its own file): a visit ``days`` after a session, counted
as done by an assessment of any of the patient's lesions from the first day of its
window on. :func:`due_visits` takes each patient's latest session up to today and
lists the visits of the schedule whose window has opened and that are not done:

* **due** while today is within the window;
* **overdue** after the window's last day, until ``listed_days`` after the session
  (older visits are left to the data manager's queries, not to the clinic's worklist).

Deceased patients are the caller's to leave out (the worklist passes only the living).
"""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

#: What a listed visit is: in its window, or past it.
VisitState = Literal["due", "overdue"]


class FollowUpVisit(BaseModel):
    """One visit of the follow-up schedule, with its source and status."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    title: str
    days: int = Field(ge=1, description="Days after the session")
    window_days: tuple[int, int] = Field(
        description="First and last day of the visit's window, from the session (both included)"
    )
    listed_days: int = Field(
        ge=1, description="An overdue visit is listed until this day after the session"
    )
    source: str = Field(min_length=1)
    status: Literal["verified", "to_verify"]

    @model_validator(mode="after")
    def _ordered(self) -> FollowUpVisit:
        first, last = self.window_days
        if not 0 <= first <= self.days <= last <= self.listed_days:
            raise ValueError(
                f"{self.name}: window_days {list(self.window_days)}, days {self.days}, "
                f"listed_days {self.listed_days}; allowed 0 <= first <= days <= last <= "
                "listed_days"
            )
        return self


def _schedule_file() -> Path:
    return Path(str(resources.files("openect.response").joinpath("follow_up.toml")))


def load_schedule(path: str | Path | None = None) -> tuple[FollowUpVisit, ...]:
    """The visits of the bundled schedule (or of the file ``path``), in file order."""
    with open(path or _schedule_file(), "rb") as handle:
        table = tomllib.load(handle)
    return tuple(FollowUpVisit(name=name, **values) for name, values in table.items())


@dataclass(frozen=True)
class DueVisit:
    """A visit of one patient that is due or overdue on ``today``."""

    patient_id: str
    session_id: str
    session_date: dt.date
    visit: FollowUpVisit
    state: VisitState
    #: The visit's day (session + ``days``) and its window.
    on: dt.date
    opens: dt.date
    closes: dt.date
    #: Days since the window closed (0 while it is open).
    days_overdue: int


def due_visits(
    sessions: Iterable[tuple[str, str, dt.date]],
    assessments: Iterable[tuple[str, dt.date]],
    today: dt.date,
    schedule: Iterable[FollowUpVisit] | None = None,
) -> list[DueVisit]:
    """The visits due or overdue on ``today``: overdue first (longest overdue first),
    then due (earliest day first).

    ``sessions`` are ``(patient_id, session_id, session_date)``, ``assessments``
    ``(patient_id, assessment_date)`` of the patients' lesions; only each patient's
    latest session up to ``today`` counts (a later session starts a new course).
    """
    visits = tuple(schedule) if schedule is not None else load_schedule()
    latest: dict[str, tuple[dt.date, str]] = {}
    for patient_id, session_id, session_date in sessions:
        if session_date > today:
            continue
        known = latest.get(patient_id)
        if known is None or (session_date, session_id) > known:
            latest[patient_id] = (session_date, session_id)
    last_seen: dict[str, dt.date] = {}
    for patient_id, assessed in assessments:
        if patient_id in latest and assessed > last_seen.get(patient_id, dt.date.min):
            last_seen[patient_id] = assessed
    out: list[DueVisit] = []
    for patient_id, (session_date, session_id) in latest.items():
        for visit in visits:
            opens = session_date + dt.timedelta(days=visit.window_days[0])
            closes = session_date + dt.timedelta(days=visit.window_days[1])
            listed_until = session_date + dt.timedelta(days=visit.listed_days)
            if not opens <= today <= listed_until:
                continue
            if last_seen.get(patient_id, dt.date.min) >= opens:
                continue  # done
            overdue = today > closes
            out.append(
                DueVisit(
                    patient_id=patient_id,
                    session_id=session_id,
                    session_date=session_date,
                    visit=visit,
                    state="overdue" if overdue else "due",
                    on=session_date + dt.timedelta(days=visit.days),
                    opens=opens,
                    closes=closes,
                    days_overdue=(today - closes).days if overdue else 0,
                )
            )
    out.sort(key=lambda v: (v.state != "overdue", -v.days_overdue, v.on, v.patient_id))
    return out
