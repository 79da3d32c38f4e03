"""Curated published ECT results shipped with the package, each with its sources.

Four tables (CSV files under ``openect/evidence/data``, each with a ``#`` header that
names its sources and caveats): the 11 ECT studies of Spratt et al. 2014 (lesion counts
with complete and objective response), melanoma ECT cohorts (per patient and per
lesion), pooled estimates printed by later meta-analyses, and survival / local control
landmarks. Numbers come from abstracts and one PMC table page; rows keep their source
URL and flags (``INCONSISTENT``: the abstract's own numbers do not add up; ``MIXED``: not
melanoma only; ``derived``: a count back-calculated from a printed percentage).
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Literal

import pandas as pd

Outcome = Literal["CR", "OR"]
Level = Literal["lesion", "patient"]

#: Bundled tables: name -> one-line title (the file is ``data/<name>.csv``).
TABLES: dict[str, str] = {
    "spratt2014_ect_studies": (
        "The 11 ECT studies of Spratt et al., J Clin Oncol 2014 (Table 1): "
        "lesions, CR and OR per study"
    ),
    "melanoma_ect_cohorts": (
        "Melanoma ECT cohorts (Kunte 2017 InspECT, Ricotti 2014, Caraco, Quaglino 2008, ...) "
        "per patient and per lesion"
    ),
    "published_pooled_estimates": (
        "Pooled estimates with CIs as printed by ECT meta-analyses "
        "(Ferioli 2022, Petrelli 2022, Mali 2013, ...)"
    ),
    "survival_and_local_control": (
        "Local control / LPFS / OS landmarks, medians and hazard ratios, "
        "incl. ECT with ipilimumab or anti-PD-1"
    ),
}

_URL = re.compile(r"https?://[^\s,\"]+")


@dataclass(frozen=True)
class EvidenceTable:
    """One bundled table: ``name`` (file stem), ``title``, number of data ``rows``,
    ``sources`` (citations and URLs from the ``#`` header, then the distinct
    ``source_url`` values of the rows) and ``description`` (the ``#`` header text)."""

    name: str
    title: str
    rows: int
    columns: tuple[str, ...]
    sources: tuple[str, ...]
    description: str


def table_names() -> list[str]:
    """Names of the bundled tables, in a fixed order."""
    return list(TABLES)


def _check_name(name: str) -> str:
    if name not in TABLES:
        raise ValueError(f"table={name!r}: unknown; allowed {', '.join(TABLES)}")
    return name


@cache
def _text(name: str) -> str:
    path = resources.files("openect.evidence") / "data" / f"{_check_name(name)}.csv"
    return path.read_text(encoding="utf-8")


def _header(name: str) -> list[str]:
    """The ``#`` comment lines at the top of a table, without the ``#``."""
    lines = []
    for line in _text(name).splitlines():
        if not line.startswith("#"):
            break
        lines.append(line.lstrip("#").strip())
    return lines


def load_table(name: str) -> pd.DataFrame:
    """The bundled table ``name`` as a DataFrame (a fresh copy; comment header dropped).

    Raises ValueError naming the allowed names for an unknown ``name``.
    """
    return pd.read_csv(io.StringIO(_text(_check_name(name))), comment="#")


def table_info(name: str) -> EvidenceTable:
    """Description of one bundled table (see :class:`EvidenceTable`)."""
    header = _header(_check_name(name))
    frame = load_table(name)
    sources: list[str] = []
    for line in header:
        if line.lower().startswith("source:"):
            sources.append(line.split(":", 1)[1].strip())
        sources += _URL.findall(line)
    if "source_url" in frame.columns:
        sources += [str(url) for url in frame["source_url"].dropna()]
    unique = tuple(dict.fromkeys(sources))
    return EvidenceTable(
        name=name,
        title=TABLES[name],
        rows=len(frame),
        columns=tuple(str(c) for c in frame.columns),
        sources=unique,
        description="\n".join(header),
    )


def list_tables() -> list[EvidenceTable]:
    """Every bundled table with its title, row count and sources."""
    return [table_info(name) for name in TABLES]


def _outcome(outcome: str) -> str:
    if outcome not in ("CR", "OR"):
        raise ValueError(
            f"outcome={outcome!r}: not allowed; allowed CR (complete response), "
            "OR (objective response = CR + PR)"
        )
    return outcome.lower()


def melanoma_response_studies(
    outcome: Outcome = "CR",
    level: Level = "lesion",
    *,
    include_inconsistent: bool = False,
    include_mixed: bool = False,
) -> pd.DataFrame:
    """Melanoma ECT cohorts with counts for ``outcome`` at ``level``, ready to pool.

    Columns: ``label`` (study and year), ``events`` (lesions or patients with CR / OR),
    ``total`` (lesions or patients evaluated), ``year``, ``derived`` (True when a count
    was back-calculated from a printed percentage), ``flags`` (caveats, verbatim) and
    ``source_url``. Rows without both counts are left out. Rows flagged INCONSISTENT
    (the abstract's numbers do not add up) and MIXED (not melanoma only) are left out
    unless ``include_inconsistent`` / ``include_mixed``.
    """
    column = _outcome(outcome)
    if level not in ("lesion", "patient"):
        raise ValueError(f"level={level!r}: not allowed; allowed lesion, patient")
    table = load_table("melanoma_ect_cohorts")
    flags = table["flags"].fillna("").astype(str)
    keep = (table["level"] == level) & table["n"].notna() & table[column].notna()
    if not include_inconsistent:
        keep &= ~flags.str.contains("INCONSISTENT")
    if not include_mixed:
        keep &= ~flags.str.contains("MIXED") & (table["histology"] == "melanoma")
    rows = table[keep]
    return pd.DataFrame(
        {
            "label": (rows["study"] + " " + rows["year"].astype(str)).to_list(),
            "events": rows[column].astype(int).to_list(),
            "total": rows["n"].astype(int).to_list(),
            "year": rows["year"].astype(int).to_list(),
            "derived": (rows["derived"] == 1).to_list(),
            "flags": flags[keep].to_list(),
            "source_url": rows["source_url"].to_list(),
        }
    )


def spratt2014(outcome: Outcome = "CR") -> pd.DataFrame:
    """The 11 ECT studies of Spratt et al. 2014 (Table 1), lesion level, ready to pool.

    Columns: ``label`` (first author and year), ``events`` (lesions with CR, or with
    objective response for ``"OR"``), ``total`` (lesions treated), ``year``,
    ``n_patients``, ``flags`` (``asterisk`` when the study carries Spratt's asterisk,
    whose footnote was not retrieved; else empty).
    """
    column = _outcome(outcome)
    table = load_table("spratt2014_ect_studies")
    return pd.DataFrame(
        {
            "label": (table["study"] + " " + table["year"].astype(str)).to_list(),
            "events": table[column].astype(int).to_list(),
            "total": table["n_lesions"].astype(int).to_list(),
            "year": table["year"].astype(int).to_list(),
            "n_patients": table["n_patients"].astype(int).to_list(),
            "flags": ["asterisk (footnote not retrieved)" if a else "" for a in table["asterisk"]],
        }
    )
