"""Progress of long steps: live on a terminal, one line per step elsewhere, always stderr."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import pytest

from touchline.airflow_local import _follow
from touchline.demo.generator import generate
from touchline.progress import step


@pytest.fixture
def no_terminal(monkeypatch):
    for name in ("TTY_COMPATIBLE", "TTY_INTERACTIVE", "FORCE_COLOR"):
        monkeypatch.delenv(name, raising=False)


def test_off_a_terminal_a_step_prints_one_line_to_stderr(no_terminal, capsys):
    with step("landing the history", total=3, unit="days") as progress:
        for _ in range(3):
            progress.note("2026-10-01")
            progress.advance()
    out, err = capsys.readouterr()
    assert out == ""
    (line,) = err.splitlines()
    assert line.startswith("landing the history: 3/3 days in ") and line.endswith(" s")


def test_a_step_without_its_closing_line_stays_silent_off_a_terminal(no_terminal, capsys):
    with step("bench stage generate", line=False) as progress:
        progress.note("peak 120 MB")
    assert capsys.readouterr() == ("", "")


def test_on_a_terminal_a_step_draws_its_count_and_what_runs_now(monkeypatch, capsys):
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    monkeypatch.setenv("TTY_INTERACTIVE", "1")
    with step("running the nightly DAG", unit="tasks done") as progress:
        progress.note("build_warehouse")
        progress.advance()
        progress.advance()
    out, err = capsys.readouterr()
    assert out == ""
    assert "running the nightly DAG" in err and "2 tasks done" in err


def test_generation_reports_each_day(tmp_path):
    seen: list[str] = []
    summary = generate(tmp_path / "drop", accounts=20, days=3, seed=1, on_day=seen.append)
    first, last = summary.dates
    assert seen == [(first + dt.timedelta(days=n)).isoformat() for n in range(3)]
    assert seen[-1] == last.isoformat()


def test_the_airflow_run_reports_tasks_as_its_log_gains_them(tmp_path):
    log = tmp_path / "run.log"
    lines = [
        "[DAG TEST] starting task_id=extract_crm map_index=-1",
        "[DAG TEST] end task task_id=extract_crm map_index=-1",
        "[DAG TEST] starting task_id=build_warehouse map_index=-1",
        "[DAG TEST] end task task_id=build_warehouse map_index=-1",
    ]
    writer = "import sys\nfor line in sys.argv[1:]:\n    print(line, flush=True)\n"
    with open(log, "w", encoding="utf-8") as handle:
        process = subprocess.Popen([sys.executable, "-c", writer, *lines], stdout=handle)
    events: list[tuple[str, str]] = []
    assert _follow(process, log, lambda event, task: events.append((event, task))) == 0
    assert events == [
        ("starting", "extract_crm"),
        ("end task", "extract_crm"),
        ("starting", "build_warehouse"),
        ("end task", "build_warehouse"),
    ]


def test_landing_the_history_reports_each_day(tmp_path, small_drop):
    from touchline.config import settings
    from touchline.extract import land_history

    paths = settings().with_overrides(
        source_dir=small_drop.out_dir, landing_dir=tmp_path / "landing"
    )
    first, last = small_drop.dates
    days = [first, first + dt.timedelta(days=1), last]
    seen: list[dt.date] = []
    land_history(paths, days, workers=2, on_day=seen.append)
    assert sorted(seen) == days
