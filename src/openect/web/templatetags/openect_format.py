"""Template filters of the pages: numbers, percentages and words as everywhere in OpenECT.

``{% load openect_format %}``, then ``{{ value|number:"mm" }}``, ``{{ dose|number:"IU" }}``,
``{{ rate|percent }}``, ``{{ low|interval:high }}``, ``{{ site|words }}``,
``{{ time|clock }}``, ``{{ longest|size:perpendicular }}``, ``{{ dose|measure:"mg,2" }}``,
``{{ rule.value|rule_value }}``. The conventions are those of :mod:`openect.formatting`.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django import template

from openect import formatting

register = template.Library()


@register.filter
def number(value: Any, unit: str = "") -> str:
    """``value`` with at most one decimal, thousands grouped, then ``unit``."""
    return formatting.number(value, unit)


@register.filter
def percent(value: Any) -> str:
    """A proportion (0-1) as a percentage with one decimal."""
    return formatting.percent(value)


@register.filter
def interval(low: Any, high: Any) -> str:
    """``{{ low|interval:high }}``: a confidence interval of a proportion, in %."""
    return formatting.percent_interval(low, high)


@register.filter
def short_id(value: Any, parent: Any) -> str:
    """``{{ lesion_id|short_id:patient_id }}``: a record id without its parent's id and
    ``-`` in front (``PX-3f2a...-L2`` -> ``L2``); unchanged when it does not start so."""
    text = str(value)
    prefix = f"{parent}-"
    return text.removeprefix(prefix) if parent and text.startswith(prefix) else text


@register.filter
def words(value: Any) -> str:
    """An identifier-like value (enum, ``lower_limb_left``, bool) as words."""
    return formatting.words(value)


@register.filter
def clock(value: dt.time | None) -> str:
    """A clock time as ``HH:MM``, or ``HH:MM:SS`` when it has seconds; empty if unknown."""
    return formatting.clock(value)


@register.filter
def size(longest: Any, perpendicular: Any = None) -> str:
    """``{{ longest|size:perpendicular }}``: a lesion's diameters, ``12 × 9.5 mm``.

    ``12 mm`` without the perpendicular diameter; empty when the longest is unknown.
    """
    return formatting.diameters(longest, perpendicular)


@register.filter
def measure(value: Any, spec: str = "") -> str:
    """``{{ dose|measure:"mg,2" }}``: ``value`` with at most the given number of decimals
    (after the comma; default 1), then the unit: ``2.25 mg``, ``1.73 m²``."""
    unit, _, digits = spec.partition(",")
    return formatting.number(value, unit.strip(), int(digits) if digits.strip() else 1)


@register.filter
def rule_value(value: Any) -> str:
    """A rule's value as written in its rule set: a number or text as is, a table or a
    list as JSON (``{"start_min": 8, "end_min": 28}``)."""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)
