"""The wait for the day's drop: what counts as arrived, the trigger, and the sensor's deadline."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from airflow.sdk.exceptions import AirflowFailException, TaskDeferred

from touchline.drop_wait import DropArrivedTrigger, WaitForDrop, missing, requirements

DAY = dt.date(2026, 10, 30)
# the snapshots every drop holds (docs/input-layout.md); the event files may be absent
REQUIRED = ["accounts.csv", "contracts.csv", "contacts.csv", "csms.csv", "fx_rates.csv"]


@pytest.fixture
def drop(tmp_path):
    return tmp_path / "drop"


@pytest.fixture
def context(tmp_path, drop):
    def make(logical: dt.datetime) -> dict:
        params = {"source_dir": str(drop), "sources_file": str(tmp_path / "absent-sources.yml")}
        return {"params": params, "logical_date": logical}

    return make


def _names(wanted):
    return [names[0] for names in wanted]


def test_the_required_snapshots_and_the_marker_are_waited_for(tmp_path):
    from touchline.config import settings

    paths = settings().with_overrides(sources_file=tmp_path / "absent.yml")
    assert _names(requirements(paths)) == REQUIRED
    assert requirements(paths)[0] == ["accounts.csv", "accounts.csv.gz"]
    assert _names(requirements(paths, marker="_SUCCESS")) == [*REQUIRED, "_SUCCESS"]


def test_families_read_from_an_api_are_not_waited_for(tmp_path):
    from touchline.config import settings

    sources = tmp_path / "sources.yml"
    sources.write_text(
        "sources:\n  sf:\n    type: salesforce\nfamilies:\n  crm: sf\n", encoding="utf-8"
    )
    paths = settings().with_overrides(sources_file=sources)
    assert requirements(paths) == []  # every required snapshot is a CRM entity


def test_missing_names_the_folder_or_each_absent_file(drop):
    wanted = [["accounts.csv", "accounts.csv.gz"], ["contracts.csv"]]
    assert missing(drop / "2026-10-30", wanted) == ["the folder itself"]
    folder = drop / "2026-10-30"
    folder.mkdir(parents=True)
    (folder / "accounts.csv.gz").write_bytes(b"")
    assert missing(folder, wanted) == ["contracts.csv"]
    (folder / "contracts.csv").write_text("contract_id\n", encoding="utf-8")
    assert missing(folder, wanted) == []


def test_the_trigger_fires_once_the_files_are_there(drop):
    folder = drop / "2026-10-30"
    deadline = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat()
    trigger = DropArrivedTrigger(str(folder), [["accounts.csv"]], deadline, poll_seconds=1)

    async def scenario():
        events = trigger.run()
        first = asyncio.ensure_future(anext(events))
        for _ in range(20):  # however often the loop turns, nothing is there to find
            await asyncio.sleep(0)
        assert not first.done()
        folder.mkdir(parents=True)
        (folder / "accounts.csv").write_text("account_id\n", encoding="utf-8")
        return await asyncio.wait_for(first, timeout=120)

    event = asyncio.run(scenario())
    assert event.payload == {"arrived": True}
    # it survives the trip to the triggerer
    classpath, kwargs = trigger.serialize()
    assert classpath == "touchline.drop_wait.DropArrivedTrigger"
    assert DropArrivedTrigger(**kwargs).serialize() == (classpath, kwargs)


def test_the_trigger_reports_what_is_missing_at_the_deadline(drop):
    deadline = (dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)).isoformat()
    trigger = DropArrivedTrigger(str(drop / "2026-10-30"), [["accounts.csv"]], deadline, 60)

    async def first():
        return await anext(trigger.run())

    event = asyncio.run(first())
    assert event.payload == {"arrived": False, "missing": ["the folder itself"]}


def test_an_arrived_drop_passes_at_once(drop, context):
    folder = drop / DAY.isoformat()
    folder.mkdir(parents=True)
    for name in REQUIRED:
        (folder / name).write_text("x\n", encoding="utf-8")
    sensor = WaitForDrop(task_id="wait_for_drop")
    assert sensor.execute(context(dt.datetime(2026, 10, 30, 2, tzinfo=dt.UTC))) is None


def test_a_late_drop_defers_until_its_deadline(drop, context, monkeypatch):
    monkeypatch.setenv("TOUCHLINE_DROP_WAIT_MINUTES", "90")
    logical = dt.datetime.now(dt.UTC).replace(microsecond=0)
    (drop / logical.date().isoformat()).mkdir(parents=True)
    sensor = WaitForDrop(task_id="wait_for_drop")
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute(context(logical))
    trigger = deferred.value.trigger
    assert isinstance(trigger, DropArrivedTrigger)
    assert dt.datetime.fromisoformat(trigger.deadline) == logical + dt.timedelta(minutes=90)
    assert _names(trigger.wanted) == REQUIRED
    assert deferred.value.method_name == "execute_complete"


def test_past_the_deadline_the_run_fails_naming_the_files(drop, context):
    folder = drop / DAY.isoformat()
    folder.mkdir(parents=True)
    (folder / "accounts.csv").write_text("x\n", encoding="utf-8")
    sensor = WaitForDrop(task_id="wait_for_drop")
    run = context(dt.datetime(2026, 10, 30, 2, tzinfo=dt.UTC))
    with pytest.raises(AirflowFailException) as failed:
        sensor.execute(run)
    message = str(failed.value)
    assert "the drop for 2026-10-30 has not arrived by 2026-10-30T06:00:00+00:00" in message
    assert f"{folder} lacks {', '.join(REQUIRED[1:])}" in message
    assert "clear this run" in message
    # the same words when the trigger gave up waiting
    with pytest.raises(AirflowFailException, match=r"lacks contracts\.csv"):
        sensor.execute_complete(run, {"arrived": False, "missing": ["contracts.csv"]})
