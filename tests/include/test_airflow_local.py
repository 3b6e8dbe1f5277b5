"""The embedded Airflow runner's own rules: one run per warehouse and date, one log per run."""

from __future__ import annotations

import datetime as dt

import pytest

from touchline.airflow_local import RunInProgress, _holding, run_log_path
from touchline.config import settings


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
