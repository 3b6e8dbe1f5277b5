"""Point in time: a day's history row is the same whether it was computed that night or
later, from a longer history (a backfill never sees later data, a rebuild changes nothing)."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from touchline.config import settings
from touchline.extract import land_history
from touchline.warehouse import run_dbt

TABLES = {
    "fct_account_health_daily": "history_date, account_id",
    "fct_account_tiers_daily": "history_date, account_id",
}


def build_until(work, drop, first, last):
    paths = settings().with_overrides(
        source_dir=drop.out_dir,
        landing_dir=work / "landing",
        warehouse=work / "warehouse.duckdb",
    )
    days = [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]
    land_history(paths, days)
    completed = run_dbt(["build", "--exclude", "test_type:unit"], paths, last, paths.warehouse)
    assert completed.returncode == 0, completed.stdout[-3000:]
    return paths.warehouse


def rows_on(warehouse, table, day):
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(
            f"select * from {table} where history_date = ? order by {TABLES[table]}", [day]
        ).fetchall()


@pytest.fixture(scope="module")
def two_builds(tmp_path_factory, small_drop):
    first, last = small_drop.dates
    middle = first + (last - first) // 2
    short = build_until(tmp_path_factory.mktemp("until-middle"), small_drop, first, middle)
    long = build_until(tmp_path_factory.mktemp("until-last"), small_drop, first, last)
    return short, long, middle


@pytest.mark.parametrize("table", sorted(TABLES))
def test_a_day_is_the_same_computed_then_or_later(two_builds, table):
    short, long, middle = two_builds
    then = rows_on(short, table, middle)
    later = rows_on(long, table, middle)
    assert then, f"{table} has no rows for {middle}"
    assert later == then
