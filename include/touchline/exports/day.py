"""A run date's work, read once from the published warehouse for every work-list output.

This is the one reader of the warehouse for the exports: the work-list files
(``worklist_files``), the outbox, the CRM tasks, the Slack digests, the email enrolments
and the webhook all take their items from a :class:`Day`, so they list the same tasks in
the same order. A list's order is the mart's ``list_position`` (``csm_worklist``,
``automation_queue``), stated there and nowhere else; the day's every task
(``fct_touchpoints_due``) comes by its key.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import duckdb
import yaml

ORDER_COLUMN = "list_position"  # the marts' order of a work list; not part of a row
EARLY_COMPLETION_VAR = "early_completion_days"


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> list[dict]:
    cursor = con.execute(sql, params or [])
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _listed(con: duckdb.DuckDBPyConnection, warehouse: Path, table: str, sql: str) -> list[dict]:
    """A work list's rows in the mart's order, without the order column itself."""
    try:
        return _rows(con, sql)
    except duckdb.BinderException as exc:
        if ORDER_COLUMN not in str(exc):
            raise
        raise ValueError(
            f"{warehouse}: main.{table} has no {ORDER_COLUMN} column (the work list's order); "
            "it was built by an older touchline: run the nightly pipeline again to rebuild it"
        ) from None


def early_completion_days(dbt_project_dir: Path) -> int:
    """The touch model's early-completion window: the dbt var of the project's vars."""
    project_file = dbt_project_dir / "dbt_project.yml"
    try:
        project = yaml.safe_load(project_file.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"{project_file}: cannot read the dbt project: {exc}") from None
    value = (project.get("vars") or {}).get(EARLY_COMPLETION_VAR)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(
            f"{project_file}: vars.{EARLY_COMPLETION_VAR} must be a whole number of days, "
            f"got {value!r}"
        )
    return value


@dataclass
class Day:
    run_date: dt.date
    worklist: list[dict[str, Any]]  # csm_worklist: the human tasks, in list order
    automation: list[dict[str, Any]]  # automation_queue, in queue order
    tasks: list[dict[str, Any]]  # fct_touchpoints_due: every task of the day, by task_key
    touchpoints: dict[str, str]  # code -> description
    # a completed activity up to this many days before a task's due date satisfies it
    early_completion_days: int
    accounts: list[dict[str, Any]] = field(default_factory=list)  # dim_accounts, by account_id
    health_trend: dict[str, list[tuple[dt.date, int | None]]] = field(default_factory=dict)
    completions: dict[tuple[str, str], dt.date] = field(default_factory=dict)
    csm_names: dict[str, str] = field(default_factory=dict)  # csm_email -> name

    @classmethod
    def load(
        cls,
        warehouse: Path,
        run_date: dt.date,
        trend_days: int = 30,
        *,
        dbt_project_dir: Path | None = None,
    ) -> Day:
        """The day ``warehouse`` holds; ``dbt_project_dir`` (default: the settings') built it."""
        if dbt_project_dir is None:
            from touchline.config import settings

            dbt_project_dir = settings().dbt_project_dir
        window = early_completion_days(dbt_project_dir)
        with duckdb.connect(str(warehouse), read_only=True) as con:
            stored = con.execute("select max(run_date) from main.fct_touchpoints_due").fetchone()
            if stored and stored[0] is not None and stored[0] != run_date:
                raise ValueError(
                    f"the published warehouse holds the work of {stored[0]}, not {run_date}; "
                    "run the nightly pipeline for that date first"
                )
            worklist = _listed(
                con,
                warehouse,
                "csm_worklist",
                f"select * exclude ({ORDER_COLUMN}) from main.csm_worklist order by {ORDER_COLUMN}",
            )
            automation = _listed(
                con,
                warehouse,
                "automation_queue",
                f"select queue.* exclude ({ORDER_COLUMN}), accounts.account_name"
                " from main.automation_queue as queue"
                " left join main.dim_accounts as accounts using (account_id)"
                f" order by queue.{ORDER_COLUMN}",
            )
            tasks = _rows(
                con,
                "select tasks.*, accounts.account_name from main.fct_touchpoints_due as tasks"
                " left join main.dim_accounts as accounts using (account_id)"
                " order by task_key",
            )
            accounts = _rows(con, "select * from main.dim_accounts order by account_id")
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
            window,
            accounts=accounts,
            health_trend=dict(trend),
            completions=completions,
            csm_names=csm_names,
        )

    @cached_property
    def health_moves(self) -> dict[str, str | None]:
        """Each account's 7-day health move in words (dim_accounts.health_moves_7d), once."""
        return {account["account_id"]: account.get("health_moves_7d") for account in self.accounts}

    def label(self, touchpoint: str) -> str:
        return self.touchpoints.get(touchpoint) or touchpoint.replace("_", " ").capitalize()

    def closing_reason(self, meta: dict[str, Any] | None) -> str:
        """``completed`` when a completed activity satisfies the task, else ``cancelled``.

        Satisfied: an activity of the task's touchpoint on the account, completed no earlier
        than ``early_completion_days`` before the task's due date.
        """
        if not meta or not meta.get("due_date"):
            return "cancelled"
        done = self.completions.get((meta.get("account_id"), meta.get("touchpoint")))
        due = dt.date.fromisoformat(str(meta["due_date"])[:10])
        if done is not None and done >= due - dt.timedelta(days=self.early_completion_days):
            return "completed"
        return "cancelled"


def task_meta(task: dict[str, Any], due_date: Any = None) -> dict[str, str]:
    """What the ledger keeps about a task: enough to tell later why it left the list."""
    return {
        "account_id": task["account_id"],
        "touchpoint": task["touchpoint"],
        "due_date": str(due_date if due_date is not None else task["due_date"]),
    }
