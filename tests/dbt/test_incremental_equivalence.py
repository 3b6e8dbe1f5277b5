"""The nightly incremental path and a full refresh give exactly the same daily history.

One warehouse is built the way production builds it: a first build, then one incremental
`dbt build` per night. Another is rebuilt from scratch (`--full-refresh`) on the last night.
Every row of the daily facts must be equal, column for column.
"""

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
NIGHTS = 3  # incremental nights after the first build


def build(paths, run_date, *extra):
    completed = run_dbt(
        ["build", "--exclude", "test_type:unit", *extra], paths, run_date, paths.warehouse
    )
    assert completed.returncode == 0, completed.stdout[-3000:]


def all_rows(warehouse, table):
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(f"select * from {table} order by {TABLES[table]}").fetchall()


@pytest.fixture(scope="module")
def two_paths(tmp_path_factory, small_drop):
    first, last = small_drop.dates
    days = [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]
    built = {}
    for name in ("incremental", "full"):
        work = tmp_path_factory.mktemp(name)
        paths = settings().with_overrides(
            source_dir=small_drop.out_dir,
            landing_dir=work / "landing",
            warehouse=work / "warehouse.duckdb",
        )
        land_history(paths, days)
        built[name] = paths
    nightly = built["incremental"]
    build(nightly, last - dt.timedelta(days=NIGHTS))
    for night in range(NIGHTS - 1, -1, -1):
        build(nightly, last - dt.timedelta(days=night))
    build(built["full"], last, "--full-refresh")
    return built["incremental"].warehouse, built["full"].warehouse, last


@pytest.mark.parametrize("table", sorted(TABLES))
def test_incremental_nights_equal_a_full_refresh(two_paths, table):
    incremental, full, last = two_paths
    nightly_rows = all_rows(incremental, table)
    rebuilt_rows = all_rows(full, table)
    assert rebuilt_rows, f"{table} is empty"
    days = {row[0] for row in rebuilt_rows}
    assert max(days) == last and len(days) >= NIGHTS + 1
    assert len(nightly_rows) == len(rebuilt_rows)
    assert nightly_rows == rebuilt_rows
