"""Why RECIST 1.1 and WHO give a lesion different categories, in one sentence.

The two criteria of ``criteria.toml`` compare different sizes with different
thresholds: RECIST 1.1 (adapted to skin) the longest diameter (mm), with PR at a 30 %
decrease against the reference and PD at a 20 % increase over the nadir that is also
at least 5 mm, and lesions under 10 mm at baseline non-measurable; WHO the product of
the longest and perpendicular diameters (mm2), with PR at a 50 % decrease and PD at a
25 % increase, no absolute minimum and no minimum size. The thresholds are read from
the criteria (never typed here), so a centre's own file is explained in its own numbers.

:func:`explain` takes one assessment as each criterion saw it (:class:`Comparison`: its
category, measure, reference and nadir) and returns the sentence, or None when the two
agree (SD and WHO's NC, "no change", are the same verdict under two names).
:func:`explain_assessments` does it for every assessment of a dataset and
:func:`explain_preview` for a candidate measurement (the follow-up forms).
"""

from __future__ import annotations

from dataclasses import dataclass

from openect.data.dataset import Dataset
from openect.response.criteria import STABLE, Category, ResponseCriteria, load_criteria
from openect.response.evaluation import ResponseEvaluation
from openect.response.preview import CriterionPreview, ResponsePreview
from openect.response.summary import cell, for_evaluation


@dataclass(frozen=True)
class Comparison:
    """One assessment under one criterion.

    ``measure``, ``reference`` and ``nadir`` are in the criterion's unit (mm for RECIST,
    mm2 for WHO); ``nadir`` is the smallest size before this assessment (reference
    included). ``category`` is None before the first treatment.
    """

    category: Category | None
    measure: float | None
    reference: float | None
    nadir: float | None


def _same(a: Category | None, b: Category | None) -> bool:
    """True when the two categories are one verdict (SD, NC and NN all mean stable)."""
    if a is None or b is None:
        return a is b
    return a == b or (a in STABLE and b in STABLE and Category.NN not in (a, b))


def _n(value: float) -> str:
    """A size or a percentage with at most one decimal, no trailing zero."""
    text = f"{value:.1f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _change(value: float | None, base: float | None) -> float | None:
    """Change of ``value`` against ``base`` in %; None when either is missing or base is 0."""
    if value is None or base is None or base == 0:
        return None
    return 100.0 * (value - base) / base


def _grew(c: Comparison, unit: str) -> str:
    """``grew by 4 mm (4 → 8 mm, +100 %) over the nadir`` (no % from a nadir of 0)."""
    if c.measure is None or c.nadir is None:
        return "changed"
    delta = c.measure - c.nadir
    verb = "grew" if delta >= 0 else "shrank"
    pct = _change(c.measure, c.nadir)
    share = "" if pct is None else f", {'+' if pct >= 0 else '−'}{_n(abs(pct))} %"
    span = f"{_n(c.nadir)} → {_n(c.measure)} {unit}{share}"
    return f"{verb} by {_n(abs(delta))} {unit} ({span}) over the nadir"


def _shrank(c: Comparison) -> str:
    """``shrank by 25 %`` (or ``grew by 3 %``) against the reference."""
    pct = _change(c.measure, c.reference)
    if pct is None:
        return "changed"
    return f"{'shrank' if pct <= 0 else 'grew'} by {_n(abs(pct))} %"


def explain(
    recist: Comparison,
    who: Comparison,
    recist_criteria: ResponseCriteria | None = None,
    who_criteria: ResponseCriteria | None = None,
) -> str | None:
    """One sentence on why RECIST 1.1 (``recist``) and WHO (``who``) disagree; None when
    they agree or either has no category (before the first treatment).

    The thresholds are those of ``recist_criteria`` and ``who_criteria`` (the bundled
    ``recist`` and ``who`` criteria by default).
    """
    r, w = recist.category, who.category
    if r is None or w is None or _same(r, w):
        return None
    rc = recist_criteria or load_criteria("recist")
    wc = who_criteria or load_criteria("who")
    if w is Category.NE and who.measure is None:
        return (
            f"WHO compares the product of the two diameters and the perpendicular diameter "
            f"is missing, so WHO cannot categorise this measurement (NE); RECIST 1.1 uses "
            f"the longest diameter only ({r})."
        )
    if r is Category.NE and recist.measure is None:
        return f"RECIST 1.1 has no longest diameter to compare (NE); WHO gives {w}."
    if w is Category.PD and r is not Category.PD:
        short_of_5_mm = (
            recist.measure is not None
            and recist.nadir is not None
            and recist.measure >= recist.nadir * (1.0 + rc.pd_increase_pct / 100.0)
            and recist.measure - recist.nadir < rc.pd_min_increase
        )
        if short_of_5_mm:
            return (
                f"RECIST 1.1 calls progression only when the longest diameter grows by at "
                f"least {_n(rc.pd_increase_pct)} % and at least {_n(rc.pd_min_increase)} mm "
                f"over the nadir: it {_grew(recist, 'mm')}, so RECIST says {r}, while WHO "
                f"needs only {_n(wc.pd_increase_pct)} % of the product of the two diameters "
                f"(its product {_grew(who, 'mm²')}) and says PD."
            )
        return (
            f"WHO multiplies the two diameters: the product {_grew(who, 'mm²')} (PD from "
            f"{_n(wc.pd_increase_pct)} %), while the longest diameter {_grew(recist, 'mm')} "
            f"(RECIST 1.1 PD needs {_n(rc.pd_increase_pct)} % and "
            f"{_n(rc.pd_min_increase)} mm), so RECIST says {r}."
        )
    if r is Category.PD and w is not Category.PD:
        return (
            f"The longest diameter {_grew(recist, 'mm')} (RECIST 1.1 PD from "
            f"{_n(rc.pd_increase_pct)} % and {_n(rc.pd_min_increase)} mm), but the product of "
            f"the two diameters {_grew(who, 'mm²')} (WHO PD needs "
            f"{_n(wc.pd_increase_pct)} %), so WHO says {w}."
        )
    if w is Category.CR or r is Category.CR:
        return (
            f"WHO's product is {_n(who.measure or 0)} mm² and RECIST 1.1's longest diameter "
            f"{_n(recist.measure or 0)} mm: a diameter of 0 mm makes the product 0 (WHO "
            f"{w}), while RECIST 1.1 looks at the longest diameter only ({r})."
        )
    if r is Category.NN:
        return (
            f"Under {_n(rc.measurable_min)} mm at baseline the lesion is non-measurable "
            f"under RECIST 1.1 (only CR, non-CR/non-PD or PD), while WHO has no minimum "
            f"size: its product {_shrank(who)} against the reference, so WHO says {w}."
        )
    if w is Category.PR:
        return (
            f"The product of the two diameters {_shrank(who)} against the reference (WHO PR "
            f"from a {_n(wc.pr_decrease_pct)} % decrease), the longest diameter only "
            f"{_shrank(recist)} (RECIST 1.1 PR needs {_n(rc.pr_decrease_pct)} %), so RECIST "
            f"says {r}."
        )
    if r is Category.PR:
        return (
            f"The longest diameter {_shrank(recist)} against the reference (RECIST 1.1 PR "
            f"from a {_n(rc.pr_decrease_pct)} % decrease), but the product of the two "
            f"diameters only {_shrank(who)} (WHO PR needs {_n(wc.pr_decrease_pct)} %), so "
            f"WHO says {w}."
        )
    return (
        f"RECIST 1.1 compares the longest diameter ({r}), WHO the product of the two "
        f"diameters ({w}); their thresholds differ."
    )


def _comparison(preview: CriterionPreview) -> Comparison:
    return Comparison(preview.category, preview.measure, preview.reference, preview.nadir)


def explain_preview(preview: ResponsePreview) -> str | None:
    """The sentence for a candidate measurement (:func:`openect.response.preview`)."""
    recist, who = preview.criteria.get("recist"), preview.criteria.get("who")
    if recist is None or who is None:
        return None
    return explain(_comparison(recist), _comparison(who))


def explain_assessments(dataset: Dataset) -> dict[str, str]:
    """The sentence of every assessment of ``dataset`` on which RECIST 1.1 and WHO
    disagree (derived categories, overrides aside), by assessment id."""
    evaluated = for_evaluation(dataset)
    rc, wc = load_criteria("recist"), load_criteria("who")
    frames = [
        {
            str(row["assessment_id"]): Comparison(
                None if cell(row["derived"]) is None else Category(row["derived"]),
                cell(row["measure"]),
                cell(row["reference"]),
                cell(row["nadir"]),
            )
            for row in ResponseEvaluation(criteria).fit(evaluated).assessments_.to_dict("records")
        }
        for criteria in (rc, wc)
    ]
    out: dict[str, str] = {}
    for assessment_id, recist in frames[0].items():
        who = frames[1].get(assessment_id)
        if who is None:
            continue
        sentence = explain(recist, who, rc, wc)
        if sentence is not None:
            out[assessment_id] = sentence
    return out
