"""End to end: each expectation family, injected into a demo drop, stops the nightly run.

The run goes through Airflow (`touchline run`). For every fault the test asserts that the
right task fails with a message naming the dataset, the expectation, what was observed and
offending ids (the faults the gate before load catches share one night, a fault in each of
four entities, and the message must name each); that the published warehouse is
byte-identical to before; that no work-list file was written for the date; and that the
run's report records the failure. A clean run of the same date then passes with every gate
green."""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import run_touchline
from touchline.quality.report import STEP_ORDER
from touchline.schema import ALL_ENTITIES

pytestmark = pytest.mark.e2e


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def write_rows(path: Path, header: list[str], rows: list[dict[str, str]]) -> None:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=header, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def edit(folder: Path, entity: str, change) -> None:
    """Rewrite ``<entity>.csv`` of a drop folder with ``change(header, rows)``."""
    path = folder / f"{entity}.csv"
    header, rows = read_rows(path)
    result = change(header, rows)
    header, rows = result if isinstance(result, tuple) else (header, result)
    write_rows(path, header, rows)


@pytest.fixture(scope="module")
def published(tmp_path_factory, small_drop):
    """A home with the day before the test date run cleanly: the last good state."""
    work = tmp_path_factory.mktemp("quality")
    drop = work / "drop"
    shutil.copytree(small_drop.out_dir, drop)
    last = small_drop.dates[1]
    previous = last.fromordinal(last.toordinal() - 1)
    home, output = work / "home", work / "output"
    base = ["--source-dir", str(drop), "--output-dir", str(output)]
    completed = run_touchline("run", *base, "--date", previous.isoformat(), home=home)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    pristine = work / "pristine"
    shutil.copytree(drop / last.isoformat(), pristine)
    return {
        "drop": drop,
        "home": home,
        "output": output,
        "date": last,
        "args": ["run", *base, "--date", last.isoformat()],
        "pristine": pristine,
    }


@pytest.fixture
def state(published):
    """The test date's drop folder restored from the pristine copy before each test."""
    folder = published["drop"] / published["date"].isoformat()
    shutil.rmtree(folder)
    shutil.copytree(published["pristine"], folder)
    return {**published, "folder": folder}


def assert_says(message: str, words) -> None:
    """Each of ``words`` is in the failure ``message``."""
    for word in words:
        assert word in message, (word, message)


def run_and_expect_failure(state, task: str, words: list[str]) -> str:
    """Run the date; it must fail at ``task`` and leave every published thing as it was.

    A batch stopped before load leaves the landing partitions unchanged too; one that
    passed that gate is landed (it is valid input) even when the marts then fail.
    """
    warehouse = state["home"] / "warehouse.duckdb"
    before = digest(warehouse)
    landing = state["home"] / "landing"
    landed_before = sorted(p.relative_to(landing) for p in landing.rglob("part-0.parquet"))
    completed = run_touchline(*state["args"], home=state["home"])
    message = completed.stderr
    assert completed.returncode != 0, completed.stdout
    assert f"failed tasks: {task}" in message, message
    assert_says(message, words)
    assert digest(warehouse) == before, "the published warehouse changed"
    if task != "gate_before_export":
        landed_after = sorted(p.relative_to(landing) for p in landing.rglob("part-0.parquet"))
        assert landed_after == landed_before, "a landing partition was published"
    day = state["date"].isoformat()
    assert not (state["output"] / day).exists(), "a work-list file was written"
    report = json.loads((state["output"] / "quality" / day / "report.json").read_text())
    assert report["status"] == "failed"
    assert (state["output"] / "quality" / day / "report.html").exists()
    return message


def test_missing_required_column_stops_at_the_contract_check(state):
    edit(
        state["folder"],
        "tickets",
        lambda header, rows: (
            [h for h in header if h != "priority"],
            [{k: v for k, v in r.items() if k != "priority"} for r in rows],
        ),
    )
    run_and_expect_failure(
        state,
        "extract_support",
        ["tickets.csv, line 1, column 'priority'", "required column is missing"],
    )


def _truncate_and_duplicate_contacts(header, rows):
    """A snapshot cut to 40% of yesterday's (a broken export), with a duplicated id."""
    rows = rows[: len(rows) * 2 // 5]
    rows[4]["contact_id"] = rows[1]["contact_id"]
    return rows


def _enterprise_plan(header, rows):
    rows[2]["plan"] = "enterprise"
    return rows


def _csat_of_nine(header, rows):
    assert rows, "the generated drop has no ticket on this date"
    rows[0]["csat_score"] = "9"
    return rows


def _strangers(header, rows):
    """Above the fail share and at least min_rows (10) of them: a broken export, not a slip."""
    assert len(rows) >= 10, "the generated drop has too few activities on this date"
    for row in rows[: max(10, len(rows) // 5)]:
        row["account_id"] = "acc-unknown"
    return rows


@pytest.fixture(scope="module")
def stopped_before_load(published):
    """One night with a fault in each of four entities, each a different expectation: the
    gate before load names every one of them, and nothing of the night is published.

    Each fault alone fails the gate (tests/quality/test_gate_before_load.py checks the
    verdicts one by one); one run shows the whole path stops at that task and says all.
    """
    folder = published["drop"] / published["date"].isoformat()
    shutil.rmtree(folder)
    shutil.copytree(published["pristine"], folder)
    for entity, change in (
        ("contacts", _truncate_and_duplicate_contacts),
        ("accounts", _enterprise_plan),
        ("tickets", _csat_of_nine),
        ("activities", _strangers),
    ):
        edit(folder, entity, change)
    rows = {entity: read_rows(folder / f"{entity}.csv")[1] for entity in ("contacts", "accounts")}
    rows["tickets"] = read_rows(folder / "tickets.csv")[1]
    message = run_and_expect_failure({**published, "folder": folder}, "gate_before_load", [])
    return message, rows


def test_duplicate_key_stops_before_load(stopped_before_load):
    message, rows = stopped_before_load
    assert_says(
        message,
        (
            "contacts: expect_column_values_to_be_unique on 'contact_id'",
            f"contact_id={rows['contacts'][1]['contact_id']}",
        ),
    )


def test_bad_enum_stops_before_load(stopped_before_load):
    message, rows = stopped_before_load
    assert_says(
        message,
        (
            "accounts: expect_column_values_to_be_in_set on 'plan'",
            "found 'enterprise'",
            "expected one of free/trial/paid",
            "accounts.csv, line 4",
            f"account_id={rows['accounts'][2]['account_id']}",
        ),
    )


def test_out_of_range_csat_stops_before_load(stopped_before_load):
    message, rows = stopped_before_load
    assert_says(
        message,
        (
            "tickets: expect_column_values_to_be_between on 'csat_score'",
            "found 9",
            "<= 5",
            "tickets.csv, line 2",
            f"ticket_id={rows['tickets'][0]['ticket_id']}",
        ),
    )


def test_unknown_accounts_above_the_fail_share_stop_before_load(stopped_before_load):
    message, _rows = stopped_before_load
    assert_says(
        message,
        (
            "activities: expect_column_values_to_not_be_null on 'known_account_id'",
            "at least 95% of rows",
            "activity_id=",
        ),
    )


def test_truncated_snapshot_stops_before_load(stopped_before_load):
    message, _rows = stopped_before_load
    assert_says(
        message, ("contacts: expect_table_row_count_to_be_between", "factor 1.5", "baseline:")
    )


def test_unroutable_tasks_stop_before_export(state):
    """Medium-touch accounts in a pod nobody works in: their tasks have no one to go to."""

    def ghost_pod(header, rows):
        for row in rows:
            row["pod"] = "ghost"
        return rows

    edit(state["folder"], "accounts", ghost_pod)
    run_and_expect_failure(
        state,
        "gate_before_export",
        ["tasks: expect_column_values_to_not_be_null on 'routed_to'", "task_key="],
    )


def test_overloaded_csm_stops_before_export(state):
    """Every account owned by one CSM: that morning list is past the sanity bound."""

    def one_owner(header, rows):
        owner = rows[0]["csm_email"] or "someone@example.com"
        for row in rows:
            row["csm_email"] = owner
            row["is_strategic"] = "true"
        return rows

    edit(state["folder"], "accounts", one_owner)
    run_and_expect_failure(
        state,
        "gate_before_export",
        ["csm_load: expect_column_values_to_be_between on 'tasks'", "<= 150", "csm="],
    )


def test_tier_shares_out_of_bounds_stop_before_export(state):
    """Every contract suddenly worth a million: the whole book is high touch overnight.

    (Moving down a tier waits 30 days, the hysteresis; moving up is immediate.)
    """

    def millions(header, rows):
        for row in rows:
            row["arr_amount"] = "1000000"
        return rows

    edit(state["folder"], "contracts", millions)
    run_and_expect_failure(
        state,
        "gate_before_export",
        [
            "tier_shares: expect_column_max_to_be_between on 'high_share'",
            "observed 0.8333",  # free and trial accounts stay tech touch
            "expected >= 0.05, <= 0.35",
        ],
    )


def test_clean_run_passes_every_gate(state):
    completed = run_touchline(*state["args"], home=state["home"])
    assert completed.returncode == 0, completed.stdout + completed.stderr
    day = state["date"].isoformat()
    report = json.loads((state["output"] / "quality" / day / "report.json").read_text())
    assert report["status"] == "passed"
    steps = {s["step"]: s for s in report["steps"]}
    # the four contract checks, the two gates and the build with its dbt tests
    assert set(steps) == set(STEP_ORDER)
    assert steps["build"]["message"].startswith("dbt nodes: ")
    for step in steps.values():
        assert step["status"] == "passed", step["step"]
        for dataset in step["datasets"]:
            assert all(o["success"] for o in dataset.get("outcomes", [])), dataset["name"]
    validated = {d["name"] for d in steps["before_load"]["datasets"]}
    assert validated == {e.name for e in ALL_ENTITIES}  # the drop and the CRM read-back
    summary = json.loads((state["output"] / day / "run_summary.json").read_text())
    assert summary["quality"]["status"] == "passed"
    linked = (state["output"] / day / summary["quality"]["report"]).resolve()
    assert linked == (state["output"] / "quality" / day / "report.html").resolve()
    assert "Data quality:    passed" in completed.stdout


def test_a_missing_event_file_and_a_stray_row_warn_and_the_night_goes_on(state):
    """No NPS file today, one activity for an unknown account: both reported, the rest lands."""
    (state["folder"] / "nps_responses.csv").unlink()

    def stray(header, rows):
        assert rows, "the generated drop has no activity on this date"
        rows[0]["account_id"] = "acc-unknown"
        return rows

    edit(state["folder"], "activities", stray)
    _, rows = read_rows(state["folder"] / "activities.csv")
    completed = run_touchline(*state["args"], home=state["home"])
    assert completed.returncode == 0, completed.stdout + completed.stderr
    day = state["date"].isoformat()
    quality = state["output"] / "quality" / day
    report = json.loads((quality / "report.json").read_text())
    assert report["status"] == "warned"
    (gate,) = [s for s in report["steps"] if s["step"] == "before_load"]
    held = quality / "quarantine" / "activities.csv"
    assert gate["quarantine"] == [{"entity": "activities", "rows": 1, "file": str(held)}]
    _, quarantined = read_rows(held)
    assert [r["activity_id"] for r in quarantined] == [rows[0]["activity_id"]]
    log = (state["home"] / "airflow" / "runs" / f"{day}.log").read_text()
    assert "nps_responses: no nps_responses file in the drop" in log
    assert f"quarantined 1 row(s) of activities (not landed): {held}" in log
    assert "Data quality:    warned" in completed.stdout
    # each warning in the run's output, not only in the report
    assert "warn  nps_responses: no nps_responses file in the drop" in completed.stdout
    assert f"warn  activities: 1 row(s) quarantined, not landed: {held}" in completed.stdout
