"""The EQ-5D-3L descriptive system: dimensions and the words of their levels (no Django).

The wording is data (``eq5d_3l.toml`` beside this module, with its sources and status):
each dimension is stored in one ``eq5d_*`` column of patient_reported.csv as level 1, 2
or 3 (1 = no problems, 3 = extreme problems). :func:`eq5d_dimensions` reads it; the
patient-reported outcome form offers each level with its questionnaire sentence.
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

#: Levels of every EQ-5D-3L dimension.
LEVELS: tuple[int, int, int] = (1, 2, 3)


class Eq5dDimension(BaseModel):
    """One EQ-5D-3L dimension: its column, name and the words of levels 1-3."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    column: str = Field(pattern=r"^eq5d_[a-z]+$", description="Column of patient_reported.csv")
    name: str = Field(min_length=1, description="The dimension as the questionnaire names it")
    hint: str | None = None
    levels: tuple[str, str, str] = Field(description="Questionnaire sentence of levels 1, 2, 3")
    descriptive: tuple[str, str, str] = Field(description="Descriptive-system words of 1-3")
    status: Literal["verified", "to_verify"]

    def level(self, value: int) -> str:
        """The sentence of level ``value`` (1-3); ValueError outside."""
        if value not in LEVELS:
            raise ValueError(f"{self.column} {value} is not an EQ-5D-3L level; allowed: 1 to 3")
        return self.levels[value - 1]


def _file() -> Path:
    return Path(str(resources.files("openect.outcomes").joinpath("eq5d_3l.toml")))


def load_eq5d(path: str | Path | None = None) -> tuple[Eq5dDimension, ...]:
    """The five dimensions of the bundled file (or of the file ``path``), in file order."""
    with open(path or _file(), "rb") as handle:
        table = tomllib.load(handle)
    return tuple(Eq5dDimension(**item) for item in table["dimensions"])


@cache
def eq5d_dimensions() -> dict[str, Eq5dDimension]:
    """The bundled dimensions by column (``eq5d_mobility`` -> Mobility), read once."""
    return {d.column: d for d in load_eq5d()}
