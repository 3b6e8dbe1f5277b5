"""Every work-list output reads the day through one reader, in the marts' list order.

The warehouse here is written by hand: its rows are stored in a shuffled order and the
marts' ``list_position`` states an order that is neither that nor a sort by assignee and
priority, so an output that reads the warehouse itself, or orders the rows its own way,
lists them differently.
"""

from __future__ import annotations

import ast
import csv
import datetime as dt
import random
from pathlib import Path

import duckdb
import pytest

from tests.exports.conftest import RUN_DATE, task
from touchline.config import REPO_ROOT
from touchline.exports import worklist_files
from touchline.exports.crm import HubSpotTasks
from touchline.exports.day import ORDER_COLUMN, Day
from touchline.exports.email import CustomerIOCampaigns
from touchline.exports.outbox import Outbox
from touchline.exports.slack import TOP_TASKS, SlackDigests
from touchline.exports.webhook import Webhook

EXPORTS = REPO_ROOT / "include" / "touchline" / "exports"
DBT_PROJECT = REPO_ROOT / "dbt_project"
SQL_TYPES = {str: "varchar", int: "integer", float: "double", dt.date: "date", bool: "boolean"}
ACCOUNT_FIELDS = ("tier", "lifecycle_stage", "health_score", "health_band")


def _table(con: duckdb.DuckDBPyConnection, name: str, columns: dict[str, str], rows) -> None:
    con.execute(f"create table main.{name} ({', '.join(f'{c} {t}' for c, t in columns.items())})")
    for row in rows:  # one insert per row: the table keeps this physical order
        con.execute(
            f"insert into main.{name} values ({', '.join('?' for _ in columns)})",
            [row.get(column) for column in columns],
        )


def _columns(rows: list[dict]) -> dict[str, str]:
    types: dict[str, str] = {}
    for row in rows:
        for column, value in row.items():
            if value is not None:
                types.setdefault(column, SQL_TYPES[type(value)])
    return {column: types.get(column, "varchar") for row in rows[:1] for column in row}


def _shuffled(rows: list[dict], seed: int) -> list[dict]:
    stored = list(rows)
    random.Random(seed).shuffle(stored)
    return stored


@pytest.fixture
def listed(tmp_path):
    """A warehouse whose list order is the reverse of the task keys, stored shuffled."""
    worklist = [task(n) for n in range(1, 13)]
    worklist.append(task(13, assignee_email=None, owner_role="support"))
    worklist.append(task(14, assignee_email=None, owner_role="pod", pod="west"))
    automation = [
        {
            "task_key": f"auto-{n:03d}",
            "run_date": RUN_DATE,
            "account_id": f"acc-{n:03d}",
            "contact_email": f"contact{n}@customer.example",
            "touchpoint": "welcome_series",
            "channel": "email",
            "campaign": "welcome_series",
            "reason": f"Welcome {n}",
        }
        for n in range(101, 106)
    ]
    worklist_order = sorted((t["task_key"] for t in worklist), reverse=True)
    automation_order = ["auto-103", "auto-101", "auto-105", "auto-102", "auto-104"]
    for row in worklist:
        row[ORDER_COLUMN] = worklist_order.index(row["task_key"]) + 1
    for row in automation:
        row[ORDER_COLUMN] = automation_order.index(row["task_key"]) + 1
    accounts = [
        {
            "account_id": t["account_id"],
            "account_name": t.get("account_name", f"Account {t['account_id']}"),
            "plan": "paid",
            "arr_usd": 12000.0,
            "tier": t.get("tier", "tech"),
            "lifecycle_stage": t.get("lifecycle_stage", "adoption"),
            "health_score": t.get("health_score", 70),
            "health_band": t.get("health_band", "green"),
            "csm_email": t.get("assignee_email"),
            "pod": t.get("pod"),
            "renewal_date": RUN_DATE + dt.timedelta(days=200),
        }
        for t in worklist + automation
    ]
    tasks = [
        {k: v for k, v in t.items() if k not in ("account_name", *ACCOUNT_FIELDS, ORDER_COLUMN)}
        for t in worklist
    ] + [
        {
            "task_key": a["task_key"],
            "run_date": RUN_DATE,
            "account_id": a["account_id"],
            "touchpoint": a["touchpoint"],
            "trigger": "cadence",
            "due_date": RUN_DATE,
            "status": "due",
            "priority": "p4",
            "channel": "email",
            "owner_role": "automation",
            "assignee_email": None,
            "pod": None,
            "estimated_minutes": 0,
            "reason": a["reason"],
        }
        for a in automation
    ]
    warehouse = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        _table(con, "csm_worklist", _columns(worklist), _shuffled(worklist, 1))
        _table(con, "automation_queue", _columns(automation), _shuffled(automation, 2))
        _table(con, "dim_accounts", _columns(accounts), _shuffled(accounts, 3))
        _table(con, "fct_touchpoints_due", _columns(tasks), _shuffled(tasks, 4))
        _table(
            con,
            "touchpoints",
            {"touchpoint": "varchar", "description": "varchar"},
            [{"touchpoint": "qbr", "description": "Quarterly business review"}],
        )
        health = [
            {"account_id": t["account_id"], "history_date": RUN_DATE, "health_score": 70}
            for t in worklist
        ]
        _table(con, "fct_account_health_daily", _columns(health), health)
        csms = [{"csm_email": "ana@example.com", "csm_name": "Ana Lima"}]
        _table(con, "stg_crm__csms", _columns(csms), csms)
        _table(
            con,
            "stg_engagement__activities",
            {
                "account_id": "varchar",
                "activity_type": "varchar",
                "occurred_date": "date",
                "outcome": "varchar",
            },
            [],
        )
    stored_worklist = [row["task_key"] for row in _shuffled(worklist, 1)]
    assert stored_worklist != worklist_order  # the stored order is not the list's
    old_sort = sorted(
        worklist,
        key=lambda t: (
            t["assignee_email"] is None,
            t["assignee_email"] or "",
            t["priority"],
            t["due_date"],
            t["account_id"],
            t["touchpoint"],
        ),
    )
    assert [t["task_key"] for t in old_sort] != worklist_order  # nor a sort by assignee
    return warehouse, worklist_order, automation_order, sorted(t["task_key"] for t in tasks)


def test_the_reader_lists_the_marts_order_without_the_order_column(listed):
    warehouse, worklist_order, automation_order, task_order = listed
    day = Day.load(warehouse, RUN_DATE, dbt_project_dir=DBT_PROJECT)
    assert [row["task_key"] for row in day.worklist] == worklist_order
    assert [row["task_key"] for row in day.automation] == automation_order
    assert [row["task_key"] for row in day.tasks] == task_order
    assert [row["account_id"] for row in day.accounts] == sorted(
        row["account_id"] for row in day.accounts
    )
    rows = day.worklist + day.automation
    assert not [row for row in rows if ORDER_COLUMN in row]  # payloads stay as they were


def test_every_output_lists_the_items_in_the_marts_order(listed, tmp_path):
    """The work-list files, the outbox, CRM, Slack, email and webhook: one order, the marts'."""
    warehouse, worklist_order, automation_order, task_order = listed

    summary = worklist_files.export_files(
        warehouse, tmp_path / "output", RUN_DATE, dbt_project_dir=DBT_PROJECT
    )
    folder = Path(summary["output_dir"])

    def file_keys(path: Path) -> list[str]:
        with open(path, encoding="utf-8", newline="") as handle:
            return [row["task_key"] for row in csv.DictReader(handle)]

    assert file_keys(folder / "worklist.csv") == worklist_order
    assert file_keys(folder / "automation_queue.csv") == automation_order
    per_csm = sorted((folder / "worklists").glob("*.csv"))
    assert {p.name for p in per_csm} == {
        "ana@example.com.csv",
        "ben@example.com.csv",
        "queue-support.csv",
        "queue-pod-west.csv",
    }
    for path in per_csm:
        keys = file_keys(path)
        assert keys == [key for key in worklist_order if key in set(keys)], path.name

    day = Day.load(warehouse, RUN_DATE, dbt_project_dir=DBT_PROJECT)

    outbox = Outbox(str(tmp_path / "outbox")).items(day)
    assert [item.payload["name"] for item in outbox] == [p.stem for p in per_csm]
    for item in outbox:
        keys = [row["task_key"] for row in item.payload["rows"]]
        assert keys == file_keys(folder / "worklists" / f"{item.payload['name']}.csv")

    crm = HubSpotTasks("http://127.0.0.1:9", "token").items(day)
    assert [item.key for item in crm] == worklist_order

    by_key = {row["task_key"]: row for row in day.worklist}
    for item in SlackDigests("token", base_url="http://127.0.0.1:9/").items(day):
        sections = [b["text"]["text"] for b in item.payload["blocks"] if b["type"] == "section"]
        shown = [text.split(" · ")[2].split(" (", 1)[0] for text in sections]
        expected = [
            by_key[key]["account_name"]
            for key in worklist_order
            if by_key[key]["assignee_email"] == item.payload["csm"]
        ]
        assert shown == expected[:TOP_TASKS], item.payload["csm"]

    email = CustomerIOCampaigns("http://127.0.0.1:9", "site", "key").items(day)
    assert [item.key for item in email] == automation_order

    webhook = Webhook("http://127.0.0.1:9/hook", "secret").items(day)
    assert [item.key for item in webhook] == task_order


def test_only_the_reader_opens_the_warehouse():
    """No export module but day.py imports DuckDB: the others take their rows from a Day."""
    readers = set()
    for path in sorted(EXPORTS.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(name.split(".")[0] == "duckdb" for name in names):
                readers.add(path.name)
    assert readers == {"day.py"}


def test_a_warehouse_without_the_order_column_is_refused_by_name(tmp_path):
    warehouse = tmp_path / "older.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        row = task(1)
        _table(con, "fct_touchpoints_due", _columns([row]), [row])
        _table(con, "csm_worklist", _columns([row]), [row])
    with pytest.raises(ValueError, match=r"main\.csm_worklist has no list_position column"):
        Day.load(warehouse, RUN_DATE, dbt_project_dir=DBT_PROJECT)
