"""Fixtures of the include tests that need real nightly runs."""

from __future__ import annotations

import datetime as dt
import shutil

import pytest

from tests.conftest import run_touchline


@pytest.fixture(scope="session")
def two_nights(tmp_path_factory, small_drop):
    """The small drop's last two dates run through Airflow (``touchline run``) one after the
    other into one output folder, the files destination on (so there is a ledger and an
    outbox). Shared by the diff and preview tests: each run takes about a minute."""
    work = tmp_path_factory.mktemp("two-nights")
    drop = work / "drop"
    shutil.copytree(small_drop.out_dir, drop)
    home, output, outbox = work / "home", work / "output", work / "outbox"
    env = {"TOUCHLINE_SOURCE_DIR": str(drop), "TOUCHLINE_OUTBOX": str(outbox)}
    last = small_drop.dates[1]
    first = last - dt.timedelta(days=1)
    for day in (first, last):
        completed = run_touchline(
            "run", "--date", day.isoformat(), "--output-dir", str(output), home=home, extra_env=env
        )
        assert completed.returncode == 0, completed.stdout + completed.stderr
    return {
        "home": home,
        "output": output,
        "outbox": outbox,
        "drop": drop,
        "env": env,
        "dates": (first, last),
    }
