"""Form fields of clinical scales: CTCAE v5.0 term and grade, EQ-5D-3L levels.

The data model stores an adverse event's term as free text and its grade as 1-5, and
each EQ-5D-3L dimension as 1-3; these fields offer them as choices in words, from the
lists kept as data (:mod:`openect.outcomes.ctcae`, :mod:`openect.outcomes.eq5d`):

* :func:`ctcae_term_field`: the listed CTCAE v5.0 terms grouped by system organ class,
  then ``Other, specify`` with a free-text term (:func:`other_term_field`, required then).
  :class:`AdverseEventTerms` is the base of the adverse-event form: it turns the two into
  the one ``term`` the registry stores, and shows a stored term that is not in the list
  as ``Other, specify`` with its words, so older events stay readable and editable.
* :func:`ctcae_grade_field`: grades 1-5 with their meaning.
* :func:`eq5d_field`: levels 1-3 of a dimension with the questionnaire's sentence.
"""

from __future__ import annotations

from typing import Any

from django import forms

from openect.outcomes.ctcae import by_soc, ctcae, find_term
from openect.outcomes.eq5d import LEVELS, Eq5dDimension

#: Name of the free-text field of an ``Other, specify`` adverse event.
OTHER_TERM = "term_other"


def ctcae_term_field(label: str, help_text: str) -> forms.ChoiceField:
    """The CTCAE term as a choice: the listed terms by system organ class, then
    ``Other, specify``."""
    listed = ctcae()
    groups: list[tuple[str, Any]] = [("", "—")]
    groups += [(soc, [(t.term, t.term) for t in terms]) for soc, terms in by_soc(listed).items()]
    groups.append(("Other", [(listed.other_specify, listed.other_specify)]))
    return forms.ChoiceField(
        choices=groups,
        label=label,
        help_text=help_text,
        error_messages={
            "invalid_choice": "%(value)s is not a CTCAE v5.0 term of this list; choose a "
            f"term, or {listed.other_specify!r} and type the term below"
        },
    )


def other_term_field() -> forms.CharField:
    """The words of an ``Other, specify`` adverse event (the data model's limit: 200)."""
    return forms.CharField(
        required=False,
        max_length=200,
        label="Other adverse event (specify)",
        help_text=f"Only with {ctcae().other_specify!r}: the adverse event in words, e.g. a "
        "CTCAE v5.0 term not in the list",
    )


def ctcae_grade_field(label: str, help_text: str, required: bool) -> forms.TypedChoiceField:
    """The CTCAE grade 1-5 as a choice in words (``3 – Severe``)."""
    grades = ctcae().grades
    return forms.TypedChoiceField(
        choices=[("", "—")] + [(g.grade, f"{g.grade} – {g.label}") for g in grades],
        coerce=int,
        required=required,
        label=label,
        help_text=help_text,
        error_messages={"invalid_choice": "%(value)s is not a CTCAE grade; allowed: 1 to 5"},
    )


def eq5d_field(dimension: Eq5dDimension) -> forms.TypedChoiceField:
    """An EQ-5D-3L dimension: level 1-3 with the questionnaire's sentence; may be empty
    (not answered)."""
    return forms.TypedChoiceField(
        choices=[("", "— not answered")]
        + [(level, f"{level} – {dimension.level(level)}") for level in LEVELS],
        coerce=int,
        empty_value=None,
        required=False,
        label=f"EQ-5D-3L {dimension.name.lower()}",
        help_text=dimension.hint or "",
        error_messages={
            "invalid_choice": f"%(value)s is not an EQ-5D-3L {dimension.name.lower()} "
            "level; allowed: 1 to 3"
        },
    )


class AdverseEventTerms(forms.Form):
    """Base of the adverse-event form: ``term`` chosen from the CTCAE list, or
    ``Other, specify`` with :data:`OTHER_TERM` (then required), saved as one term."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        stored = self.initial.get("term")
        if "term" not in self.fields or not stored:
            return
        other = ctcae().other_specify
        listed = find_term(str(stored))
        if listed is not None:
            self.initial["term"] = listed.term
        elif stored != other:  # recorded in words (before the list, or imported)
            self.initial["term"] = other
            self.initial.setdefault(OTHER_TERM, stored)

    def clean(self) -> dict[str, Any]:
        """``term`` = the chosen CTCAE term, or the words of ``Other, specify``."""
        data = super().clean() or {}
        if "term" not in self.fields:
            return data
        other = ctcae().other_specify
        chosen = data.get("term")
        words = str(data.pop(OTHER_TERM, "") or "").strip()
        if chosen == other:
            if words:
                listed = find_term(words)  # typed although listed: the list's spelling
                data["term"] = listed.term if listed is not None else words
            else:
                self.add_error(OTHER_TERM, f"required with {other!r}: the adverse event in words")
        elif chosen and words:
            self.add_error(
                OTHER_TERM,
                f"{words!r} given with the CTCAE term {chosen!r}; leave it empty, or "
                f"choose {other!r}",
            )
        return data
