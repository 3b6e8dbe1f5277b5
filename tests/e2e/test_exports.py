"""End to end: the nightly run pushes to every destination, once, and keeps secrets out of logs.

The local API servers run in the test process; `touchline run` (through Airflow) and
`touchline export` run as their own processes, configured only by environment variables,
as a deployment would be.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import shutil
import signal
import sqlite3
import subprocess

import duckdb
import pytest

from tests.conftest import TOUCHLINE, run_touchline
from touchline.devservers import CustomerIOServer, HubSpotServer, SlackServer, WebhookServer

pytestmark = pytest.mark.e2e

SECRETS = {
    "TOUCHLINE_HUBSPOT_TOKEN": "hs-e2e-secret-7f3a",
    "TOUCHLINE_SLACK_TOKEN": "xoxb-e2e-secret-91c2",
    "TOUCHLINE_CUSTOMERIO_API_KEY": "cio-e2e-secret-5d10",
    "TOUCHLINE_WEBHOOK_SECRET": "whsec-e2e-secret-2b77",
}


class Clock:
    """The CRM's clock, set to the run's days (the drop is in the past), moved by a test."""

    def __init__(self, moment: dt.datetime) -> None:
        self.moment = moment

    def __call__(self) -> float:
        return self.moment.timestamp()


@pytest.fixture(scope="module")
def clock(small_drop):
    return Clock(dt.datetime.combine(small_drop.dates[1], dt.time(1), tzinfo=dt.UTC))


@pytest.fixture(scope="module")
def servers(clock):
    with (
        HubSpotServer(
            token=SECRETS["TOUCHLINE_HUBSPOT_TOKEN"], accept_any_email=True, clock=clock
        ) as hubspot,
        SlackServer(token=SECRETS["TOUCHLINE_SLACK_TOKEN"], accept_any_email=True) as slack,
        CustomerIOServer(
            site_id="site-e2e", api_key=SECRETS["TOUCHLINE_CUSTOMERIO_API_KEY"]
        ) as cio,
        WebhookServer(secret=SECRETS["TOUCHLINE_WEBHOOK_SECRET"]) as webhook,
    ):
        yield {"crm": hubspot, "slack": slack, "email": cio, "webhook": webhook}


def environment(servers, work) -> dict[str, str]:
    return {
        "TOUCHLINE_OUTBOX": str(work / "outbox"),
        "TOUCHLINE_HUBSPOT_URL": servers["crm"].url,
        "TOUCHLINE_SLACK_URL": servers["slack"].url + "/api/",
        "TOUCHLINE_CUSTOMERIO_URL": servers["email"].url,
        "TOUCHLINE_CUSTOMERIO_SITE_ID": "site-e2e",
        "TOUCHLINE_WEBHOOK_URL": servers["webhook"].hook_url,
        **SECRETS,
    }


@pytest.fixture(scope="module")
def pushed(tmp_path_factory, small_drop, servers):
    work = tmp_path_factory.mktemp("exports")
    drop = work / "drop"
    shutil.copytree(small_drop.out_dir, drop)
    run_date = small_drop.dates[1] - dt.timedelta(days=1)  # the last day is the next night
    home, output = work / "home", work / "output"
    args = ["run", "--source-dir", str(drop), "--output-dir", str(output)]
    args += ["--date", run_date.isoformat()]
    env = environment(servers, work)
    completed = run_touchline(*args, home=home, extra_env=env)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    # the run's log (every task's log under `airflow dags test`), kept before re-runs replace it
    first_log = work / "first-run.log"
    shutil.copyfile(home / "airflow" / "runs" / f"{run_date.isoformat()}.log", first_log)
    with open(output / run_date.isoformat() / "worklist.csv", encoding="utf-8") as handle:
        worklist = list(csv.DictReader(handle))
    with open(output / run_date.isoformat() / "automation_queue.csv", encoding="utf-8") as handle:
        automation = list(csv.DictReader(handle))
    return {
        "work": work,
        "home": home,
        "args": args,
        "env": env,
        "date": run_date,
        "worklist": worklist,
        "automation": automation,
        "first_log": first_log,
        "output": completed.stdout + completed.stderr,
    }


def ledger_counts(home) -> dict[tuple[str, str], int]:
    with sqlite3.connect(home / "export_ledger.sqlite") as db:
        return dict(
            ((d, s), n)
            for d, s, n in db.execute(
                "select destination, status, count(*) from export_ledger group by 1, 2"
            )
        )


def test_every_destination_received_the_day(pushed, servers):
    tasks = {row["task_key"] for row in pushed["worklist"]}
    assert set(servers["crm"].count_by_key()) == tasks
    csms = {row["assignee_email"] for row in pushed["worklist"] if row["assignee_email"]}
    assert len(servers["slack"].messages()) == len(csms)
    with_contact = [row for row in pushed["automation"] if row["contact_email"]]
    assert len(servers["email"].events()) == len(with_contact) > 0
    deliveries = servers["webhook"].deliveries()
    assert {d["body"]["event"] for d in deliveries} == {"tasks.upserted"}
    assert max(len(d["body"]["tasks"]) for d in deliveries) <= 200
    sent = [t["task_key"] for d in deliveries for t in d["body"]["tasks"]]
    assert len(sent) == len(set(sent)) >= len(tasks) + len(with_contact)
    outbox = pushed["work"] / "outbox" / pushed["date"].isoformat()
    assert {p.stem for p in outbox.glob("*.xlsx")} >= {f"{email}" for email in csms}


def test_three_reruns_send_nothing_twice(pushed, servers):
    before = {name: len(server.requests) for name, server in servers.items()}
    messages = len(servers["slack"].messages())
    deliveries = len(servers["webhook"].deliveries())
    for _ in range(3):
        completed = run_touchline(*pushed["args"], home=pushed["home"], extra_env=pushed["env"])
        assert completed.returncode == 0, completed.stdout + completed.stderr
    assert set(servers["crm"].count_by_key().values()) == {1}
    assert len(servers["slack"].messages()) == messages
    assert not servers["slack"].requests_to("/api/chat.update")
    assert len(servers["webhook"].deliveries()) == deliveries
    # the only requests after the first run: the CRM read-back searches
    for name in ("slack", "email", "webhook"):
        assert len(servers[name].requests) == before[name], name
    counts = ledger_counts(pushed["home"])
    assert counts[("crm", "sent")] == len(pushed["worklist"])
    assert counts[("files", "sent")] > 0 and counts[("email", "sent")] > 0
    assert not [key for key in counts if key[1] in ("pending", "failed")]
    with sqlite3.connect(pushed["home"] / "export_ledger.sqlite") as db:
        assert db.execute("select max(attempts) from export_ledger").fetchone()[0] == 1


def test_no_secret_reaches_a_log(pushed):
    first = pushed["first_log"].read_text(encoding="utf-8", errors="replace")
    # the log holds the sends, so a leaked header or URL would be in it
    assert "send_crm" in first and "/crm/v3/objects/tasks/batch/upsert -> 200" in first
    assert "chat.postMessage" in first or "send_slack" in first
    logs = {"the first run's log": first, "the command's output": pushed["output"]}
    for path in (pushed["home"] / "airflow").rglob("*.log"):
        logs[str(path)] = path.read_text(encoding="utf-8", errors="replace")
    for where, text in logs.items():
        for name, secret in SECRETS.items():
            assert secret not in text, f"{name} appears in {where}"


def test_a_run_killed_mid_export_resumes_and_creates_each_task_once(pushed, servers, tmp_path):
    crm = servers["crm"]
    crm.reset()
    env = dict(os.environ)
    for key in list(env):
        if key.startswith(("TOUCHLINE_", "AIRFLOW")):
            del env[key]
    env.update(pushed["env"], TOUCHLINE_HOME=str(pushed["home"]))
    env["TOUCHLINE_LEDGER"] = str(tmp_path / "ledger.sqlite")  # a ledger that has seen nothing
    command = [TOUCHLINE, "export", "--date", pushed["date"].isoformat(), "--destination", "crm"]
    process = subprocess.Popen(
        command, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    crm.kill_after(1, lambda: os.kill(process.pid, signal.SIGKILL))
    process.wait(timeout=900)
    assert process.returncode == -signal.SIGKILL
    total = len(pushed["worklist"])
    assert total > 100, "the day needs more than one batch for this test"
    assert len(crm.tasks()) == 100  # the first batch landed; its answer never arrived
    with sqlite3.connect(tmp_path / "ledger.sqlite") as db:
        statuses = dict(db.execute("select status, count(*) from export_ledger group by 1"))
    assert statuses == {"pending": 100}  # attempted, never confirmed
    completed = subprocess.run(
        command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=900
    )
    assert completed.returncode == 0, completed.stderr
    assert crm.count_by_key() == {row["task_key"]: 1 for row in pushed["worklist"]}
    with sqlite3.connect(tmp_path / "ledger.sqlite") as db:
        assert dict(db.execute("select status, count(*) from export_ledger group by 1")) == {
            "sent": total
        }


def test_a_task_completed_in_the_crm_is_not_raised_again(pushed, servers, clock):
    """Ticked off in the CRM during the next day: read back, satisfied, and closed there."""
    crm = servers["crm"]
    next_day = pushed["date"] + dt.timedelta(days=1)
    # the most recently due cadence task: the completion is nearest to this occurrence
    cadence = [row for row in pushed["worklist"] if row["trigger"] == "cadence"]
    done = max(cadence, key=lambda row: (row["due_date"], row["task_key"]))
    clock.moment = dt.datetime.combine(next_day, dt.time(10), tzinfo=dt.UTC)
    crm.complete(done["task_key"])
    args = [*pushed["args"][:-1], next_day.isoformat()]
    completed = run_touchline(*args, home=pushed["home"], extra_env=pushed["env"])
    assert completed.returncode == 0, completed.stdout + completed.stderr
    output = pushed["work"] / "output" / next_day.isoformat()
    with open(output / "worklist.csv", encoding="utf-8") as handle:
        raised = {row["task_key"] for row in csv.DictReader(handle)}
    assert done["task_key"] not in raised  # satisfied by the completion read back
    assert raised, "the next day has no task at all"
    task = crm.task_by_key(done["task_key"])
    assert task["properties"]["hs_task_status"] == "COMPLETED" and not task["archived"]
    with sqlite3.connect(pushed["home"] / "export_ledger.sqlite") as db:
        status, reason = db.execute(
            "select status, closed_reason from export_ledger"
            " where destination = 'crm' and item_key = ?",
            (done["task_key"],),
        ).fetchone()
    assert (status, reason) == ("closed", "completed")


def test_a_past_date_recomputes_its_history_and_sends_nothing(pushed, servers):
    """Re-running a day older than the published one: its own files, no destination touched."""
    day, next_day = pushed["date"], pushed["date"] + dt.timedelta(days=1)
    output = pushed["work"] / "output"
    if not (output / next_day.isoformat()).exists():
        args = [*pushed["args"][:-1], next_day.isoformat()]
        completed = run_touchline(*args, home=pushed["home"], extra_env=pushed["env"])
        assert completed.returncode == 0, completed.stdout + completed.stderr
    warehouse = pushed["home"] / "warehouse.duckdb"
    published_before = published_rows(warehouse, next_day)
    crm_tasks = {key: dict(task["properties"]) for key, task in crm_state(servers).items()}
    requests = {name: len(server.requests) for name, server in servers.items()}
    ledger = ledger_rows(pushed["home"])
    shutil.rmtree(output / day.isoformat())

    completed = run_touchline(*pushed["args"], home=pushed["home"], extra_env=pushed["env"])
    assert completed.returncode == 0, completed.stdout + completed.stderr
    said = completed.stdout + completed.stderr
    assert f"{day} is older than the published day {next_day}" in said
    assert "nothing of" in said and "is sent to any destination" in said

    # nothing reached a destination: only the CRM read-back's searches were made
    for name in ("slack", "email", "webhook"):
        assert len(servers[name].requests) == requests[name], name
    crm_new = servers["crm"].requests[requests["crm"] :]
    assert all(r.path.endswith("/search") for r in crm_new), [r.path for r in crm_new]
    assert {k: dict(t["properties"]) for k, t in crm_state(servers).items()} == crm_tasks
    assert ledger_rows(pushed["home"]) == ledger
    # the published warehouse still holds the later day, with the past day's history rows
    assert published_rows(warehouse, next_day) == published_before
    with duckdb.connect(str(warehouse), read_only=True) as con:
        (days,) = con.execute(
            "select count(*) from main.fct_account_health_daily where history_date = ?", [day]
        ).fetchone()
    assert days > 0
    # the day's own files, the same as on its night
    with open(output / day.isoformat() / "worklist.csv", encoding="utf-8") as handle:
        assert list(csv.DictReader(handle)) == pushed["worklist"]
    summary = json.loads((output / day.isoformat() / "run_summary.json").read_text())
    assert summary["past_date"]["published_date"] == next_day.isoformat()


def published_rows(warehouse, day) -> dict:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        (held,) = con.execute("select max(run_date) from main.fct_touchpoints_due").fetchone()
        worklist = con.execute("select * from main.csm_worklist order by task_key").fetchall()
    assert held == day
    return {"run_date": held, "worklist": worklist}


def crm_state(servers) -> dict:
    return {task["properties"]["touchline_task_key"]: task for task in servers["crm"].tasks()}


def ledger_rows(home) -> list:
    with sqlite3.connect(home / "export_ledger.sqlite") as db:
        return db.execute("select * from export_ledger order by destination, item_key").fetchall()


def test_a_backfill_of_past_dates_sends_nothing(pushed, servers):
    """touchline backfill over days before the published one: their files, no destination."""
    latest = pushed["date"] + dt.timedelta(days=1)
    if not (pushed["work"] / "output" / latest.isoformat()).exists():
        args = [*pushed["args"][:-1], latest.isoformat()]
        completed = run_touchline(*args, home=pushed["home"], extra_env=pushed["env"])
        assert completed.returncode == 0, completed.stdout + completed.stderr
    start, end = pushed["date"] - dt.timedelta(days=2), pushed["date"] - dt.timedelta(days=1)
    warehouse = pushed["home"] / "warehouse.duckdb"
    published_before = published_rows(warehouse, latest)
    requests = {name: len(server.requests) for name, server in servers.items()}
    ledger = ledger_rows(pushed["home"])
    drop_and_output = pushed["args"][1:5]  # --source-dir DIR --output-dir DIR
    completed = run_touchline(
        "backfill",
        *drop_and_output,
        "--start",
        start.isoformat(),
        "--end",
        end.isoformat(),
        home=pushed["home"],
        extra_env=pushed["env"],
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert completed.stdout.count(f"is older than the published day {latest}") == 2
    for name in ("slack", "email", "webhook"):
        assert len(servers[name].requests) == requests[name], name
    crm_new = servers["crm"].requests[requests["crm"] :]
    assert all(r.path.endswith("/search") for r in crm_new), [r.path for r in crm_new]
    assert ledger_rows(pushed["home"]) == ledger
    assert published_rows(warehouse, latest) == published_before
    for day in (start, end):
        assert (pushed["work"] / "output" / day.isoformat() / "worklist.csv").exists()
