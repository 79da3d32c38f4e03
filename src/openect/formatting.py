"""How OpenECT writes numbers for people: one set of formatters for the command line,
the reports and the web pages (as template filters).

Conventions (SI style, as in the clinical literature):

* a number keeps at most ``digits`` decimals and drops trailing zeros (``12``, ``12.5``);
  thousands are grouped with a narrow no-break space (``25 500 IU``);
* a unit follows after a no-break space;
* a proportion (0-1) is shown as a percentage with one decimal (``86.0 %``), an interval
  as ``71.3–94.2 %``;
* a value that is unknown or could not be estimated (None, NaN) is :data:`MISSING`
  unless the caller names another mark.

Machine outputs (JSON, CSV) never go through these functions.
"""

from __future__ import annotations

import datetime as dt
import math
from numbers import Real
from typing import Any

#: Mark of an unknown value or one that could not be estimated.
MISSING = "—"
#: Thousands separator: narrow no-break space (SI).
GROUP = "\u202f"
#: Between a number and its unit, or a percentage and its sign: no-break space.
SPACE = "\u00a0"


def is_missing(value: Any) -> bool:
    """True for None and NaN (float or numpy), the values shown as :data:`MISSING`."""
    if value is None:
        return True
    if isinstance(value, Real):
        return math.isnan(float(value))
    return False


def number(value: Any, unit: str = "", digits: int = 1, missing: str = MISSING) -> str:
    """``value`` with at most ``digits`` decimals, thousands grouped, then ``unit``.

    >>> number(25500, "IU")
    '25\u202f500\u00a0IU'
    >>> number(12.25, "mm")
    '12.2\u00a0mm'
    """
    if is_missing(value):
        return missing
    text = f"{float(value):,.{digits}f}"
    if digits > 0:
        text = text.rstrip("0").rstrip(".")
    if text in ("-0", ""):
        text = "0"
    text = text.replace(",", GROUP)
    return f"{text}{SPACE}{unit}" if unit else text


def percent(fraction: Any, digits: int = 1, missing: str = MISSING, sign: bool = True) -> str:
    """A proportion (0-1) as a percentage: ``0.86`` -> ``86.0 %`` (``86.0`` without sign)."""
    if is_missing(fraction):
        return missing
    text = f"{100 * float(fraction):.{digits}f}"
    return f"{text}{SPACE}%" if sign else text


def percent_interval(
    low: Any, high: Any, digits: int = 1, missing: str = MISSING, sign: bool = True
) -> str:
    """A confidence interval of a proportion: ``71.3–94.2 %``; :data:`MISSING` if a bound is."""
    if is_missing(low) or is_missing(high):
        return missing
    text = f"{percent(low, digits, sign=False)}–{percent(high, digits, sign=False)}"
    return f"{text}{SPACE}%" if sign else text


def diameters(longest: Any, perpendicular: Any = None) -> str:
    """A lesion's diameters (mm): ``12 × 9.5 mm``; ``12 mm`` without the perpendicular
    diameter; empty when the longest is unknown."""
    if longest == "" or is_missing(longest):
        return ""
    if perpendicular == "" or is_missing(perpendicular):
        return number(longest, "mm")
    return f"{number(longest)} × {number(perpendicular, 'mm')}"


def estimate(value: Any, spec: str = ".3g", missing: str = MISSING) -> str:
    """A statistic (hazard ratio, tau², p-value) with a format ``spec``: ``0.734``."""
    if is_missing(value):
        return missing
    return format(float(value), spec)


def words(value: Any) -> str:
    """An identifier-like value as words: ``lower_limb_left`` -> ``lower limb left``.

    Enums are shown by their value; booleans as ``yes`` / ``no``; None as an empty string.
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    value = getattr(value, "value", value)
    return str(value).replace("_", " ")


def clock(value: dt.time | None) -> str:
    """A clock time as ``HH:MM``, or ``HH:MM:SS`` when it has seconds; empty if unknown."""
    if value is None:
        return ""
    return value.strftime("%H:%M:%S") if value.second else value.strftime("%H:%M")
