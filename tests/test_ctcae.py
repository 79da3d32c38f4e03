"""The CTCAE v5.0 terms offered for recording, and the EQ-5D-3L wording, kept as data
with their sources: every term has a system organ class, an NCIt code and a status;
what was not read in a source says so."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from openect.data.models import AdverseEvent
from openect.outcomes.ctcae import by_soc, ctcae, find_term, grade_label, load_ctcae
from openect.outcomes.eq5d import eq5d_dimensions, load_eq5d
from openect.outcomes.quality_of_life import EQ5D_DIMENSIONS

#: The MedDRA system organ classes of CTCAE v5.0 the list may use.
SOCS = {
    "General disorders and administration site conditions",
    "Skin and subcutaneous tissue disorders",
    "Infections and infestations",
    "Injury, poisoning and procedural complications",
    "Vascular disorders",
    "Gastrointestinal disorders",
    "Immune system disorders",
    "Respiratory, thoracic and mediastinal disorders",
    "Musculoskeletal and connective tissue disorders",
    "Nervous system disorders",
    "Cardiac disorders",
}


def test_the_local_and_bleomycin_toxicities_of_ect_are_listed() -> None:
    for name in (
        "Pain", "Skin ulceration", "Skin infection", "Wound infection", "Wound complication",
        "Bruising", "Skin hyperpigmentation", "Pruritus", "Alopecia", "Fever", "Nausea",
        "Vomiting", "Allergic reaction", "Anaphylaxis", "Pneumonitis", "Pulmonary fibrosis",
        "Muscle cramp",
    ):  # fmt: skip
        assert find_term(name) is not None, name


def test_each_term_has_its_soc_its_codes_and_says_what_was_checked() -> None:
    listed = ctcae()
    assert listed.version == "CTCAE v5.0"
    for term in listed.terms:
        assert term.soc in SOCS, term
        assert term.ncit_code.startswith("C"), term
        assert "ctcae_list" in term.checked, term
        if term.status == "verified":  # read in a CTCAE v5.0 mapping of MedDRA codes
            assert term.meddra_code is not None, term
            assert "pro_ctcae_v5" in term.checked, term
        for key in re.findall(r"\b[a-z]+(?:_[a-z0-9]+)+\b", term.checked):  # source keys
            assert key in listed.sources, (term.term, key)
    # a few codes as read in the public sources (CTCAE 5.0 NCIt list, MedDRA mapping)
    pain = find_term("Pain")
    assert pain is not None
    assert (pain.ncit_code, pain.meddra_code) == ("C143725", 10033371)
    ulcer = find_term("Skin ulceration")
    assert ulcer is not None
    assert ulcer.soc == "Skin and subcutaneous tissue disorders"
    assert ulcer.meddra_code == 10040947


def test_a_code_not_read_in_a_ctcae_v5_source_is_to_verify() -> None:
    fever = find_term("fever")
    assert fever is not None
    assert fever.status == "to_verify"
    cramp = find_term("Muscle cramp")
    assert cramp is not None
    assert cramp.meddra_code is None
    assert cramp.status == "to_verify"


def test_cardiac_arrhythmia_is_not_a_ctcae_v5_term() -> None:
    assert find_term("Cardiac arrhythmia") is None
    assert find_term("Atrial fibrillation") is not None


def test_terms_are_found_whatever_their_case_and_others_are_not() -> None:
    found = find_term("  skin ULCERATION ")
    assert found is not None
    assert found.term == "Skin ulceration"
    assert find_term("Erythema at the electrode site") is None
    assert find_term(ctcae().other_specify) is None


def test_terms_are_grouped_by_system_organ_class_in_file_order() -> None:
    groups = by_soc()
    assert next(iter(groups)) == "General disorders and administration site conditions"
    assert [t.term for t in groups["Immune system disorders"]] == [
        "Allergic reaction",
        "Anaphylaxis",
    ]
    assert sum(len(v) for v in groups.values()) == len(ctcae().terms)


def test_grades_are_said_in_words() -> None:
    assert [grade_label(g) for g in (1, 2, 3, 4, 5)] == [
        "1 – Mild",
        "2 – Moderate",
        "3 – Severe",
        "4 – Life-threatening",
        "5 – Death",
    ]
    with pytest.raises(ValueError, match="grade 6 does not exist; allowed: 1 to 5"):
        grade_label(6)
    assert ctcae().grades_status == "to_verify"


def test_every_listed_term_fits_the_data_model() -> None:
    for term in ctcae().terms:
        event = AdverseEvent(
            event_id="AE9", patient_id="P1", onset_date="2020-01-01", term=term.term, grade=1
        )
        assert event.term == term.term


def test_a_centre_file_with_a_term_twice_or_bad_grades_is_refused(tmp_path: Path) -> None:
    bundled = Path(__file__).parents[1] / "src/openect/outcomes/ctcae_v5.toml"
    text = bundled.read_text(encoding="utf-8")
    twice = tmp_path / "twice.toml"
    twice.write_text(
        text + '\n[[terms]]\nterm = "pain"\nsoc = "Vascular disorders"\nncit_code = "C1"\n'
        'status = "to_verify"\nchecked = "ctcae_list"\n',
        encoding="utf-8",
    )
    with pytest.raises(ValidationError, match="terms listed twice: pain"):
        load_ctcae(twice)
    no_five = tmp_path / "no_five.toml"
    no_five.write_text(
        text.replace('[grades.5]\nlabel = "Death"\ndescription = "Death"\n', ""),
        encoding="utf-8",
    )
    with pytest.raises(ValidationError, match=r"grades \[1, 2, 3, 4\]; allowed: exactly"):
        load_ctcae(no_five)
    assert load_ctcae(bundled) == ctcae()


def test_the_eq5d_3l_wording_covers_the_five_columns_with_three_levels() -> None:
    dimensions = eq5d_dimensions()
    assert list(dimensions) == [f"eq5d_{d}" for d in EQ5D_DIMENSIONS]
    mobility = dimensions["eq5d_mobility"]
    assert [mobility.level(n) for n in (1, 2, 3)] == [
        "I have no problems in walking about",
        "I have some problems in walking about",
        "I am confined to bed",
    ]
    assert dimensions["eq5d_pain"].descriptive[1] == "Moderate pain or discomfort"
    # the questionnaire's own sentences were not read: they stay to verify
    assert {d.status for d in dimensions.values()} == {"to_verify"}
    with pytest.raises(ValueError, match="eq5d_mobility 4 is not an EQ-5D-3L level"):
        mobility.level(4)
    assert load_eq5d() == tuple(dimensions.values())
