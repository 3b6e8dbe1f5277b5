"""What a night builds and tests: the days it adds, and the evidence only when it is due.

The tables that grow by day (the landed snapshots and events behind the staging views, the
daily history) opt in by naming their day column (macros/tested_days.sql): their earlier
days passed the builds that added them. Everything else is tested whole each night. The
evidence marts, which read the whole history, are computed again every
TOUCHLINE_EVIDENCE_EVERY_DAYS days; a first build computes them.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil

import duckdb
import pytest

from touchline import warehouse
from touchline.config import settings
from touchline.extract import land_history

# (the model's properties file, the test's name as it starts: dbt shortens long names)
SCOPED_TEST = ("int_account_tiers_daily.yml", "unique_combination_int_account_")
ACROSS_DAYS_TEST = ("int_usage_events.yml", "unique_across_days_int_usage_events_")


def compiled_test(paths, test: tuple[str, str]) -> str:
    """The SQL of the test as the last build ran it."""
    properties, name = test
    run = paths.state_dir / "dbt-target" / "run"
    (found,) = run.rglob(f"{properties}/{name}*.sql")
    return found.read_text()


@pytest.fixture(scope="module")
def nights(tmp_path_factory, small_drop):
    """The small drop's history built in one first build, then its last day as a night."""
    work = tmp_path_factory.mktemp("tested-days")
    paths = settings().with_overrides(
        source_dir=small_drop.out_dir,
        landing_dir=work / "landing",
        warehouse=work / "warehouse.duckdb",
        output_dir=work / "output",
    )
    first, last = small_drop.dates
    before = last - dt.timedelta(days=1)
    land_history(paths, [first + dt.timedelta(days=n) for n in range((before - first).days + 1)])
    first_result = warehouse.build(paths, before)
    first_build = {test: compiled_test(paths, test) for test in (SCOPED_TEST, ACROSS_DAYS_TEST)}
    published = work / "published-before-last.duckdb"
    shutil.copyfile(paths.warehouse, published)
    land_history(paths, [last])
    night = warehouse.build(paths, last)
    nightly = {test: compiled_test(paths, test) for test in (SCOPED_TEST, ACROSS_DAYS_TEST)}
    nightly["built"] = built_models(paths)
    nightly["results"] = (first_result, night)
    return paths, last, published, first_build, nightly


def built_models(paths) -> set[str]:
    results = json.loads((paths.state_dir / "dbt-target" / "run_results.json").read_text())
    return {
        r["unique_id"].split(".")[-1]
        for r in results["results"]
        if r["unique_id"].startswith("model.")
    }


def test_a_first_build_tests_every_row(nights):
    _, _, _, first_build, _ = nights
    assert "history_date >= cast(" not in first_build[SCOPED_TEST]
    assert "landed_date >= cast(" not in first_build[ACROSS_DAYS_TEST]


def test_a_night_tests_the_day_it_adds_in_tables_that_grow_by_day(nights):
    _, last, _, _, nightly = nights
    assert f"history_date >= cast('{last}' as date)" in nightly[SCOPED_TEST]
    # an event id must be unique across every day: the new days' ids against every row
    across = " ".join(nightly[ACROSS_DAYS_TEST].split())
    assert "event_id in ( select event_id from" in across, across
    assert f"where landed_date >= cast('{last}' as date)" in across, across


def failed_night(nights, tmp_path, entity: str, rows: str) -> str:
    """The last night built again on a copy of the warehouse before it, with the landed
    ``entity`` partition of the day replaced by ``rows`` (SQL over ``{day}``, the landed
    file); the build's error. The landed file is put back afterwards."""
    paths, last, published, _, _ = nights
    again = paths.with_overrides(warehouse=tmp_path / "warehouse.duckdb")
    shutil.copyfile(published, again.warehouse)
    part = paths.landing_dir / entity / f"ds={last}" / "part-0.parquet"
    kept = tmp_path / "kept.parquet"
    shutil.copyfile(part, kept)
    day = f"read_parquet('{kept}')"
    with duckdb.connect() as con:
        con.execute(f"copy ({rows.format(day=day)}) to '{part}' (format parquet)")
    try:
        with pytest.raises(warehouse.BuildError) as raised:
            warehouse.build(again, last)
    finally:
        shutil.copyfile(kept, part)
    return str(raised.value)


def test_a_bad_row_of_the_new_day_still_fails_the_night(nights, tmp_path):
    doubled = "select * from {day} union all (select * from {day} limit 1)"
    error = failed_night(nights, tmp_path, "accounts", doubled)
    assert "unique_combination_stg_crm__account_snapshots" in error, error


def test_the_latest_snapshot_views_read_one_partition(nights):
    paths, last, _, _, _ = nights
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        (sql,) = con.execute(
            "select sql from duckdb_views() where view_name = 'stg_crm__accounts'"
        ).fetchone()
    assert f"snapshot_date = CAST('{last}' AS DATE)" in sql, sql


def test_a_first_build_computes_the_evidence(nights):
    paths, last, published, _, nightly = nights
    first_result, _ = nightly["results"]
    assert first_result.evidence
    assert warehouse.evidence_as_of(published) == last - dt.timedelta(days=1)


def test_a_night_before_the_evidence_is_due_keeps_it(nights):
    paths, last, _, _, nightly = nights
    _, night = nightly["results"]
    assert not night.evidence
    assert "int_touchpoint_outcomes" not in nightly["built"]
    assert "int_account_tiers_daily" in nightly["built"]
    assert warehouse.evidence_as_of(paths.warehouse) == last - dt.timedelta(days=1)


def test_the_evidence_is_computed_again_when_due(nights, tmp_path, monkeypatch):
    paths, last, published, _, _ = nights
    again = paths.with_overrides(warehouse=tmp_path / "warehouse.duckdb")
    shutil.copyfile(published, again.warehouse)
    monkeypatch.setenv("TOUCHLINE_EVIDENCE_EVERY_DAYS", "1")
    result = warehouse.build(again, last)
    assert result.evidence
    assert "int_touchpoint_outcomes" in built_models(again)
    assert warehouse.evidence_as_of(again.warehouse) == last


def test_a_past_date_never_computes_the_evidence(nights, monkeypatch):
    paths, last, _, _, _ = nights
    monkeypatch.setenv("TOUCHLINE_EVIDENCE_EVERY_DAYS", "1")
    assert not warehouse.evidence_due(last - dt.timedelta(days=2), paths.warehouse)
    assert warehouse.evidence_due(last + dt.timedelta(days=1), paths.warehouse)


def test_the_evidence_interval_must_be_a_day_or_more(monkeypatch):
    from touchline.config import evidence_every_days

    monkeypatch.setenv("TOUCHLINE_EVIDENCE_EVERY_DAYS", "0")
    with pytest.raises(ValueError, match="TOUCHLINE_EVIDENCE_EVERY_DAYS=0"):
        evidence_every_days()


def test_an_event_id_of_the_new_day_seen_before_fails_the_night(nights, tmp_path):
    """The new days' ids are checked against every stored day, not only among themselves."""
    paths, _, published, _, _ = nights
    with duckdb.connect(str(published), read_only=True) as con:
        (old_id,) = con.execute(
            "select event_id from main.int_usage_events where event_id is not null limit 1"
        ).fetchone()
    seen_before = (
        f"select * replace (case when row_number() over () = 1 then '{old_id}' "
        "else event_id end as event_id) from {day}"
    )
    error = failed_night(nights, tmp_path, "usage_events", seen_before)
    assert "unique_across_days_int_usage_events" in error, error
