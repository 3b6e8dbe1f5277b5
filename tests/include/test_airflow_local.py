"""The embedded Airflow runner's own rules: one run per warehouse and date, one log per run."""

from __future__ import annotations

import datetime as dt
import sqlite3

import pytest

from touchline.airflow_local import (
    RunInProgress,
    _holding,
    airflow_home,
    ensure_airflow,
    metadata_template,
    run_log_path,
)
from touchline.config import WAREHOUSE_POOL, settings


def test_a_held_lock_refuses_a_second_run_naming_the_first(tmp_path):
    lock = tmp_path / "run.lock"
    first = {"run_date": "2026-10-30", "pid": 4242, "started_at": "2026-12-01 02:00:00 UTC"}
    second = {"run_date": "2026-10-29", "pid": 4343}
    with _holding(lock, "the warehouse w.duckdb", first):
        # a second open file description of the same lock, as another process has
        with (
            pytest.raises(RunInProgress) as refused,
            _holding(lock, "the warehouse w.duckdb", second),
        ):
            pass
    message = str(refused.value)
    assert "another touchline run holds the warehouse w.duckdb for 2026-10-30" in message
    assert "pid 4242" in message and "this run of 2026-10-29 did not start" in message
    with _holding(lock, "the warehouse w.duckdb", second):  # released when the first ended
        pass


def test_each_run_has_its_own_log_file(tmp_path, monkeypatch):
    monkeypatch.setenv("TOUCHLINE_HOME", str(tmp_path))
    paths, day = settings(), dt.date(2026, 10, 30)
    started = dt.datetime(2026, 12, 1, 2, 0, tzinfo=dt.UTC)
    one, other = run_log_path(paths, day, started, 100), run_log_path(paths, day, started, 101)
    assert one != other and one.parent == other.parent
    assert one.parent.name == "2026-10-30"


def test_new_homes_copy_one_migrated_template(tmp_path, monkeypatch):
    """The first home migrates a template in the cache; the next copies it, pool and all."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    homes = []
    for name in ("one", "two"):
        monkeypatch.setenv("TOUCHLINE_HOME", str(tmp_path / name))
        ensure_airflow(settings())
        homes.append(airflow_home(settings()) / "airflow.db")
        if name == "one":
            template = metadata_template()
            made = template.stat().st_mtime_ns
    assert metadata_template() == template and template.stat().st_mtime_ns == made
    assert [p.name for p in template.parent.iterdir()] == [template.name]  # no scratch left
    for db in homes:
        with sqlite3.connect(db) as con:
            pools = dict(con.execute("select pool, slots from slot_pool").fetchall())
            (revision,) = con.execute("select version_num from alembic_version").fetchone()
        assert pools[WAREHOUSE_POOL] == 1 and revision
