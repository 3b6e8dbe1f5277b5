"""The run report in a real browser: Debian's chromium, headless, driven by playwright.

Loaded from file:// as a reader opens it, the page logs no console error and raises no page
error, asks for nothing beyond its own file, draws every chart with a size in the layout,
and reads the same with JavaScript off. A full-page screenshot is kept as the test's
artifact: under pytest's tmp folder, copied to ``.touchline/test-artifacts/report.png``
(git-ignored with the rest of ``.touchline/``).

``make browser`` (run by ``make test``) installs chromium; without it these tests skip,
saying so.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from touchline import report
from touchline.config import REPO_ROOT

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO_ROOT / ".touchline" / "test-artifacts"

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason=f"no chromium at {CHROMIUM}: `make browser` installs Debian's (needs root and apt)",
)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="module")
def pages(report_warehouses, tmp_path_factory):
    """The report of the dbt-built warehouse as it is, and of one with every evidence mart."""
    run_date, copies = report_warehouses
    written = {}
    for variant in ("built", "with"):
        output = tmp_path_factory.mktemp(f"browser-{variant}")
        written[variant] = report.write(copies[variant], output, run_date).html
    return written


def _open(browser, html: Path, *, javascript: bool = True):
    """The page loaded from file://, with every console message, page error and request."""
    context = browser.new_context(
        java_script_enabled=javascript, viewport={"width": 1280, "height": 900}
    )
    page = context.new_page()
    seen = {"console": [], "errors": [], "requests": []}
    page.on("console", lambda message: seen["console"].append((message.type, message.text)))
    page.on("pageerror", lambda error: seen["errors"].append(str(error)))
    page.on("request", lambda request: seen["requests"].append(request.url))
    page.goto(html.as_uri(), wait_until="load")
    return context, page, seen


def _charts(page) -> list[dict]:
    """Each chart of the page with its box in the layout (None: not laid out)."""
    return [
        {"title": chart.locator("title").text_content(), "box": chart.bounding_box()}
        for chart in page.locator("figure svg.chart").all()
    ]


@pytest.mark.parametrize("variant", ["built", "with"])
def test_the_page_loads_clean_and_draws_every_chart(browser, pages, variant, tmp_path):
    html = pages[variant]
    context, page, seen = _open(browser, html)
    try:
        errors = [text for kind, text in seen["console"] if kind in ("error", "warning")]
        assert errors == [], f"the browser's console: {errors}"
        assert seen["errors"] == [], f"errors raised in the page: {seen['errors']}"
        # nothing is fetched but the file itself: it opens offline and behind a firewall
        assert seen["requests"] == [html.as_uri()]
        charts = _charts(page)
        assert len(charts) == page.locator("figure").count() >= 3
        for chart in charts:
            box = chart["box"]
            assert box and box["width"] > 100 and box["height"] > 100, chart
        # the text alternative of each chart is laid out and visible below it
        for alternative in page.locator("figure + div.alt").all():
            assert alternative.is_visible() and alternative.bounding_box()["height"] > 0
        assert page.title() == f"touchline run report {html.parent.name}"
        shot = tmp_path / f"report-{variant}.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        name = "report.png" if variant == "with" else f"report-{variant}.png"
        shutil.copyfile(shot, ARTIFACTS / name)
    finally:
        context.close()


def test_the_page_reads_with_javascript_off(browser, pages):
    with_script, page_on, _ = _open(browser, pages["with"])
    without_script, page, seen = _open(browser, pages["with"], javascript=False)
    try:
        assert seen["errors"] == []
        on = [chart["box"] for chart in _charts(page_on)]
        off = [chart["box"] for chart in _charts(page)]
        assert off == on, "the charts are not the same without scripts"
        text = page.locator("main").inner_text()
        for heading in (
            "Health bands over time",
            "Touch tiers over time",
            "CSM capacity and overload",
            "Does the health score predict churn?",
            "Plays and experiments",
        ):
            assert heading in text
        assert page.locator("main table").count() >= 8
        assert page.locator("nav a").count() == 7
    finally:
        with_script.close()
        without_script.close()
