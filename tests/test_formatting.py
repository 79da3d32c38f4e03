"""openect.formatting: the one set of number formatters for people (command line,
reports, web pages)."""

from __future__ import annotations

import enum
import math

import numpy as np
import pytest

from openect.formatting import (
    GROUP,
    MISSING,
    SPACE,
    estimate,
    is_missing,
    number,
    percent,
    percent_interval,
    words,
)

NNBSP = "\u202f"  # narrow no-break space: thousands
NBSP = "\u00a0"  # no-break space: before a unit or %


class Site(enum.Enum):
    LOWER_LIMB_LEFT = "lower_limb_left"


def test_separators_are_the_si_spaces() -> None:
    assert GROUP == NNBSP
    assert SPACE == NBSP
    assert MISSING == "—"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, True),
        (float("nan"), True),
        (np.nan, True),
        (np.float32("nan"), True),
        (0, False),
        (0.0, False),
        (np.int64(3), False),
        (math.inf, False),
        ("", False),
        ("text", False),
    ],
)
def test_is_missing(value: object, expected: bool) -> None:
    assert is_missing(value) is expected


def test_number_groups_thousands_with_a_narrow_no_break_space() -> None:
    assert number(25500, "IU") == f"25{NNBSP}500{NBSP}IU"
    assert number(1234567) == f"1{NNBSP}234{NNBSP}567"
    assert number(np.int64(25500)) == f"25{NNBSP}500"
    assert number(-1234.56) == f"-1{NNBSP}234.6"
    assert number(999) == "999"


def test_number_drops_trailing_zeros_and_keeps_at_most_digits_decimals() -> None:
    assert number(12.0) == "12"
    assert number(12.5) == "12.5"
    assert number(12.25, "mm") == f"12.2{NBSP}mm"  # round half to even
    assert number(12.26, "mm") == f"12.3{NBSP}mm"
    assert number(0.125, digits=3) == "0.125"
    assert number(2.50, digits=2) == "2.5"
    assert number(100.0) == "100"
    assert number(3.14159, digits=0) == "3"
    assert number(1500.0, digits=0) == f"1{NNBSP}500"


def test_number_never_writes_minus_zero() -> None:
    assert number(-0.04) == "0"
    assert number(-0.0) == "0"
    assert number(-0.4, digits=0) == "0"


def test_number_of_a_missing_value() -> None:
    assert number(None) == MISSING
    assert number(float("nan"), "mm") == MISSING
    assert number(None, "mm", missing="not measured") == "not measured"


def test_percent() -> None:
    assert percent(0.86) == f"86.0{NBSP}%"
    assert percent(0.5877862) == f"58.8{NBSP}%"
    assert percent(1.0) == f"100.0{NBSP}%"
    assert percent(0.0) == f"0.0{NBSP}%"
    assert percent(0.86, digits=0) == f"86{NBSP}%"
    assert percent(0.12345, digits=2) == f"12.35{NBSP}%"
    assert percent(0.86, sign=False) == "86.0"
    assert percent(np.float64(0.25)) == f"25.0{NBSP}%"


def test_percent_of_a_missing_value() -> None:
    assert percent(None) == MISSING
    assert percent(float("nan")) == MISSING
    assert percent(None, missing="") == ""


def test_percent_interval() -> None:
    assert percent_interval(0.713, 0.942) == f"71.3–94.2{NBSP}%"
    assert percent_interval(0.713, 0.942, sign=False) == "71.3–94.2"
    assert percent_interval(0.05, 0.1, digits=0) == f"5–10{NBSP}%"
    assert percent_interval(0.0, 1.0) == f"0.0–100.0{NBSP}%"


def test_percent_interval_is_missing_when_a_bound_is() -> None:
    assert percent_interval(None, 0.9) == MISSING
    assert percent_interval(0.1, float("nan")) == MISSING
    assert percent_interval(None, None, missing="n/a") == "n/a"


def test_estimate() -> None:
    assert estimate(0.73421) == "0.734"
    assert estimate(3.78e-17) == "3.78e-17"
    assert estimate(1.5, ".2f") == "1.50"
    assert estimate(np.float64(17.4), ".2f") == "17.40"
    assert estimate(1234.5, ".4g") == "1234"  # no grouping: a statistic, not a count
    assert estimate(None) == MISSING
    assert estimate(float("nan"), ".2f") == MISSING
    assert estimate(None, missing="not estimable") == "not estimable"


def test_words() -> None:
    assert words("lower_limb_left") == "lower limb left"
    assert words(Site.LOWER_LIMB_LEFT) == "lower limb left"
    assert words(True) == "yes"
    assert words(False) == "no"
    assert words(None) == ""
    assert words("melanoma") == "melanoma"
    assert words(3) == "3"


def test_a_record_id_without_its_parents_id() -> None:
    from openect.web.templatetags.openect_format import short_id

    assert short_id("PX-3f2a9c-L2", "PX-3f2a9c") == "L2"
    assert short_id("P1-L2", "P2") == "P1-L2"  # another patient's: unchanged
    assert short_id("P1-L2", "") == "P1-L2"
