"""The day read from a built warehouse: what the destinations need beyond the marts."""

from __future__ import annotations

import html

from touchline.exports.day import Day
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
