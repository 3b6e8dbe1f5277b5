"""The nightly incremental path and a full refresh give exactly the same daily history.

One warehouse is built the way production builds it: a first build, then one incremental
`dbt build` per night. Another is rebuilt from scratch (`--full-refresh`) on the last night.
Every row of the daily facts, of the usage events and of the ticket versions kept
incrementally must be equal, column for column. A third warehouse is built the way a long
first build runs: the history in batches of a few days, then the last night. The landings
carry usage events delivered a second time in a later drop, which must count once. A past
night built again on the nightly warehouse (a backfill) must come back exactly as it was.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil

import duckdb
import pyarrow.parquet as pq
import pytest

from touchline.bench import step_sql_floor
from touchline.config import settings
from touchline.extract import land_history
from touchline.warehouse import build as build_warehouse
from touchline.warehouse import run_dbt

TABLES = {
    "fct_account_health_daily": "history_date, account_id",
    "fct_account_tiers_daily": "history_date, account_id",
    "int_usage_events": "landed_date, event_id",
    "int_ticket_versions": "landed_date, ticket_id",
    "int_account_health_contributions_daily": "history_date, account_id",
}
# the tables that hold the history and the landed events (the fct_ marts publish the first two)
STORES = (
    "int_account_health_daily",
    "int_account_tiers_daily",
    "int_usage_events",
    "int_ticket_versions",
    "int_account_health_contributions_daily",
)
REDELIVERED = 40  # events of the first night's partition delivered again two days later
NIGHTS = 3  # incremental nights after the first build
BATCH_ACCOUNT_DAYS = 450  # the batched first build: 150 accounts, three days a batch


def build(paths, run_date, *extra):
    completed = run_dbt(
        ["build", "--exclude", "test_type:unit", *extra], paths, run_date, paths.warehouse
    )
    assert completed.returncode == 0, completed.stdout[-3000:]


def all_rows(warehouse, table):
    with duckdb.connect(str(warehouse), read_only=True) as con:
        order = TABLES[table]
        return con.execute(f"select {order}, * from {table} order by {order}").fetchall()


def redeliver(landing_dir, first_delivery, second_delivery):
    """Deliver some events of one usage partition again in a later one (a second file)."""
    usage = landing_dir / "usage_events"
    events = pq.read_table(usage / f"ds={first_delivery}" / "part-0.parquet")
    pq.write_table(events.slice(0, REDELIVERED), usage / f"ds={second_delivery}" / "part-1.parquet")


@pytest.fixture(scope="module")
def two_paths(tmp_path_factory, small_drop):
    first, last = small_drop.dates
    days = [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]
    built = {}
    for name in ("incremental", "full", "batched"):
        work = tmp_path_factory.mktemp(name)
        paths = settings().with_overrides(
            source_dir=small_drop.out_dir,
            landing_dir=work / "landing",
            warehouse=work / "warehouse.duckdb",
        )
        land_history(paths, days)
        redeliver(paths.landing_dir, days[-NIGHTS - 1], days[-NIGHTS + 1])
        built[name] = paths
    nightly = built["incremental"]
    build(nightly, last - dt.timedelta(days=NIGHTS))
    for night in range(NIGHTS - 1, -1, -1):
        build(nightly, last - dt.timedelta(days=night))
    build(built["full"], last, "--full-refresh")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TOUCHLINE_HISTORY_BATCH_ACCOUNT_DAYS", str(BATCH_ACCOUNT_DAYS))
        batched = build_warehouse(built["batched"], last)
    assert batched.history_batches >= 2
    return built["incremental"].warehouse, built["full"].warehouse, last, built["batched"]


@pytest.fixture(scope="module")
def backfilled(two_paths, tmp_path_factory):
    """The nightly warehouse with a past night's history taken away, then that night built
    again (a backfill of one day): it must come back as it was."""
    incremental, _, last, _ = two_paths
    copy = tmp_path_factory.mktemp("backfill") / "warehouse.duckdb"
    shutil.copyfile(incremental, copy)
    past = last - dt.timedelta(days=NIGHTS - 1)
    with duckdb.connect(str(copy)) as con:
        for table in ("int_account_health_daily", "int_account_tiers_daily"):
            con.execute(f"delete from {table} where history_date = ?", [past])
    paths = settings().with_overrides(landing_dir=incremental.parent / "landing", warehouse=copy)
    build(paths, past)
    return copy, past


@pytest.mark.parametrize("table", sorted(TABLES))
def test_incremental_nights_equal_a_full_refresh(two_paths, table):
    incremental, full, last, _ = two_paths
    nightly_rows = all_rows(incremental, table)
    rebuilt_rows = all_rows(full, table)
    assert rebuilt_rows, f"{table} is empty"
    days = {row[0] for row in rebuilt_rows}
    assert max(days) == last and len(days) >= NIGHTS + 1
    assert len(nightly_rows) == len(rebuilt_rows)
    assert nightly_rows == rebuilt_rows


@pytest.mark.parametrize("table", sorted(TABLES))
def test_a_first_build_in_batches_of_days_equals_a_full_refresh(two_paths, table):
    _, full, _, batched = two_paths
    assert all_rows(batched.warehouse, table) == all_rows(full, table)


def test_the_sql_floor_in_batches_computes_the_rows_of_the_build(two_paths, tmp_path):
    """The benchmark's SQL floor times the models' statements of a build in the same
    batches: that build must compute what the pipeline's does, or it is not its floor."""
    _, full, last, batched = two_paths
    floor = tmp_path / "floor.duckdb"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TOUCHLINE_HISTORY_BATCH_ACCOUNT_DAYS", str(BATCH_ACCOUNT_DAYS))
        step_sql_floor(batched.with_overrides(warehouse=tmp_path / "w.duckdb"), last, floor)
    for table in sorted(TABLES):
        assert all_rows(floor, table) == all_rows(full, table), table


def test_incremental_models_replace_rows_by_one_key_column(two_paths):
    """dbt-duckdb finds the rows a list of keys replaces by joining every stored row of a key
    with every new row of it (quadratic in a day's rows); one column name uses `in`."""
    *_, batched = two_paths
    manifest = json.loads((batched.state_dir / "dbt-target" / "manifest.json").read_text())
    incremental = {
        node["name"]: node["config"]
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["config"]["materialized"] == "incremental"
    }
    assert set(STORES) <= set(incremental)
    keys = {
        name: config["unique_key"]
        for name, config in incremental.items()
        if config["incremental_strategy"] == "delete+insert"
    }
    assert set(STORES) <= set(keys)
    assert all(isinstance(key, str) for key in keys.values()), keys


def test_an_event_delivered_twice_counts_once_from_its_first_delivery(two_paths):
    incremental, full, last, _ = two_paths
    first_delivery = last - dt.timedelta(days=NIGHTS)
    for warehouse in (incremental, full):
        with duckdb.connect(str(warehouse), read_only=True) as con:
            landed, distinct = con.execute(
                "select count(*), count(distinct event_id) from int_usage_events"
            ).fetchone()
            redelivered = con.execute(
                f"""
                select landed_date, count(*) from int_usage_events
                where event_id in (
                    select event_id from read_parquet(
                        '{warehouse.parent}/landing/usage_events/ds=*/part-1.parquet'
                    )
                )
                group by landed_date
                """
            ).fetchall()
        assert landed == distinct
        assert redelivered == [(first_delivery, REDELIVERED)]


@pytest.mark.parametrize("table", ["fct_account_health_daily", "fct_account_tiers_daily"])
def test_a_backfilled_past_day_sees_only_what_had_landed_by_then(two_paths, backfilled, table):
    """Rebuilding a past night on a warehouse that already holds later drops (usage events
    and ticket versions landed after it) gives that night exactly the rows it had."""
    incremental, _, last, _ = two_paths
    warehouse, past = backfilled
    before = all_rows(incremental, table)
    after = all_rows(warehouse, table)
    assert [row for row in after if row[0] == past], f"{table} lost the day {past}"
    assert after == before
