"""A small day of work for the export tests, built in memory (no warehouse needed)."""

from __future__ import annotations

import datetime as dt

import pytest

from touchline.config import REPO_ROOT
from touchline.exports.day import Day, early_completion_days

RUN_DATE = dt.date(2026, 10, 30)
EARLY_COMPLETION_DAYS = early_completion_days(REPO_ROOT / "dbt_project")


def task(n: int, **changes) -> dict:
    row = {
        "task_key": f"task-{n:03d}",
        "run_date": RUN_DATE,
        "due_date": RUN_DATE - dt.timedelta(days=n % 5),
        "status": "overdue" if n % 5 else "due",
        "priority": f"p{1 + n % 4}",
        "account_id": f"acc-{n:03d}",
        "account_name": f"Account {n}",
        "touchpoint": "qbr" if n % 2 else "check_in_call",
        "trigger": "cadence",
        "channel": "video" if n % 2 else "email",
        "owner_role": "csm",
        "assignee_email": "ana@example.com" if n % 3 else "ben@example.com",
        "pod": None,
        "tier": "high",
        "lifecycle_stage": "adoption",
        "health_score": 60 + n % 30,
        "health_band": "yellow",
        "estimated_minutes": 30,
        "reason": f"Quarterly review for account {n}",
    }
    row.update(changes)
    return row


def make_day(tasks: list[dict], automation: list[dict] | None = None, **kw) -> Day:
    return Day(
        run_date=kw.pop("run_date", RUN_DATE),
        worklist=tasks,
        automation=automation or [],
        tasks=tasks + [dict(a, due_date=RUN_DATE) for a in (automation or [])],
        touchpoints={"qbr": "Quarterly business review", "check_in_call": "Check-in call"},
        early_completion_days=kw.pop("early_completion_days", EARLY_COMPLETION_DAYS),
        health_trend={t["account_id"]: [(RUN_DATE, 60), (RUN_DATE, 70)] for t in tasks},
        **kw,
    )


@pytest.fixture
def day() -> Day:
    return make_day([task(n) for n in range(1, 13)])
