"""Response criteria (RECIST 1.1 adapted to skin, WHO) as data, and one measurement's category.

The thresholds live in ``criteria.toml`` beside this module, each criterion with its
source and status; :func:`load_criteria` reads them (or a centre's own file with the
same keys). :func:`categorise` applies one criterion to one measurement:

* **CR** - the lesion has disappeared (measure 0);
* **PD** - the measure has grown by at least ``pd_increase_pct`` over the nadir (the
  smallest measure so far, baseline included) and by at least ``pd_min_increase``
  in absolute terms;
* **PR** - the measure has shrunk by at least ``pr_decrease_pct`` against the baseline;
* **SD** - otherwise; named **NC** ("no change") where the criterion says so (WHO,
  ``stable_name = "NC"``).

A **non-measurable** lesion (RECIST 1.1: longest diameter under ``measurable_min`` at
baseline) is classified qualitatively (``measurable=False``): CR when it has
disappeared, PD when it has grown by the PD thresholds over its nadir, otherwise
**NN** (non-CR/non-PD); it has no PR and no SD.

Comparisons at a threshold are inclusive ("at least 30 %"), with a relative tolerance
of 1e-9 so that a caliper reading exactly on the boundary is not lost to rounding.
"""

from __future__ import annotations

import tomllib
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

#: Relative tolerance of the threshold comparisons.
BOUNDARY_TOLERANCE = 1e-9


class Category(StrEnum):
    """Response category of one lesion at one assessment; NE = not evaluable."""

    CR = "CR"
    PR = "PR"
    SD = "SD"
    #: WHO "no change" (Miller 1981): the WHO name of stable disease.
    NC = "NC"
    #: Non-CR/non-PD: a non-measurable lesion (RECIST 1.1) neither gone nor progressing.
    NN = "NN"
    PD = "PD"
    NE = "NE"


#: Best first: the order in which a best overall response is chosen (SD, NC and NN
#: rank alike: neither response nor progression).
RANK: dict[Category, int] = {
    Category.CR: 0,
    Category.PR: 1,
    Category.SD: 2,
    Category.NC: 2,
    Category.NN: 2,
    Category.PD: 3,
    Category.NE: 4,
}

#: Neither response nor progression, under any name.
STABLE = frozenset({Category.SD, Category.NC, Category.NN})


class ResponseCriteria(BaseModel):
    """Thresholds of one response criterion, with its source and status."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    title: str
    measure: Literal["longest", "product"] = Field(
        description="longest diameter (mm) or longest x perpendicular (mm2)"
    )
    pr_decrease_pct: float = Field(gt=0, lt=100, description="PR: decrease vs baseline (%)")
    pd_increase_pct: float = Field(gt=0, description="PD: increase over the nadir (%)")
    pd_min_increase: float = Field(
        ge=0, description="PD: absolute increase over the nadir (mm or mm2)"
    )
    measurable_min: float = Field(ge=0, description="Smallest measurable baseline (mm)")
    stable_name: Literal["SD", "NC"] = Field(
        "SD", description="Name of neither response nor progression: SD, or NC (WHO)"
    )
    confirmation_days: int = Field(
        0,
        ge=0,
        description="CR and PR need a confirming assessment at least this many days later "
        "(0: no confirmation)",
    )
    pd_per_lesion: bool = Field(
        False,
        description="Per patient under the sum rule: PD also when one lesion progresses (WHO)",
    )
    status: Literal["V", "U"]
    source: str

    def measure_of(self, longest_mm: float, perpendicular_mm: float | None) -> float | None:
        """The size this criterion compares (mm or mm2); None when it cannot be formed."""
        if self.measure == "longest":
            return longest_mm
        if longest_mm == 0.0:
            return 0.0
        if perpendicular_mm is None:
            return None
        return longest_mm * perpendicular_mm

    @property
    def unit(self) -> str:
        """Unit of the compared measure."""
        return "mm" if self.measure == "longest" else "mm2"

    @property
    def stable(self) -> Category:
        """The category of neither response nor progression: SD, or NC under WHO."""
        return Category(self.stable_name)

    @property
    def categories(self) -> list[Category]:
        """The categories this criterion gives, best first (NN only with a measurable
        minimum, NC instead of SD under WHO)."""
        out = [Category.CR, Category.PR, self.stable]
        if self.measurable_min > 0:
            out.append(Category.NN)
        return [*out, Category.PD, Category.NE]

    def is_measurable(self, longest_mm: float) -> bool:
        """True when a lesion of this baseline longest diameter (mm) is measurable."""
        return longest_mm >= self.measurable_min

    def named(self, category: Category, measurable: bool = True) -> Category:
        """``category`` in this criterion's words: SD as NC under WHO; PR, SD or NC of a
        non-measurable lesion as NN (an override recorded with the generic names)."""
        if not measurable and category in (Category.PR, *STABLE):
            return Category.NN
        if category in STABLE:
            return self.stable
        return category


def _criteria_file() -> Path:
    return Path(str(resources.files("openect.response").joinpath("criteria.toml")))


def criteria_names(path: str | Path | None = None) -> list[str]:
    """Names of the criteria in the bundled file (or in ``path``)."""
    with open(path or _criteria_file(), "rb") as handle:
        return sorted(tomllib.load(handle))


def load_criteria(name: str = "recist", path: str | Path | None = None) -> ResponseCriteria:
    """Criterion ``name`` (``recist`` or ``who``) from the bundled file or from ``path``.

    Raises ValueError naming the allowed criteria when ``name`` is unknown.
    """
    with open(path or _criteria_file(), "rb") as handle:
        table = tomllib.load(handle)
    key = name.lower()
    if key not in table:
        allowed = ", ".join(sorted(table))
        raise ValueError(f"criteria={name!r}: unknown; allowed {allowed}")
    return ResponseCriteria(name=key, **table[key])


def categorise(
    measure: float | None,
    baseline: float | None,
    nadir: float | None,
    criteria: ResponseCriteria,
    measurable: bool = True,
) -> Category:
    """Category of a lesion whose ``measure`` is compared with its ``baseline`` and ``nadir``.

    All three in the criterion's unit (mm for RECIST, mm2 for WHO). A missing measure or
    baseline gives NE; a missing nadir is taken as the baseline. A non-measurable lesion
    (``measurable=False``) is CR, PD or NN (non-CR/non-PD), never PR or SD.
    """
    if measure is None or baseline is None:
        return Category.NE
    if measure < 0 or baseline <= 0:
        raise ValueError(f"measure={measure}, baseline={baseline}: must be >= 0 and > 0")
    if measure == 0.0:
        return Category.CR
    low = baseline if nadir is None else nadir
    slack = BOUNDARY_TOLERANCE * max(abs(measure), abs(low), 1.0)
    grew_enough = measure - low >= criteria.pd_min_increase - slack
    grew_relative = measure >= low * (1.0 + criteria.pd_increase_pct / 100.0) - slack
    if grew_enough and grew_relative:
        return Category.PD
    if not measurable:
        return Category.NN
    if measure <= baseline * (1.0 - criteria.pr_decrease_pct / 100.0) + slack:
        return Category.PR
    return criteria.stable
