"""Figure functions: an optional Axes in, the same Axes out, and no pyplot anywhere.

Every ``plot_*`` function of the outcomes, evidence, field and planning figures and the
report's figure helpers draws into an Axes it is given and returns it; without one it
builds its own :class:`matplotlib.figure.Figure`. Importing the modules that draw never
imports ``matplotlib.pyplot`` (the web server draws in threads).
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from openect.evidence.meta import MetaAnalysis
from openect.evidence.plots import (
    centre_funnel_figure,
    forest_figure,
    funnel_figure,
    plot_centre_funnel,
    plot_forest,
    plot_funnel,
)
from openect.evidence.studies import spratt2014
from openect.field.figures import plot_coverage_curve, plot_field_slice, slice_figure
from openect.field.model_file import build_model
from openect.field.simulate import Simulation, simulate
from openect.outcomes.analysis import OutcomeAnalysis
from openect.outcomes.figures import (
    km_figure,
    plot_km,
    plot_ratio_forest,
    plot_response_bars,
    ratio_forest_figure,
    response_bars_figure,
)
from openect.planning.figure import plot_plan
from openect.planning.footprint import Footprint
from openect.planning.outline import ellipse
from openect.planning.placement import grid_baseline
from openect.reports.outcomes import plot_centres, plot_literature_bars
from openect.synth import generate_cohort

#: Modules that draw figures; none may import pyplot when imported.
DRAWING_MODULES = (
    "openect.outcomes.figures",
    "openect.evidence.plots",
    "openect.field.figures",
    "openect.planning.figure",
    "openect.reports",
    "openect.reports.outcomes",
    "openect.cli",
    "openect.cli.analyse",
    "openect.cli.evidence",
    "openect.cli.field",
    "openect.cli.report",
)


def _axes() -> Axes:
    return Figure(figsize=(5, 4)).add_subplot()


@pytest.fixture(scope="module")
def analysis() -> OutcomeAnalysis:
    return OutcomeAnalysis().fit(generate_cohort(150, centres=3, seed=7))


@pytest.fixture(scope="module")
def meta() -> MetaAnalysis:
    studies = spratt2014("CR")
    return MetaAnalysis(method="REML").fit_proportions(
        studies["events"], studies["total"], labels=studies["label"].tolist()
    )


@pytest.fixture(scope="module")
def simulation() -> Simulation:
    model = build_model(
        {
            "electrode": "needle-pair",
            "sigma_model": "constant",
            "sigma": 0.2,
            "tumour": {"diameter_mm": 6},
        }
    )
    return simulate(model, 1.0, [])


def test_outcome_figures_draw_into_the_given_axes(analysis: OutcomeAnalysis) -> None:
    ax = _axes()
    assert plot_km(analysis.local_control_by_immunotherapy_, ax) is ax
    assert [line.get_label() for line in ax.get_lines()[:2]] == [
        "concurrent immunotherapy: no",
        "concurrent immunotherapy: yes",
    ]
    ax = _axes()
    assert plot_km(analysis.survival_, ax, at_risk=False) is ax
    assert ax.get_xlabel() == "Days since first treatment"
    ax = _axes()
    assert plot_response_bars([("register", 0.6, 0.8), ("study", 0.5, 0.7)], ax) is ax
    assert len(ax.patches) == 4
    assert analysis.cox_ is not None
    assert analysis.gee_ is not None
    ax = _axes()
    assert plot_ratio_forest(analysis.cox_.summary, "hr", "hr_low", "hr_high", ax) is ax
    names = [t.get_text() for t in ax.get_yticklabels()]
    assert "previously irradiated" in names
    assert not any("_" in n for n in names)
    assert ax.get_xscale() == "log"


def test_outcome_figures_without_axes_build_a_figure(analysis: OutcomeAnalysis) -> None:
    ax = plot_km(analysis.local_control_)
    assert isinstance(ax, Axes)
    assert isinstance(ax.figure, Figure)
    assert isinstance(km_figure(analysis.local_control_), Figure)
    assert isinstance(response_bars_figure([("a", 0.5, 0.6)]), Figure)
    assert analysis.gee_ is not None
    figure = ratio_forest_figure(
        analysis.gee_.summary, "or", "or_low", "or_high", "GEE", "Odds ratio"
    )
    assert isinstance(figure, Figure)


def test_evidence_figures_draw_into_the_given_axes(meta: MetaAnalysis) -> None:
    ax = _axes()
    assert plot_forest(meta, ax, title="Spratt 2014") is ax
    assert ax.get_title(loc="left").startswith("Spratt 2014\n")
    ax = _axes()
    assert plot_funnel(meta, ax) is ax
    assert ax.get_ylabel() == "Standard error"
    ax = _axes()
    assert plot_centre_funnel(0.48, [("C01", 30, 40), ("C02", 5, 25)], ax) is ax
    assert [t.get_text() for t in ax.texts] == ["C01", "C02"]
    for figure in (
        forest_figure(meta),
        funnel_figure(meta),
        centre_funnel_figure(0.5, [("C", 1, 2)]),
    ):
        assert isinstance(figure, Figure)


def test_field_figures_draw_into_the_given_axes(simulation: Simulation) -> None:
    ax = _axes()
    assert plot_field_slice(simulation, "xz", ax, colorbar=False) is ax
    assert ax.get_ylabel() == "depth z (mm)"
    assert len(ax.figure.axes) == 1  # no colour bar asked for
    ax = _axes()
    assert plot_field_slice(simulation, "xy", ax) is ax
    assert len(ax.figure.axes) == 2  # the plot and its colour bar
    ax = _axes()
    assert plot_coverage_curve(simulation, ax) is ax
    assert ax.get_xlabel() == "field |E| (V/cm)"
    assert len(slice_figure(simulation).axes) == 3
    with pytest.raises(ValueError, match="plane"):
        plot_field_slice(simulation, "yz")


def test_plan_figure_draws_into_the_given_axes() -> None:
    x = y = np.round(np.arange(-60, 61) * 0.1, 10)
    yy, xx = np.meshgrid(y, x, indexing="ij")
    footprint = Footprint(
        x_mm=x,
        y_mm=y,
        e_min_v_per_cm=np.where((np.abs(xx) <= 2.0) & (np.abs(yy) <= 4.0), 1000.0, 0.0),
        e_rev_v_per_cm=400.0,
        electrode="test plates",
        conductors_mm=np.array([[-2.0, -4.0], [-2.0, 4.0], [2.0, -4.0], [2.0, 4.0]]),
    )
    outline = ellipse(12.0, 8.0)
    target = outline.target(2.0)
    applications = grid_baseline(footprint, target)
    ax = _axes()
    gaps = np.zeros((0, 2))
    assert plot_plan(outline, target, footprint, applications, gaps, ax, title="plan") is ax
    assert ax.get_title() == "plan"
    assert ax.get_aspect() == 1.0
    assert isinstance(plot_plan(outline, target, footprint, applications, gaps).figure, Figure)


def test_report_figure_helpers_draw_into_the_given_axes(analysis: OutcomeAnalysis) -> None:
    ax = _axes()
    assert plot_literature_bars(analysis, ax) is ax
    assert ax.get_xticklabels()[0].get_text() == "this register"
    ax = _axes()
    assert plot_centres(analysis, 0.5, ax) is ax


def test_importing_does_not_import_pyplot() -> None:
    code = (
        "import importlib, sys\n"
        f"for module in {list(DRAWING_MODULES)!r}:\n"
        "    importlib.import_module(module)\n"
        "    assert 'matplotlib.pyplot' not in sys.modules, f'{module} imports pyplot'\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr


def test_drawing_a_figure_does_not_import_pyplot() -> None:
    code = (
        "import sys\n"
        "from openect.evidence.plots import centre_funnel_figure, save_png\n"
        "import tempfile, pathlib\n"
        "out = pathlib.Path(tempfile.mkdtemp()) / 'c.png'\n"
        "save_png(centre_funnel_figure(0.5, [('C01', 3, 6)]), out, dpi=50)\n"
        "assert out.stat().st_size > 0\n"
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot imported'\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
