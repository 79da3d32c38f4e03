"""Recording a session, without Django: the session's pulse window and rule set, where an
application lies against the window, the pulse train of the rule set, ids of new records
and lifetime bleomycin (openect.protocol.recording)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from centre_rules import CENTRE
from openect.data.dataset import Dataset
from openect.data.enums import Route
from openect.data.models import Patient, Session, SystemicTherapy
from openect.errors import RuleError
from openect.protocol.inputs import WindowVariant
from openect.protocol.recording import (
    MIDNIGHT_HOURS,
    TO_VERIFY,
    check_window,
    checked_applications,
    clock_after,
    free_id,
    lesion_progress,
    minutes_after,
    next_session,
    planned_lesions,
    prior_bleomycin_iu,
    pulse_train,
    session_rules,
    session_window,
    shipped,
    window_choices,
)
from openect.protocol.rules import DEFAULT_RULE_SET, RuleSet, load_rule_set


@pytest.fixture
def centre(tmp_path: Path) -> RuleSet:
    """The centre's rule set, loaded from its file."""
    path = tmp_path / "centre-x.toml"
    path.write_text(CENTRE, encoding="utf-8")
    return load_rule_set(path)


def p1(dataset: Dataset) -> tuple[Patient, Session]:
    """P1 (born 1950) and their IV session of 2020-03-02 (esope-2006, bolus 09:05)."""
    patient = next(p for p in dataset.patients if p.patient_id == "P1")
    session = next(s for s in dataset.sessions if s.session_id == "P1-S1")
    return patient, session


# ----------------------------------------------------------------------------- rule sets
def test_a_session_gets_the_rule_set_it_names() -> None:
    rules, notes = session_rules("esope-2006")
    assert rules.id == "esope-2006"
    assert notes == []


def test_a_session_without_or_with_an_unknown_rule_set_gets_the_default_with_a_note() -> None:
    rules, notes = session_rules(None)
    assert rules.id == DEFAULT_RULE_SET
    assert notes == [f"the session names no rule set; the window of {DEFAULT_RULE_SET} is shown"]
    rules, notes = session_rules("ward-7")
    assert rules.id == DEFAULT_RULE_SET
    assert "'ward-7' is not available here (esope-2006, sop-2018)" in notes[0]
    assert "check it against your local protocol" in notes[0]


def test_a_centre_rule_set_is_found_among_those_offered(centre: RuleSet) -> None:
    rules, notes = session_rules("centre-x", shipped() | {centre.id: centre})
    assert rules is centre
    assert notes == []


# ----------------------------------------------------------------------------- pulse train
def test_the_pulse_train_is_the_rule_sets() -> None:
    rules = load_rule_set("esope-2006")
    train = pulse_train(rules)
    expected = rules.table("pulses.train")
    assert train.pulses == expected["pulses"] == 8
    assert train.pulse_duration_us == expected["pulse_duration_us"]
    assert train.frequency_hz == expected["frequency_hz"]
    assert train.rule_id == "pulses.train"


def test_a_centre_pulse_train_changes_the_defaults(centre: RuleSet) -> None:
    train = pulse_train(centre)
    assert (train.pulses, train.pulse_duration_us, train.frequency_hz) == (6, 120, 1)


def test_a_pulse_train_with_a_fraction_of_a_pulse_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "odd.toml"
    path.write_text(
        CENTRE.replace("pulses = 6", "pulses = 6.5").replace('"centre-x"', '"odd"'),
        encoding="utf-8",
    )
    with pytest.raises(RuleError, match=r"pulses.train.pulses=6.5"):
        pulse_train(load_rule_set(path))


# ----------------------------------------------------------------------------- window
def test_the_window_of_a_session_follows_its_rule_set_route_and_age(dataset: Dataset) -> None:
    patient, session = p1(dataset)
    window = session_window(session, patient)
    assert (window.start_min, window.end_min, window.rule_id) == (8, 28, "window.iv")
    assert window.rule_set == "esope-2006"
    assert window.verified is False  # window.iv is to_verify in esope-2006
    assert window.label == "8–28\u00a0min"
    assert window.opens_at(dt.time(9, 5)) == dt.time(9, 13)
    assert window.closes_at(dt.time(9, 5)) == dt.time(9, 33)
    pk = session_window(session, patient, WindowVariant.PK)  # 70 years old in 2020: over 65
    assert (pk.end_min, pk.rule_id) == (40, "window.iv_pk_over_65")
    assert pk.verified is True


def test_an_intratumoural_session_runs_from_each_injection(dataset: Dataset) -> None:
    patient = next(p for p in dataset.patients if p.patient_id == "P2")
    session = next(s for s in dataset.sessions if s.session_id == "P2-S1")
    window = session_window(session, patient)
    assert window.rule_id == "window.it"
    assert window.rule_set == DEFAULT_RULE_SET  # P2-S1 names no rule set
    assert "intratumoural: the window runs from each injection" in window.notes
    assert any("names no rule set" in note for note in window.notes)


def test_a_centre_window_is_the_centres(dataset: Dataset, centre: RuleSet) -> None:
    patient, session = p1(dataset)
    session = session.model_copy(update={"rule_set": "centre-x"})
    window = session_window(session, patient, rule_sets={"centre-x": centre})
    assert (window.start_min, window.end_min, window.rule_set) == (5, 20, "centre-x")
    assert window.verified is True


def test_window_choices_say_the_windows_of_the_rules(centre: RuleSet) -> None:
    esope = dict(window_choices(load_rule_set("esope-2006")))
    assert esope[WindowVariant.STANDARD] == "standard: IV 8–28\u00a0min, IT 0–10\u00a0min"
    assert esope[WindowVariant.PK] == (
        "pharmacokinetic by age (IV): 8–40\u00a0min over 65 years, 5–15\u00a0min under 65"
    )
    assert dict(window_choices(centre))[WindowVariant.STANDARD].startswith(
        "standard: IV 5–20\u00a0min"
    )
    for_patient = dict(window_choices(centre, Route.INTRAVENOUS, 71))
    assert for_patient[WindowVariant.STANDARD] == "standard: 5–20\u00a0min (rule window.iv)"
    assert for_patient[WindowVariant.PK] == (
        "pharmacokinetic by age (71 years): 8–40\u00a0min (rule window.iv_pk_over_65)"
    )


def test_minutes_after_the_bolus_cross_midnight_only_beyond_half_a_day() -> None:
    assert minutes_after(dt.time(10), dt.time(10, 8, 30)) == 8.5
    assert minutes_after(dt.time(10), dt.time(9, 59)) == -1  # before the bolus end
    assert minutes_after(dt.time(23, 55), dt.time(0, 10)) == 15  # across midnight
    # exactly MIDNIGHT_HOURS before: still the same day
    assert minutes_after(dt.time(13), dt.time(1)) == -MIDNIGHT_HOURS * 60
    assert clock_after(dt.time(23, 50), 20) == dt.time(0, 10)


def test_check_window_states_and_messages(dataset: Dataset) -> None:
    patient, session = p1(dataset)
    window = session_window(session, patient)
    inside = check_window(window, dt.time(10), dt.time(10, 8))
    assert (inside.state, inside.minutes, inside.outside) == ("inside", 8, False)
    assert check_window(window, dt.time(10), dt.time(10, 28)).state == "inside"
    assert check_window(window, dt.time(10), dt.time(10, 7, 59)).state == "before"
    after = check_window(window, dt.time(10), dt.time(10, 40))
    assert (after.state, after.outside) == ("after", True)
    assert after.message == (
        "10:40 is 40.0 min after the end of the bolus (10:00): OUTSIDE the pulse window "
        f"8–28\u00a0min (rule window.iv, {TO_VERIFY})"
    )
    assert after.short == "40.0 min: after the window 8–28\u00a0min"
    unknown = check_window(window, None, dt.time(10))
    assert (unknown.state, unknown.minutes, unknown.outside) == ("unknown", None, False)
    assert unknown.message == "not checked: no bolus end time"
    assert check_window(window, dt.time(10), None).message == "not checked: no application time"


def test_applications_in_time_order_each_checked(dataset: Dataset) -> None:
    patient, session = p1(dataset)
    window = session_window(session, patient)
    base = next(a for a in dataset.applications if a.session_id == "P1-S1")
    late = base.model_copy(update={"application_id": "late", "time": dt.time(9, 50)})
    untimed = base.model_copy(update={"application_id": "untimed", "time": None})
    early = base.model_copy(update={"application_id": "early", "time": dt.time(9, 15)})
    other = base.model_copy(update={"application_id": "other", "session_id": "P1-S2"})
    rows = checked_applications("P1-S1", [late, untimed, early, other], window, dt.time(9, 5))
    assert [r.application.application_id for r in rows] == ["early", "late", "untimed"]
    assert [r.check.state for r in rows] == ["inside", "after", "unknown"]


def test_lesion_progress_counts_recorded_and_aborted_applications(dataset: Dataset) -> None:
    base = next(a for a in dataset.applications if a.session_id == "P1-S1")
    lesions = [lesion for lesion in dataset.lesions if lesion.patient_id == "P1"]
    first = lesions[0].lesion_id
    done = [
        base.model_copy(update={"application_id": f"A{i}", "lesion_id": first, "complete": c})
        for i, c in enumerate([True, False, None])
    ]
    elsewhere = base.model_copy(update={"application_id": "B", "session_id": "P1-S2"})
    progress = lesion_progress("P1-S1", lesions, [*done, elsewhere], {})
    assert [p.lesion for p in progress] == lesions
    assert (progress[0].recorded, progress[0].aborted, progress[0].planned) == (3, 1, None)
    assert all(p.recorded == 0 for p in progress[1:])


# ----------------------------------------------------------------------------- the plan
def test_planned_lesions_of_a_recorded_session(dataset: Dataset, centre: RuleSet) -> None:
    patient, session = p1(dataset)
    lesions = [x for x in dataset.lesions if x.patient_id == "P1"]
    plans = planned_lesions(session, patient, lesions, load_rule_set("esope-2006"))
    assert set(plans) == {"P1-L1", "P1-L2"}
    assert plans["P1-L1"].pulses == 8
    assert plans["P1-L2"].electrode == "hexagonal"
    assert plans["P1-L2"].pulses == 8 * 12  # one train per needle pair
    assert planned_lesions(session, patient, lesions, centre)["P1-L1"].pulses == 6
    no_height = session.model_copy(update={"height_cm": None})
    assert planned_lesions(no_height, patient, lesions, centre) == {}
    assert planned_lesions(session, patient, [], centre) == {}


# ----------------------------------------------------------------------------- records
def test_prior_bleomycin_sums_the_bleomycin_sessions(dataset: Dataset) -> None:
    p1_sessions = [s for s in dataset.sessions if s.patient_id == "P1"]
    assert prior_bleomycin_iu(p1_sessions) == 25_500
    assert prior_bleomycin_iu(p1_sessions, before=dt.date(2020, 3, 2)) == 0
    assert prior_bleomycin_iu(dataset.sessions) == 25_500 + 250
    cisplatin = p1_sessions[0].model_copy(
        update={"drug": "cisplatin", "dose": 2.0, "dose_per_m2": None}
    )
    assert prior_bleomycin_iu([cisplatin]) == 0


def test_lifetime_bleomycin_adds_other_therapies(dataset: Dataset) -> None:
    """ABVD years before (180,000 IU) and ECT at another centre count with the
    registry's sessions; a therapy that starts after the date does not."""
    p1_sessions = [s for s in dataset.sessions if s.patient_id == "P1"]
    abvd = SystemicTherapy(
        therapy_id="P1-T7", patient_id="P1", agent_class="chemotherapy", agent="ABVD",
        start_date=dt.date(2005, 1, 10), end_date=dt.date(2005, 6, 1), bleomycin_iu=180_000,
    )  # fmt: skip
    elsewhere = abvd.model_copy(
        update={"therapy_id": "P1-T8", "agent_class": "ect_elsewhere", "agent": None,
                "start_date": dt.date(2019, 5, 2), "end_date": None, "bleomycin_iu": 27_000}
    )  # fmt: skip
    later = abvd.model_copy(update={"therapy_id": "P1-T9", "start_date": dt.date(2030, 1, 1)})
    therapies = [abvd, elsewhere, later]
    assert prior_bleomycin_iu(p1_sessions, dt.date(2021, 1, 1), therapies) == (
        25_500 + 180_000 + 27_000
    )
    assert prior_bleomycin_iu([], None, therapies) == 180_000 + 27_000 + 180_000


def test_ids_of_new_sessions_and_applications(dataset: Dataset) -> None:
    p1_sessions = [s for s in dataset.sessions if s.patient_id == "P1"]
    assert next_session("P1", p1_sessions) == ("P1-S2", 2)
    assert next_session("P9", []) == ("P9-S1", 1)
    taken = p1_sessions[0].model_copy(update={"session_number": 1, "session_id": "P1-S2"})
    assert next_session("P1", [taken]) == ("P1-S2-2", 2)
    assert free_id("X", ["X", "X-2"]) == "X-3"
    assert free_id("Y", ["X"]) == "Y"


def test_a_request_from_a_dataset_carries_lung_function_and_other_bleomycin(
    dataset: Dataset,
) -> None:
    from openect.protocol.inputs import request_from_dataset

    dataset.patients = [
        p.model_copy(update={"dlco_percent_predicted": 78.0, "dlco_date": dt.date(2020, 2, 1)})
        if p.patient_id == "P1"
        else p
        for p in dataset.patients
    ]
    dataset.systemic_therapies.append(
        SystemicTherapy(
            therapy_id="P1-T7", patient_id="P1", agent_class="chemotherapy", agent="ABVD",
            start_date=dt.date(2005, 1, 10), bleomycin_iu=180_000,
        )
    )  # fmt: skip
    request = request_from_dataset(dataset, "P1")
    assert request.patient.dlco_percent_predicted == 78.0
    assert request.patient.dlco_date == dt.date(2020, 2, 1)
    assert request.patient.prior_bleomycin_iu == 180_000  # before the first session
