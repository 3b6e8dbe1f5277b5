"""The run report: its figures are the warehouse's, every asset is in the one file, the
sections to come appear with their marts and say so without them, a withheld figure is
never a number, and the run's other outputs link to it and from it."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import pytest

from tests.report.conftest import (
    VERDICT,
    WITHHELD_ARM,
    WITHHELD_METRICS,
    WITHHELD_OUTCOME,
    WITHHELD_RATE,
)
from touchline import report
from touchline.quality import report as quality_report

NOW = dt.datetime(2026, 10, 31, 6, 0, tzinfo=dt.UTC)


def _written(warehouse: Path, output: Path, run_date: dt.date) -> tuple[str, dict]:
    written = report.write(warehouse, output, run_date, now=NOW)
    assert written.html == output / "report" / run_date.isoformat() / "report.html"
    return written.html.read_text(encoding="utf-8"), json.loads(written.json.read_text())


class _Page(HTMLParser):
    """The page's tags in order, the text of each section, and every URL it names."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.urls: list[str] = []
        self.section: str | None = None
        self.text: dict[str, list[str]] = {}

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.tags.append(tag)
        if tag == "section":
            self.section = attributes.get("id")
        for name in ("href", "src", "xlink:href", "action", "data"):
            if attributes.get(name):
                self.urls.append(attributes[name])

    def handle_data(self, data):
        if self.section:
            self.text.setdefault(self.section, []).append(data)

    def section_text(self, section: str) -> str:
        return " ".join(" ".join(self.text.get(section, [])).split())


def _parsed(page: str) -> _Page:
    parser = _Page()
    parser.feed(page)
    return parser


@pytest.fixture(scope="module")
def without(report_warehouses, tmp_path_factory):
    run_date, copies = report_warehouses
    output = tmp_path_factory.mktemp("report-without")
    page, figures = _written(copies["without"], output, run_date)
    return {"run_date": run_date, "warehouse": copies["without"], "output": output,
            "page": page, "figures": figures}  # fmt: skip


@pytest.fixture(scope="module")
def with_evidence(report_warehouses, tmp_path_factory):
    run_date, copies = report_warehouses
    output = tmp_path_factory.mktemp("report-with")
    page, figures = _written(copies["with"], output, run_date)
    return {"run_date": run_date, "warehouse": copies["with"], "output": output,
            "page": page, "figures": figures}  # fmt: skip


def test_every_asset_is_in_the_one_file(without, with_evidence):
    """Opens offline and behind a firewall: no script, no stylesheet or font to fetch, and
    every link is to this run's own files or to a place in the page."""
    for written in (without, with_evidence):
        page = written["page"]
        parsed = _parsed(page)
        assert "script" not in parsed.tags
        assert "link" not in parsed.tags and "iframe" not in parsed.tags
        assert "@import" not in page and "@font-face" not in page
        assert set(re.findall(r"url\(([^)]*)\)", page)) <= {
            u for u in re.findall(r"url\((#[^)]*)\)", page)
        }
        for url in parsed.urls:
            assert "://" not in url and not url.startswith("//"), url
            if not url.startswith("#"):
                target = written["output"] / "report" / written["run_date"].isoformat() / url
                assert target.resolve().exists(), f"the report links to a missing {url}"


def test_each_chart_is_inline_svg_with_unique_ids_and_a_text_alternative(with_evidence):
    page = with_evidence["page"]
    charts = re.findall(r"<svg\b[^>]*>", page)
    # bands, tiers, capacity; churn by band, tier, decile; the plays; two experiments
    assert len(charts) == 9
    assert all('role="img"' in tag and "aria-labelledby=" in tag for tag in charts)
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids)), "two elements of the page share an id"
    for href in re.findall(r'xlink:href="#([^"]+)"', page) + re.findall(r"url\(#([^)]+)\)", page):
        assert href in ids, f"a chart refers to #{href}, which the page does not hold"
    # every figure is followed by its text alternative: a sentence or a table of its figures
    figures = page.split("<figure>")[1:]
    assert len(figures) == len(charts)
    for figure in figures:
        after = figure.split("</figure>", 1)[1]
        assert after.startswith('<div class="alt">')
        assert "<table>" in after.split("</div>", 1)[0]


def test_the_summary_and_the_history_are_the_warehouse_figures(without):
    figures, run_date = without["figures"]["figures"], without["run_date"]
    with duckdb.connect(str(without["warehouse"]), read_only=True) as con:
        tiers = dict(con.execute("select tier, count(*) from dim_accounts group by 1").fetchall())
        (accounts,) = con.execute("select count(*) from dim_accounts").fetchone()
        (tasks,) = con.execute("select count(*) from csm_worklist").fetchone()
        bands = dict(
            con.execute(
                "select health_band, count(*) from fct_account_health_daily"
                " where history_date = ? and health_band is not null group by 1",
                [run_date],
            ).fetchall()
        )
        served = dict(
            con.execute(
                "select tier, count(*) from fct_account_tiers_daily where history_date = ?"
                " group by 1",
                [run_date],
            ).fetchall()
        )
        overloaded = {
            name
            for (name,) in con.execute(
                "select csm_name from csm_capacity where is_overloaded"
            ).fetchall()
        }
        (first_day,) = con.execute(
            "select min(history_date) from fct_account_health_daily"
        ).fetchone()
    assert figures["accounts"] == accounts
    assert figures["accounts_per_tier"] == tiers
    assert figures["human_tasks"] == tasks
    day = run_date.isoformat()
    scored = sum(bands.values())
    assert figures["bands"]["last_day"] == day
    assert figures["bands"]["first_day"] == first_day.isoformat()
    assert figures["bands"]["accounts"][day] == scored
    for band, n in bands.items():
        assert figures["bands"]["shares"][day][band] == pytest.approx(n / scored, abs=1e-4)
    total = sum(served.values())
    for tier, n in served.items():
        assert figures["tiers"]["shares"][day][tier] == pytest.approx(n / total, abs=1e-4)
    assert set(figures["csms_overloaded"]) == overloaded
    assert {c["csm"] for c in figures["capacity"]["overloaded"]} == overloaded

    page = _parsed(without["page"])
    text = page.section_text("capacity")
    assert f"{len(overloaded)} of {figures['capacity']['csms']} CSMs are overloaded" in text
    for name in overloaded:
        assert name in text
    assert f"On {day}:" in page.section_text("bands")


def test_the_sections_to_come_say_they_are_not_available_without_their_marts(without):
    assert without["figures"]["sections"] == {
        "summary": "shown",
        "bands": "shown",
        "tiers": "shown",
        "capacity": "shown",
        "metrics": "shown",
        "backtest": "not available",
        "plays": "not available",
    }
    page = _parsed(without["page"])
    for section, marts in {
        "backtest": ("health_backtest_by_segment", "health_backtest_metrics"),
        "plays": ("touchpoint_outcomes", "experiment_results"),
    }.items():
        text = page.section_text(section)
        for mart in marts:
            assert f"Not available yet: the warehouse has no {mart} mart" in text
    assert len(re.findall(r"<svg\b", without["page"])) == 3


def test_the_sections_to_come_appear_with_their_marts(with_evidence):
    assert with_evidence["figures"]["sections"]["backtest"] == "shown"
    assert with_evidence["figures"]["sections"]["plays"] == "shown"
    page = _parsed(with_evidence["page"])
    backtest = page.section_text("backtest")
    assert "Within 90 days: red accounts churned at 12.0% against 3.8% for green" in backtest
    assert "a lift of 3.20x; an AUC of 0.74" in backtest
    assert "81% of churned accounts were red before" in backtest
    assert "a median 41 days before" in backtest
    plays = page.section_text("plays")
    assert f"Verdict: {VERDICT}" in plays
    assert "Experiment welcome_webinar No verdict yet" in plays
    # the call arm's churn rate and health change, each with its interval
    assert "3.2% (1.5% to 4.9%)" in plays and "+3.1 (+1.7 to +4.5)" in plays


def test_a_withheld_figure_prints_its_note_never_a_number(with_evidence):
    page = _parsed(with_evidence["page"])
    backtest, plays = page.section_text("backtest"), page.section_text("plays")
    # the 30-day health figures are withheld: the sentence gives the note, no AUC or lift
    sentence = backtest.split("Within 30 days:", 1)[1].split("Within 90 days:", 1)[0]
    assert "no figure is shown" in sentence and WITHHELD_METRICS.rstrip(".") in sentence
    assert "AUC of" not in sentence and "lift of" not in sentence
    assert WITHHELD_RATE in backtest and WITHHELD_OUTCOME in plays and WITHHELD_ARM in plays
    # a row whose every figure is withheld is named in a sentence, not tabled
    assert f"Every figure withheld for 1 row (30 days; health): {WITHHELD_METRICS}" in backtest
    # each null figure's cell says withheld
    cells = re.findall(r'<td class="withheld(?: num)?">([^<]*)</td>', with_evidence["page"])
    assert cells and set(cells) <= {"withheld", "no data", "–"}
    green_30 = re.search(r"<tr><td class=num>30 days</td><td>green</td>(.*?)</tr>",
                         with_evidence["page"])  # fmt: skip
    assert green_30 and '<td class="withheld num">withheld</td>' in green_30[1]
    for text in (backtest, plays):
        assert not re.search(r"\b(nan|None|NaN|inf)\b", text)


def test_the_charts_are_the_same_for_the_same_warehouse(report_warehouses, tmp_path):
    run_date, copies = report_warehouses
    first = report.write(copies["with"], tmp_path / "a", run_date, now=NOW).html.read_text()
    second = report.write(copies["with"], tmp_path / "b", run_date, now=NOW).html.read_text()
    assert first == second


def test_the_report_of_another_day_or_of_no_warehouse_is_refused(report_warehouses, tmp_path):
    run_date, copies = report_warehouses
    with pytest.raises(report.ReportError, match=f"holds {run_date}, not 2026-01-01"):
        report.write(copies["built"], tmp_path, dt.date(2026, 1, 1))
    with pytest.raises(report.ReportError, match="no published warehouse at .*none.duckdb"):
        report.write(tmp_path / "none.duckdb", tmp_path, run_date)
    assert not (tmp_path / "report").exists()


def test_the_warehouse_is_only_read(report_warehouses, tmp_path):
    """Written while another process holds the file open read-only (a writer would be
    refused its lock); the file's bytes are unchanged."""
    run_date, copies = report_warehouses
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copyfile(copies["built"], warehouse)
    before = warehouse.read_bytes()
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import duckdb, sys; con = duckdb.connect(sys.argv[1], read_only=True); "
         "print('open', flush=True); sys.stdin.read()", str(warehouse)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "open"
        report.write(warehouse, tmp_path / "output", run_date)
    finally:
        holder.communicate("", timeout=120)
    assert warehouse.read_bytes() == before


def _run_outputs(output: Path, run_date: dt.date) -> Path:
    """The files a run writes before its report: the run summary and the quality report."""
    run_dir = output / run_date.isoformat()
    run_dir.mkdir(parents=True)
    (run_dir / "worklist.csv").write_text("task_key\n")
    (run_dir / "worklists").mkdir()
    summary = {"run_date": run_date.isoformat(), "accounts_per_tier": {}, "human_tasks": 0,
               "automation_items": 0, "tasks_per_worklist": {},
               "quality": {"status": "passed", "report": "../quality/x/report.html"}}  # fmt: skip
    (run_dir / "run_summary.json").write_text(json.dumps(summary))
    quality_report.record(
        output, run_date, {"step": "before_export", "title": "Gate before export",
                           "status": "passed", "datasets": []},
    )  # fmt: skip
    return run_dir


def test_the_run_summary_and_the_quality_report_link_to_it_and_back(
    report_warehouses, tmp_path, capsys
):
    from touchline.run_summary import print_summary

    run_date, copies = report_warehouses
    output = tmp_path / "output"
    run_dir = _run_outputs(output, run_date)
    quality_html = quality_report.report_html(output, run_date)
    assert "run report" not in quality_html.read_text()
    written = report.write(copies["built"], output, run_date)

    summary = json.loads((run_dir / "run_summary.json").read_text())
    entry = summary["run_report"]
    assert entry["status"] == "written"
    assert (run_dir / entry["report"]).resolve() == written.html
    assert (run_dir / entry["report_json"]).resolve() == written.json
    assert entry["sections"] == written.sections
    assert summary["human_tasks"] == 0  # the rest of the summary is kept

    linked = re.search(r'<a href="([^"]+)">run report</a>', quality_html.read_text())
    assert linked and (quality_html.parent / linked[1]).resolve() == written.html
    assert json.loads(quality_report.report_dir(output, run_date).joinpath("report.json")
                      .read_text())["run_report"] == linked[1]  # fmt: skip
    back = re.search(
        r'<a href="([^"]+)">data-quality report of the run</a>', written.html.read_text()
    )
    assert back and (written.html.parent / back[1]).resolve() == quality_html.resolve()
    for label in ("every human task (worklist.csv)", "run summary (run_summary.json)"):
        assert f">{label}</a>" in written.html.read_text()

    print_summary(run_dir)
    assert f"Run report:      written ({written.html})" in capsys.readouterr().out


def test_the_nightly_step_writes_it_skips_a_past_date_and_fails_at_once(
    report_warehouses, tmp_path, monkeypatch
):
    from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

    from touchline import pipeline
    from touchline.config import settings

    run_date, copies = report_warehouses
    output = tmp_path / "output"
    run_dir = _run_outputs(output, run_date)
    paths = settings().with_overrides(warehouse=copies["built"], output_dir=output)
    monkeypatch.setattr(pipeline, "run_context", lambda: (run_date, paths))
    summary = pipeline.write_report()
    assert summary["report"] == str(report.report_html(output, run_date))
    assert summary["sections"]["bands"] == "shown"

    yesterday = run_date - dt.timedelta(days=1)
    monkeypatch.setattr(pipeline, "run_context", lambda: (yesterday, paths))
    with pytest.raises(AirflowSkipException, match=f"older than the published day {run_date}"):
        pipeline.write_report()
    assert not report.report_dir(output, yesterday).exists()

    missing = paths.with_overrides(warehouse=tmp_path / "none.duckdb")
    monkeypatch.setattr(pipeline, "run_context", lambda: (run_date, missing))
    with pytest.raises(AirflowFailException, match="no published warehouse at"):
        pipeline.write_report()
    entry = json.loads((run_dir / "run_summary.json").read_text())["run_report"]
    assert entry["status"] == "failed" and "no published warehouse" in entry["error"]


def test_the_command_writes_it_again(report_warehouses, tmp_path, monkeypatch, capsys):
    from touchline import cli

    run_date, copies = report_warehouses
    monkeypatch.setenv("TOUCHLINE_HOME", str(tmp_path / "home"))
    output = tmp_path / "output"
    args = ["report", "--date", run_date.isoformat(), "--output-dir", str(output)]
    assert cli.main([*args, "--warehouse", str(copies["built"])]) == 0
    html = report.report_html(output, run_date)
    assert f"Run report:      {html}" in capsys.readouterr().out
    assert html.exists() and report.report_json(output, run_date).exists()

    other = dt.date(2026, 1, 1).isoformat()
    assert cli.main(["report", "--date", other, "--warehouse", str(copies["built"])]) == 1
    assert f"touchline report: the published warehouse holds {run_date}" in capsys.readouterr().err


def test_importing_the_package_loads_neither_duckdb_nor_matplotlib():
    code = (
        "import sys, touchline.report, touchline.report.page; "
        "print(sorted(m for m in ('duckdb', 'matplotlib', 'pandas') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.strip() == "[]"


def test_how_early_churners_turned_red_is_said_once_when_every_horizon_shares_it():
    """The share of churners red before and their lead time are counted over the whole
    history: the same for every horizon, so the brief says them once."""
    from touchline.report.page import _headline

    rows = [
        {"horizon_days": h, "auc": 0.7, "churners_red_before_share": 0.95,
         "median_lead_time_days": 59.0, "note": None}
        for h in (30, 90)
    ]  # fmt: skip
    said = _headline(rows)
    assert said[:2] == ["<li>Within 30 days: an AUC of 0.70.</li>",
                        "<li>Within 90 days: an AUC of 0.70.</li>"]  # fmt: skip
    assert said[2] == (
        "<li>Over the whole history: 95% of churned accounts were red before they churned; "
        "a median 59 days before.</li>"
    )
