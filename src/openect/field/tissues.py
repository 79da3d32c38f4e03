"""Named tissue parameter sets (``data/tissues.toml``) with their sources."""

from __future__ import annotations

import tomllib
from dataclasses import replace
from functools import cache
from importlib import resources
from typing import Any

from openect.field.conductivity import TissueParameters


@cache
def _table() -> dict[str, Any]:
    text = (resources.files("openect.field") / "data" / "tissues.toml").read_text("utf-8")
    tissues: dict[str, Any] = tomllib.loads(text)["tissues"]
    return tissues


def tissue_names() -> list[str]:
    """Ids of the shipped tissue parameter sets."""
    return sorted(_table())


def tissue_source(name: str) -> tuple[str, str]:
    """(status, source) of a tissue parameter set."""
    entry = _table()[name]
    return str(entry["status"]), str(entry["source"])


def tissue(name: str, sigma0: float | None = None) -> TissueParameters:
    """Parameters of tissue ``name``; ``sigma0`` (S/m) overrides the intact conductivity
    (sigma1 is kept at least as high)."""
    table = _table()
    if name not in table:
        raise ValueError(f"tissue={name!r}: unknown; allowed: {', '.join(sorted(table))}")
    entry = table[name]
    params = TissueParameters(
        name=name,
        sigma0=float(entry["sigma0"]),
        sigma1=float(entry["sigma1"]),
        e_rev=float(entry["e_rev"]),
        e_irr=float(entry["e_irr"]),
    )
    if sigma0 is not None:
        if not 0 < sigma0 <= 100:
            raise ValueError(f"sigma={sigma0}: allowed > 0 and <= 100 S/m")
        params = replace(params, sigma0=sigma0, sigma1=max(params.sigma1, sigma0))
    return params
