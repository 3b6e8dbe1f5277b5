"""The outbox: per-CSM CSV, XLSX and HTML brief, on a folder or an fsspec URL."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import fsspec
import pytest
from openpyxl import load_workbook

from tests.exports.conftest import RUN_DATE, make_day, task
from touchline.exports.base import export
from touchline.exports.ledger import Ledger
from touchline.exports.outbox import PRIORITY_FILLS, Outbox, brief_html, xlsx_bytes
from touchline.exports.worklist_files import WORKLIST_COLUMNS

HOSTILE = '=HYPERLINK("http://evil.example","click")'


@pytest.fixture
def hostile_day():
    return make_day(
        [
            task(1, account_name=HOSTILE, reason="+SUM(1,2) in a reason"),
            task(2, account_name="@import <b>bold</b>", reason="-2 seats"),
            task(3),
        ]
    )


def test_files_per_csm_in_a_local_outbox(tmp_path, day):
    with Ledger(tmp_path / "ledger.sqlite") as ledger:
        result = export(Outbox(str(tmp_path / "outbox")), day, ledger)
    folder = tmp_path / "outbox" / RUN_DATE.isoformat()
    names = sorted(p.name for p in folder.iterdir())
    assert names == [
        f"{who}@example.com.{ext}" for who in ("ana", "ben") for ext in ("csv", "html", "xlsx")
    ]
    assert len(result.create) == 2
    with open(folder / "ana@example.com.csv", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == WORKLIST_COLUMNS
    assert {r["assignee_email"] for r in rows} == {"ana@example.com"}
    assert len(rows) == sum(t["assignee_email"] == "ana@example.com" for t in day.worklist)
    sheet = load_workbook(folder / "ana@example.com.xlsx").active
    assert sheet.freeze_panes == "A2"
    assert [c.value for c in sheet[1]] == WORKLIST_COLUMNS
    assert sheet.max_row == len(rows) + 1
    p1_rows = [r for r in sheet.iter_rows(min_row=2) if r[4].value == "p1"]
    assert p1_rows and p1_rows[0][0].fill.start_color.rgb.endswith("F8D7DA")
    brief = (folder / "ana@example.com.html").read_text()
    assert "Priority 1" in brief and "Quarterly business review" in brief and "<svg" in brief
    assert not list(folder.glob(".*.partial"))


def test_formulas_are_neutralised_and_html_is_escaped(tmp_path, hostile_day):
    with Ledger(tmp_path / "ledger.sqlite") as ledger:
        export(Outbox(str(tmp_path / "outbox")), hostile_day, ledger)
    folder = tmp_path / "outbox" / RUN_DATE.isoformat()
    texts = []
    for path in folder.glob("*.csv"):
        with open(path, encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                texts += [row["account_name"], row["reason"]]
    for path in folder.glob("*.xlsx"):
        for row in load_workbook(path).active.iter_rows(min_row=2):
            assert all(cell.data_type != "f" for cell in row)  # no cell is a formula
            texts += [row[6].value, row[16].value]
    assert "'" + HOSTILE in texts and "'+SUM(1,2) in a reason" in texts
    assert "'@import <b>bold</b>" in texts and "'-2 seats" in texts
    assert not [t for t in texts if t and t[0] in "=+-@"]
    briefs = "".join(p.read_text() for p in folder.glob("*.html"))
    assert "<b>bold</b>" not in briefs and "&lt;b&gt;bold&lt;/b&gt;" in briefs


def test_an_object_store_url_works_and_a_rerun_rewrites_nothing(tmp_path, day):
    url = "memory://touchline-outbox-test"
    fs = fsspec.filesystem("memory")
    with Ledger(tmp_path / "ledger.sqlite") as ledger:
        export(Outbox(url), day, ledger)
        written = sorted(fs.ls(f"/touchline-outbox-test/{RUN_DATE}", detail=False))
        assert len(written) == 6
        stamp = {p: fs.info(p)["created"] for p in written}
        again = export(Outbox(url), day, ledger)
    assert again.unchanged == 2 and not again.create
    assert {p: fs.info(p)["created"] for p in written} == stamp
    with fs.open(f"/touchline-outbox-test/{RUN_DATE}/ben@example.com.csv", "rb") as handle:
        assert next(csv.reader(io.StringIO(handle.read().decode()))) == WORKLIST_COLUMNS


def test_xlsx_rows_carry_their_priority_colour_and_values():
    rows = [
        {c: f"{c}-{i}" for c in WORKLIST_COLUMNS} | {"priority": p, "health_score": 40.0 + i}
        for i, p in enumerate(["p1", "p3", "p9", "p1"])
    ]
    sheet = load_workbook(io.BytesIO(xlsx_bytes(rows, "ana"))).active
    assert sheet.max_row == 5 and sheet.auto_filter.ref == "A1:Q5"
    priority_at = WORKLIST_COLUMNS.index("priority")
    for row, expected in zip(sheet.iter_rows(min_row=2), rows, strict=True):
        assert [c.value for c in row][priority_at] == expected["priority"]
        assert row[0].value == expected["task_key"]
        assert row[WORKLIST_COLUMNS.index("health_score")].value == expected["health_score"]
        colours = {c.fill.start_color.rgb[-6:] if c.fill.fill_type else None for c in row}
        assert colours == {PRIORITY_FILLS.get(expected["priority"])}  # every cell, or none


def brief_of(day, name="ana@example.com") -> str:
    return brief_html(name, day.worklist, day).decode("utf-8")


def brief_task(brief: str, account_name: str) -> str:
    """The brief's entry for the task of the named account."""
    (entry,) = [t for t in brief.split("<div class='task")[1:] if f" {account_name} " in t]
    return entry


def test_brief_says_due_today_only_for_tasks_due_today():
    day = make_day(
        [
            task(1, due_date=RUN_DATE, status="due", account_name="Due Today Co"),
            task(
                2, due_date=RUN_DATE - dt.timedelta(days=4), status="due", account_name="Since Co"
            ),
            task(
                3,
                due_date=RUN_DATE - dt.timedelta(days=9),
                status="overdue",
                account_name="Late Co",
            ),
        ]
    )
    brief = brief_of(day)
    assert "(due today," in brief_task(brief, "Due Today Co")
    assert "(due since 2026-10-26," in brief_task(brief, "Since Co")
    assert "(overdue since 2026-10-21," in brief_task(brief, "Late Co")
    assert brief.count("due today") == 1


def test_brief_greets_the_csm_by_name_and_shows_health_as_a_whole_number():
    day = make_day(
        [
            task(1, health_score=Decimal("63.000"), account_name="Decimal Co"),
            task(4, health_score=47.6, health_band="red", account_name="Float Co"),
        ],
        csm_names={"ana@example.com": "Ana Lima", "ben@example.com": "Ben Ode"},
    )
    brief = brief_of(day)
    assert (
        "Good morning, Ana Lima:" in brief and "<title>Morning brief 2026-10-30: Ana Lima" in brief
    )
    assert "health 63 (yellow)" in brief_task(brief, "Decimal Co")
    assert "health 48 (red)" in brief_task(brief, "Float Co")
    queue = make_day([task(5, assignee_email=None, owner_role="support")], csm_names={})
    assert "Good morning, support queue:" in brief_of(queue, "queue-support")


def test_xlsx_date_columns_are_excel_dates():
    rows = [task(n) for n in (1, 2)]
    sheet = load_workbook(io.BytesIO(xlsx_bytes(rows, "ana"))).active
    for row, expected in zip(sheet.iter_rows(min_row=2), rows, strict=True):
        for name in ("run_date", "due_date"):
            cell = row[WORKLIST_COLUMNS.index(name)]
            assert cell.is_date and cell.number_format == "yyyy-mm-dd"
            assert cell.value.date() == expected[name]
            assert cell.fill.start_color.rgb[-6:] == PRIORITY_FILLS[expected["priority"]]
