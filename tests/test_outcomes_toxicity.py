"""Adverse events (CTCAE v5) by term and per ECT session."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections import defaultdict

import pytest

from openect.data.dataset import Dataset
from openect.data.enums import Drug, PrimaryTumour, Route, Sex
from openect.data.models import AdverseEvent, Centre, Patient, Session
from openect.outcomes.toxicity import ANY_TERM, Toxicity
from openect.synth import generate_cohort

DAY = dt.date(2022, 5, 2)


def _session(session_id: str, patient_id: str, number: int = 1) -> Session:
    return Session(
        session_id=session_id,
        patient_id=patient_id,
        session_date=DAY + dt.timedelta(days=60 * (number - 1)),
        session_number=number,
        drug=Drug.BLEOMYCIN,
        route=Route.INTRAVENOUS,
    )


def _event(
    event_id: str,
    patient_id: str,
    session_id: str | None,
    term: str,
    grade: int,
    serious: bool | None = False,
) -> AdverseEvent:
    return AdverseEvent(
        event_id=event_id,
        patient_id=patient_id,
        session_id=session_id,
        onset_date=DAY + dt.timedelta(days=1),
        term=term,
        grade=grade,
        serious=serious,
    )


def _wilson(count: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """Wilson score interval written out by hand."""
    p = count / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


@pytest.fixture
def toxicity() -> Toxicity:
    """Three patients, four sessions (S4 without events), seven events, two of them
    not attributed to a session."""
    dataset = Dataset(
        centres=[Centre(centre_id="C01", name="Centre one")],
        patients=[
            Patient(
                patient_id=p,
                centre_id="C01",
                sex=Sex.M,
                birth_year=1945,
                primary_tumour=PrimaryTumour.MELANOMA,
            )
            for p in ("P1", "P2", "P3")
        ],
        sessions=[
            _session("S1", "P1"),
            _session("S2", "P1", 2),
            _session("S3", "P2"),
            _session("S4", "P3"),
        ],
        adverse_events=[
            _event("E1", "P1", "S1", "Pain", 1),
            _event("E2", "P1", "S1", "Pain", 2, serious=None),
            _event("E3", "P1", "S1", "Skin ulceration", 3, serious=True),
            _event("E4", "P1", "S2", "Pain", 1),
            _event("E5", "P2", "S3", "Wound infection", 4, serious=True),
            _event("E6", "P2", None, "Fatigue", 2),
            _event("E7", "P3", None, "Pain", 5, serious=True),
        ],
    )
    return Toxicity().fit(dataset)


def test_events_by_term_are_counted_exactly(toxicity: Toxicity) -> None:
    table = toxicity.by_term_
    # most frequent first, ties by term
    assert table["term"].tolist() == ["Pain", "Fatigue", "Skin ulceration", "Wound infection"]
    pain = table.iloc[0].to_dict()
    assert pain == {
        "term": "Pain",
        "events": 4,  # E1, E2, E4 and the unattributed E7
        "patients": 2,  # P1, P3
        "sessions": 2,  # S1, S2
        "grade_1": 2,
        "grade_2": 1,
        "grade_3": 0,
        "grade_4": 0,
        "grade_5": 1,
        "grade_3_plus": 1,
        "serious": 1,  # E7; E2's unknown seriousness is not counted
    }
    fatigue = table.set_index("term").loc["Fatigue"]
    assert (fatigue["events"], fatigue["patients"], fatigue["sessions"]) == (1, 1, 0)
    assert (fatigue["grade_2"], fatigue["grade_3_plus"], fatigue["serious"]) == (1, 0, 0)
    wound = table.set_index("term").loc["Wound infection"]
    assert (wound["grade_4"], wound["grade_3_plus"], wound["serious"]) == (1, 1, 1)


def test_sessions_with_any_and_severe_events(toxicity: Toxicity) -> None:
    row = toxicity.per_session_.iloc[0]
    assert row["sessions"] == 4
    assert row["sessions_any_ae"] == 3  # S1, S2, S3
    assert row["any_ae_share"] == pytest.approx(0.75)
    assert (row["any_ae_ci_low"], row["any_ae_ci_high"]) == pytest.approx(_wilson(3, 4))
    # grade >= 3: S1 (grade 3) and S3 (grade 4); the grade 5 E7 has no session
    assert row["sessions_grade_3_plus"] == 2
    assert row["grade_3_plus_share"] == pytest.approx(0.5)
    assert (row["grade_3_plus_ci_low"], row["grade_3_plus_ci_high"]) == pytest.approx(_wilson(2, 4))


def test_worst_grade_per_session(toxicity: Toxicity) -> None:
    row = toxicity.per_session_.iloc[0]
    worst = [int(row[f"worst_grade_{g}"]) for g in range(6)]
    # S4 none, S2 grade 1, S1 grade 3, S3 grade 4
    assert worst == [1, 1, 0, 1, 1, 0]


def test_unattributed_events_are_counted(toxicity: Toxicity) -> None:
    assert toxicity.event_counts_ == {
        "total": 7,
        "attributed": 5,
        "no_session": 2,
        "unknown_session": 0,
    }


def test_event_naming_an_unknown_session_counts_by_term_only() -> None:
    dataset = Dataset(
        sessions=[_session("S1", "P1")],
        adverse_events=[
            _event("E1", "P1", "S1", "Pain", 1),
            _event("E2", "P1", "S9", "Pain", 3),
        ],
    )
    toxicity = Toxicity().fit(dataset)
    assert toxicity.event_counts_["unknown_session"] == 1
    assert toxicity.by_term_.loc[0, "events"] == 2
    assert toxicity.by_term_.loc[0, "grade_3_plus"] == 1
    row = toxicity.per_session_.iloc[0]
    assert (row["sessions"], row["sessions_grade_3_plus"], row["worst_grade_1"]) == (1, 0, 1)


def test_summary_ends_with_an_all_terms_row(toxicity: Toxicity) -> None:
    summary = toxicity.summary
    total = summary.iloc[-1]
    assert total["term"] == ANY_TERM
    assert (total["events"], total["patients"], total["sessions"]) == (7, 3, 3)
    assert (total["grade_3_plus"], total["serious"]) == (3, 3)
    assert len(summary) == len(toxicity.by_term_) + 1


def test_to_dict_is_json(toxicity: Toxicity) -> None:
    result = toxicity.to_dict()
    assert json.loads(json.dumps(result, allow_nan=False)) == result
    assert set(result) == {
        "analysis",
        "software",
        "parameters",
        "event_counts",
        "by_term",
        "per_session",
    }
    assert result["by_term"][0]["term"] == "Pain"
    assert result["per_session"]["sessions_any_ae"] == 3
    assert isinstance(result["per_session"]["sessions"], int)


def test_str_reports_sessions_and_terms(toxicity: Toxicity) -> None:
    text = str(toxicity)
    assert "sessions: 4; with any AE: 3, 75.0\u00a0%" in text
    assert "2 not attributed to a session" in text
    assert "Wound infection" in text


def test_no_sessions_gives_missing_shares() -> None:
    toxicity = Toxicity().fit(Dataset())
    result = toxicity.to_dict()
    assert result["per_session"]["sessions"] == 0
    assert result["per_session"]["any_ae_share"] is None
    assert result["by_term"] == []
    json.dumps(result, allow_nan=False)


def test_level_is_checked() -> None:
    with pytest.raises(ValueError, match="0 < level < 1"):
        Toxicity(level=0).fit(Dataset())
    with pytest.raises(RuntimeError, match="fit"):
        Toxicity().to_dict()


def test_confidence_level_sets_the_wilson_z() -> None:
    dataset = Dataset(
        sessions=[_session(f"S{i}", "P1", i) for i in range(1, 5)],
        adverse_events=[_event(f"E{i}", "P1", f"S{i}", "Pain", 1) for i in range(1, 4)],
    )
    row = Toxicity(level=0.99).fit(dataset).per_session_.iloc[0]
    assert (row["any_ae_ci_low"], row["any_ae_ci_high"]) == pytest.approx(
        _wilson(3, 4, z=2.5758293035489004)
    )


# ---------------------------------------------------------------------- synthetic cohort
@pytest.fixture(scope="module")
def cohort() -> Dataset:
    return generate_cohort(200, centres=3, seed=7)


def test_synthetic_cohort_is_internally_consistent(cohort: Dataset) -> None:
    toxicity = Toxicity().fit(cohort)
    row = toxicity.per_session_.iloc[0]
    worst = [int(row[f"worst_grade_{g}"]) for g in range(6)]
    assert row["sessions"] == len(cohort.sessions)
    assert sum(worst) == len(cohort.sessions)
    assert row["sessions_any_ae"] == len(cohort.sessions) - worst[0]
    assert row["sessions_grade_3_plus"] == sum(worst[3:])
    assert row["any_ae_ci_low"] <= row["any_ae_share"] <= row["any_ae_ci_high"]

    table = toxicity.by_term_
    grades = table[[f"grade_{g}" for g in range(1, 6)]]
    assert (grades.sum(axis=1) == table["events"]).all()
    assert (table["grade_3_plus"] == table[["grade_3", "grade_4", "grade_5"]].sum(axis=1)).all()
    assert table["events"].sum() == len(cohort.adverse_events)
    assert (table["patients"] <= table["events"]).all()
    assert (table["serious"] <= table["events"]).all()
    assert table["events"].is_monotonic_decreasing


def test_synthetic_cohort_matches_a_direct_count(cohort: Dataset) -> None:
    worst: dict[str, int] = defaultdict(int)
    patients_by_term: dict[str, set[str]] = defaultdict(set)
    for event in cohort.adverse_events:
        assert event.session_id is not None
        worst[event.session_id] = max(worst[event.session_id], event.grade)
        patients_by_term[event.term].add(event.patient_id)
    toxicity = Toxicity().fit(cohort)
    row = toxicity.per_session_.iloc[0]
    assert row["sessions_any_ae"] == len(worst)
    assert row["sessions_grade_3_plus"] == sum(1 for g in worst.values() if g >= 3)
    got = dict(zip(toxicity.by_term_["term"], toxicity.by_term_["patients"], strict=True))
    assert got == {term: len(ids) for term, ids in patients_by_term.items()}
    json.dumps(toxicity.to_dict(), allow_nan=False)
