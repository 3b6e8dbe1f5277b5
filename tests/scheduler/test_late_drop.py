"""A drop that lands late, under Airflow's own services: the run waits, the alerts go out.

The run is triggered before its day's folder exists. ``wait_for_drop`` defers to the
triggerer; the lists' deadline (one minute here) passes while it waits, so the scheduler
raises the deadline alert and the triggerer posts it to Slack (a local Slack server, through
the Connection ``touchline_alerts``). Then the folder appears, by one rename as a careful
writer does it, and the same run goes on to its work lists without a retry. Last, a drop
with a bad value fails the gate before load for good, and the failure notice reaches Slack
from the task's own process.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.scheduler import stack
from touchline.config import DAG_ID
from touchline.devservers.slack import SlackServer

pytestmark = [pytest.mark.scheduler, pytest.mark.e2e]

TOKEN = "xoxb-touchline-alerts"
CHANNEL = "#cs-ops-alerts"
ALERT_TIMEOUT = 600  # the deadline is 1 minute; the scheduler and triggerer may be slow


@pytest.fixture(scope="module")
def slack():
    with SlackServer(token=TOKEN) as server:
        yield server


@pytest.fixture(scope="module")
def late(request, tmp_path_factory, postgres, small_drop, slack):
    root = tmp_path_factory.mktemp("late-drop")
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
        yield started, stack.ready_to_trigger(started)


def _messages(slack, text: str) -> list[dict]:
    return [m for m in slack.messages() if m["channel"] == CHANNEL and text in m["text"]]


def test_a_late_drop_is_waited_for_and_the_lists_deadline_alerted(late, small_drop, slack):
    started, api = late
    day = small_drop.dates[1]
    drop = Path(started.env["TOUCHLINE_SOURCE_DIR"])
    held = drop.parent / "arriving"
    held.mkdir()
    shutil.move(drop / day.isoformat(), held / day.isoformat())

    response = api.trigger(DAG_ID, day)
    assert response.status_code == 200, response.text
    run_id = response.json()["dag_run_id"]

    def waiting() -> dict | None:
        instances = {t["task_id"]: t for t in api.task_instances(DAG_ID, run_id)}
        wait = instances.get("wait_for_drop")
        return wait if wait and wait["state"] == "deferred" else None

    stack.wait_for(waiting, "wait_for_drop to defer", stack.RUN_TIMEOUT, started.check_alive)
    states = {t["task_id"]: t["state"] for t in api.task_instances(DAG_ID, run_id)}
    assert not any(
        state in ("running", "success") for task, state in states.items() if "extract" in task
    ), states

    late_text = f"work lists for {day.isoformat()} were not ready by"
    alerted = stack.wait_for(
        lambda: _messages(slack, late_text),
        "the deadline alert in Slack",
        ALERT_TIMEOUT,
        started.check_alive,
        interval=2,
    )
    assert "is running" in alerted[0]["text"], alerted

    (held / day.isoformat()).rename(drop / day.isoformat())
    instances = api.wait_for_run(DAG_ID, run_id)
    by_task = {t["task_id"]: t for t in instances}
    wait = by_task["wait_for_drop"]
    assert wait["state"] == "success" and wait["try_number"] == 1, wait  # resumed, not retried
    extracts = [t for t in instances if t["task_id"].startswith("extract_")]
    assert all(stack.interval(t)[0] >= stack.interval(wait)[1] for t in extracts), stack.timeline(
        instances
    )
    output = Path(started.env["TOUCHLINE_OUTPUT_DIR"]) / day.isoformat()
    assert (output / "worklist.csv").is_file()


def test_a_task_failing_for_good_posts_its_error(late, small_drop, slack):
    started, api = late
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
        lambda: _messages(slack, f"gate_before_load failed for {day.isoformat()}"),
        "the failure notice in Slack",
        ALERT_TIMEOUT,
        started.check_alive,
        interval=2,
    )
    assert "expect_column_values_to_be_in_set on 'plan'" in notice[0]["text"], notice
    assert "try 1" in notice[0]["text"], notice  # bad data: no retry
