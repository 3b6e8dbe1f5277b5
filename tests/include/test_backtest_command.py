"""`touchline backtest` prints the backtest of a built warehouse, and says what is missing."""

from __future__ import annotations

from tests.conftest import run_touchline


def test_the_command_prints_every_horizon_and_withholds_what_the_history_cannot_show(
    built, tmp_path
):
    paths, _ = built
    completed = run_touchline("backtest", "--warehouse", str(paths.warehouse), home=tmp_path)
    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.splitlines()
    assert lines[0] == "Does the health score predict churn? (docs/backtest.md)"
    # eight days of history: no horizon is over yet, so no figure is printed, only why
    for horizon in (30, 60, 90, 180):
        assert f"{horizon} days: no day has {horizon} days of history after it yet" in lines
    assert "AUC" not in completed.stdout.split("== Churn")[0]


def test_a_missing_warehouse_is_named(tmp_path):
    missing = tmp_path / "nowhere.duckdb"
    completed = run_touchline("backtest", "--warehouse", str(missing), home=tmp_path / "home")
    assert completed.returncode == 1
    assert f"no warehouse at {missing}" in completed.stderr
