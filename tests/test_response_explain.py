"""Why RECIST 1.1 and WHO disagree, checked on worked numbers.

RECIST 1.1 (skin): longest diameter; PR at -30 % against the reference, PD at +20 % AND
+5 mm over the nadir, under 10 mm at baseline non-measurable. WHO: product of the two
diameters; PR at -50 %, PD at +25 % over the nadir (criteria.toml, with sources).
"""

from __future__ import annotations

import datetime as dt

from openect.data.dataset import Dataset
from openect.data.models import Assessment
from openect.response.criteria import Category, categorise, load_criteria
from openect.response.explain import Comparison, explain, explain_assessments

RECIST = load_criteria("recist")
WHO = load_criteria("who")


def both(
    baseline: tuple[float, float], nadir: tuple[float, float], now: tuple[float, float | None]
) -> tuple[Comparison, Comparison]:
    """Each criterion's comparison of ``now`` (longest, perpendicular, mm) with a lesion
    of ``baseline`` whose smallest size so far was ``nadir``; categories from the
    criteria themselves, so that the test sets up only numbers."""
    out = []
    for criteria in (RECIST, WHO):
        measure = criteria.measure_of(*now)
        ref = criteria.measure_of(*baseline)
        low = criteria.measure_of(*nadir)
        measurable = criteria.is_measurable(baseline[0])
        category = categorise(measure, ref, low, criteria, measurable)
        out.append(Comparison(category, measure, ref, low))
    return out[0], out[1]


def test_the_5_mm_rule_of_recist_explains_a_who_progression() -> None:
    # 10 x 8 mm at baseline, nadir 4 x 3 mm, now 8 x 6 mm: the longest diameter doubled
    # (+100 %) but by 4 mm only (< 5 mm): RECIST SD (-20 % vs baseline); the product went
    # 12 -> 48 mm2 (+300 %): WHO PD.
    recist, who = both((10, 8), (4, 3), (8, 6))
    assert (recist.category, who.category) == (Category.SD, Category.PD)
    sentence = explain(recist, who)
    assert sentence is not None
    assert "at least 5 mm" in sentence
    assert "grew by 4 mm (4 → 8 mm, +100 %) over the nadir" in sentence
    assert "RECIST says SD" in sentence
    assert "(12 → 48 mm², +300 %)" in sentence


def test_regrowth_after_a_complete_response_short_of_5_mm() -> None:
    # 10 x 6 mm at baseline, gone (0 mm) at the nadir, back at 4 x 3 mm: under RECIST
    # 4 mm over the nadir is short of 5 mm (and 4 vs 10 mm is -60 %: PR); WHO's product
    # went 0 -> 12 mm2, an increase over any threshold: PD.
    recist, who = both((10, 6), (0, 0), (4, 3))
    assert (recist.category, who.category) == (Category.PR, Category.PD)
    sentence = explain(recist, who) or ""
    assert "grew by 4 mm (0 → 4 mm) over the nadir, so RECIST says PR" in sentence
    assert "(its product grew by 12 mm² (0 → 12 mm²) over the nadir) and says PD" in sentence


def test_the_product_grows_faster_than_the_longest_diameter() -> None:
    # 20 x 20 -> 23 x 23 mm: longest +15 % (RECIST SD); product 400 -> 529 mm2,
    # +32.25 % (WHO PD at >= 25 %).
    recist, who = both((20, 20), (20, 20), (23, 23))
    assert (recist.category, who.category) == (Category.SD, Category.PD)
    sentence = explain(recist, who) or ""
    assert sentence.startswith("WHO multiplies the two diameters")
    assert "+32.2 %" in sentence or "+32.3 %" in sentence
    assert "+15 %" in sentence


def test_recist_progression_when_the_lesion_lengthens_but_narrows() -> None:
    # 20 x 20 -> 25 x 12 mm: longest +25 % and +5 mm (RECIST PD); product 400 -> 300 mm2
    # (-25 %): WHO no change.
    recist, who = both((20, 20), (20, 20), (25, 12))
    assert (recist.category, who.category) == (Category.PD, Category.NC)
    sentence = explain(recist, who) or ""
    assert "grew by 5 mm (20 → 25 mm, +25 %)" in sentence
    assert "so WHO says NC" in sentence


def test_who_partial_response_when_the_product_halves() -> None:
    # 20 x 20 -> 15 x 13 mm: longest -25 % (RECIST SD, PR needs -30 %); product 400 -> 195
    # mm2, -51.25 % (WHO PR at -50 %).
    recist, who = both((20, 20), (20, 20), (15, 13))
    assert (recist.category, who.category) == (Category.SD, Category.PR)
    sentence = explain(recist, who) or ""
    assert "shrank by 51.2 %" in sentence or "shrank by 51.3 %" in sentence
    assert "only shrank by 25 %" in sentence
    assert "RECIST 1.1 PR needs 30 %" in sentence


def test_recist_partial_response_when_only_the_longest_diameter_shrinks() -> None:
    # 20 x 10 -> 14 x 14 mm: longest -30 % (RECIST PR, inclusive); product 200 -> 196 mm2,
    # -2 % (WHO NC).
    recist, who = both((20, 10), (20, 10), (14, 14))
    assert (recist.category, who.category) == (Category.PR, Category.NC)
    sentence = explain(recist, who) or ""
    assert "shrank by 30 %" in sentence
    assert "only shrank by 2 %" in sentence
    assert "WHO PR needs 50 %" in sentence


def test_a_lesion_under_10_mm_is_not_measurable_under_recist() -> None:
    # 8 x 8 -> 4 x 4 mm: RECIST non-measurable (NN); WHO product 64 -> 16 mm2, -75 %: PR.
    recist, who = both((8, 8), (8, 8), (4, 4))
    assert (recist.category, who.category) == (Category.NN, Category.PR)
    sentence = explain(recist, who) or ""
    assert sentence.startswith("Under 10 mm at baseline the lesion is non-measurable")
    assert "shrank by 75 %" in sentence


def test_who_cannot_categorise_without_the_perpendicular_diameter() -> None:
    recist, who = both((20, 20), (20, 20), (12, None))
    assert (recist.category, who.category) == (Category.PR, Category.NE)
    assert "perpendicular diameter is missing" in (explain(recist, who) or "")


def test_no_sentence_when_the_criteria_agree() -> None:
    # stable under both (SD and WHO's NC are one verdict), and both CR
    assert explain(*both((20, 20), (20, 20), (19, 19))) is None
    assert explain(*both((20, 20), (10, 10), (0, 0))) is None
    before = Comparison(None, 20.0, None, None)
    assert explain(before, before) is None


def test_every_disagreeing_assessment_of_a_dataset_is_explained(dataset: Dataset) -> None:
    # P1-L1: 12 x 9.5 mm at baseline, treated on 2020-03-02, 6 x 4 mm on 2020-04-05 (both
    # PR); then 9 x 7 mm: +3 mm over the 6 mm nadir (RECIST SD, -25 % vs 12 mm) but the
    # product 24 -> 63 mm2 (WHO PD).
    dataset.assessments.append(
        Assessment(
            assessment_id="P1-L1-V9",
            lesion_id="P1-L1",
            assessment_date=dt.date(2020, 4, 20),
            longest_diameter_mm=9.0,
            perpendicular_diameter_mm=7.0,
        )
    )
    sentences = explain_assessments(dataset)
    assert "P1-L1-V1" not in sentences
    assert "grew by 3 mm (6 → 9 mm, +50 %) over the nadir" in sentences["P1-L1-V9"]
    assert "at least 5 mm" in sentences["P1-L1-V9"]
