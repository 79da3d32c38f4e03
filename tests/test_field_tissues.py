"""Tissue parameter sets: their numbers against their sources, the table in
docs/field.md against the data, and the conductivity curve between E_rev and E_irr
against the statements in docs/field.md."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest

from openect.field.conductivity import SEL_C, SEL_D, SigmaModel, conductivity
from openect.field.tissues import tissue, tissue_names, tissue_source

DOCS = Path(__file__).resolve().parents[1] / "docs" / "field.md"

#: Go-Smart IRE liver model, as stored in go-smart/glossia-scratch-test-site,
#: public/constants/constants-variant-ire.xml: conductivities (S/m) and thresholds as
#: written there (V/m).
GO_SMART = {
    "tumour": {"lower": 0.2, "upper": 0.7, "threshold_lower": 40000, "threshold_upper": 80000},
    "liver": {"lower": 0.08, "upper": 0.32, "threshold_lower": 35000, "threshold_upper": 70000},
}

#: Sets whose numbers no source could confirm: pinned so that a change is deliberate
#: (and the table in docs/field.md follows it).
TO_VERIFY = {
    "tumour-skin-model": (0.3, 0.75, 400.0, 800.0),
    "skin": (0.05, 0.8, 400.0, 1200.0),
    "fat": (0.025, 0.08, 100.0, 400.0),
    "muscle": (0.135, 0.34, 200.0, 450.0),
}


def test_the_shipped_sets() -> None:
    assert set(tissue_names()) == set(GO_SMART) | set(TO_VERIFY)


@pytest.mark.parametrize("name", sorted(GO_SMART))
def test_verified_sets_match_the_go_smart_file(name: str) -> None:
    source = GO_SMART[name]
    params = tissue(name)
    assert params.sigma0 == source["lower"]
    assert params.sigma1 == source["upper"]
    assert params.e_rev == source["threshold_lower"] / 100  # V/m -> V/cm
    assert params.e_irr == source["threshold_upper"] / 100
    status, text = tissue_source(name)
    assert status == "verified"
    assert "constants-variant-ire.xml" in text


@pytest.mark.parametrize("name", sorted(TO_VERIFY))
def test_unconfirmed_sets_say_so(name: str) -> None:
    params = tissue(name)
    assert (params.sigma0, params.sigma1, params.e_rev, params.e_irr) == TO_VERIFY[name]
    status, text = tissue_source(name)
    assert status == "to_verify"
    assert text.startswith("To verify")


#: A row of the tissue table: id, sigma0, sigma1, E_rev, E_irr, source, status.
TABLE_ROW = re.compile(r"^\| `([a-z-]+)` \|" + r"([^|]*)\|" * 4 + r"[^|]*\|([^|]*)\|$")


def _docs_table() -> dict[str, tuple[float, float, float, float, str]]:
    rows = {}
    for line in DOCS.read_text(encoding="utf-8").splitlines():
        match = TABLE_ROW.match(line)
        if match:
            name, *numbers, status = match.groups()
            sigma0, sigma1, e_rev, e_irr = (float(n) for n in numbers)
            rows[name] = (sigma0, sigma1, e_rev, e_irr, status.strip())
    return rows


def test_docs_table_lists_every_set_with_its_numbers() -> None:
    rows = _docs_table()
    assert set(rows) == set(tissue_names())
    for name, (sigma0, sigma1, e_rev, e_irr, status) in rows.items():
        params = tissue(name)
        assert (sigma0, sigma1, e_rev, e_irr) == (
            params.sigma0,
            params.sigma1,
            params.e_rev,
            params.e_irr,
        )
        assert status == tissue_source(name)[0]


# The sigmoid as docs/field.md states it: with u = (E - E_rev) / (E_irr - E_rev) and
# f = (sigma - sigma0) / (sigma1 - sigma0), f(u) = 1 / (1 + D exp(-C (u - 1/2))), C = 8,
# D = 10.
DOCS_FRACTION = {0.0: 0.0018, 0.5: 0.0909, 1.0: 0.8452}  # f at E_rev, midpoint, E_irr
DOCS_SLOPE = {0.0: 0.0146, 0.5: 0.661, 1.0: 1.047}  # df/du there
HALF_RISE_U = 0.788  # f = 1/2, steepest point, df/du = C/4 = 2
ONE_PERCENT_U = 0.213
NINETY_NINE_PERCENT_U = 1.362


def _fraction(name: str, u: np.ndarray) -> np.ndarray:
    params = tissue(name)
    e = params.e_rev + u * (params.e_irr - params.e_rev)
    sigma = conductivity(SigmaModel.SIGMOID, params, e)
    return (sigma - params.sigma0) / (params.sigma1 - params.sigma0)


def test_sigmoid_constants_are_the_documented_ones() -> None:
    assert (SEL_C, SEL_D) == (8.0, 10.0)


@pytest.mark.parametrize("name", sorted(GO_SMART) + sorted(TO_VERIFY))
def test_sigmoid_between_the_thresholds(name: str) -> None:
    for u, expected in DOCS_FRACTION.items():
        assert _fraction(name, np.array([u]))[0] == pytest.approx(expected, abs=5e-5)
    # Closed forms behind those numbers.
    assert _fraction(name, np.array([0.0]))[0] == pytest.approx(1 / (1 + SEL_D * math.exp(4)))
    assert _fraction(name, np.array([0.5]))[0] == pytest.approx(1 / (1 + SEL_D))
    assert _fraction(name, np.array([1.0]))[0] == pytest.approx(1 / (1 + SEL_D * math.exp(-4)))
    # Slope (in units of (sigma1 - sigma0) / (E_irr - E_rev)), by central differences.
    h = 1e-6
    for u, expected in DOCS_SLOPE.items():
        ends = _fraction(name, np.array([u - h, u + h]))
        assert (ends[1] - ends[0]) / (2 * h) == pytest.approx(expected, abs=5e-4)
    # Half of the rise, at the steepest point, is reached well above the midpoint.
    u_half = 0.5 + math.log(SEL_D) / SEL_C
    assert u_half == pytest.approx(HALF_RISE_U, abs=5e-4)
    assert _fraction(name, np.array([u_half]))[0] == pytest.approx(0.5)
    u = np.linspace(-1.0, 3.0, 40001)
    slope = np.gradient(_fraction(name, u), u)
    assert slope.max() == pytest.approx(SEL_C / 4, rel=1e-4)
    assert u[slope.argmax()] == pytest.approx(u_half, abs=1e-4)
    # 1 % and 99 % of the rise.
    assert _fraction(name, np.array([ONE_PERCENT_U]))[0] == pytest.approx(0.01, abs=1e-4)
    assert _fraction(name, np.array([NINETY_NINE_PERCENT_U]))[0] == pytest.approx(0.99, abs=1e-4)


@pytest.mark.parametrize("name", sorted(GO_SMART) + sorted(TO_VERIFY))
def test_sigmoid_outside_the_interval(name: str) -> None:
    params = tissue(name)
    below = np.linspace(0.0, params.e_rev, 201)
    above = np.linspace(params.e_irr, 20 * params.e_irr, 201)
    sigma_below = conductivity(SigmaModel.SIGMOID, params, below)
    sigma_above = conductivity(SigmaModel.SIGMOID, params, above)
    rise = params.sigma1 - params.sigma0
    # Below E_rev: above sigma0 (never equal), within 0.2 % of the rise of it.
    assert np.all(sigma_below > params.sigma0)
    assert np.all(sigma_below <= params.sigma0 + 0.0019 * rise)
    # Above E_irr: still rising, towards sigma1, which it approaches but does not pass.
    assert np.all(np.diff(sigma_above) >= 0)
    assert np.all(sigma_above <= params.sigma1)
    assert sigma_above[0] == pytest.approx(params.sigma0 + 0.8452 * rise, abs=5e-5 * rise)
    assert sigma_above[-1] == pytest.approx(params.sigma1, rel=1e-9)


def test_sigmoid_for_the_default_tumour() -> None:
    # The numbers docs/field.md gives for the tumour set (0.2 / 0.7 S/m, 400 / 800 V/cm).
    params = tissue("tumour")
    sigma = conductivity(SigmaModel.SIGMOID, params, np.array([400.0, 600.0, 800.0]))
    assert sigma == pytest.approx([0.2009, 0.2455, 0.6226], abs=5e-5)
    assert conductivity(SigmaModel.SIGMOID, params, np.array([715.1]))[0] == pytest.approx(
        0.45, abs=1e-4
    )
    assert conductivity(SigmaModel.SIGMOID, params, np.array([944.9]))[0] == pytest.approx(
        0.695, abs=1e-4
    )


@pytest.mark.parametrize("name", sorted(GO_SMART) + sorted(TO_VERIFY))
def test_ramp_between_and_outside_the_thresholds(name: str) -> None:
    params = tissue(name)
    mid = (params.e_rev + params.e_irr) / 2
    e = np.array([0.0, params.e_rev, mid, params.e_irr, 10 * params.e_irr])
    sigma = conductivity(SigmaModel.RAMP, params, e)
    mean = (params.sigma0 + params.sigma1) / 2
    assert sigma == pytest.approx(
        [params.sigma0, params.sigma0, mean, params.sigma1, params.sigma1]
    )
    h = 1e-3
    ends = conductivity(SigmaModel.RAMP, params, np.array([mid - h, mid + h]))
    assert (ends[1] - ends[0]) / (2 * h) == pytest.approx(
        (params.sigma1 - params.sigma0) / (params.e_irr - params.e_rev)
    )
