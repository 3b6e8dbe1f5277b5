"""`touchline demo` end to end: the default demo book reads as docs/touch-model.md says."""

from __future__ import annotations

import csv
import json

import pytest

from tests.conftest import run_touchline

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    work = tmp_path_factory.mktemp("demo")
    output = work / "output"
    completed = run_touchline("demo", "--output-dir", str(output), home=work / "home")
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    # output/<D>/ beside output/quality/ and output/outbox/ (the demo's files destination)
    (day_dir,) = [p for p in output.iterdir() if p.is_dir() and p.name[:2] == "20"]
    return {
        "stdout": completed.stdout,
        "stderr": completed.stderr,
        "day_dir": day_dir,
        "output": output,
        "home": work / "home",
    }


def read_rows(path):
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_tier_shares_match_the_touch_model(demo):
    accounts = read_rows(demo["day_dir"] / "accounts.csv")
    shares = {
        tier: sum(a["tier"] == tier for a in accounts) / len(accounts)
        for tier in ("high", "medium", "low", "tech")
    }
    # docs/touch-model.md: high touch the top 15-20%, medium 30-40%, the rest low and tech
    assert 0.13 <= shares["high"] <= 0.22, shares
    assert 0.28 <= shares["medium"] <= 0.42, shares
    assert 0.15 <= shares["low"] <= 0.35, shares
    assert 0.10 <= shares["tech"] <= 0.30, shares


def test_the_demo_run_is_green_at_every_gate(demo):
    report = json.loads(
        (demo["output"] / "quality" / demo["day_dir"].name / "report.json").read_text()
    )
    assert report["status"] == "passed"
    for step in report["steps"]:
        for dataset in step["datasets"]:
            failing = [o for o in dataset.get("outcomes", []) if not o["success"]]
            assert failing == [], (step["step"], dataset["name"], failing)
    assert "Data quality:    passed" in demo["stdout"]


def test_the_demo_writes_each_csm_their_files(demo):
    outbox = demo["output"] / "outbox" / demo["day_dir"].name
    lists = {p.stem for p in (demo["day_dir"] / "worklists").glob("*.csv")}
    for ext in ("csv", "xlsx", "html"):
        assert {p.stem for p in outbox.glob(f"*.{ext}")} == lists, ext
    assert "files    " in demo["stdout"] and " sent" in demo["stdout"]


def test_every_csm_has_a_list_ordered_by_priority(demo):
    summary = json.loads((demo["day_dir"] / "run_summary.json").read_text())
    lists = {p.stem: read_rows(p) for p in (demo["day_dir"] / "worklists").glob("*.csv")}
    csm_lists = {name: rows for name, rows in lists.items() if not name.startswith("queue-")}
    assert len(csm_lists) >= 20  # the demo org has ~28 CSMs
    for name, rows in csm_lists.items():
        assert rows, f"{name} has an empty work list"
        order = [(row["priority"], row["due_date"]) for row in rows]
        assert order == sorted(order), f"{name}'s list is not ordered by priority, then due date"
    assert summary["human_tasks"] == sum(len(rows) for rows in lists.values())


def test_tech_touch_goes_to_automation_and_reasons_explain(demo):
    automation = read_rows(demo["day_dir"] / "automation_queue.csv")
    accounts = {a["account_id"]: a for a in read_rows(demo["day_dir"] / "accounts.csv")}
    assert automation
    assert {accounts[item["account_id"]]["tier"] for item in automation} >= {"tech"}
    worklist = read_rows(demo["day_dir"] / "worklist.csv")
    tech_human = [t for t in worklist if t["tier"] == "tech"]
    # tech-touch accounts reach a person only when at risk or when an event calls for one
    assert all(t["lifecycle_stage"] == "at_risk" or t["trigger"] == "event" for t in tech_human)
    assert {t["trigger"] for t in worklist} == {"cadence", "event"}
    assert all(len(t["reason"]) > 20 for t in worklist)
    assert "Accounts per tier" in demo["stdout"]


def test_export_after_the_demo_finds_its_outbox_and_ledger(demo):
    settings_file = demo["home"] / "demo.json"
    assert f"Demo settings:   {settings_file}" in demo["stdout"]
    date = demo["day_dir"].name
    completed = run_touchline("export", "--date", date, "--dry-run", home=demo["home"])
    assert completed.returncode == 0, completed.stdout + completed.stderr
    # the demo sent the day already: the plan finds every file unchanged
    assert completed.stdout.startswith("files: 0 to create, 0 to update, 0 to close, ")
    assert f"from the demo ({settings_file})" in completed.stderr
    assert f"TOUCHLINE_OUTBOX={demo['output'] / 'outbox'}" in completed.stderr


def test_each_long_step_says_how_it_went_on_stderr(demo):
    # off a terminal: one line per step, on stderr, with its count and time
    lines = demo["stderr"].splitlines()
    for start in (
        "generating demo data: 120/120 days in ",
        "landing the history: 119/119 days in ",
        f"running the nightly DAG for {demo['day_dir'].name}: ",
    ):
        assert [line for line in lines if line.startswith(start)], start
    ran = next(line for line in lines if line.startswith("running the nightly DAG"))
    assert int(ran.split(": ")[1].split()[0]) >= 10 and " tasks done in " in ran
    assert "generating demo data" not in demo["stdout"]
