"""Tasks completed in the CRM come back as staged activities for the next build.

The read-back is an extract of the CRM the exports write to: the day of work it completes
is the export tests' own (``tests/exports/conftest.py``).
"""

from __future__ import annotations

import datetime as dt

import pyarrow.parquet as pq
import pytest

from tests.exports.conftest import RUN_DATE, make_day, task
from touchline.config import settings
from touchline.devservers import HubSpotServer
from touchline.exports.base import export
from touchline.exports.crm import HubSpotTasks
from touchline.exports.ledger import Ledger
from touchline.exports.run import ledger_path
from touchline.landing import staging_dir
from touchline.sources.crm_completions import read_crm_completions


@pytest.fixture
def day():
    """The export tests' day: twelve tasks, sent to the CRM before it completes some."""
    return make_day([task(n) for n in range(1, 13)])


def test_completed_crm_tasks_are_staged_as_activities(tmp_path, monkeypatch, day):
    paths = settings().with_overrides(home=tmp_path, landing_dir=tmp_path / "landing")
    monkeypatch.delenv("TOUCHLINE_LEDGER", raising=False)
    noon = dt.datetime.combine(RUN_DATE, dt.time(12), tzinfo=dt.UTC)
    with HubSpotServer(token="hs-token", clock=noon.timestamp) as server:
        monkeypatch.setenv("TOUCHLINE_HUBSPOT_URL", server.url)
        monkeypatch.setenv("TOUCHLINE_HUBSPOT_TOKEN", "hs-token")
        with Ledger(ledger_path(paths)) as ledger:
            export(HubSpotTasks(server.url, "hs-token"), day, ledger)
        done = day.worklist[2]
        server.complete(done["task_key"])
        server.complete(day.worklist[5]["task_key"])
        summary = read_crm_completions(paths, RUN_DATE)
    assert summary == {"entity": "crm_task_completions", "rows": 2, "crm": True}
    table = pq.read_table(staging_dir(paths.landing_dir, RUN_DATE) / "crm_task_completions.parquet")
    rows = {r["task_key"]: r for r in table.to_pylist()}
    assert set(rows) == {done["task_key"], day.worklist[5]["task_key"]}
    row = rows[done["task_key"]]
    assert row["account_id"] == done["account_id"]
    assert row["activity_type"] == done["touchpoint"]  # the touchpoint it satisfies
    assert row["activity_id"].startswith("crm-task-")
    assert abs(row["occurred_at"] - noon.replace(tzinfo=None)) < dt.timedelta(seconds=1)


def test_without_a_crm_an_empty_batch_is_staged(tmp_path, monkeypatch):
    for name in ("TOUCHLINE_HUBSPOT_URL", "TOUCHLINE_HUBSPOT_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    paths = settings().with_overrides(home=tmp_path, landing_dir=tmp_path / "landing")
    assert read_crm_completions(paths, RUN_DATE)["rows"] == 0
    staged = staging_dir(paths.landing_dir, RUN_DATE) / "crm_task_completions.parquet"
    assert pq.read_table(staged).num_rows == 0


def test_completions_after_the_run_date_wait_for_their_own_night(tmp_path, monkeypatch, day):
    """A backfill of an earlier date does not see what was completed after it."""
    paths = settings().with_overrides(home=tmp_path, landing_dir=tmp_path / "landing")
    monkeypatch.delenv("TOUCHLINE_LEDGER", raising=False)
    later = dt.datetime.combine(RUN_DATE + dt.timedelta(days=3), dt.time(9), tzinfo=dt.UTC)
    with HubSpotServer(token="hs-token", clock=later.timestamp) as server:
        monkeypatch.setenv("TOUCHLINE_HUBSPOT_URL", server.url)
        monkeypatch.setenv("TOUCHLINE_HUBSPOT_TOKEN", "hs-token")
        with Ledger(ledger_path(paths)) as ledger:
            export(HubSpotTasks(server.url, "hs-token"), day, ledger)
        server.complete(day.worklist[0]["task_key"])
        assert read_crm_completions(paths, RUN_DATE)["rows"] == 0
        assert read_crm_completions(paths, RUN_DATE + dt.timedelta(days=3))["rows"] == 1
