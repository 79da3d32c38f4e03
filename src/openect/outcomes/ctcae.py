"""CTCAE v5.0 adverse-event terms and grades offered for recording (no Django).

The list is data (``ctcae_v5.toml`` beside this module, each term with its system organ
class, NCI Thesaurus code, MedDRA code, source and status; a centre may pass its own
file): the terms relevant to electrochemotherapy and bleomycin, not the whole CTCAE.
An event whose term is not in the list is recorded as ``Other, specify`` with its words;
the data model keeps the term as free text (:class:`openect.data.models.AdverseEvent`),
so :func:`find_term` returns None for such a term and nothing else changes.

Grades are the CTCAE grades 1 (mild) to 5 (death related to the adverse event),
:func:`grade_label` says them in words.
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

#: Where a rule's value was read: ``verified`` = in the cited source; ``to_verify`` =
#: check it against the CTCAE v5.0 document before relying on it.
Status = Literal["verified", "to_verify"]


class CtcaeTerm(BaseModel):
    """One CTCAE v5.0 term with its system organ class and codes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    term: str = Field(min_length=1, max_length=200, description="CTCAE v5.0 term")
    soc: str = Field(min_length=1, description="MedDRA system organ class of the term")
    ncit_code: str = Field(pattern=r"^C\d+$", description="NCI Thesaurus code (C143725)")
    meddra_code: int | None = Field(
        None, ge=10_000_000, le=99_999_999, description="MedDRA code (8 digits), if read"
    )
    status: Status
    checked: str = Field(min_length=1, description="Which sources the values were read in")


class CtcaeGrade(BaseModel):
    """A CTCAE grade: its number, its word and its general description."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    grade: int = Field(ge=1, le=5)
    label: str = Field(min_length=1)
    description: str = Field(min_length=1)


class CtcaeList(BaseModel):
    """The terms offered for recording and the grades, with their sources."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: str
    published: str
    other_specify: str = Field(min_length=1)
    sources: dict[str, str]
    grades: tuple[CtcaeGrade, ...]
    grades_source: str
    grades_status: Status
    terms: tuple[CtcaeTerm, ...]

    @model_validator(mode="after")
    def _consistent(self) -> CtcaeList:
        names = [t.term.casefold() for t in self.terms]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"terms listed twice: {', '.join(twice)}; allowed: each once")
        if self.other_specify.casefold() in names:
            raise ValueError(f"{self.other_specify!r} is not a term; it is the free-text choice")
        if [g.grade for g in self.grades] != [1, 2, 3, 4, 5]:
            raise ValueError(
                f"grades {[g.grade for g in self.grades]}; allowed: exactly 1, 2, 3, 4, 5"
            )
        return self


def _list_file() -> Path:
    return Path(str(resources.files("openect.outcomes").joinpath("ctcae_v5.toml")))


def load_ctcae(path: str | Path | None = None) -> CtcaeList:
    """The bundled list of CTCAE v5.0 terms and grades (or that of the file ``path``)."""
    with open(path or _list_file(), "rb") as handle:
        table = tomllib.load(handle)
    grades: dict[str, Any] = table.pop("grades")
    numbered = {k: v for k, v in grades.items() if k.isdigit()}
    return CtcaeList(
        **table,
        grades=tuple(
            CtcaeGrade(grade=int(k), **v)
            for k, v in sorted(numbered.items(), key=lambda kv: int(kv[0]))
        ),
        grades_source=str(grades.get("source", "")),
        grades_status=grades.get("status", "to_verify"),
    )


@cache
def ctcae() -> CtcaeList:
    """The bundled list (read once)."""
    return load_ctcae()


def find_term(text: str, terms: CtcaeList | None = None) -> CtcaeTerm | None:
    """The listed term spelled ``text`` (case and surrounding spaces ignored), else None
    (a term recorded as ``Other, specify``)."""
    wanted = text.strip().casefold()
    for term in (terms or ctcae()).terms:
        if term.term.casefold() == wanted:
            return term
    return None


def by_soc(terms: CtcaeList | None = None) -> dict[str, list[CtcaeTerm]]:
    """The listed terms grouped by system organ class, in file order."""
    out: dict[str, list[CtcaeTerm]] = {}
    for term in (terms or ctcae()).terms:
        out.setdefault(term.soc, []).append(term)
    return out


def grade_label(grade: int, terms: CtcaeList | None = None) -> str:
    """The grade in words: ``2 – Moderate``; ValueError outside 1-5."""
    for item in (terms or ctcae()).grades:
        if item.grade == grade:
            return f"{item.grade} – {item.label}"
    raise ValueError(f"CTCAE grade {grade} does not exist; allowed: 1 to 5")
