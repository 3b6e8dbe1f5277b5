"""A run date's work, read once from the published warehouse for every destination."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

# a completed activity up to this many days before a task was first sent still satisfies it
# (the touch model's early-completion window, dbt var early_completion_days)
EARLY_COMPLETION_DAYS = 7


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> list[dict]:
    cursor = con.execute(sql, params or [])
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


@dataclass
class Day:
    run_date: dt.date
    worklist: list[dict[str, Any]]  # csm_worklist: the human tasks
    automation: list[dict[str, Any]]  # automation_queue
    tasks: list[dict[str, Any]]  # fct_touchpoints_due: every task of the day
    touchpoints: dict[str, str]  # code -> description
    health_trend: dict[str, list[tuple[dt.date, int | None]]] = field(default_factory=dict)
    completions: dict[tuple[str, str], dt.date] = field(default_factory=dict)
    csm_names: dict[str, str] = field(default_factory=dict)  # csm_email -> name

    @classmethod
    def load(cls, warehouse: Path, run_date: dt.date, trend_days: int = 30) -> Day:
        with duckdb.connect(str(warehouse), read_only=True) as con:
            stored = con.execute("select max(run_date) from main.fct_touchpoints_due").fetchone()
            if stored and stored[0] is not None and stored[0] != run_date:
                raise ValueError(
                    f"the published warehouse holds the work of {stored[0]}, not {run_date}; "
                    "run the nightly pipeline for that date first"
                )
            worklist = _rows(
                con,
                "select * from main.csm_worklist"
                " order by assignee_email nulls last, priority, due_date, account_id, touchpoint",
            )
            automation = _rows(
                con,
                "select queue.*, accounts.account_name from main.automation_queue as queue"
                " left join main.dim_accounts as accounts using (account_id)"
                " order by account_id, touchpoint",
            )
            tasks = _rows(
                con,
                "select tasks.*, accounts.account_name from main.fct_touchpoints_due as tasks"
                " left join main.dim_accounts as accounts using (account_id)"
                " order by task_key",
            )
            touchpoints = dict(
                con.execute("select touchpoint, description from main.touchpoints").fetchall()
            )
            trend: dict[str, list] = defaultdict(list)
            for account_id, day, score in con.execute(
                """
                select account_id, history_date, health_score
                from main.fct_account_health_daily
                where history_date > ? - cast(? as integer)
                  and account_id in (select account_id from main.csm_worklist)
                order by account_id, history_date
                """,
                [run_date, trend_days],
            ).fetchall():
                trend[account_id].append((day, score))
            csm_names = dict(
                con.execute("select csm_email, csm_name from main.stg_crm__csms").fetchall()
            )
            completions = {
                (account_id, kind): day
                for account_id, kind, day in con.execute(
                    """
                    select account_id, activity_type, max(occurred_date)
                    from main.stg_engagement__activities
                    where outcome = 'completed' and occurred_date <= ?
                    group by 1, 2
                    """,
                    [run_date],
                ).fetchall()
            }
        return cls(
            run_date,
            worklist,
            automation,
            tasks,
            touchpoints,
            dict(trend),
            completions,
            csm_names=csm_names,
        )

    def label(self, touchpoint: str) -> str:
        return self.touchpoints.get(touchpoint) or touchpoint.replace("_", " ").capitalize()

    def closing_reason(self, meta: dict[str, Any] | None) -> str:
        """``completed`` when a completed activity satisfies the task, else ``cancelled``.

        Satisfied: an activity of the task's touchpoint on the account, completed no earlier
        than ``EARLY_COMPLETION_DAYS`` before the task's due date.
        """
        if not meta or not meta.get("due_date"):
            return "cancelled"
        done = self.completions.get((meta.get("account_id"), meta.get("touchpoint")))
        due = dt.date.fromisoformat(str(meta["due_date"])[:10])
        if done is not None and done >= due - dt.timedelta(days=EARLY_COMPLETION_DAYS):
            return "completed"
        return "cancelled"


def task_meta(task: dict[str, Any], due_date: Any = None) -> dict[str, str]:
    """What the ledger keeps about a task: enough to tell later why it left the list."""
    return {
        "account_id": task["account_id"],
        "touchpoint": task["touchpoint"],
        "due_date": str(due_date if due_date is not None else task["due_date"]),
    }
