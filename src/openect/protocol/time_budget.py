"""Do the electrode applications fit in the pulse window? If not, which lesions first.

Lesions are taken in priority order (bleeding, then ulcerated, then other symptoms,
then the rest; the order given within a tier) as long as their applications fit in
the window; the others are proposed for a next session.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from openect.data.enums import Route, Symptom
from openect.protocol.inputs import LesionToTreat


class TimeBudget(BaseModel):
    """Application time against the pulse window (minutes)."""

    model_config = ConfigDict(frozen=True)

    minutes_per_application: float
    window_min: float
    needed_min: float
    fits: bool
    treat_now: list[str]
    next_session: list[str]
    rule_ids: list[str]
    note: str
    #: Minutes of applications per lesion (lesion id -> min). Intratumoural: each lesion
    #: against its own window (from its own injection), not their sum.
    per_lesion_min: dict[str, float] = {}
    #: True when each lesion has its own window (intratumoural).
    per_lesion_window: bool = False


def priority(lesion: LesionToTreat) -> int:
    """0 bleeding, 1 ulcerated, 2 other symptoms, 3 none (lower is treated first)."""
    if lesion.bleeding or Symptom.BLEEDING in lesion.symptoms:
        return 0
    if lesion.ulcerated:
        return 1
    if lesion.symptoms:
        return 2
    return 3


def time_budget(
    lesions: Sequence[LesionToTreat],
    applications: Sequence[int],
    minutes_per_application: float,
    window_min: float,
    route: Route,
    rule_ids: list[str],
) -> TimeBudget:
    """Fit the applications of ``lesions`` (same order) into ``window_min`` minutes.

    Intravenous: all applications share one window after the bolus. Intratumoural:
    each lesion is injected just before its own applications, so each lesion must fit
    the window on its own.
    """
    minutes = [count * minutes_per_application for count in applications]
    needed = sum(minutes)
    ids = [lesion.lesion_id for lesion in lesions]
    per_lesion = dict(zip(ids, minutes, strict=True))
    if route is Route.INTRATUMOURAL:
        late = [i for i, m in zip(ids, minutes, strict=True) if m > window_min]
        now = [i for i in ids if i not in late]
        each = ", ".join(f"{i} {m:g}" for i, m in per_lesion.items())
        return TimeBudget(
            minutes_per_application=minutes_per_application,
            window_min=window_min,
            needed_min=needed,
            fits=not late,
            treat_now=now,
            next_session=late,
            rule_ids=rule_ids,
            note=(
                "intratumoural: each lesion's applications follow its own injection, each "
                f"within its own {window_min:g} min window ({each} min)"
            ),
            per_lesion_min=per_lesion,
            per_lesion_window=True,
        )
    if needed <= window_min:
        return TimeBudget(
            minutes_per_application=minutes_per_application,
            window_min=window_min,
            needed_min=needed,
            fits=True,
            treat_now=ids,
            next_session=[],
            rule_ids=rule_ids,
            note=f"{needed:g} of {window_min:g} min",
            per_lesion_min=per_lesion,
        )
    order = sorted(range(len(lesions)), key=lambda i: (priority(lesions[i]), i))
    used = 0.0
    chosen: set[int] = set()
    for i in order:
        if used + minutes[i] <= window_min:
            chosen.add(i)
            used += minutes[i]
    return TimeBudget(
        minutes_per_application=minutes_per_application,
        window_min=window_min,
        needed_min=needed,
        fits=False,
        treat_now=[ids[i] for i in order if i in chosen],
        next_session=[ids[i] for i in order if i not in chosen],
        rule_ids=rule_ids,
        note=(
            f"{needed:g} min of applications do not fit the {window_min:g} min window: "
            f"treat {used:g} min now (bleeding, ulcerated and symptomatic lesions first), "
            "the rest in a next session"
        ),
        per_lesion_min=per_lesion,
    )
