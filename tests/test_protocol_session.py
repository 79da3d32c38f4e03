"""Session plan: electrodes, voltages, applications, route, anaesthesia, eligibility, time
budget, the provenance of every number, and the inputs the planner refuses."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from openect.data.enums import Anaesthesia, Route, Symptom
from openect.errors import RuleError
from openect.protocol.electrodes import Electrode, choose_electrode, plan_electrode
from openect.protocol.eligibility import (
    EligibilityStatus,
    Severity,
    patient_findings,
    status_of,
)
from openect.protocol.inputs import (
    Contraindications,
    LesionToTreat,
    PatientToPlan,
    PlanOptions,
    SessionRequest,
)
from openect.protocol.route import suggest_anaesthesia, suggest_route
from openect.protocol.rules import load_rule_set
from openect.protocol.session_plan import SessionPlan, dose_plan, plan_session
from openect.protocol.time_budget import priority, time_budget

ESOPE = load_rule_set("esope-2006")
SOP = load_rule_set("sop-2018")
HARD_STOPS = ESOPE.words("eligibility.hard_stops")
CAUTIONS = ESOPE.words("eligibility.cautions")


def lesion(lesion_id: str = "L1", **fields: Any) -> LesionToTreat:
    """A cutaneous 10 x 8 mm lesion, 5 mm deep, changed by ``fields``."""
    values: dict[str, Any] = {
        "lesion_id": lesion_id,
        "body_site": "trunk_anterior",
        "layer": "cutaneous",
        "longest_diameter_mm": 10,
        "perpendicular_diameter_mm": 8,
        "thickness_mm": 5,
    }
    values.update(fields)
    return LesionToTreat.model_validate(values)


def lesion_dict(lesion_id: str = "L1", **fields: Any) -> dict[str, Any]:
    return lesion(lesion_id, **fields).model_dump(mode="json", exclude_none=True)


PATIENT = {"age_years": 50, "sex": "M", "height_cm": 180, "weight_kg": 80}


def request(
    lesions: list[dict[str, Any]] | None = None,
    patient: dict[str, Any] | None = None,
    **options: Any,
) -> SessionRequest:
    return SessionRequest.model_validate(
        {
            "patient": {**PATIENT, **(patient or {})},
            "lesions": lesions if lesions is not None else [lesion_dict()],
            "options": options,
        }
    )


def plan(*args: Any, **kwargs: Any) -> SessionPlan:
    return plan_session(request(*args, **kwargs))


# ---- electrodes, voltages, pulses ------------------------------------------------------


def test_thin_cutaneous_nodule_gets_plates_at_780_v() -> None:
    # plate: 1,300 V/cm * 0.6 cm = 780 V; 8 pulses x 100 us at 5 kHz; no needle
    # applications: pi/4 * (10 + 6) * (8 + 6) / 100 = 1.7593 cm2 / 0.9721 cm2 (the
    # coverage planner's area per plate application at 2 mm) = 1.81 -> 2
    e = plan_electrode(ESOPE, lesion(thickness_mm=2), 3, "coverage.margin")
    assert e.electrode is Electrode.PLATE
    assert e.voltage_v == 780
    assert (e.pulses, e.pulse_duration_us, e.frequency_hz) == (8, 100, 5000)
    assert e.needle_length_mm is None
    assert e.applications == 2
    assert e.footprint_cm2 == 0.9721
    assert e.target_area_cm2 == 1.759
    assert e.notes == []


def test_small_deeper_nodule_gets_linear_needles_at_400_v() -> None:
    # linear: 1,000 V/cm * 0.4 cm = 400 V; needle >= 5 + 2 = 7 mm -> 10 mm
    # applications: 1.7593 cm2 / 0.25 cm2 (coverage planner, 5 mm deep) = 7.04 -> 8
    e = plan_electrode(ESOPE, lesion(thickness_mm=5), 3, "coverage.margin")
    assert e.electrode is Electrode.LINEAR
    assert e.voltage_v == 400
    assert e.pulses == 8
    assert e.needle_length_mm == 10
    assert e.applications == 8


def test_large_deep_nodule_gets_the_hexagonal_electrode_at_730_v_and_96_pulses() -> None:
    # hexagonal: 1,000 V/cm * 0.73 cm = 730 V; 12 pairs * 8 pulses = 96 pulses
    # needle >= 15 + 2 = 17 mm -> 20 mm
    # applications: pi/4 * (35 + 6) * (30 + 6) / 100 = 11.592 cm2 / 1.3461 cm2 (coverage
    # planner, 15 mm deep) = 8.61 -> 9
    big = lesion(
        layer="subcutaneous", longest_diameter_mm=35, perpendicular_diameter_mm=30, thickness_mm=15
    )
    e = plan_electrode(ESOPE, big, 3, "coverage.margin")
    assert e.electrode is Electrode.HEXAGONAL
    assert e.voltage_v == 730
    assert e.pulses == 96
    assert e.needle_length_mm == 20
    assert e.applications == 9


def test_mucosal_lesion_gets_the_finger_electrode() -> None:
    # finger: 1,000 V/cm * 0.4 cm = 400 V; one needle length, 10 mm
    # applications: 1.7593 cm2 / 0.3 cm2 = 5.86 -> 6
    e = plan_electrode(ESOPE, lesion(thickness_mm=1, mucosal=True), 3, "coverage.margin")
    assert e.electrode is Electrode.FINGER
    assert e.voltage_v == 400
    assert e.needle_length_mm == 10
    assert e.applications == 6


@pytest.mark.parametrize(
    ("fields", "electrode"),
    [
        ({"thickness_mm": 3.0}, Electrode.PLATE),  # at the plate's 3 mm depth limit
        ({"thickness_mm": 3.1}, Electrode.LINEAR),  # just deeper
        ({"thickness_mm": 2.0, "layer": "subcutaneous"}, Electrode.LINEAR),  # plates: skin only
        ({"thickness_mm": 2.0, "longest_diameter_mm": 60}, Electrode.PLATE),  # thin, even wide
        ({"longest_diameter_mm": 29.9, "perpendicular_diameter_mm": 20}, Electrode.LINEAR),
        ({"longest_diameter_mm": 30.0, "perpendicular_diameter_mm": 20}, Electrode.HEXAGONAL),
        ({"thickness_mm": 10.0}, Electrode.LINEAR),  # at deep_thickness_mm
        ({"thickness_mm": 10.1}, Electrode.HEXAGONAL),  # deeper
        ({"thickness_mm": 1.0, "mucosal": True}, Electrode.FINGER),
        ({"thickness_mm": 40.0, "mucosal": True}, Electrode.FINGER),
    ],
)
def test_electrode_choice_thresholds(fields: dict[str, Any], electrode: Electrode) -> None:
    assert choose_electrode(ESOPE, lesion(**fields))[0] is electrode


def test_unknown_thickness_assumes_needles_and_asks_for_the_depth() -> None:
    chosen, notes = choose_electrode(ESOPE, lesion(thickness_mm=None))
    assert chosen is Electrode.LINEAR
    assert notes == ["thickness unknown: needle electrode assumed; measure the depth"]
    e = plan_electrode(ESOPE, lesion(thickness_mm=None), 3, "coverage.margin")
    assert e.needle_length_mm == 30  # the longest needle
    wide = choose_electrode(ESOPE, lesion(thickness_mm=None, longest_diameter_mm=40))
    assert wide[0] is Electrode.HEXAGONAL


@pytest.mark.parametrize(
    ("thickness", "longest", "needle", "deep_margin_covered"),
    [
        # smallest needle >= thickness + 2 mm, needles 10 / 20 / 30 mm
        (8.0, 10, 10, True),  # 10 >= 10
        (8.1, 10, 20, True),  # 10.1 > 10
        (10.0, 10, 20, True),  # linear, 12 mm -> 20
        (18.0, 35, 20, True),  # hexagonal, 20 >= 20
        (18.1, 35, 30, True),
        (28.0, 35, 30, True),  # 30 >= 30
        (28.1, 35, 30, False),  # too deep: longest needle, and a note
        (60.0, 35, 30, False),
    ],
)
def test_needle_length_reaches_2_mm_below_the_tumour(
    thickness: float, longest: float, needle: float, deep_margin_covered: bool
) -> None:
    e = plan_electrode(
        ESOPE,
        lesion(thickness_mm=thickness, longest_diameter_mm=longest, perpendicular_diameter_mm=8),
        3,
        "coverage.margin",
    )
    assert e.needle_length_mm == needle
    assert "electrode.needle_depth_margin" in e.rule_ids
    if deep_margin_covered:
        assert e.notes == []
    else:
        assert len(e.notes) == 1
        assert "deep margin not covered" in e.notes[0]
        assert "30 mm" in e.notes[0]


def test_too_deep_lesion_is_warned_about_in_the_session_plan() -> None:
    deep = lesion_dict(longest_diameter_mm=35, perpendicular_diameter_mm=30, thickness_mm=29)
    result = plan([deep])
    assert result.lesions[0].needle_length_mm == 30
    assert any(w.startswith("L1: deepest part 29 mm") for w in result.warnings)


#: Area per application of linear needles over 5 mm deep lesions (the coverage planner's
#: table, docs/protocol.md); the rule's footprint_cm2 (0.4) only without a thickness.
LINEAR_5MM_CM2 = 0.25


def test_the_table_area_the_estimates_below_use() -> None:
    from openect.protocol.footprints import table_footprint

    area = table_footprint("linear", 400.0, 5.0)
    assert area is not None
    assert area.area_cm2 == LINEAR_5MM_CM2


@pytest.mark.parametrize(
    ("longest", "perpendicular", "margin", "thickness", "applications"),
    [
        # ceil(pi/4 * (a + 2m) * (b + 2m) / 100 / 0.25 cm2), linear needles, 5 mm deep
        (10, 8, 3, 5, 8),  # pi/4 * 16 * 14 = 175.93 mm2 = 1.7593 cm2 / 0.25 = 7.04 -> 8
        (10, None, 3, 5, 9),  # round lesion: pi/4 * 16 * 16 = 2.0106 cm2 / 0.25 = 8.04 -> 9
        (10, 8, 0, 5, 3),  # pi/4 * 10 * 8 = 0.6283 cm2 / 0.25 = 2.51 -> 3
        (2, 2, 0, 5, 1),  # pi/4 * 2 * 2 = 0.0314 cm2 / 0.25 = 0.13 -> at least 1
        (20, 15, 5, 5, 24),  # pi/4 * 30 * 25 = 5.8905 cm2 / 0.25 = 23.56 -> 24
        # thickness unknown: the rule's 0.4 cm2
        (10, 8, 3, None, 5),  # 1.7593 / 0.4 = 4.40 -> 5
        (20, 15, 5, None, 15),  # 5.8905 / 0.4 = 14.73 -> 15
    ],
)
def test_applications_estimate(
    longest: float,
    perpendicular: float | None,
    margin: float,
    thickness: float | None,
    applications: int,
) -> None:
    e = plan_electrode(
        ESOPE,
        lesion(
            longest_diameter_mm=longest,
            perpendicular_diameter_mm=perpendicular,
            thickness_mm=thickness,
        ),
        margin,
        None,
    )
    assert e.electrode is Electrode.LINEAR
    assert e.applications == applications
    assert e.footprint_cm2 == (LINEAR_5MM_CM2 if thickness else 0.4)


def test_applications_of_a_10_by_8_mm_lesion_with_3_mm_margin_and_linear_needles() -> None:
    # ceil(pi/4 * (10 + 2*3) * (8 + 2*3) / 100 / 0.25) = ceil(1.7593 / 0.25) = ceil(7.04) = 8
    result = plan([lesion_dict()])
    assert result.lesions[0].electrode == "linear"
    assert result.lesions[0].applications == 8
    assert result.lesions[0].target_area_cm2 == 1.759
    assert result.lesions[0].footprint_cm2 == LINEAR_5MM_CM2


def test_margin_option_changes_the_applications() -> None:
    # margin 0: ceil(pi/4 * 10 * 8 / 100 / 0.25) = ceil(0.6283 / 0.25) = ceil(2.51) = 3
    assert plan([lesion_dict()], margin_mm=0).lesions[0].applications == 3


def test_voltage_above_the_generator_maximum_is_noted(tmp_path: Path) -> None:
    # plates of 8 mm: 1,300 V/cm * 0.8 cm = 1,040 V > 1,000 V
    path = tmp_path / "centre.toml"
    path.write_text(
        """
[rule_set]
id = "wide-plates"
base = "esope-2006"
title = "8 mm plates"

[rules."electrode.plate"]
value = { field_v_per_cm = 1300, distance_mm = 8, footprint_cm2 = 0.5, max_thickness_mm = 3 }
status = "verified"
source = "Our plates"
""",
        encoding="utf-8",
    )
    e = plan_electrode(load_rule_set(path), lesion(thickness_mm=2), 3, None)
    assert e.voltage_v == 1040
    # within 1,000 V: plates up to 1,000 / 1,300 V/cm = 0.769 cm = 7.7 mm, or the needle
    # electrodes at 1,000 V/cm: linear 4 mm 400 V, hexagonal 7.3 mm 730 V, finger 400 V
    assert e.notes == [
        "1040 V exceeds the generator's 1000 V; within it: plate models with a distance up "
        "to 7.7 mm at 1300 V/cm, or linear (400 V), hexagonal (730 V), finger (400 V)"
    ]


# ---- route and anaesthesia -------------------------------------------------------------


def lesions_of(count: int, largest: float) -> list[LesionToTreat]:
    """``count`` lesions of 5 mm, the first one ``largest`` mm."""
    return [
        lesion(f"L{i}", longest_diameter_mm=largest if i == 0 else 5, perpendicular_diameter_mm=5)
        for i in range(count)
    ]


@pytest.mark.parametrize(
    ("count", "largest", "route"),
    [
        (1, 5, Route.INTRATUMOURAL),
        (3, 20, Route.INTRATUMOURAL),  # at both limits: <= 3 lesions of <= 20 mm
        (4, 20, Route.INTRAVENOUS),  # one lesion too many
        (3, 20.1, Route.INTRAVENOUS),  # one lesion too large
    ],
)
def test_route_suggestion(count: int, largest: float, route: Route) -> None:
    suggested, reason = suggest_route(ESOPE, lesions_of(count, largest))
    assert suggested is route
    assert f"{count} lesion(s), largest {largest:g} mm" in reason


@pytest.mark.parametrize(
    ("count", "largest", "anaesthesia"),
    [
        (3, 20, Anaesthesia.LOCAL),  # <= 3 lesions, <= 20 mm
        (4, 20, Anaesthesia.LOCAL_SEDATION),
        (3, 20.1, Anaesthesia.LOCAL_SEDATION),
        (7, 30, Anaesthesia.LOCAL_SEDATION),  # <= 7 lesions, <= 30 mm
        (8, 30, Anaesthesia.GENERAL),
        (7, 30.1, Anaesthesia.GENERAL),
        (1, 45, Anaesthesia.GENERAL),
    ],
)
def test_anaesthesia_suggestion(count: int, largest: float, anaesthesia: Anaesthesia) -> None:
    assert suggest_anaesthesia(ESOPE, lesions_of(count, largest))[0] is anaesthesia


@pytest.mark.parametrize(
    ("site", "anaesthesia"),
    [
        ("trunk_anterior", Anaesthesia.LOCAL),
        ("head_neck", Anaesthesia.LOCAL_SEDATION),
        ("genital_perineal", Anaesthesia.LOCAL_SEDATION),
    ],
)
def test_a_lesion_at_a_sensitive_site_gets_at_least_sedation(
    site: str, anaesthesia: Anaesthesia
) -> None:
    # one 10 mm lesion: local by number and size; the site can raise it to sedation
    choice, reason = suggest_anaesthesia(ESOPE, [lesion(body_site=site)])
    assert choice is anaesthesia
    assert ("anaesthesia.sites" in reason) is (anaesthesia is Anaesthesia.LOCAL_SEDATION)
    # the site never lowers a choice made by number and size
    many = [lesion(f"L{i}", body_site=site) for i in range(8)]
    assert suggest_anaesthesia(ESOPE, many)[0] is Anaesthesia.GENERAL


def test_an_unknown_body_site_in_the_anaesthesia_rule_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "centre.toml"
    path.write_text(
        '[rule_set]\nid = "c"\nbase = "esope-2006"\ntitle = "c"\n\n'
        '[rules."anaesthesia.sites"]\nvalue = ["face"]\nstatus = "verified"\nsource = "us"\n',
        encoding="utf-8",
    )
    with pytest.raises(RuleError, match=r"unknown body site\(s\) face"):
        suggest_anaesthesia(load_rule_set(path), [lesion()])


def test_plan_follows_the_suggested_route_unless_one_is_chosen() -> None:
    few_small = [lesion_dict("L1"), lesion_dict("L2")]
    suggested = plan(few_small)
    assert suggested.route is Route.INTRATUMOURAL
    assert suggested.provenance["route"] == ["route.choice"]
    assert suggested.anaesthesia is Anaesthesia.LOCAL
    chosen = plan(few_small, route="intravenous")
    assert chosen.route is Route.INTRAVENOUS
    assert chosen.provenance["route"] == ["option:route"]
    assert chosen.route_reason.startswith("chosen (suggested: intratumoural")


def test_intratumoural_session_doses_each_lesion_by_volume() -> None:
    # L1 10 x 8: 0.3351 cm3 * 1,000 = 335 IU; L2 12 x 12: 0.9048 cm3 * 500 = 452 IU, but
    # never below 1,000 IU/cm3 x 0.5 cm3 = 500 IU (the total just under the step)
    larger = lesion_dict("L2", longest_diameter_mm=12, perpendicular_diameter_mm=12)
    result = plan([lesion_dict("L1"), larger])
    assert result.route is Route.INTRATUMOURAL
    assert [lp.dose_iu for lp in result.lesions] == [335, 500]
    assert [lp.volume_cm3 for lp in result.lesions] == [0.335, 0.905]
    assert result.dose_iu == 835
    # 9 x 7 and 11 x 9 mm for L1: 231 and 467 IU
    assert (result.lesions[0].dose_if_1mm_smaller, result.lesions[0].dose_if_1mm_larger) == (
        231,
        467,
    )
    assert result.pulse_window_min == (0, 10)
    assert result.lesions[0].rule_ids[-1] == "dose.it_bleomycin"


def test_general_anaesthesia_with_bleomycin_comes_with_the_oxygen_advice_first() -> None:
    # 8 lesions: more than the 7 of local anaesthesia with sedation -> general
    many = [lesion_dict(f"L{i}") for i in range(8)]
    result = plan(many)
    assert result.anaesthesia is Anaesthesia.GENERAL
    assert result.warnings[0].startswith(
        "general anaesthesia with bleomycin: keep the inspired oxygen fraction below 30 %"
    )
    assert "anaesthesia.oxygen_after_bleomycin" in result.provenance["anaesthesia"]
    cited = {r["id"]: r for r in result.rules}
    assert "Frerk" in cited["anaesthesia.oxygen_after_bleomycin"]["source"]
    # local anaesthesia, or cisplatin: no such advice
    assert not any("inspired oxygen" in w for w in plan([lesion_dict("L1")]).warnings)
    cisplatin = plan(many, drug="cisplatin")
    assert not any("inspired oxygen" in w for w in cisplatin.warnings)


@pytest.mark.parametrize(("days", "caution"), [(20, True), (27, True), (28, False), (60, False)])
def test_a_lesion_retreated_too_soon_gets_a_caution(days: int, caution: bool) -> None:
    last = dt.date(2026, 1, 1)
    on = last + dt.timedelta(days=days)
    result = plan(
        [lesion_dict("L1", last_treated_date=last.isoformat(), courses_before=2)],
        patient={"session_date": on.isoformat()},
    )
    (lp,) = result.lesions
    assert (lp.course_number, lp.days_since_last_session) == (3, days)
    too_soon = (
        f"re-treated {days} days after its last session (< 28): the response to that "
        "session cannot be judged yet (retreatment.min_interval_days)"
    )
    assert (too_soon in lp.notes) is caution
    assert (f"L1: {too_soon}" in result.warnings) is caution
    first = plan([lesion_dict("L1")]).lesions[0]
    assert (first.course_number, first.days_since_last_session) == (1, None)


def test_treatment_history_counts_the_sessions_that_treated_each_lesion() -> None:
    from openect.data.models import Application, Session
    from openect.protocol.recording import treatment_history

    def session(sid: str, day: int) -> Session:
        return Session(
            session_id=sid, patient_id="P1", session_date=dt.date(2026, 1, day),
            session_number=day, drug="bleomycin", route="intravenous",
        )  # fmt: skip

    def application(aid: str, sid: str, lid: str) -> Application:
        return Application.model_validate(
            {"application_id": aid, "session_id": sid, "lesion_id": lid, "electrode": "plate"}
        )

    sessions = [session("S1", 1), session("S2", 10), session("S3", 20)]
    applications = [
        application("A1", "S1", "L1"), application("A2", "S1", "L1"),
        application("A3", "S2", "L1"), application("A4", "S2", "L2"),
        application("A5", "S3", "L1"),  # on the planned day: not before it
    ]  # fmt: skip
    assert treatment_history(sessions, applications, dt.date(2026, 1, 20)) == {
        "L1": (dt.date(2026, 1, 10), 2),
        "L2": (dt.date(2026, 1, 10), 1),
    }


def test_cisplatin_by_iv_route_is_refused_in_a_session() -> None:
    with pytest.raises(ValueError, match="cisplatin"):
        plan([lesion_dict()], drug="cisplatin", route="intravenous")


def test_cisplatin_without_a_chosen_route_is_planned_intratumourally() -> None:
    # cisplatin is given intratumourally only, so the route needs no choosing
    result = plan([lesion_dict(f"L{i}") for i in range(4)], drug="cisplatin")
    assert result.route is Route.INTRATUMOURAL
    assert result.dose_mg == pytest.approx(4 * 0.67)


def test_intratumoural_cisplatin_session() -> None:
    # 10 x 8 mm: 0.3351 cm3 * 2 mg/cm3 = 0.67 mg
    result = plan([lesion_dict()], drug="cisplatin")
    assert result.route is Route.INTRATUMOURAL
    assert result.dose_mg == 0.67
    assert result.lesions[0].dose_mg == 0.67
    assert result.lesions[0].dose_iu is None


# ---- eligibility -----------------------------------------------------------------------


def patient_with(**fields: Any) -> PatientToPlan:
    return PatientToPlan.model_validate({**PATIENT, **fields})


@pytest.mark.parametrize("flag", HARD_STOPS)
def test_each_hard_stop_contraindicates_ect(flag: str) -> None:
    findings = patient_findings(ESOPE, patient_with(contraindications={flag: True}))
    assert [(f.rule_id, f.severity) for f in findings] == [
        ("eligibility.hard_stops", Severity.CONTRAINDICATION)
    ]
    expected = flag.replace("_", " ")
    if flag == "pregnancy":  # a stop a specialist's recorded decision may lift
        expected += ": no treatment without a specialist's recorded decision (specialist_override)"
    assert findings[0].message == expected
    assert findings[0].source == ESOPE.rule("eligibility.hard_stops").source
    assert status_of(findings) is EligibilityStatus.CONTRAINDICATED


@pytest.mark.parametrize("flag", CAUTIONS)
def test_each_caution_is_a_caution(flag: str) -> None:
    findings = patient_findings(ESOPE, patient_with(contraindications={flag: True}))
    assert [(f.rule_id, f.severity) for f in findings] == [
        ("eligibility.cautions", Severity.CAUTION)
    ]
    assert status_of(findings) is EligibilityStatus.CAUTION


def test_hard_stops_and_cautions_cover_every_flag_of_the_input() -> None:
    assert sorted(HARD_STOPS + CAUTIONS) == sorted(Contraindications.model_fields)
    assert HARD_STOPS == [
        "bleomycin_hypersensitivity",
        "bleomycin_lung_toxicity",
        "acute_lung_infection",
        "severely_reduced_lung_function",
        "ataxia_telangiectasia",
        "breast_feeding",
        "pregnancy",
    ]
    assert CAUTIONS == ["pacemaker", "arrhythmia", "anticoagulation"]


def test_pregnancy_stops_ect_unless_a_specialist_decides_otherwise() -> None:
    pregnant = patient_with(contraindications={"pregnancy": True})
    assert status_of(patient_findings(ESOPE, pregnant)) is EligibilityStatus.CONTRAINDICATED
    decision = "Dr B. Kos (oncology), tumour board 2026-12-02: bleeding lesion, 2nd trimester"
    (finding,) = patient_findings(ESOPE, pregnant, decision)
    assert finding.severity is Severity.CAUTION
    assert finding.message == f"pregnancy; treated by a specialist's decision: {decision}"
    # a decision never lifts an absolute contraindication
    allergic = patient_with(contraindications={"bleomycin_hypersensitivity": True})
    lifted = patient_findings(ESOPE, allergic, decision)
    assert status_of(lifted) is EligibilityStatus.CONTRAINDICATED
    assert "pregnancy" in ESOPE.rule("eligibility.hard_stops").source.lower()
    assert "Category D" in ESOPE.rule("eligibility.hard_stops").source


def test_a_patient_without_findings_is_eligible() -> None:
    findings = patient_findings(ESOPE, patient_with(creatinine_clearance_ml_min=90))
    assert findings == []
    assert status_of(findings) is EligibilityStatus.ELIGIBLE


@pytest.mark.parametrize(("crcl", "caution"), [(49.9, True), (50.0, False), (50.1, False)])
def test_renal_caution_below_50_ml_min(crcl: float, caution: bool) -> None:
    findings = patient_findings(ESOPE, patient_with(creatinine_clearance_ml_min=crcl))
    assert [f.rule_id for f in findings] == (["eligibility.renal_caution"] if caution else [])


@pytest.mark.parametrize(("age", "caution"), [(69, False), (70, False), (71, True)])
def test_age_caution_over_70(age: int, caution: bool) -> None:
    findings = patient_findings(ESOPE, patient_with(age_years=age))
    assert [f.rule_id for f in findings] == (["eligibility.age_caution"] if caution else [])


def test_contraindication_outweighs_cautions() -> None:
    p = patient_with(age_years=80, contraindications={"breast_feeding": True, "pacemaker": True})
    findings = patient_findings(ESOPE, p)
    assert {f.rule_id for f in findings} == {
        "eligibility.hard_stops",
        "eligibility.cautions",
        "eligibility.age_caution",
    }
    assert status_of(findings) is EligibilityStatus.CONTRAINDICATED


def test_a_contraindicated_session_has_no_dose_but_still_an_electrode_plan() -> None:
    result = plan(
        [lesion_dict("L1"), lesion_dict("L2")],
        patient={"contraindications": {"bleomycin_lung_toxicity": True}},
    )
    assert result.eligibility.status is EligibilityStatus.CONTRAINDICATED
    assert result.dose_iu is None
    assert result.pulse_window_min is None
    assert all(lp.dose_iu is None for lp in result.lesions)
    assert "contraindicated: no dose is given" in result.warnings
    assert "dose_iu" not in result.provenance
    assert result.lesions[0].electrode == "linear"


# ---- time budget -----------------------------------------------------------------------

IV_RULES = ["time.per_application", "window.iv"]


def test_applications_that_exactly_fill_the_iv_window_fit() -> None:
    # IV window 28 - 8 = 20 min; 10 + 10 applications * 1 min = 20 min <= 20 min
    lesions = [lesion("L1"), lesion("L2")]
    budget = time_budget(lesions, [10, 10], 1.0, 20.0, Route.INTRAVENOUS, IV_RULES)
    assert budget.fits
    assert budget.needed_min == 20
    assert budget.treat_now == ["L1", "L2"]
    assert budget.next_session == []


def test_one_application_too_many_for_the_iv_window() -> None:
    # 10 + 11 = 21 min > 20 min: L1 (given first, same tier) now, L2 next session
    lesions = [lesion("L1"), lesion("L2")]
    budget = time_budget(lesions, [10, 11], 1.0, 20.0, Route.INTRAVENOUS, IV_RULES)
    assert not budget.fits
    assert budget.needed_min == 21
    assert budget.treat_now == ["L1"]
    assert budget.next_session == ["L2"]
    assert "21 min of applications do not fit the 20 min window" in budget.note


def test_lesions_that_do_not_fit_go_bleeding_then_ulcerated_then_symptomatic_first() -> None:
    # 4 lesions x 8 min = 32 min > 20 min: bleeding (8) + ulcerated (8) = 16 min; the
    # symptomatic one (16 + 8 = 24 > 20) and the quiet one wait for a next session
    lesions = [
        lesion("quiet"),
        lesion("painful", symptoms=["pain"]),
        lesion("ulcerated", ulcerated=True),
        lesion("bleeding", bleeding=True),
    ]
    assert [priority(x) for x in lesions] == [3, 2, 1, 0]
    budget = time_budget(lesions, [8, 8, 8, 8], 1.0, 20.0, Route.INTRAVENOUS, IV_RULES)
    assert not budget.fits
    assert budget.treat_now == ["bleeding", "ulcerated"]
    assert budget.next_session == ["painful", "quiet"]


def test_symptomatic_before_quiet_lesions() -> None:
    # 12 + 12 = 24 > 20 min: only one fits, the painful one although given second
    lesions = [lesion("quiet"), lesion("painful", symptoms=["odour"])]
    budget = time_budget(lesions, [12, 12], 1.0, 20.0, Route.INTRAVENOUS, IV_RULES)
    assert budget.treat_now == ["painful"]
    assert budget.next_session == ["quiet"]


def test_a_bleeding_symptom_counts_as_bleeding() -> None:
    assert priority(lesion(symptoms=[Symptom.BLEEDING])) == 0
    assert priority(lesion(ulcerated=True, symptoms=[Symptom.PAIN])) == 1


def test_a_smaller_lower_priority_lesion_still_fills_the_remaining_time() -> None:
    # bleeding 8 + ulcerated 8 = 16; painful 8 would make 24 > 20; quiet 4 makes 20 <= 20
    lesions = [
        lesion("quiet"),
        lesion("painful", symptoms=["pain"]),
        lesion("ulcerated", ulcerated=True),
        lesion("bleeding", bleeding=True),
    ]
    budget = time_budget(lesions, [4, 8, 8, 8], 1.0, 20.0, Route.INTRAVENOUS, IV_RULES)
    assert budget.treat_now == ["bleeding", "ulcerated", "quiet"]
    assert budget.next_session == ["painful"]


def test_intratumoural_each_lesion_must_fit_its_own_window() -> None:
    # IT window 10 min after each injection: 10 min fits, 11 min does not, whatever the sum
    lesions = [lesion("L1"), lesion("L2"), lesion("L3")]
    budget = time_budget(
        lesions, [10, 11, 3], 1.0, 10.0, Route.INTRATUMOURAL, ["time.per_application", "window.it"]
    )
    assert not budget.fits
    assert budget.needed_min == 24
    assert budget.treat_now == ["L1", "L3"]
    assert budget.next_session == ["L2"]
    fitting = time_budget(lesions, [10, 10, 10], 1.0, 10.0, Route.INTRATUMOURAL, [])
    assert fitting.fits
    assert fitting.treat_now == ["L1", "L2", "L3"]
    # read per lesion, never as "30 of 10 min"
    assert fitting.per_lesion_window
    assert fitting.per_lesion_min == {"L1": 10, "L2": 10, "L3": 10}
    assert fitting.note == (
        "intratumoural: each lesion's applications follow its own injection, each within "
        "its own 10 min window (L1 10, L2 10, L3 10 min)"
    )
    shared = time_budget(lesions, [3, 4, 5], 1.0, 20.0, Route.INTRAVENOUS, [])
    assert not shared.per_lesion_window
    assert shared.per_lesion_min == {"L1": 3, "L2": 4, "L3": 5}
    assert shared.note == "12 of 20 min"


def test_session_time_budget_from_the_plan() -> None:
    # 4 linear lesions (IV: more than 3) of 5 applications: 20 min = the 20 min IV window
    # (6 x 5 mm, 5 mm deep: pi/4 * 12 * 11 / 100 = 1.0367 cm2 / 0.25 cm2 = 4.15 -> 5)
    small = {"longest_diameter_mm": 6, "perpendicular_diameter_mm": 5}
    four = [lesion_dict(f"L{i}", **small) for i in range(4)]
    fits = plan(four)
    assert fits.route is Route.INTRAVENOUS
    assert fits.time_budget.window_min == 20
    assert fits.time_budget.needed_min == 20
    assert fits.time_budget.fits
    # 2 min per application: 40 min > 20 min; the ulcerated L3 goes first
    four[3] = lesion_dict("L3", ulcerated=True, **small)
    slow = plan(four, minutes_per_application=2)
    assert not slow.time_budget.fits
    assert slow.time_budget.treat_now == ["L3", "L0"]
    assert slow.time_budget.next_session == ["L1", "L2"]
    assert slow.time_budget.rule_ids == ["option:minutes_per_application", "window.iv"]
    assert any("do not fit the 20 min window" in w for w in slow.warnings)


def test_the_pk_window_of_an_older_patient_lengthens_the_time_budget() -> None:
    # 70 years, --window pk: 8-40 min = 32 min
    four = [lesion_dict(f"L{i}") for i in range(4)]
    result = plan(four, patient={"age_years": 70}, window="pk")
    assert result.pulse_window_min == (8, 40)
    assert result.time_budget.window_min == 32
    assert result.time_budget.rule_ids == ["time.per_application", "window.iv_pk_over_65"]


# ---- a whole session, by hand ----------------------------------------------------------


def test_example_session_by_hand() -> None:
    # Woman, 72 y, 164 cm, 61 kg, creatinine 0.9 mg/dL, anticoagulated, sop-2018:
    #   BSA sqrt(164 * 61 / 3600) = sqrt(2.77889) = 1.66700 -> 1.67 m2
    #   CrCl (140 - 72) * 61 / (72 * 0.9) * 0.85 = 4,148 / 64.8 * 0.85 = 54.41 mL/min
    #   age 72 > 65 -> 10,000; CrCl 54.4 < 60 -> 13,500; lower: 10,000 IU/m2
    #   dose 10,000 * 1.67 = 16,700 IU; cautions: anticoagulation, age 72 > 70
    # Areas per application from the coverage planner's table (docs/protocol.md):
    # L1 12 x 9, 4 mm, bleeding: linear 400 V, needle 10, ceil(2.1206 / 0.2397) = ceil(8.85) = 9
    # L2 6 x 5, 2 mm: plate 780 V, ceil(pi/4 * 12 * 11 / 100 / 0.9721) = ceil(1.07) = 2
    # L3 34 x 28, 14 mm, subcutaneous: hexagonal 730 V, 96 pulses, needle 20,
    #    ceil(pi/4 * 40 * 34 / 100 / 1.3461) = ceil(7.93) = 8 (table at 12 / 15 mm)
    # route IV (34 > 20 mm), general anaesthesia (34 > 30 mm), 9 + 2 + 8 = 19 <= 20 min
    result = plan(
        [
            lesion_dict(
                "L1",
                longest_diameter_mm=12,
                perpendicular_diameter_mm=9,
                thickness_mm=4,
                bleeding=True,
            ),
            lesion_dict("L2", longest_diameter_mm=6, perpendicular_diameter_mm=5, thickness_mm=2),
            lesion_dict(
                "L3",
                layer="subcutaneous",
                longest_diameter_mm=34,
                perpendicular_diameter_mm=28,
                thickness_mm=14,
            ),
        ],
        patient={
            "age_years": 72,
            "sex": "F",
            "height_cm": 164,
            "weight_kg": 61,
            "creatinine_mg_dl": 0.9,
            "contraindications": {"anticoagulation": True},
        },
    )
    assert result.rule_set == "sop-2018"
    assert result.bsa_m2 == 1.67
    assert result.creatinine_clearance_ml_min == 54.4
    assert result.dose_per_m2_iu == 10_000
    assert result.dose_iu == 16_700
    assert result.cumulative_bleomycin_iu == 16_700
    assert result.route is Route.INTRAVENOUS
    assert result.anaesthesia is Anaesthesia.GENERAL
    assert result.pulse_window_min == (8, 28)
    assert result.eligibility.status is EligibilityStatus.CAUTION
    # anticoagulation, age 72 > 70, and no DLCO nor chest imaging recorded
    assert [f.rule_id for f in result.eligibility.findings] == [
        "eligibility.cautions",
        "eligibility.age_caution",
        "eligibility.lung_function",
        "eligibility.lung_function",
    ]
    rows = [
        (lp.electrode, lp.voltage_v, lp.pulses, lp.needle_length_mm, lp.applications, lp.priority)
        for lp in result.lesions
    ]
    assert rows == [
        ("linear", 400, 8, 10, 9, 0),
        ("plate", 780, 8, None, 2, 3),
        ("hexagonal", 730, 96, 20, 8, 3),
    ]
    assert result.time_budget.needed_min == 19
    assert result.time_budget.fits


# ---- provenance ------------------------------------------------------------------------

VARIED_REQUESTS = {
    "iv default": {"lesions": [lesion_dict(f"L{i}") for i in range(4)]},
    "it step": {"lesions": [lesion_dict("L1", thickness_mm=2), lesion_dict("L2", mucosal=True)]},
    "all options": {
        "lesions": [lesion_dict("L1"), lesion_dict("L2", longest_diameter_mm=40, thickness_mm=25)],
        "options": {
            "rules": "esope-2006",
            "route": "intravenous",
            "bsa_formula": "dubois",
            "iv_policy": "label_renal",
            "window": "pk",
            "minutes_per_application": 0.5,
            "margin_mm": 4,
        },
        "patient": {"creatinine_clearance_ml_min": 35},
    },
    "it flat": {"lesions": [lesion_dict()], "options": {"it_policy": "flat"}},
    "cisplatin": {"lesions": [lesion_dict()], "options": {"drug": "cisplatin"}},
    "old renal sop": {
        "lesions": [lesion_dict(f"L{i}", thickness_mm=None) for i in range(5)],
        "patient": {"age_years": 80, "sex": "F", "creatinine_umol_l": 150},
    },
    "contraindicated": {
        "lesions": [lesion_dict()],
        "patient": {"prior_bleomycin_iu": 499_900, "contraindications": {"pacemaker": True}},
    },
    "label refusal": {
        "lesions": [lesion_dict(f"L{i}") for i in range(4)],
        "options": {"iv_policy": "label_renal"},
        "patient": {"creatinine_clearance_ml_min": 4},
    },
}


def varied_plan(name: str) -> SessionPlan:
    spec = VARIED_REQUESTS[name]
    return plan(spec["lesions"], patient=spec.get("patient"), **spec.get("options", {}))


@pytest.mark.parametrize("name", list(VARIED_REQUESTS))
def test_every_number_names_rules_the_plan_cites(name: str) -> None:
    result = varied_plan(name)
    cited = {r["id"]: r for r in result.rules}
    rule_set = load_rule_set(result.rule_set)
    named = [rule_id for ids in result.provenance.values() for rule_id in ids]
    named += [rule_id for lp in result.lesions for rule_id in lp.rule_ids]
    named += result.time_budget.rule_ids
    named += [finding.rule_id for finding in result.eligibility.findings]
    assert named
    for rule_id in named:
        if rule_id.startswith("option:"):
            assert rule_id.removeprefix("option:") in PlanOptions.model_fields
        else:
            assert rule_id in cited, f"{name}: {rule_id} is not among the plan's rules"
    for rule_id, rule in cited.items():
        assert rule_id in rule_set.rules
        assert rule["source"].strip()
        assert rule["status"] in ("verified", "to_verify")
        assert rule["origin"] in result.rule_set_chain
        assert rule["value"] == rule_set.rule(rule_id).value
    # and nothing is cited that no number uses
    assert set(cited) == {r for r in named if not r.startswith("option:")}


@pytest.mark.parametrize("name", list(VARIED_REQUESTS))
def test_every_plan_level_number_has_provenance(name: str) -> None:
    result = varied_plan(name)
    keys = set(result.provenance)
    assert {"bsa_m2", "route", "anaesthesia"} <= keys
    if result.dose_iu is not None:
        assert "dose_iu" in keys
    if result.dose_mg is not None:
        assert "dose_mg" in keys
    if result.dose_per_m2_iu is not None:
        assert "dose_per_m2_iu" in keys
    if result.pulse_window_min is not None:
        assert "pulse_window_min" in keys
    if result.cumulative_bleomycin_iu is not None:
        assert "cumulative_bleomycin_iu" in keys
    for lp in result.lesions:
        assert lp.rule_ids[:3] == ["electrode.choice", f"electrode.{lp.electrode}", "pulses.train"]


def test_rules_to_verify_are_named_in_a_warning() -> None:
    result = varied_plan("iv default")
    to_verify = sorted(r["id"] for r in result.rules if r["status"] == "to_verify")
    assert to_verify
    warning = next(w for w in result.warnings if "to verify locally" in w)
    assert warning.startswith(f"{len(to_verify)} rule(s) behind this plan")
    assert all(rule_id in warning for rule_id in to_verify)


def test_options_appear_as_option_entries() -> None:
    result = varied_plan("all options")
    assert result.provenance["bsa_m2"] == ["option:bsa_formula"]
    assert "option:iv_policy" in result.provenance["dose_per_m2_iu"]
    assert result.provenance["pulse_window_min"] == ["window.iv_pk_under_65", "option:window"]
    assert result.provenance["route"] == ["option:route"]
    assert result.time_budget.rule_ids[0] == "option:minutes_per_application"


def test_the_margin_option_is_named_behind_the_applications() -> None:
    result = plan([lesion_dict()], margin_mm=0)
    assert "coverage.margin" not in result.lesions[0].rule_ids
    assert "option:margin_mm" in result.lesions[0].rule_ids


def test_the_plate_depth_limit_is_named_when_it_rules_plates_out() -> None:
    result = plan([lesion_dict(thickness_mm=5)])
    assert result.lesions[0].electrode == "linear"
    assert "electrode.plate" in result.lesions[0].rule_ids


# ---- inputs the planner refuses --------------------------------------------------------


def error_fields(error: pytest.ExceptionInfo[ValidationError]) -> list[str]:
    return [".".join(str(part) for part in e["loc"]) for e in error.value.errors()]


@pytest.mark.parametrize(
    ("field", "value"),
    [("height_cm", 49.9), ("height_cm", 250.1), ("weight_kg", 19.9), ("weight_kg", 300.1)],
)
def test_height_and_weight_out_of_range(field: str, value: float) -> None:
    with pytest.raises(ValidationError) as error:
        patient_with(**{field: value})
    assert error_fields(error) == [field]


@pytest.mark.parametrize(
    ("field", "value"),
    [("height_cm", 50), ("height_cm", 250), ("weight_kg", 20), ("weight_kg", 300)],
)
def test_height_and_weight_at_the_limits_are_accepted(field: str, value: float) -> None:
    assert getattr(patient_with(**{field: value}), field) == value


@pytest.mark.parametrize(
    "fields",
    [
        {"creatinine_mg_dl": 1.0, "creatinine_umol_l": 88.42},
        {"creatinine_mg_dl": 1.0, "creatinine_clearance_ml_min": 60},
        {"creatinine_umol_l": 88.42, "creatinine_clearance_ml_min": 60},
    ],
)
def test_creatinine_given_twice_is_refused(fields: dict[str, float]) -> None:
    with pytest.raises(ValidationError, match="give at most one of") as error:
        patient_with(**fields)
    for name in fields:
        assert name in str(error.value)


@pytest.mark.parametrize("missing", ["age_years", "sex"])
def test_serum_creatinine_needs_age_and_sex(missing: str) -> None:
    fields = {**PATIENT, "creatinine_mg_dl": 1.0}
    del fields[missing]
    with pytest.raises(ValidationError, match="serum creatinine needs the age"):
        PatientToPlan.model_validate(fields)


def test_a_measured_clearance_needs_neither_age_nor_sex() -> None:
    p = PatientToPlan(height_cm=170, weight_kg=70, creatinine_clearance_ml_min=60)
    assert p.creatinine_clearance == 60


def test_age_from_birth_year_and_session_date() -> None:
    import datetime as dt

    p = patient_with(age_years=None, birth_year=1950, session_date=dt.date(2025, 3, 1))
    assert p.age == 75
    with pytest.raises(ValidationError, match="after the session date"):
        patient_with(age_years=None, birth_year=2026, session_date=dt.date(2025, 3, 1))


def test_a_session_needs_the_age() -> None:
    with pytest.raises(ValidationError, match="age_years or birth_year is required"):
        SessionRequest.model_validate(
            {"patient": {"height_cm": 180, "weight_kg": 80}, "lesions": [lesion_dict()]}
        )


def test_duplicate_lesion_ids_are_refused() -> None:
    with pytest.raises(ValidationError, match="duplicate lesion_id: L1"):
        request([lesion_dict("L1"), lesion_dict("L2"), lesion_dict("L1")])


def test_a_session_needs_at_least_one_lesion() -> None:
    with pytest.raises(ValidationError) as error:
        request([])
    assert error_fields(error) == ["lesions"]


def test_perpendicular_longer_than_longest_is_refused() -> None:
    with pytest.raises(ValidationError, match="longer than longest_diameter_mm") as error:
        request([{**lesion_dict(), "perpendicular_diameter_mm": 10.1}])
    assert error_fields(error) == ["lesions.0.perpendicular_diameter_mm"]


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("minutes_per_application", 0),
        ("minutes_per_application", 30.1),
        ("margin_mm", -0.1),
        ("margin_mm", 20.1),
        ("iv_policy", "halve"),
        ("window", "long"),
        ("route", "oral"),
        ("colour", "blue"),
    ],
)
def test_bad_options_are_refused_naming_the_option(option: str, value: Any) -> None:
    with pytest.raises(ValidationError) as error:
        PlanOptions.model_validate({option: value})
    assert error_fields(error) == [option]


def test_cisplatin_by_iv_route_is_refused_for_a_dose() -> None:
    with pytest.raises(ValueError, match="intratumourally only"):
        dose_plan(patient_with(), PlanOptions(drug="cisplatin", route="intravenous"))


def test_intratumoural_dose_without_lesions_is_refused() -> None:
    with pytest.raises(ValueError, match="give the lesion diameters"):
        dose_plan(patient_with(), PlanOptions(route="intratumoural"))


def test_a_given_electrode_is_planned_with_notes_when_the_rules_would_choose_another() -> None:
    from openect.data.enums import Layer
    from openect.protocol.electrodes import Electrode, plan_electrode
    from openect.protocol.inputs import LesionToTreat
    from openect.protocol.rules import load_rule_set

    rules = load_rule_set("esope-2006")
    lesion = LesionToTreat(
        lesion_id="L1",
        body_site="trunk_anterior",
        longest_diameter_mm=30,
        thickness_mm=12,
        layer=Layer.SUBCUTANEOUS,
    )
    auto = plan_electrode(rules, lesion, 3.0, "coverage.margin")
    given = plan_electrode(rules, lesion, 3.0, "coverage.margin", electrode=Electrode.PLATE)
    assert auto.electrode is Electrode.HEXAGONAL
    assert given.electrode is Electrode.PLATE
    assert given.notes[0] == "electrode plate given; the rules suggest hexagonal"
    assert any("beyond the plate's depth limit (3 mm)" in note for note in given.notes)
    assert "electrode.choice" not in given.rule_ids
    same = plan_electrode(rules, lesion, 3.0, "coverage.margin", electrode=Electrode.HEXAGONAL)
    assert same == auto
