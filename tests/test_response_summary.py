"""Tests of ``openect.response.summary`` and ``openect.response.preview`` (no Django).

On the small hand-written dataset (tests/conftest.py): P1-L1 (12 x 9.5 mm) treated on
2020-03-02, 6 mm on 2020-04-05 (PR), 0 mm on 2020-05-01 (CR); P1-L2 (35 x 30 mm) treated
the same day, 30 mm on 2020-05-01 with an override PR and its reason; P2-L1 treated on
2020-04-21, never assessed.
"""

from __future__ import annotations

import datetime as dt

import pytest

from openect.data.dataset import Dataset
from openect.data.models import Assessment
from openect.errors import InputError
from openect.response import (
    CATEGORY_LABELS,
    Category,
    evaluate,
    for_evaluation,
    patient_responses,
    preview,
)
from openect.response.preview import MESSAGES, PREVIEW_ID
from openect.response.summary import HIDDEN_REASON, saved_summary


def blanked(dataset: Dataset) -> Dataset:
    """``dataset`` as an analyst reads it: override reasons blanked."""
    dataset.assessments = [
        a.model_copy(update={"override_reason": None}) for a in dataset.assessments
    ]
    return dataset


def candidate(lesion_id: str, date: str, longest: float, perpendicular: float | None = None,
              assessment_id: str = PREVIEW_ID) -> Assessment:  # fmt: skip
    return Assessment(
        assessment_id=assessment_id,
        lesion_id=lesion_id,
        assessment_date=date,
        longest_diameter_mm=longest,
        perpendicular_diameter_mm=perpendicular,
    )


def test_labels_name_every_category() -> None:
    assert set(CATEGORY_LABELS) == {c.value for c in Category}


def test_each_lesion_has_its_current_best_and_landmark_response(dataset: Dataset) -> None:
    lesions, assessments = evaluate(dataset)
    l1 = lesions["P1-L1"]
    assert (l1.treated, l1.current, l1.current_date) == (True, "CR", dt.date(2020, 5, 1))
    assert (l1.best, l1.landmark, l1.current_css) == ("CR", "CR", "CR")
    assert l1.first_treatment_date == dt.date(2020, 3, 2)
    assert not l1.local_progression
    l2 = lesions["P1-L2"]
    assert l2.current == "PR"  # the override
    p2 = lesions["P2-L1"]
    assert (p2.treated, p2.current, p2.current_css, p2.current_text) == (
        True, None, "NE", "not yet assessed",
    )  # fmt: skip
    v1 = assessments["P1-L1-V1"]
    assert (v1.course, v1.derived, v1.category, v1.overridden, v1.css) == (
        1,
        "PR",
        "PR",
        False,
        "PR",
    )
    assert v1.change_from_reference_pct == pytest.approx(-50.0)
    override = assessments["P1-L2-V1"]
    assert (override.derived, override.category, override.overridden) == ("SD", "PR", True)


def test_an_untreated_lesion_is_listed_without_a_response(dataset: Dataset) -> None:
    dataset.lesions.append(dataset.lesions[0].model_copy(update={"lesion_id": "P1-L3"}))
    dataset.assessments.append(candidate("P1-L3", "2020-06-01", 5.0, assessment_id="P1-L3-V1"))
    lesions, assessments = evaluate(dataset, "who")
    assert lesions["P1-L3"].treated is False
    assert lesions["P1-L3"].current_text == "not treated yet"
    assert "P1-L3-V1" not in assessments


def test_an_assessment_before_the_first_treatment_has_no_category(dataset: Dataset) -> None:
    dataset.assessments.append(candidate("P1-L1", "2020-03-01", 12.0, assessment_id="P1-L1-V0"))
    _, assessments = evaluate(dataset)
    before = assessments["P1-L1-V0"]
    assert (before.course, before.derived, before.category, before.css) == (0, None, None, "NE")
    assert not before.overridden


def test_an_override_whose_reason_is_hidden_still_counts(dataset: Dataset) -> None:
    full_lesions, full_assessments = evaluate(dataset)
    hidden = blanked(dataset)
    kept = for_evaluation(hidden)
    assert kept is not hidden
    assert [a.override_reason for a in hidden.assessments] == [None, None, None]  # unchanged
    assert kept.assessments[2].override_reason == HIDDEN_REASON
    assert for_evaluation(kept) is kept  # nothing hidden: no copy
    lesions, assessments = evaluate(hidden)
    assert lesions == full_lesions
    assert assessments == full_assessments


def test_the_per_patient_response_uses_the_best_lesion_responses(dataset: Dataset) -> None:
    assert patient_responses(dataset) == {"P1": "PR", "P2": "NE"}  # L1 CR, L2 PR
    assert patient_responses(blanked(dataset)) == {"P1": "PR", "P2": "NE"}


def test_the_saved_summary_words_both_criteria(dataset: Dataset) -> None:
    assert saved_summary(dataset, "P1-L1-V2") == "RECIST: CR; WHO: CR"
    assert saved_summary(dataset, "P1-L2-V1").startswith(
        "RECIST: PR (override; derived SD); WHO: PR"
    )
    dataset.assessments.append(candidate("P1-L1", "2020-03-01", 12.0, assessment_id="P1-L1-V0"))
    assert saved_summary(dataset, "P1-L1-V0") == (
        "RECIST: no category (before the first treatment); "
        "WHO: no category (before the first treatment)"
    )


# ---------------------------------------------------------------------------- preview
def test_the_preview_derives_cr_pr_and_pd_without_changing_the_records(dataset: Dataset) -> None:
    before = list(dataset.assessments)
    cr = preview(dataset, candidate("P1-L1", "2020-06-01", 0.0))
    assert (cr.status, cr.category, cr.message) == (
        "categorised",
        Category.CR,
        MESSAGES["categorised"],
    )
    assert cr.criteria["who"].category == Category.CR
    assert cr.lesion_id == "P1-L1"
    assert cr.assessment_date == dt.date(2020, 6, 1)
    pr = preview(dataset, candidate("P1-L1", "2020-04-20", 5.0))
    assert pr.category == Category.PR
    pd = preview(dataset, candidate("P1-L2", "2020-06-01", 60.0, 50.0))
    assert pd.category == Category.PD
    assert pd.criteria["who"].category == Category.PD
    recist = pd.criteria["recist"]
    assert (recist.course, recist.reference, recist.nadir, recist.measure) == (1, 35.0, 30.0, 60.0)
    assert recist.change_from_nadir_pct == 100.0
    assert recist.change_from_reference_pct == pytest.approx(71.4)
    assert (recist.unit, pd.criteria["who"].unit) == ("mm", "mm2")
    assert dataset.assessments == before


def test_the_preview_says_pre_treatment_and_untreated(dataset: Dataset) -> None:
    early = preview(dataset, candidate("P1-L1", "2020-03-01", 10.0))
    assert (early.status, early.category) == ("pre_treatment", None)
    assert early.criteria["recist"].course == 0
    dataset.lesions.append(dataset.lesions[0].model_copy(update={"lesion_id": "P1-L3"}))
    untreated = preview(dataset, candidate("P1-L3", "2020-06-01", 3.0))
    assert (untreated.status, untreated.category) == ("untreated", None)
    assert untreated.criteria["who"].course is None
    assert untreated.message == MESSAGES["untreated"]


def test_a_preview_of_an_edit_replaces_the_assessment(dataset: Dataset) -> None:
    # V2 (0 mm) changed to 20 mm: the nadir is V1's 6 mm; a candidate added beside V2
    # would have V2's 0 mm as its nadir instead
    edited = preview(dataset, candidate("P1-L1", "2020-05-01", 20.0, assessment_id="P1-L1-V2"))
    assert edited.category == Category.PD
    assert edited.criteria["recist"].nadir == 6.0
    added = preview(dataset, candidate("P1-L1", "2020-05-02", 20.0))
    assert added.criteria["recist"].nadir == 0.0


def test_a_preview_of_a_lesion_not_in_the_records_is_refused(dataset: Dataset) -> None:
    with pytest.raises(InputError, match="lesion_id='X-L1'"):
        preview(dataset, candidate("X-L1", "2020-06-01", 1.0))
