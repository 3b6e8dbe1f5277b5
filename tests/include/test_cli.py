"""The ``touchline`` command's own decisions, without running Airflow."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from touchline.cli import main
from touchline.exports.ledger import Ledger


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


@pytest.fixture
def demo_home(home, tmp_path, built, monkeypatch):
    """A home where the demo left its settings, over the built warehouse of the small drop."""
    paths, run_date = built
    monkeypatch.delenv("TOUCHLINE_WAREHOUSE", raising=False)
    monkeypatch.delenv("AIRFLOW_HOME", raising=False)  # a shell, not an Airflow task
    for name in ("HUBSPOT_URL", "SLACK_TOKEN", "CUSTOMERIO_URL", "WEBHOOK_URL"):
        monkeypatch.delenv(f"TOUCHLINE_{name}", raising=False)
    settings_file = home / "demo.json"
    home.mkdir(parents=True)
    recorded = {
        "TOUCHLINE_OUTBOX": str(tmp_path / "outbox"),
        "TOUCHLINE_LEDGER": str(tmp_path / "demo-ledger.sqlite"),
        "TOUCHLINE_WAREHOUSE": str(paths.warehouse),
        "run_date": run_date.isoformat(),
    }
    settings_file.write_text(json.dumps(recorded))
    return {"file": settings_file, "date": run_date, **recorded}


def test_export_finds_the_demos_outbox_and_ledger(demo_home, capsys):
    assert main(["export", "--date", demo_home["date"].isoformat(), "--dry-run"]) == 0
    out, err = capsys.readouterr()
    assert "no destination is configured" not in out
    assert out.startswith("files: ") and " to create" in out
    # says where the settings came from
    assert str(demo_home["file"]) in err
    assert f"TOUCHLINE_OUTBOX={demo_home['TOUCHLINE_OUTBOX']}" in err
    assert f"TOUCHLINE_LEDGER={demo_home['TOUCHLINE_LEDGER']}" in err


def test_a_set_variable_wins_over_the_demos_settings(demo_home, tmp_path, monkeypatch, capsys):
    mine = tmp_path / "my-ledger.sqlite"
    monkeypatch.setenv("TOUCHLINE_LEDGER", str(mine))
    assert main(["export", "--date", demo_home["date"].isoformat(), "--dry-run"]) == 0
    err = capsys.readouterr().err
    assert "TOUCHLINE_LEDGER" not in err and "TOUCHLINE_OUTBOX=" in err
    assert mine.exists() and not Path(demo_home["TOUCHLINE_LEDGER"]).exists()


def test_a_past_date_shows_what_was_sent_and_refuses_to_send(demo_home, capsys):
    past = demo_home["date"] - dt.timedelta(days=1)
    with Ledger(Path(demo_home["TOUCHLINE_LEDGER"])) as ledger:
        ledger.sent("crm", [("t-1", "h1", "101", None), ("t-2", "h2", "102", None)], past)
        ledger.sent("files", [("ana@example.com|x", "h3", None, None)], past)
        ledger.sent("crm", [("t-1", "h1b", None, None)], past)
        ledger.closed("crm", [("t-2", "completed")], past)
    outbox = Path(demo_home["TOUCHLINE_OUTBOX"])

    assert main(["export", "--date", past.isoformat(), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "crm: 2 created, 1 updated, 1 closed" in out
    assert "  closed  t-2 (completed)" in out and "  updated t-1" in out
    assert "files: 1 created, 0 updated, 0 closed" in out
    assert "Traceback" not in out

    assert main(["export", "--date", past.isoformat()]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    refusal = err[-1]
    assert refusal.startswith("touchline export: ") and past.isoformat() in refusal
    assert str(demo_home["date"]) in refusal and "--dry-run" in refusal
    assert not (outbox / past.isoformat()).exists()  # nothing sent


def test_a_past_date_nothing_was_sent_on_says_so(demo_home, capsys):
    past = demo_home["date"] - dt.timedelta(days=2)
    assert main(["export", "--date", past.isoformat(), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert f"the export ledger ({demo_home['TOUCHLINE_LEDGER']}) records no send on {past}" in out


def test_a_backfill_sends_only_its_last_date(home, tmp_path, monkeypatch, capsys):
    import touchline.airflow_local

    drop = tmp_path / "drop"
    days = [dt.date(2026, 10, 28) + dt.timedelta(days=n) for n in range(3)]
    for day in days:
        (drop / day.isoformat()).mkdir(parents=True)
    runs = []

    def run_dag(paths, run_date, on_task=None, send=True):
        runs.append((run_date, send))
        return touchline.airflow_local.DagRunOutcome("run", "success", {}, tmp_path / "log")

    monkeypatch.setattr(touchline.airflow_local, "run_dag", run_dag)
    start, end = days[0].isoformat(), days[-1].isoformat()
    assert main(["backfill", "--source-dir", str(drop), "--start", start, "--end", end]) == 0
    assert runs == [(days[0], False), (days[1], False), (days[2], True)]
