"""Two `touchline run` on one warehouse at once: the second is refused and says why.

The first run is paused (SIGSTOP) once it holds the warehouse, so the second one meets it
there whatever the machine's load; then it resumes and finishes. No timing is assumed.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time

import pytest

from tests.conftest import TOUCHLINE, run_touchline

pytestmark = pytest.mark.e2e


def lock_holder(lock_file, process) -> dict:
    """Wait until ``process`` has written itself into the warehouse lock."""
    deadline = time.monotonic() + 900
    while True:
        text = lock_file.read_text() if lock_file.exists() else ""
        if text.strip():
            holder = json.loads(text)
            if holder.get("pid") == process.pid:
                return holder
        assert process.poll() is None, "the first run ended before it held the warehouse"
        assert time.monotonic() < deadline, "the first run never took the warehouse"
        time.sleep(0.05)


def test_a_second_run_is_refused_while_the_first_holds_the_warehouse(tmp_path, small_drop):
    drop = tmp_path / "drop"
    shutil.copytree(small_drop.out_dir, drop)
    first_day, day = small_drop.dates
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TOUCHLINE_", "AIRFLOW"))}
    env.update(TOUCHLINE_HOME=str(home), TOUCHLINE_SOURCE_DIR=str(drop))
    output = ["--output-dir", str(tmp_path / "output")]
    with open(tmp_path / "first.out", "w") as out, open(tmp_path / "first.err", "w") as err:
        first = subprocess.Popen(
            [TOUCHLINE, "run", "--date", day.isoformat(), *output],
            env=env,
            cwd=tmp_path,
            stdout=out,
            stderr=err,
        )
    try:
        holder = lock_holder(home / ".warehouse-state" / "run.lock", first)
        os.kill(first.pid, signal.SIGSTOP)  # holds the warehouse until it is resumed
        others = {}
        for other_day in (day, first_day):
            others[other_day] = run_touchline(
                "run",
                "--date",
                other_day.isoformat(),
                *output,
                home=home,
                extra_env={"TOUCHLINE_SOURCE_DIR": str(drop)},
            )
        os.kill(first.pid, signal.SIGCONT)
        assert first.wait(timeout=1800) == 0, (tmp_path / "first.err").read_text()
    finally:
        if first.poll() is None:
            os.kill(first.pid, signal.SIGCONT)
            first.kill()
            first.wait()

    for other_day, refused in others.items():
        assert refused.returncode == 1, refused.stdout + refused.stderr
        message = refused.stderr
        assert f"another touchline run holds the warehouse {home / 'warehouse.duckdb'}" in message
        assert f"for {day} (pid {first.pid}" in message
        assert f"this run of {other_day} did not start" in message
        assert "ended running" not in message and "Traceback" not in message

    # the first run logged to its own file; the refused runs wrote no log
    logs = sorted((home / "airflow" / "runs").rglob("*.log"))
    (own,) = [path for path in logs if not path.is_symlink()]
    assert own == home / "airflow" / "runs" / day.isoformat() / own.name
    assert own.name.endswith(f"-{first.pid}.log") and str(own) == holder["log"]
    assert (home / "airflow" / "runs" / f"{day}.log").resolve() == own
    assert "touchline_nightly" in own.read_text()
