"""The backtest looks forward only in its outcome columns: no fact enters a day's score
before it landed.

A churn that happened early in the drop's span but landed only in the last drop is the
case that would leak: if the history of a day before the landing moved once the churn is
known (the account dropping out of those days, its score or band changing), the backtest
would grade the score on facts nobody had that day. Built nightly and rebuilt from scratch
after the late churn lands, every earlier day's health and tier rows must be exactly what
they were before it landed, while the outcome rows of the days before the churn now count it.
"""

from __future__ import annotations

import datetime as dt
import shutil

import duckdb
import pytest

from touchline.config import settings
from touchline.extract import land_history
from touchline.warehouse import run_dbt

HISTORY = ("int_account_health_daily", "int_account_tiers_daily")


def build(paths, run_date, *extra):
    completed = run_dbt(
        ["build", "--exclude", "test_type:unit", *extra], paths, run_date, paths.warehouse
    )
    assert completed.returncode == 0, completed.stdout[-3000:]


def history_before(warehouse, table, day):
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(
            f"select * from main.{table} where history_date < ? order by history_date, account_id",
            [day],
        ).fetchall()


def an_account_on_every_day(drop, days) -> str:
    """An account in every day's snapshot that churns nowhere in the drop."""
    churned = set()
    present = None
    for day in days:
        folder = drop / day.isoformat()
        ids = {
            line.split(",")[0] for line in (folder / "accounts.csv").read_text().splitlines()[1:]
        }
        present = ids if present is None else present & ids
        churned |= {
            line.split(",")[0]
            for line in (folder / "churn_events.csv").read_text().splitlines()[1:]
        }
    return sorted(present - churned)[0]


@pytest.fixture(scope="module")
def late_churn(tmp_path_factory, small_drop):
    work = tmp_path_factory.mktemp("late-churn")
    drop = work / "drop"
    shutil.copytree(small_drop.out_dir, drop)
    first, last = small_drop.dates
    days = [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]
    account = an_account_on_every_day(drop, days)
    churned_on = days[2]
    with open(drop / last.isoformat() / "churn_events.csv", "a", encoding="utf-8") as events:
        events.write(f"{account},{churned_on.isoformat()},moved to a competitor\n")

    paths = settings().with_overrides(
        source_dir=drop, landing_dir=work / "landing", warehouse=work / "warehouse.duckdb"
    )
    land_history(paths, days[:-1])
    build(paths, days[-2])  # the last night before the churn lands
    before = {table: history_before(paths.warehouse, table, last) for table in HISTORY}
    land_history(paths, [last])
    build(paths, last)  # the night it lands, incrementally
    nightly = {table: history_before(paths.warehouse, table, last) for table in HISTORY}
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        outcomes = con.execute(
            "select as_of_date, churned_on, days_to_churn from main.fct_account_outcomes_daily"
            " where account_id = ? order by as_of_date",
            [account],
        ).fetchall()
        present_last = con.execute(
            "select count(*) from main.int_account_health_daily"
            " where account_id = ? and history_date = ?",
            [account, last],
        ).fetchone()[0]
    build(paths, last, "--full-refresh")
    rebuilt = {table: history_before(paths.warehouse, table, last) for table in HISTORY}
    return {
        "account": account,
        "churned_on": churned_on,
        "days": days,
        "before": before,
        "nightly": nightly,
        "rebuilt": rebuilt,
        "outcomes": outcomes,
        "present_last": present_last,
    }


@pytest.mark.parametrize("table", HISTORY)
def test_a_late_churn_changes_no_earlier_day_nightly(late_churn, table):
    assert late_churn["before"][table], f"{table} holds no days before the last"
    assert late_churn["nightly"][table] == late_churn["before"][table]


@pytest.mark.parametrize("table", HISTORY)
def test_a_late_churn_changes_no_earlier_day_on_a_full_rebuild(late_churn, table):
    assert late_churn["rebuilt"][table] == late_churn["before"][table]


def test_the_outcomes_count_the_late_churn_for_the_days_before_it(late_churn):
    churned_on, days = late_churn["churned_on"], late_churn["days"]
    by_day = {as_of: (on, gap) for as_of, on, gap in late_churn["outcomes"]}
    for day in days[:2]:
        assert by_day[day] == (churned_on, (churned_on - day).days), by_day
    # the days from the churn on were scored while it was unknown: they stay, looking at none
    for day in days[2:-1]:
        assert by_day[day] == (None, None), by_day
    # once it is known, the account is no longer a customer
    assert late_churn["present_last"] == 0
