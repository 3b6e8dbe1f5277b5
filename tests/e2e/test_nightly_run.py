"""End to end: `touchline run` on a small generated drop, through Airflow.

Checks the work-list files against docs/outputs.md, that a re-run of the date replaces
its results without duplicating them, and that bad input fails the run with a readable
message while the published warehouse and work lists stay as they were.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import re
import shutil

import pytest

from tests.conftest import run_touchline
from touchline.exports.worklist_files import ACCOUNT_COLUMNS, AUTOMATION_COLUMNS, WORKLIST_COLUMNS

pytestmark = pytest.mark.e2e

PRIORITIES = {"p1", "p2", "p3", "p4"}


def read_csv(path):
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        return header, [dict(zip(header, row, strict=True)) for row in reader]


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def nightly(tmp_path_factory, small_drop):
    """Run the last drop date once; return what the tests need."""
    work = tmp_path_factory.mktemp("e2e")
    drop = work / "drop"
    shutil.copytree(small_drop.out_dir, drop)
    run_date = small_drop.dates[1]
    home, output = work / "home", work / "output"
    # the drop comes from TOUCHLINE_SOURCE_DIR, as the README's configuration says
    env = {"TOUCHLINE_SOURCE_DIR": str(drop)}
    args = ["run", "--date", run_date.isoformat(), "--output-dir", str(output)]
    completed = run_touchline(*args, home=home, extra_env=env)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return {
        "drop": drop,
        "home": home,
        "output": output,
        "date": run_date,
        "args": args,
        "env": env,
        "printed": completed.stdout,
    }


def test_worklist_files_follow_the_contract(nightly):
    day_dir = nightly["output"] / nightly["date"].isoformat()
    header, tasks = read_csv(day_dir / "worklist.csv")
    assert header == WORKLIST_COLUMNS
    assert tasks, "no human task at all on a demo book"
    keys = [t["task_key"] for t in tasks]
    assert len(keys) == len(set(keys))
    for task in tasks:
        assert task["run_date"] == nightly["date"].isoformat()
        assert task["status"] in {"due", "overdue"}
        assert task["priority"] in PRIORITIES
        assert task["trigger"] in {"cadence", "event"}
        assert task["owner_role"] in {"csm", "pod", "support"}
        assert task["tier"] in {"high", "medium", "low", "tech"}
        assert task["lifecycle_stage"] in {"onboarding", "adoption", "renewal", "at_risk"}
        assert dt.date.fromisoformat(task["due_date"]) <= nightly["date"]
        assert task["reason"]
        assert not task["account_name"].startswith(("=", "+", "-", "@"))

    # the per-CSM files partition worklist.csv exactly
    per_file = {}
    for path in sorted((day_dir / "worklists").glob("*.csv")):
        file_header, rows = read_csv(path)
        assert file_header == WORKLIST_COLUMNS
        for row in rows:
            if row["assignee_email"]:
                assert path.name == row["assignee_email"] + ".csv"
            per_file[row["task_key"]] = row
    assert per_file == {t["task_key"]: t for t in tasks}


def test_automation_queue_and_accounts_follow_the_contract(nightly):
    day_dir = nightly["output"] / nightly["date"].isoformat()
    header, items = read_csv(day_dir / "automation_queue.csv")
    assert header == AUTOMATION_COLUMNS
    assert items, "tech-touch accounts produced no automation item"
    assert all(item["contact_email"] and item["campaign"] for item in items)
    header, accounts = read_csv(day_dir / "accounts.csv")
    assert header == ACCOUNT_COLUMNS
    ids = [a["account_id"] for a in accounts]
    assert len(ids) == len(set(ids))
    with open(
        nightly["drop"] / nightly["date"].isoformat() / "accounts.csv", encoding="utf-8"
    ) as f:
        assert len(ids) == sum(1 for _ in csv.DictReader(f))
    assert {a["tier"] for a in accounts} == {"high", "medium", "low", "tech"}


def test_the_run_report_is_written_and_linked_from_the_run(nightly):
    """The nightly DAG writes the run report beside the quality report; the run summary and
    the printed summary name it, it and the quality report link to each other, and
    ``touchline report`` writes it again from the published warehouse."""
    day = nightly["date"].isoformat()
    day_dir, output = nightly["output"] / day, nightly["output"]
    html = output / "report" / day / "report.html"
    entry = json.loads((day_dir / "run_summary.json").read_text())["run_report"]
    assert entry["status"] == "written"
    assert (day_dir / entry["report"]).resolve() == html.resolve()
    assert {entry["sections"][s] for s in ("bands", "tiers", "capacity")} == {"shown"}
    assert f"Run report:      written ({html.resolve()})" in nightly["printed"]

    quality = output / "quality" / day / "report.html"
    forth = re.search(r'<a href="([^"]+)">run report</a>', quality.read_text())
    assert forth and (quality.parent / forth[1]).resolve() == html.resolve()
    page = html.read_text()
    back = re.search(r'<a href="([^"]+)">data-quality report of the run</a>', page)
    assert back and (html.parent / back[1]).resolve() == quality.resolve()
    assert len(re.findall(r"<svg\b", page)) >= 3 and "<script" not in page

    html.unlink()
    args = ["report", "--date", day, "--output-dir", str(output)]
    completed = run_touchline(*args, home=nightly["home"], extra_env=nightly["env"])
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert f"Run report:      {html}" in completed.stdout
    assert html.exists()


def test_rerun_replaces_without_duplicates(nightly):
    day_dir = nightly["output"] / nightly["date"].isoformat()
    before = {p.relative_to(day_dir): digest(p) for p in day_dir.rglob("*.csv")}
    completed = run_touchline(*nightly["args"], home=nightly["home"], extra_env=nightly["env"])
    assert completed.returncode == 0, completed.stdout + completed.stderr
    after = {p.relative_to(day_dir): digest(p) for p in day_dir.rglob("*.csv")}
    assert after == before


def test_bad_input_fails_readably_and_keeps_the_published_state(nightly):
    warehouse = nightly["home"] / "warehouse.duckdb"
    published = digest(warehouse)
    outputs_before = sorted(p.name for p in nightly["output"].iterdir())
    next_day = nightly["date"] + dt.timedelta(days=1)
    bad_dir = nightly["drop"] / next_day.isoformat()
    shutil.copytree(nightly["drop"] / nightly["date"].isoformat(), bad_dir)
    contracts = bad_dir / "contracts.csv"
    lines = contracts.read_text(encoding="utf-8").splitlines(keepends=True)
    header = next(csv.reader([lines[0]]))
    row = next(csv.reader([lines[3]]))
    row[header.index("arr_amount")] = "lots"
    with open(contracts, "w", encoding="utf-8", newline="") as handle:
        handle.writelines(lines[:3])
        csv.writer(handle, lineterminator="\n").writerow(row)
        handle.writelines(lines[4:])

    args = ["run", "--source-dir", str(nightly["drop"]), "--date", next_day.isoformat()]
    args += ["--output-dir", str(nightly["output"])]
    completed = run_touchline(*args, home=nightly["home"])
    assert completed.returncode != 0
    message = completed.stderr
    assert "contracts.csv" in message and "line 4" in message
    assert "'arr_amount'" in message and "'lots'" in message
    assert "extract_crm" in message
    assert digest(warehouse) == published
    assert sorted(p.name for p in nightly["output"].iterdir()) == outputs_before
