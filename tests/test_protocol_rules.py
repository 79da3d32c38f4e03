"""Rule sets: shipped files, inheritance, a centre's own file and every way a file can be wrong."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from openect.errors import RuleError
from openect.protocol.inputs import IvPolicy, PatientToPlan, PlanOptions, SessionRequest
from openect.protocol.rules import DEFAULT_RULE_SET, RuleStatus, load_rule_set, shipped_rule_sets
from openect.protocol.session_plan import dose_plan, plan_session

ESOPE_TEXT = (resources.files("openect.protocol") / "rulesets" / "esope-2006.toml").read_text(
    "utf-8"
)

CENTRE_HEADER = """
[rule_set]
id = "my-centre"
base = "sop-2018"
title = "My centre's ECT protocol"
"""

IV_DOSE_12000 = """
[rules."dose.iv_bleomycin_per_m2"]
value = 12000
unit = "IU/m2"
status = "verified"
source = "My centre ECT protocol v2, 2025"
"""


def write(tmp_path: Path, text: str, name: str = "centre.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def adult() -> PatientToPlan:
    """40 years, 180 cm, 80 kg: Mosteller sqrt(180 * 80 / 3600) = 2.00 m2, no reduction."""
    return PatientToPlan(age_years=40, sex="M", height_cm=180, weight_kg=80)


# ---- shipped rule sets -----------------------------------------------------------------


def test_two_rule_sets_are_shipped_and_sop_2018_is_the_default() -> None:
    assert shipped_rule_sets() == ["esope-2006", "sop-2018"]
    assert DEFAULT_RULE_SET == "sop-2018"
    assert PlanOptions().rules == "sop-2018"


@pytest.mark.parametrize("name", shipped_rule_sets())
def test_every_shipped_rule_has_a_source_and_a_status(name: str) -> None:
    rule_set = load_rule_set(name)
    assert rule_set.rules
    for rule_id, rule in rule_set.rules.items():
        assert rule.id == rule_id
        assert rule.source.strip(), f"{name}: {rule_id} has no source"
        assert rule.status in (RuleStatus.VERIFIED, RuleStatus.TO_VERIFY)
        assert rule.origin in rule_set.chain


@pytest.mark.parametrize("name", shipped_rule_sets())
def test_every_shipped_rule_set_has_a_title_and_a_source(name: str) -> None:
    rule_set = load_rule_set(name)
    assert rule_set.id == name
    assert rule_set.title
    assert rule_set.source


def test_esope_2006_is_the_root_and_gives_the_full_dose() -> None:
    esope = load_rule_set("esope-2006")
    assert esope.chain == ["esope-2006"]
    assert esope.rule("dose.iv_policy").value == "none"
    assert esope.number("dose.iv_bleomycin_per_m2") == 15_000


def test_sop_2018_inherits_from_esope_2006_and_overrides_the_iv_policy() -> None:
    esope, sop = load_rule_set("esope-2006"), load_rule_set("sop-2018")
    assert sop.chain == ["sop-2018", "esope-2006"]
    assert set(sop.rules) == set(esope.rules)
    policy = sop.rule("dose.iv_policy")
    assert policy.value == "age_label"
    assert policy.origin == "sop-2018"
    assert policy.source != esope.rule("dose.iv_policy").source
    # every rule it does not list is esope-2006's, unchanged
    own = {rule_id for rule_id, rule in sop.rules.items() if rule.origin == "sop-2018"}
    assert own == {"dose.iv_policy", "dose.it_policy"}
    for rule_id in set(sop.rules) - own:
        assert sop.rules[rule_id] == esope.rules[rule_id]


def test_sop_2018_plan_differs_from_esope_2006_only_by_the_policy() -> None:
    # 72 years: esope 15,000 IU/m2 * 2.00 = 30,000 IU; sop-2018 10,000 * 2.00 = 20,000 IU
    old = PatientToPlan(age_years=72, sex="M", height_cm=180, weight_kg=80)
    esope = dose_plan(old, PlanOptions(rules="esope-2006"))
    sop = dose_plan(old, PlanOptions(rules="sop-2018"))
    assert (esope.dose_iu, sop.dose_iu) == (30_000, 20_000)
    assert sop.rule_set_chain == ["sop-2018", "esope-2006"]
    policy = next(r for r in sop.rules if r["id"] == "dose.iv_policy")
    assert policy["origin"] == "sop-2018"


def test_a_rule_set_can_also_be_loaded_by_path_of_a_shipped_file(tmp_path: Path) -> None:
    path = write(tmp_path, ESOPE_TEXT, "copy.toml")
    copy = load_rule_set(path)
    assert copy.rules == load_rule_set("esope-2006").rules


def test_the_rule_accessors_refuse_the_wrong_kind_of_value() -> None:
    esope = load_rule_set("esope-2006")
    with pytest.raises(RuleError, match=r"has no rule 'dose\.nope'"):
        esope.rule("dose.nope")
    with pytest.raises(RuleError, match="not a number"):
        esope.number("dose.bsa_formula")
    with pytest.raises(RuleError, match="not a table"):
        esope.table("dose.iv_bleomycin_per_m2")
    with pytest.raises(RuleError, match="not a list of rows"):
        esope.rows("window.iv")
    with pytest.raises(RuleError, match="not a list of words"):
        esope.words("dose.it_bleomycin")
    with pytest.raises(RuleError, match="allowed: a, b"):
        esope.text("dose.bsa_formula", ("a", "b"))


# ---- a centre's own file ---------------------------------------------------------------


def test_a_centre_file_overrides_one_rule_and_the_plan_says_so(tmp_path: Path) -> None:
    # 12,000 IU/m2 * 2.00 m2 = 24,000 IU (sop-2018 would give 30,000 IU)
    path = write(tmp_path, CENTRE_HEADER + IV_DOSE_12000)
    centre = load_rule_set(path)
    assert centre.id == "my-centre"
    assert centre.chain == ["my-centre", "sop-2018", "esope-2006"]
    assert centre.rule("dose.iv_policy").origin == "sop-2018"
    assert centre.rule("window.iv").origin == "esope-2006"

    standard = dose_plan(adult(), PlanOptions(rules="sop-2018"))
    plan = dose_plan(adult(), PlanOptions(rules=str(path)))
    assert standard.dose_iu == 30_000
    assert plan.dose_iu == 24_000
    assert plan.rule_set == "my-centre"
    assert plan.rule_set_chain == ["my-centre", "sop-2018", "esope-2006"]
    assert plan.rule_set_title == "My centre's ECT protocol"
    cited = {r["id"]: r for r in plan.rules}
    assert cited["dose.iv_bleomycin_per_m2"]["origin"] == "my-centre"
    assert cited["dose.iv_bleomycin_per_m2"]["source"] == "My centre ECT protocol v2, 2025"
    assert cited["dose.iv_bleomycin_per_m2"]["value"] == 12_000
    assert cited["dose.iv_policy"]["origin"] == "sop-2018"


def test_a_centre_file_changes_a_session_plan(tmp_path: Path) -> None:
    # plates of 5 mm gap: 1,300 V/cm * 0.5 cm = 650 V instead of 780 V
    path = write(
        tmp_path,
        CENTRE_HEADER
        + """
[rules."electrode.plate"]
value = { field_v_per_cm = 1300, distance_mm = 5, footprint_cm2 = 0.5, max_thickness_mm = 3 }
status = "verified"
source = "Our plate electrodes, 5 mm gap"
""",
    )
    request = SessionRequest.model_validate(
        {
            "patient": {"age_years": 50, "sex": "F", "height_cm": 165, "weight_kg": 60},
            "lesions": [
                {
                    "lesion_id": "L1",
                    "body_site": "trunk_anterior",
                    "layer": "cutaneous",
                    "longest_diameter_mm": 6,
                    "thickness_mm": 2,
                }
            ],
            "options": {"rules": str(path)},
        }
    )
    plan = plan_session(request)
    assert plan.lesions[0].electrode == "plate"
    assert plan.lesions[0].voltage_v == 650
    assert plan.rule_set == "my-centre"
    plate = next(r for r in plan.rules if r["id"] == "electrode.plate")
    assert plate["origin"] == "my-centre"
    assert plate["status"] == "verified"


def test_a_centre_file_may_switch_the_iv_policy(tmp_path: Path) -> None:
    # label_renal, CrCl 35 mL/min: 15,000 * 0.60 = 9,000 IU/m2 * 2.00 m2 = 18,000 IU
    path = write(
        tmp_path,
        CENTRE_HEADER
        + """
[rules."dose.iv_policy"]
value = "label_renal"
status = "verified"
source = "My centre ECT protocol v2, 2025"
""",
    )
    patient = PatientToPlan(
        age_years=40, height_cm=180, weight_kg=80, creatinine_clearance_ml_min=35
    )
    plan = dose_plan(patient, PlanOptions(rules=str(path)))
    assert plan.dose_policy == "label_renal"
    assert plan.dose_iu == 18_000


def test_a_centre_file_can_be_the_base_of_another(tmp_path: Path) -> None:
    centre = write(tmp_path, CENTRE_HEADER + IV_DOSE_12000)
    ward = write(
        tmp_path,
        f"""
[rule_set]
id = "ward-7"
base = "{centre.as_posix()}"
title = "Ward 7"

[rules."coverage.margin"]
value = 5
unit = "mm"
status = "verified"
source = "Ward 7 protocol"
""",
        "ward.toml",
    )
    rule_set = load_rule_set(ward)
    assert rule_set.chain == ["ward-7", "my-centre", "sop-2018", "esope-2006"]
    assert rule_set.number("coverage.margin") == 5
    assert rule_set.number("dose.iv_bleomycin_per_m2") == 12_000


def test_a_relative_base_path_is_read_next_to_the_file_that_names_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "protocols"
    folder.mkdir()
    write(folder, CENTRE_HEADER + IV_DOSE_12000, "centre.toml")
    ward = write(
        folder,
        '[rule_set]\nid = "ward-7"\nbase = "centre.toml"\ntitle = "Ward 7"\n',
        "ward.toml",
    )
    monkeypatch.chdir(tmp_path)
    assert load_rule_set(ward).chain == ["ward-7", "my-centre", "sop-2018", "esope-2006"]


def test_a_complete_file_without_a_base_loads_on_its_own(tmp_path: Path) -> None:
    text = ESOPE_TEXT.replace('id = "esope-2006"', 'id = "standalone"')
    rule_set = load_rule_set(write(tmp_path, text))
    assert rule_set.chain == ["standalone"]
    assert set(rule_set.rules) == set(load_rule_set("esope-2006").rules)
    assert {rule.origin for rule in rule_set.rules.values()} == {"standalone"}


# ---- what a rule-set file must not do --------------------------------------------------


def load_text(tmp_path: Path, text: str) -> None:
    load_rule_set(write(tmp_path, text))


def test_an_unknown_rule_id_is_refused_naming_it(tmp_path: Path) -> None:
    text = CENTRE_HEADER + IV_DOSE_12000.replace("iv_bleomycin_per_m2", "iv_bleomycine_per_m2")
    with pytest.raises(RuleError, match=r"'dose\.iv_bleomycine_per_m2' does not exist in base"):
        load_text(tmp_path, text)


@pytest.mark.parametrize(
    ("rule_id", "value"),
    [
        ("dose.iv_bleomycin_per_m2", '"15000"'),  # text for a number
        ("dose.iv_bleomycin_per_m2", "true"),  # a yes/no for a number
        ("dose.iv_policy", "3"),  # a number for a text
        ("window.iv", "{ start_min = 8 }"),  # a table lacking a key
        ("window.iv", "{ start_min = 8, end_min = 28, extra = 1 }"),  # an extra key
        ("window.iv", '{ start_min = 8, end_min = "28" }'),  # text in a table of numbers
        ("dose.it_bleomycin", "[{ volume_below_cm3 = 0.5, iu_per_ml = 1000 }]"),  # unknown key
        ("dose.it_bleomycin", "[]"),  # an empty step table
        ("dose.it_bleomycin", "1000"),  # a number for a step table
        ("eligibility.hard_stops", "[1, 2]"),  # numbers for words
    ],
)
def test_a_value_of_the_wrong_shape_is_refused(tmp_path: Path, rule_id: str, value: str) -> None:
    text = (
        CENTRE_HEADER
        + f"""
[rules."{rule_id}"]
value = {value}
status = "verified"
source = "Local protocol"
"""
    )
    with pytest.raises(RuleError, match=rf"rule {rule_id} value .* does not have the shape"):
        load_text(tmp_path, text)


def test_an_integer_may_stand_for_a_decimal_and_back(tmp_path: Path) -> None:
    text = (
        CENTRE_HEADER
        + """
[rules."time.per_application"]
value = 2
unit = "min"
status = "verified"
source = "Local protocol"

[rules."electrode.needle_depth_margin"]
value = 2.5
unit = "mm"
status = "verified"
source = "Local protocol"
"""
    )
    rule_set = load_rule_set(write(tmp_path, text))
    assert rule_set.number("time.per_application") == 2
    assert rule_set.number("electrode.needle_depth_margin") == 2.5


def test_a_rule_without_a_source_is_refused(tmp_path: Path) -> None:
    text = (
        CENTRE_HEADER + '\n[rules."dose.iv_bleomycin_per_m2"]\nvalue = 12000\nstatus = "verified"\n'
    )
    with pytest.raises(RuleError, match=r"rule dose\.iv_bleomycin_per_m2: source: Field required"):
        load_text(tmp_path, text)


def test_a_rule_with_an_empty_source_is_refused(tmp_path: Path) -> None:
    text = CENTRE_HEADER + IV_DOSE_12000.replace('"My centre ECT protocol v2, 2025"', '""')
    with pytest.raises(RuleError, match=r"rule dose\.iv_bleomycin_per_m2: source"):
        load_text(tmp_path, text)


def test_a_rule_whose_source_is_only_blanks_is_refused(tmp_path: Path) -> None:
    text = CENTRE_HEADER + IV_DOSE_12000.replace('"My centre ECT protocol v2, 2025"', '"   "')
    with pytest.raises(RuleError, match=r"rule dose\.iv_bleomycin_per_m2: source"):
        load_text(tmp_path, text)


def test_a_rule_without_a_status_is_refused(tmp_path: Path) -> None:
    text = CENTRE_HEADER + IV_DOSE_12000.replace('status = "verified"\n', "")
    with pytest.raises(RuleError, match=r"rule dose\.iv_bleomycin_per_m2: status: Field required"):
        load_text(tmp_path, text)


def test_a_rule_with_an_unknown_status_is_refused(tmp_path: Path) -> None:
    text = CENTRE_HEADER + IV_DOSE_12000.replace('"verified"', '"approved"')
    with pytest.raises(RuleError, match=r"rule dose\.iv_bleomycin_per_m2: status"):
        load_text(tmp_path, text)


def test_a_rule_with_an_unknown_field_is_refused(tmp_path: Path) -> None:
    text = CENTRE_HEADER + IV_DOSE_12000 + 'comment = "typo of note"\n'
    with pytest.raises(RuleError, match=r"rule dose\.iv_bleomycin_per_m2: comment"):
        load_text(tmp_path, text)


def test_invalid_toml_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RuleError, match="not valid TOML"):
        load_text(tmp_path, CENTRE_HEADER + "[rules.\n value = = 3\n")


def test_a_base_that_does_not_exist_is_refused(tmp_path: Path) -> None:
    text = CENTRE_HEADER.replace('"sop-2018"', '"sop-2019"') + IV_DOSE_12000
    with pytest.raises(RuleError, match=r"rules='sop-2019': neither a shipped rule set"):
        load_text(tmp_path, text)


def test_a_missing_rule_set_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RuleError, match="esope-2006, sop-2018"):
        load_rule_set(tmp_path / "nowhere.toml")


def test_a_file_without_a_base_must_define_every_rule(tmp_path: Path) -> None:
    header = '[rule_set]\nid = "partial"\ntitle = "Partial protocol"\n'
    with pytest.raises(RuleError, match=r"without a base must define every rule; missing: .*"):
        load_text(tmp_path, header + IV_DOSE_12000)


def test_a_complete_file_missing_one_rule_names_it(tmp_path: Path) -> None:
    text = ESOPE_TEXT.replace('id = "esope-2006"', 'id = "standalone"').replace(
        '[rules."coverage.margin"]\nvalue = 3', '[rules."coverage.margin_typo"]\nvalue = 3'
    )
    with pytest.raises(RuleError, match=r"missing: coverage\.margin$"):
        load_text(tmp_path, text)


def test_a_file_that_is_its_own_base_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "loop.toml"
    write(
        tmp_path,
        f'[rule_set]\nid = "loop"\nbase = "{path.as_posix()}"\ntitle = "Loop"\n',
        "loop.toml",
    )
    with pytest.raises(RuleError, match="its own base"):
        load_rule_set(path)


def test_a_centre_file_may_not_reuse_its_base_id(tmp_path: Path) -> None:
    text = CENTRE_HEADER.replace('id = "my-centre"', 'id = "sop-2018"') + IV_DOSE_12000
    with pytest.raises(RuleError, match="its own base"):
        load_text(tmp_path, text)


@pytest.mark.parametrize(
    ("header", "problem"),
    [
        ('[rule_set]\nbase = "sop-2018"\ntitle = "T"\n', r"\[rule_set\] id: Field required"),
        ('[rule_set]\nid = "x"\nbase = "sop-2018"\n', r"\[rule_set\] title: Field required"),
        ('[rule_set]\nid = "My Centre"\nbase = "sop-2018"\ntitle = "T"\n', r"\[rule_set\] id"),
        ('[rule_set]\nid = "x"\nbase = "sop-2018"\ntitle = "T"\nowner = "me"\n', "owner"),
    ],
)
def test_a_bad_header_is_refused(tmp_path: Path, header: str, problem: str) -> None:
    with pytest.raises(RuleError, match=problem):
        load_text(tmp_path, header + IV_DOSE_12000)


def test_an_unknown_section_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RuleError, match="unknown section"):
        load_text(tmp_path, CENTRE_HEADER + IV_DOSE_12000 + "\n[rule]\nx = 1\n")


def test_an_unknown_flag_in_the_eligibility_lists_is_refused_when_planning(
    tmp_path: Path,
) -> None:
    path = write(
        tmp_path,
        CENTRE_HEADER
        + """
[rules."eligibility.cautions"]
value = ["pregnancy", "pacemaker", "kidney_stones"]
status = "verified"
source = "Local protocol"
""",
    )
    with pytest.raises(RuleError, match="unknown finding 'kidney_stones'"):
        dose_plan(adult(), PlanOptions(rules=str(path)))


def test_an_iv_policy_outside_the_known_ones_is_refused_when_planning(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        CENTRE_HEADER
        + """
[rules."dose.iv_policy"]
value = "halve_everything"
status = "verified"
source = "Local protocol"
""",
    )
    with pytest.raises(RuleError, match="allowed: none, age_renal, label_renal"):
        dose_plan(adult(), PlanOptions(rules=str(path)))


def test_a_label_fraction_above_one_is_refused_when_planning(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        CENTRE_HEADER
        + """
[rules."dose.label_renal_table"]
value = [{ crcl_above_ml_min = 50, fraction = 1.5 }]
status = "verified"
source = "Local protocol"
""",
    )
    patient = PatientToPlan(
        age_years=40, height_cm=180, weight_kg=80, creatinine_clearance_ml_min=70
    )
    with pytest.raises(RuleError, match=r"fraction 1\.5 not in \(0, 1\]"):
        dose_plan(patient, PlanOptions(rules=str(path), iv_policy="label_renal"))


def test_a_window_that_ends_before_it_starts_is_refused_when_planning(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        CENTRE_HEADER
        + """
[rules."window.iv"]
value = { start_min = 28, end_min = 8 }
unit = "min"
status = "verified"
source = "Local protocol"
""",
    )
    with pytest.raises(RuleError, match=r"window\.iv: start_min 28 must be >= 0 and < end_min 8"):
        dose_plan(adult(), PlanOptions(rules=str(path)))


def test_renal_rows_out_of_order_are_refused_not_silently_misread(tmp_path: Path) -> None:
    # Rows are read top-down; listing 10,000 (< 50 mL/min) before 7,500 (< 30 mL/min)
    # would give a patient at 20 mL/min the higher dose.
    text = CENTRE_HEADER + (
        '[rules."dose.iv_renal_reduction"]\n'
        "value = [{ crcl_below_ml_min = 50, dose_per_m2 = 10000 },"
        " { crcl_below_ml_min = 30, dose_per_m2 = 7500 }]\n"
        'unit = "IU/m2"\nstatus = "verified"\nsource = "Centre table"\n'
    )
    options = PlanOptions(rules=str(write(tmp_path, text)))
    patient = PatientToPlan(
        age_years=50, height_cm=170, weight_kg=70, creatinine_clearance_ml_min=20
    )
    with pytest.raises(RuleError, match="rows must be in increasing crcl_below_ml_min order"):
        dose_plan(patient, options.model_copy(update={"iv_policy": IvPolicy.AGE_RENAL}))


def test_label_rows_out_of_order_are_refused(tmp_path: Path) -> None:
    text = CENTRE_HEADER + (
        '[rules."dose.label_renal_table"]\n'
        "value = [{ crcl_from_ml_min = 30, fraction = 0.6 },"
        " { crcl_above_ml_min = 50, fraction = 1.0 }]\n"
        'status = "verified"\nsource = "Centre table"\n'
    )
    options = PlanOptions(rules=str(write(tmp_path, text)), iv_policy="label_renal")
    patient = PatientToPlan(
        age_years=50, height_cm=170, weight_kg=70, creatinine_clearance_ml_min=60
    )
    with pytest.raises(RuleError, match="from the highest clearance to the lowest"):
        dose_plan(patient, options)


# ----------------------------------------------------------------------------- docs
@pytest.mark.parametrize("name", ["sop-2018", "esope-2006"])
def test_the_rule_table_in_the_docs_is_up_to_date(name: str) -> None:
    """docs/rules.md holds every shipped rule with its value, status, source, evidence."""
    from openect.protocol.rules import to_markdown

    page = (Path(__file__).parents[1] / "docs" / "rules.md").read_text(encoding="utf-8")
    table = to_markdown(load_rule_set(name))
    assert table in page, (
        f"regenerate the {name} table of docs/rules.md with: openect plan rules {name} --markdown"
    )
    assert "| `dose.iv_age_reduction` | age_above_years = 65, dose_per_m2 = 10000 IU/m2 |" in table
    assert "28 patients over 65" in table  # the evidence column
