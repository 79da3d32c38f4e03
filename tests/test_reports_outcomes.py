"""The HTML outcomes report: rendered from its template, in words for people, numbers
from the evidence tables with their sources, and no wider than the page.

The layout check opens the report in Debian's chromium through Playwright and is skipped
when either is missing (``make test`` installs chromium).
"""

from __future__ import annotations

import ast
import re
import shutil
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path

import pytest

from openect.evidence.studies import load_table, melanoma_response_studies, table_info
from openect.outcomes.analysis import OutcomeAnalysis
from openect.reports import outcomes as report
from openect.reports.outcomes import outcomes_report_html, write_outcomes_report
from openect.synth import generate_cohort

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

#: Program names in visible text: snake_case words, Python's booleans and missing marks,
#: rule statuses as letters.
IDENTIFIER = re.compile(r"\b[a-z]+_[a-z_]+\b|\b(?:True|False|None|NaN|nan)\b|\(status [A-Z]\)")


class _VisibleText(HTMLParser):
    """The text a reader sees: every text node outside <style>, <script> and <head>."""

    def __init__(self) -> None:
        super().__init__()
        self.hidden = 0
        self.parts: list[str] = []
        self.hrefs: list[str] = []
        self.images = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("style", "script", "head"):
            self.hidden += 1
        if tag == "a":
            self.hrefs += [v for k, v in attrs if k == "href" and v]
        if tag == "img":
            self.images += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script", "head"):
            self.hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)


@pytest.fixture(scope="module")
def analysis() -> OutcomeAnalysis:
    return OutcomeAnalysis().fit(generate_cohort(150, centres=3, seed=7))


@pytest.fixture(scope="module")
def html(analysis: OutcomeAnalysis) -> str:
    return outcomes_report_html(generate_cohort(150, centres=3, seed=7), analysis)


@pytest.fixture(scope="module")
def page(html: str) -> _VisibleText:
    parser = _VisibleText()
    parser.feed(html)
    return parser


def _text(page: _VisibleText) -> str:
    """The visible text with runs of ASCII white space as one space (no-break spaces,
    part of the number formats, are kept)."""
    return re.sub(r"[ \t\r\n]+", " ", " ".join(page.parts)).strip()


def test_report_is_rendered_from_the_packaged_template(html: str) -> None:
    template = resources.files("openect.reports") / "templates" / report.TEMPLATE
    assert template.is_file()
    assert html.startswith("<!doctype html>")
    assert "<title>OpenECT outcomes report</title>" in html
    assert html.rstrip().endswith("</html>")


def test_visible_text_has_no_program_names(page: _VisibleText) -> None:
    text = _text(page)
    assert "Cohort" in text  # the parser saw the body
    found = sorted({m.group(0) for m in IDENTIFIER.finditer(text)})
    assert found == [], f"identifier-like tokens in the report: {found}"


def test_statuses_booleans_and_columns_in_words(page: _VisibleText) -> None:
    text = _text(page)
    assert "(verified)" in text
    assert "concurrent immunotherapy: yes" in text
    assert "concurrent immunotherapy: no" in text
    assert "previously irradiated" in text
    assert "Responders / evaluable" in text
    assert "Sessions with any adverse event" in text
    assert "This dataset is SYNTHETIC" in text


def test_every_figure_is_embedded(html: str, page: _VisibleText) -> None:
    # Bars, two Kaplan-Meier, Cox and GEE forests, meta-analysis forest, centre funnel,
    # quality of life.
    assert page.images == 8
    assert html.count('src="data:image/png;base64,') == 8


def test_published_numbers_come_from_the_tables_with_sources(page: _VisibleText) -> None:
    text = _text(page)
    # Per-lesion melanoma cohorts: counts and their sources.
    cohorts = melanoma_response_studies("CR", "lesion")
    for label, url in zip(cohorts["label"], cohorts["source_url"], strict=True):
        if label in ("Kunte (InspECT) 2017", "Quaglino 2008"):
            assert label in text
            assert url in page.hrefs
    assert "229 / 394 (58.1\u00a0%)" in text  # Kunte 2017: lesions with CR
    # Pooled estimates of the melanoma meta-analyses, as printed, with the source.
    pooled = load_table("published_pooled_estimates")
    ferioli = pooled[(pooled["meta_analysis"] == "Ferioli et al.") & (pooled["unit"] == "lesion")]
    assert "53.5\u00a0% (42.1–64.7\u00a0%)" in text
    assert set(ferioli["source_url"]) <= set(page.hrefs)
    # Survival landmarks: Kunte 2017 one-year overall survival with its CI and source.
    survival = load_table("survival_and_local_control")
    kunte = survival[
        survival["study"].str.startswith("Kunte") & (survival["endpoint"] == "OS")
    ].iloc[0]
    assert (kunte["value"], kunte["ci_low"], kunte["ci_high"]) == ("67%", "57%", "77%")
    assert "67\u00a0% (57–77\u00a0%)" in text
    assert kunte["source_url"] in page.hrefs
    # The meta-analysis names Spratt 2014 and links its table.
    spratt = table_info("spratt2014_ect_studies")
    assert spratt.sources[0] in text
    assert spratt.sources[1] in page.hrefs


def _code_strings(source: str) -> list[str]:
    """String constants of a module that are not docstrings (what it can show)."""
    tree = ast.parse(source)
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
    ]


def test_no_published_number_is_typed_into_the_report_code() -> None:
    """Percentages the module and the templates can show are confidence levels only."""
    folder = resources.files("openect.reports") / "templates"
    texts = _code_strings(Path(report.__file__).read_text(encoding="utf-8"))
    for name in (report.TEMPLATE, "macros.html.j2"):
        template = (folder / name).read_text(encoding="utf-8")
        texts.append(re.sub(r"\{#.*?#\}|<style>.*?</style>", "", template, flags=re.S))
    numbers = {n for text in texts for n in re.findall(r"(\d+(?:\.\d+)?)\s*%", text)}
    assert numbers <= {"95", "99.8"}, numbers


def test_template_escapes_values() -> None:
    table = report.Table(
        columns=["<b>", "link"], rows=[["<script>x</script>", report.Link("<i>", "u")]]
    )
    template = report._environment().from_string(
        '{% from "macros.html.j2" import table %}{{ table(t) }}'
    )
    out = template.render(t=table)
    assert "&lt;script&gt;x&lt;/script&gt;" in out
    assert '<a href="u">&lt;i&gt;</a>' in out
    assert "<script>" not in out
    assert "<b>" not in out


def test_write_outcomes_report(tmp_path: Path, analysis: OutcomeAnalysis) -> None:
    out = write_outcomes_report(
        generate_cohort(150, centres=3, seed=7), tmp_path / "sub" / "report.html", analysis
    )
    assert out == tmp_path / "sub" / "report.html"
    assert out.read_text(encoding="utf-8").startswith("<!doctype html>")
    assert not list(out.parent.glob("*.tmp"))


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium not installed")
@pytest.mark.parametrize("width", [1280, 390])
def test_report_fits_the_viewport(tmp_path: Path, html: str, width: int) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    path = tmp_path / "report.html"
    path.write_text(html, encoding="utf-8")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.goto(path.as_uri())
            document = page.evaluate("document.documentElement.scrollWidth")
            body = page.evaluate("document.body.scrollWidth")
            images = page.evaluate(
                "Math.max(...[...document.images].map(i => i.getBoundingClientRect().right))"
            )
            visible = page.inner_text("body")
        finally:
            browser.close()
    assert document <= width
    assert body <= width
    assert images <= width
    assert not IDENTIFIER.search(visible), IDENTIFIER.findall(visible)


def test_the_rates_table_names_the_lesions_it_counts_and_the_per_patient_rule(
    page: _VisibleText,
) -> None:
    text = _text(page)
    assert "per non-measurable lesion (< 10 mm)" in text
    assert "Per lesion: measurable lesions (longest diameter ≥ 10 mm at baseline" in text
    assert "Per patient: lesion-based: CR if every evaluable lesion is CR" in text
    assert "Over measurable lesions (longest diameter >= 10 mm at baseline)." in text
