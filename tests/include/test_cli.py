"""The ``touchline`` command's own decisions, without running Airflow."""

from __future__ import annotations

import pytest

from touchline.cli import main


@pytest.fixture
def home(tmp_path, monkeypatch):
    for name in ("TOUCHLINE_SOURCE_DIR", "TOUCHLINE_OUTBOX", "TOUCHLINE_LEDGER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TOUCHLINE_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.mark.parametrize(
    "command",
    [
        ["run", "--date", "2026-10-30"],
        ["backfill", "--start", "2026-10-29", "--end", "2026-10-30"],
    ],
)
def test_run_and_backfill_read_the_drop_from_touchline_source_dir(
    home, tmp_path, monkeypatch, command
):
    drop = tmp_path / "elsewhere"
    (drop / "2026-10-29").mkdir(parents=True)
    monkeypatch.setenv("TOUCHLINE_SOURCE_DIR", str(drop))
    with pytest.raises(SystemExit) as stopped:
        main(command)
    # no --source-dir needed: the variable names the drop, and a missing day is named
    message = str(stopped.value)
    assert f"no drop for 2026-10-30 in {drop}" in message
    assert "(from TOUCHLINE_SOURCE_DIR)" in message
    assert "2026-10-29" not in message
