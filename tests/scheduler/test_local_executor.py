"""The nightly DAG under Airflow 3's own services, with the LocalExecutor, as deployed.

A metadata DB of its own on PostgreSQL, the ``warehouse_writer`` pool of one slot, and the
api-server, scheduler, dag-processor and triggerer as separate processes. The DAG is
unpaused and triggered through the REST API, as an operator or another system would, and
the checks read what the API reports: the run's state, the tasks (whatever the DAG holds:
nothing here lists them) and their start and end times.

The night's drop lands late: the run is triggered before its day's folder exists, so
``wait_for_drop`` defers to the triggerer, and the lists' deadline (one minute here) passes
while it waits; the scheduler raises the deadline alert and the triggerer posts it to Slack
(a local Slack server, through the Connection ``touchline_alerts``). Then the folder appears,
by one rename as a careful writer does it, and the same run goes on to its work lists
without a retry. The run is then cleared and re-run to the same lists. Last, a drop with a
bad value fails the gate before load for good, and the failure notice reaches Slack from the
task's own process.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.scheduler import stack
from touchline.config import DAG_ID, WAREHOUSE_POOL
from touchline.devservers.slack import SlackServer

pytestmark = [pytest.mark.scheduler, pytest.mark.e2e]

# the work-list files of a date (docs/outputs.md); run_summary.json also records timings
WORKLIST_FILES = ("worklist.csv", "automation_queue.csv", "accounts.csv")

TOKEN = "xoxb-touchline-alerts"
CHANNEL = "#cs-ops-alerts"
ALERT_TIMEOUT = 600  # the deadline is 1 minute; the scheduler and triggerer may be slow


@dataclass
class Nightly:
    stack: stack.AirflowStack
    api: stack.Api
    slack: SlackServer
    run_date: object
    run: dict
    duplicate: object  # the response to a second trigger for the same logical date
    states_while_waiting: dict[str, str]
    deadline_alerts: list[dict]
    instances: list[dict]
    output: Path
    root: Path

    @property
    def day_dir(self) -> Path:
        return self.output / self.run_date.isoformat()


@pytest.fixture(scope="module")
def slack():
    with SlackServer(token=TOKEN) as server:
        yield server


def _messages(slack: SlackServer, text: str) -> list[dict]:
    return [m for m in slack.messages() if m["channel"] == CHANNEL and text in m["text"]]


@pytest.fixture(scope="module")
def nightly(request, tmp_path_factory, postgres, small_drop, slack):
    root = tmp_path_factory.mktemp("local-executor")
    alerts = {"conn_type": "slack", "password": TOKEN, "extra": {"base_url": slack.url + "/api/"}}
    env = {
        "TOUCHLINE_DROP_WAIT_MINUTES": str(10**7),  # far past the logical date: it waits
        "TOUCHLINE_DROP_POLL_SECONDS": "2",
        "TOUCHLINE_LISTS_DEADLINE_MINUTES": "1",
        "TOUCHLINE_ALERT_CHANNEL": CHANNEL,
        "AIRFLOW_CONN_TOUCHLINE_ALERTS": json.dumps(alerts),
    }
    with stack.running_stack(
        root, small_drop.out_dir, "LocalExecutor", request.module.__name__, extra_env=env
    ) as started:
        api = stack.ready_to_trigger(started)
        run_date = small_drop.dates[1]
        # the day's folder is still on its way when the run is triggered
        drop = Path(started.env["TOUCHLINE_SOURCE_DIR"])
        held = root / "arriving"
        held.mkdir()
        shutil.move(drop / run_date.isoformat(), held / run_date.isoformat())

        response = api.trigger(DAG_ID, run_date)
        assert response.status_code == 200, response.text
        run = response.json()
        duplicate = api.trigger(DAG_ID, run_date)  # while the first is queued or waiting

        def waiting() -> dict[str, str] | None:
            states = {
                t["task_id"]: t["state"] for t in api.task_instances(DAG_ID, run["dag_run_id"])
            }
            return states if states.get("wait_for_drop") == "deferred" else None

        states = stack.wait_for(
            waiting, "wait_for_drop to defer", stack.RUN_TIMEOUT, started.check_alive
        )
        late_text = f"work lists for {run_date.isoformat()} were not ready by"
        alerted = stack.wait_for(
            lambda: _messages(slack, late_text),
            "the deadline alert in Slack",
            ALERT_TIMEOUT,
            started.check_alive,
            interval=2,
        )
        (held / run_date.isoformat()).rename(drop / run_date.isoformat())
        instances = api.wait_for_run(DAG_ID, run["dag_run_id"])
        yield Nightly(
            started,
            api,
            slack,
            run_date,
            run,
            duplicate,
            states,
            alerted,
            instances,
            Path(started.env["TOUCHLINE_OUTPUT_DIR"]),
            root,
        )


def by_prefix(instances: list[dict], prefix: str) -> list[dict]:
    return [t for t in instances if t["task_id"].startswith(prefix)]


def in_pool(instances: list[dict], pool: str) -> list[dict]:
    return [t for t in instances if t["pool"] == pool]


def worklist_digests(day_dir: Path) -> dict[str, str]:
    files = [day_dir / name for name in WORKLIST_FILES] + sorted(day_dir.glob("worklists/*"))
    return {str(f.relative_to(day_dir)): hashlib.sha256(f.read_bytes()).hexdigest() for f in files}


def test_the_run_succeeds_with_every_task_done(nightly):
    run = nightly.api.get(f"/dags/{DAG_ID}/dagRuns/{nightly.run['dag_run_id']}")
    assert run["state"] == "success"
    assert run["logical_date"].startswith(nightly.run_date.isoformat())
    tasks = {t["task_id"] for t in nightly.api.get(f"/dags/{DAG_ID}/tasks")["tasks"]}
    states = {t["task_id"]: t["state"] for t in nightly.instances}
    assert set(states) == tasks, "every task of the DAG has an instance in the run"
    # the send tasks skip: this deployment configures no destination
    assert set(states.values()) <= {"success", "skipped"}, states
    assert by_prefix(nightly.instances, "extract_"), "the DAG extracts no family"


def test_the_work_lists_are_written_for_the_date(nightly):
    day = nightly.day_dir
    for name in (*WORKLIST_FILES, "run_summary.json"):
        assert (day / name).is_file(), f"{name} missing in {day}"
    assert list(day.glob("worklists/*.csv")), f"no per-CSM work list in {day / 'worklists'}"
    header = (day / "worklist.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header.startswith("task_key,run_date,"), header
    quality = nightly.output / "quality" / nightly.run_date.isoformat()
    assert (quality / "report.html").is_file() and (quality / "report.json").is_file()


def test_a_late_drop_is_waited_for_not_failed(nightly):
    waiting = nightly.states_while_waiting
    started = [t for t, s in waiting.items() if "extract" in t and s in ("running", "success")]
    assert not started, f"extracts started before the drop arrived: {waiting}"
    by_task = {t["task_id"]: t for t in nightly.instances}
    wait = by_task["wait_for_drop"]
    assert wait["state"] == "success" and wait["try_number"] == 1, wait  # resumed, not retried
    extracts = by_prefix(nightly.instances, "extract_")
    assert all(stack.interval(t)[0] >= stack.interval(wait)[1] for t in extracts), stack.timeline(
        nightly.instances
    )


def test_the_lists_deadline_is_alerted_while_the_run_waits(nightly):
    assert "is running" in nightly.deadline_alerts[0]["text"], nightly.deadline_alerts


def test_the_extracts_ran_in_parallel(nightly):
    extracts = by_prefix(nightly.instances, "extract_")
    assert len(extracts) >= 2
    assert stack.overlapping_pairs(extracts), (
        "no two extract tasks ran at the same time:\n" + stack.timeline(nightly.instances)
    )


def test_the_warehouse_writers_never_overlapped(nightly):
    pool = nightly.api.get(f"/pools/{WAREHOUSE_POOL}")
    assert pool["slots"] == 1, pool
    writers = in_pool(nightly.instances, WAREHOUSE_POOL)
    assert len(writers) >= 2, "the DAG puts fewer than two tasks in the writer pool"
    assert not stack.overlapping_pairs(writers), stack.timeline(writers)


def test_a_second_trigger_for_the_same_logical_date_is_refused(nightly):
    assert nightly.duplicate.status_code == 409, nightly.duplicate.text
    runs = nightly.api.get(f"/dags/{DAG_ID}/dagRuns")["dag_runs"]
    assert [r["dag_run_id"] for r in runs] == [nightly.run["dag_run_id"]]


def test_clearing_the_run_reruns_it_to_the_same_work_lists(nightly):
    before = worklist_digests(nightly.day_dir)
    first = nightly.root / "first-run"  # the first run's files, to compare when they differ
    shutil.copytree(nightly.day_dir, first)
    run_id = nightly.run["dag_run_id"]
    tries = {t["task_id"]: t["try_number"] for t in nightly.instances}
    ran = {task: n for task, n in tries.items() if n}  # a task skipped unrun has no try
    cleared = nightly.api.call(
        "POST",
        f"/dags/{DAG_ID}/clearTaskInstances",
        json={"dag_run_id": run_id, "dry_run": False, "only_failed": False},
    )
    cleared_ids = {t["task_id"] for t in cleared["task_instances"]}
    assert cleared_ids == set(tries), f"cleared {sorted(cleared_ids)}, ran {sorted(tries)}"
    rerun = nightly.api.wait_for_run(DAG_ID, run_id, past_tries=ran)
    assert {t["state"] for t in rerun} <= {"success", "skipped"}
    again = {t["task_id"] for t in rerun if t["try_number"] > tries[t["task_id"]]}
    assert set(ran) <= again, stack.timeline(rerun)
    after = worklist_digests(nightly.day_dir)
    changed = sorted(
        name for name in before.keys() | after.keys() if before.get(name) != after.get(name)
    )
    assert not changed, f"the re-run changed {changed} in {nightly.day_dir} (first run: {first})"
    assert not stack.overlapping_pairs(in_pool(rerun, WAREHOUSE_POOL)), stack.timeline(rerun)


def test_a_task_failing_for_good_posts_its_error(nightly, small_drop):
    api, started = nightly.api, nightly.stack
    day = small_drop.dates[0]
    accounts = Path(started.env["TOUCHLINE_SOURCE_DIR"]) / day.isoformat() / "accounts.csv"
    lines = accounts.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    row = lines[1].split(",")
    row[header.index("plan")] = "platinum"
    accounts.write_text("\n".join([lines[0], ",".join(row), *lines[2:]]) + "\n", encoding="utf-8")

    response = api.trigger(DAG_ID, day)
    assert response.status_code == 200, response.text
    run_id = response.json()["dag_run_id"]

    def failed() -> bool:
        return api.get(f"/dags/{DAG_ID}/dagRuns/{run_id}")["state"] == "failed"

    stack.wait_for(
        failed, "the run with a bad value to fail", stack.RUN_TIMEOUT, started.check_alive
    )
    notice = stack.wait_for(
        lambda: _messages(nightly.slack, f"gate_before_load failed for {day.isoformat()}"),
        "the failure notice in Slack",
        ALERT_TIMEOUT,
        started.check_alive,
        interval=2,
    )
    assert "expect_column_values_to_be_in_set on 'plan'" in notice[0]["text"], notice
    assert "try 1" in notice[0]["text"], notice  # bad data: no retry
