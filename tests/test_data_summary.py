"""The concurrent-immunotherapy rule of ``openect.data.summary`` (one rule for the
dataset summary, the outcome tables and the web patient list)."""

from __future__ import annotations

import datetime as dt

import pytest

from openect.data.dataset import Dataset
from openect.data.enums import IMMUNOTHERAPY_CLASSES, AgentClass
from openect.data.summary import (
    CONCURRENT_WINDOW_DAYS,
    concurrent_immunotherapy,
    concurrent_immunotherapy_patients,
)

FIRST = dt.date(2024, 3, 4)
WINDOW = dt.timedelta(days=CONCURRENT_WINDOW_DAYS)


def concurrent(start: dt.date, end: dt.date | None, agent: str = "anti_pd1") -> bool:
    """Whether one therapy of patient P counts for a first session on :data:`FIRST`."""
    return concurrent_immunotherapy_patients({"P": FIRST}, [("P", agent, start, end)]) == {"P"}


def test_a_therapy_ending_exactly_at_the_window_start_counts_one_day_earlier_not() -> None:
    assert concurrent(FIRST - 200 * WINDOW, FIRST - WINDOW)
    assert not concurrent(FIRST - 200 * WINDOW, FIRST - WINDOW - dt.timedelta(days=1))


def test_a_therapy_starting_exactly_at_the_window_end_counts_one_day_later_not() -> None:
    assert concurrent(FIRST + WINDOW, None)
    assert not concurrent(FIRST + WINDOW + dt.timedelta(days=1), None)


def test_an_ongoing_therapy_started_long_before_counts() -> None:
    assert concurrent(FIRST - 1000 * WINDOW, None)


@pytest.mark.parametrize("agent", [c.value for c in AgentClass])
def test_only_checkpoint_inhibitors_count(agent: str) -> None:
    assert concurrent(FIRST, None, agent) is (agent in IMMUNOTHERAPY_CLASSES)


def test_enum_and_text_agent_classes_count_alike() -> None:
    assert concurrent(FIRST, None, AgentClass.ANTI_CTLA4)
    assert concurrent(FIRST, None, "anti_pd1_ctla4")


def test_patients_without_a_session_never_count_and_the_window_is_a_parameter() -> None:
    therapies = [("P", "anti_pd1", FIRST, None), ("Q", "anti_pd1", FIRST, None)]
    assert concurrent_immunotherapy_patients({"P": FIRST}, therapies) == {"P"}
    late = [("P", "anti_pd1", FIRST + dt.timedelta(days=5), None)]
    assert concurrent_immunotherapy_patients({"P": FIRST}, late, window_days=5) == {"P"}
    assert concurrent_immunotherapy_patients({"P": FIRST}, late, window_days=4) == set()
    with pytest.raises(ValueError, match="window_days=-1"):
        concurrent_immunotherapy_patients({}, [], window_days=-1)


def test_the_dataset_form_applies_the_same_rule(dataset: Dataset) -> None:
    assert concurrent_immunotherapy(dataset) == {"P1"}  # pembrolizumab since 2020-02-01
    start = dataset.sessions[0].session_date - WINDOW
    dataset.systemic_therapies[0] = dataset.systemic_therapies[0].model_copy(
        update={"start_date": start - 10 * WINDOW, "end_date": start - dt.timedelta(days=1)}
    )
    assert concurrent_immunotherapy(dataset) == set()
