"""The day read from a built warehouse: what the destinations need beyond the marts."""

from __future__ import annotations

import datetime as dt
import html

import pytest

from tests.exports.conftest import make_day, task
from touchline.exports.day import Day, early_completion_days, task_meta
from touchline.exports.outbox import brief_html


def test_day_knows_every_assignees_name_and_the_brief_greets_them(built):
    paths, run_date = built
    day = Day.load(paths.warehouse, run_date)
    assignees = {row["assignee_email"] for row in day.worklist if row["assignee_email"]}
    assert assignees and assignees <= set(day.csm_names)
    assert all(day.csm_names[email].strip() for email in assignees)
    email = sorted(assignees)[0]
    rows = [row for row in day.worklist if row["assignee_email"] == email]
    brief = brief_html(email, rows, day).decode("utf-8")
    assert f"Good morning, {html.escape(day.csm_names[email])}:" in brief


def test_the_early_completion_window_is_the_dbt_projects_var(tmp_path):
    project = tmp_path / "dbt_project.yml"
    project.write_text("name: touchline\nvars:\n  early_completion_days: 3\n", encoding="utf-8")
    assert early_completion_days(tmp_path) == 3
    project.write_text("name: touchline\nvars:\n  overdue_grace_days: 7\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"dbt_project\.yml: vars\.early_completion_days must"):
        early_completion_days(tmp_path)


@pytest.mark.parametrize(("days_early", "reason"), [(3, "completed"), (4, "cancelled")])
def test_a_task_gone_from_the_day_is_completed_within_the_window(days_early, reason):
    """Closed as completed when its touchpoint was done no earlier than the window's days."""
    gone = task(1)
    due = gone["due_date"]
    day = make_day(
        [task(2)],
        early_completion_days=3,
        completions={(gone["account_id"], gone["touchpoint"]): due - dt.timedelta(days_early)},
    )
    assert day.closing_reason(task_meta(gone)) == reason


def test_the_brief_says_why_each_accounts_health_moved(built):
    """dim_accounts tells each score's 7-day move in one line, and the brief shows it."""
    import re

    paths, run_date = built
    day = Day.load(paths.warehouse, run_date)
    moves = {a["account_id"]: a["health_moves_7d"] for a in day.accounts}
    told = [line for line in moves.values() if line]
    assert told, "no account's move is told"
    shape = re.compile(r"health \d+ -> \d+ in 7 days(, unchanged|: .+)|health \d+ \(no score .+\)")
    assert all(shape.fullmatch(line) for line in told), [x for x in told if not shape.fullmatch(x)]
    # a fall names the part and, for a component, the measure that costs it most today
    falls = [line for line in told if re.search(r": [a-z]+ -\d+ \(", line)]
    assert falls, told[:10]
    row = next(r for r in day.worklist if r["assignee_email"] and moves.get(r["account_id"]))
    brief = brief_html(row["assignee_email"], [row], day).decode("utf-8")
    assert html.escape(moves[row["account_id"]].removeprefix("health ")) in brief
