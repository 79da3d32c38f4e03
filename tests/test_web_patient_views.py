"""The view models of the patient pages, built from a Dataset (no request, no database).

The small hand-written dataset (tests/conftest.py): P1 with P1-L1 (CR at its latest
assessment) and P1-L2 (override PR), one session, a therapy, an adverse event and a
patient-reported outcome.
"""

from __future__ import annotations

import datetime as dt

from openect.data.dataset import Dataset
from openect.response import evaluate
from openect.web.pages import bodymap
from openect.web.pages.patient_views import (
    assessment_rows,
    legend,
    lesion_rows,
    patient_map,
    timeline,
)
from openect.web.templatetags.openect_format import size


def of_p1(dataset: Dataset) -> Dataset:
    """The records of patient P1 only (as ``services.patient_records`` gives them)."""
    lesions = {"P1-L1", "P1-L2"}
    dataset.patients = dataset.patients[:1]
    dataset.lesions = [x for x in dataset.lesions if x.lesion_id in lesions]
    dataset.sessions = [x for x in dataset.sessions if x.patient_id == "P1"]
    dataset.applications = [x for x in dataset.applications if x.lesion_id in lesions]
    dataset.assessments = [x for x in dataset.assessments if x.lesion_id in lesions]
    return dataset


def test_the_size_filter_writes_both_diameters_or_the_longest() -> None:
    assert size(12.0, 9.5) == "12 × 9.5\u00a0mm"
    assert size(12.25, None) == "12.2\u00a0mm"
    assert size(30.0, "") == "30\u00a0mm"
    assert size(None, 4.0) == ""
    assert size("", None) == ""


def test_the_timeline_lists_every_record_newest_first_with_links(dataset: Dataset) -> None:
    dataset = of_p1(dataset)
    _, responses = evaluate(dataset)
    events = timeline("P1", dataset, responses, writable=True)
    assert [(e.kind, e.date) for e in events] == [
        ("assessment", dt.date(2020, 5, 1)),
        ("assessment", dt.date(2020, 5, 1)),
        ("assessment", dt.date(2020, 4, 5)),
        ("adverse-event", dt.date(2020, 3, 3)),
        ("session", dt.date(2020, 3, 2)),  # of one day: the session first
        ("report", dt.date(2020, 3, 2)),
        ("therapy", dt.date(2020, 2, 1)),
    ]
    by_title = {e.title: e for e in events}
    session = by_title["ECT session 1"]
    assert session.detail == "bleomycin, intravenous, 25\u202f500\u00a0IU (15\u202f000\u00a0IU/m²)"
    assert session.href == "/sessions/P1-S1/record/"
    v1 = next(e for e in events if e.edit == "/patients/P1/assessments/P1-L1-V1/edit/")
    assert (v1.detail, v1.category, v1.href) == (
        "6 × 4\u00a0mm (caliper)",
        "PR",
        "/patients/P1/lesions/P1-L1/",
    )
    override = next(e for e in events if e.title == "Assessment of L2")
    assert (override.category, override.category_note) == ("PR", "override; derived SD")
    assert override.detail == "30\u00a0mm"
    therapy = by_title["Systemic therapy: anti pd1 (pembrolizumab)"]
    assert therapy.detail == "2020-02-01 to ongoing"
    assert by_title["Adverse event: Pain"].detail == "CTCAE grade 2; after session P1-S1"
    assert (
        by_title["Patient-reported outcome"].detail
        == "pain NRS 5/10, EQ-VAS 70/100, EQ-5D-3L 11221"
    )


def test_without_write_access_the_timeline_has_no_edit_links(dataset: Dataset) -> None:
    _, responses = evaluate(dataset)
    assert all(e.edit is None for e in timeline("P1", dataset, responses, writable=False))


def test_assessments_of_untreated_lesions_and_before_treatment_are_noted(dataset: Dataset) -> None:
    dataset.assessments.append(
        dataset.assessments[0].model_copy(
            update={"assessment_id": "P1-L1-V0", "assessment_date": dt.date(2020, 3, 1)}
        )
    )
    dataset.applications = [a for a in dataset.applications if a.lesion_id != "P1-L2"]
    _, responses = evaluate(dataset)
    notes = {
        e.edit: (e.category, e.category_note) for e in timeline("P1", dataset, responses, True)
    }
    assert notes["/patients/P1/assessments/P1-L1-V0/edit/"] == (None, "before treatment")
    assert notes["/patients/P1/assessments/P1-L2-V1/edit/"] == (None, "lesion not treated")


def test_lesion_rows_feed_the_table_the_map_and_its_legend(dataset: Dataset) -> None:
    lesions, _ = evaluate(dataset)
    other = lesion_rows("P2", dataset, lesions)[2]
    assert other.href == "/patients/P2/lesions/P2-L1/"
    assert other.label == "P2-L1, trunk posterior, 8\u00a0mm: not yet assessed"
    rows = lesion_rows("P1", dataset, lesions)
    assert [r.lesion.lesion_id for r in rows[:2]] == ["P1-L1", "P1-L2"]
    assert rows[0].href == "/patients/P1/lesions/P1-L1/"
    assert rows[0].label == "P1-L1, lower limb left, 12 × 9.5\u00a0mm: CR"
    drawn = patient_map(rows)
    assert isinstance(drawn, bodymap.BodyMap)
    marks = {m.mark.lesion_id: m for m in (*drawn.front, *drawn.back)}
    assert marks["P1-L1"].mark.category == "CR"
    assert marks["P1-L2"].mark.category == "PR"
    assert marks["P2-L1"].view == "back"
    assert legend(rows) == [
        ("CR", "complete response", 1),
        ("PR", "partial response", 1),
        ("SD", "stable disease", 0),
        ("PD", "progressive disease", 0),
        ("NE", "not evaluable or not yet assessed", 1),
    ]


def test_the_lesion_page_rows_oldest_first_with_both_criteria(dataset: Dataset) -> None:
    _, recist = evaluate(dataset, "recist")
    _, who = evaluate(dataset, "who")
    rows = assessment_rows("P1", "P1-L1", dataset, recist, who, writable=True)
    assert [r.assessment.assessment_id for r in rows] == ["P1-L1-V1", "P1-L1-V2"]
    assert rows[0].response is not None
    assert rows[0].response.category == "PR"
    assert rows[0].other is not None
    assert rows[0].other.category == "PR"
    assert rows[1].edit == "/patients/P1/assessments/P1-L1-V2/edit/"
    assert all(r.edit is None for r in assessment_rows("P1", "P1-L1", dataset, recist, who, False))
