"""The ledger and the planning run: only the difference is sent, a crash resumes, a re-run
sends nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pytest

from tests.exports.conftest import RUN_DATE, make_day, task
from touchline.exports.base import Closing, Destination, Item, export, plan
from touchline.exports.day import Day, task_meta
from touchline.exports.ledger import Ledger


class Recorder(Destination):
    """A destination that keeps what it was sent in memory, and can fail on demand."""

    name = "recorder"
    batch_size = 5
    closes = True

    def __init__(self, fail_on_batch: int | None = None) -> None:
        self.created: list[str] = []
        self.updated: list[str] = []
        self.closed: list[tuple[str, str]] = []
        self.batches = 0
        self.fail_on_batch = fail_on_batch

    def items(self, day: Day) -> list[Item]:
        return [
            Item(
                t["task_key"],
                {"due": str(t["due_date"]), "priority": t["priority"], "reason": t["reason"]},
                task_meta(t),
            )
            for t in day.worklist
        ]

    def _batch(self) -> None:
        self.batches += 1
        if self.batches == self.fail_on_batch:
            raise ConnectionError("the destination went away")

    def create(self, items: Sequence[Item], day: Day) -> dict[str, str | None]:
        self._batch()
        self.created += [i.key for i in items]
        return {i.key: f"remote-{i.key}" for i in items}

    def update(self, items, day):
        self._batch()
        self.updated += [i.key for i, _ in items]
        return {i.key: None for i, _ in items}

    def close(self, closings: Sequence[Closing], day: Day) -> None:
        self.closed += [(c.row.item_key, c.reason) for c in closings]


@pytest.fixture
def ledger(tmp_path):
    with Ledger(tmp_path / "ledger.sqlite") as opened:
        yield opened


def test_first_run_creates_everything_and_a_rerun_sends_nothing(ledger, day):
    destination = Recorder()
    first = export(destination, day, ledger)
    assert (len(first.create), len(first.update), len(first.close)) == (12, 0, 0)
    assert sorted(destination.created) == sorted(t["task_key"] for t in day.worklist)
    for _ in range(3):
        again = Recorder()
        result = export(again, day, ledger)
        assert result.unchanged == 12 and again.created == again.updated == []
    rows = ledger.rows("recorder")
    assert {r.status for r in rows.values()} == {"sent"}
    assert rows["task-001"].remote_id == "remote-task-001" and rows["task-001"].attempts == 1
    assert ledger.summary() == {"recorder": {"sent": 12}}


def test_a_changed_task_is_updated_and_a_gone_task_is_closed_with_its_reason(ledger, day):
    export(Recorder(), day, ledger)
    tasks = [task(n) for n in range(1, 13) if n not in (4, 5)]
    tasks[0] = task(1, priority="p1", reason="Renewal risk: usage fell")
    completed_touch = (day.worklist[3]["account_id"], day.worklist[3]["touchpoint"])
    later = make_day(
        tasks + [task(13)],
        run_date=RUN_DATE + dt.timedelta(days=1),
        completions={completed_touch: RUN_DATE},  # task-004 was done; task-005 was not
    )
    destination = Recorder()
    result = export(destination, later, ledger)
    assert destination.created == ["task-013"]
    assert destination.updated == ["task-001"]
    assert destination.closed == [("task-004", "completed"), ("task-005", "cancelled")]
    assert result.unchanged == 9
    rows = ledger.rows("recorder")
    assert rows["task-001"].remote_id == "remote-task-001"  # an update keeps the remote id
    assert rows["task-004"].status == "closed" and rows["task-004"].closed_reason == "completed"
    # closed stays closed: the next run does not close it again
    assert export(Recorder(), later, ledger).close == []


def test_a_crash_halfway_resumes_where_it_stopped(ledger, day):
    crashing = Recorder(fail_on_batch=2)  # batches of 5: the first lands, the second fails
    with pytest.raises(ConnectionError):
        export(crashing, day, ledger)
    assert len(crashing.created) == 5
    rows = ledger.rows("recorder")
    assert sum(r.status == "sent" for r in rows.values()) == 5
    assert sum(r.status == "failed" for r in rows.values()) == 5  # attempted, not accepted
    resumed = Recorder()
    result = export(resumed, day, ledger)
    assert len(result.create) == 7 and result.unchanged == 5
    assert sorted(crashing.created + resumed.created) == sorted(t["task_key"] for t in day.worklist)
    retried = ledger.rows("recorder")[resumed.created[0]]
    assert retried.attempts == 2 and retried.status == "sent"


def test_dry_run_plans_without_sending_or_recording(ledger, day):
    destination = Recorder()
    result = export(destination, day, ledger, dry_run=True)
    assert len(result.create) == 12 and destination.created == []
    assert ledger.rows("recorder") == {}
    assert "recorder: 12 to create, 0 to update, 0 to close, 0 unchanged" in result.describe()


def test_items_sharing_a_key_are_refused(ledger):
    twice = make_day([task(1), task(1)])
    with pytest.raises(ValueError, match="share a key"):
        plan(Recorder(), twice, ledger)


def test_sends_on_tells_what_each_day_sent_after_later_days_changed_the_items(ledger, day):
    export(Recorder(), day, ledger)
    tasks = [task(n) for n in range(1, 13) if n != 4]
    tasks[0] = task(1, priority="p1")
    next_day = RUN_DATE + dt.timedelta(days=1)
    export(Recorder(), make_day(tasks + [task(13)], run_date=next_day), ledger)

    first = ledger.sends_on(RUN_DATE)
    # task-001 was updated the next day: the first day still shows it created
    assert [(s.destination, s.action) for s in first] == [("recorder", "created")] * 12
    assert [s.item_key for s in first] == [f"task-{n:03d}" for n in range(1, 13)]
    second = {(s.action, s.item_key, s.closed_reason) for s in ledger.sends_on(next_day)}
    assert second == {
        ("created", "task-013", None),
        ("updated", "task-001", None),
        ("closed", "task-004", "cancelled"),
    }
    assert ledger.sends_on(RUN_DATE - dt.timedelta(days=1)) == []


def test_a_ledger_from_before_the_send_log_opens_and_tells_its_last_changes(tmp_path):
    import sqlite3

    from touchline.exports.ledger import SCHEMA

    path = tmp_path / "old-ledger.sqlite"
    with sqlite3.connect(path) as old:
        old.execute(SCHEMA)
        old.executemany(
            "insert into export_ledger (destination, item_key, payload_hash, status, attempts,"
            " run_date, first_sent_at, last_sent_at, closed_reason)"
            " values (?, ?, 'h', ?, 1, ?, ?, ?, ?)",
            [
                ("crm", "a", "sent", "2026-10-29", "t1", "t1", None),
                ("crm", "b", "sent", "2026-10-29", "t0", "t1", None),
                ("crm", "c", "closed", "2026-10-29", "t0", "t1", "completed"),
                ("crm", "d", "pending", "2026-10-29", None, None, None),
                ("crm", "e", "sent", "2026-10-28", "t0", "t0", None),
            ],
        )
    with Ledger(path) as migrated:
        sends = migrated.sends_on(dt.date(2026, 10, 29))
        assert [(s.item_key, s.action, s.closed_reason) for s in sends] == [
            ("a", "created", None),
            ("b", "updated", None),
            ("c", "closed", "completed"),
        ]
        # the old rows are kept and sends from now on are logged
        migrated.sent("crm", [("e", "h2", None, None)], dt.date(2026, 10, 30))
        assert [(s.item_key, s.action) for s in migrated.sends_on(dt.date(2026, 10, 30))] == [
            ("e", "updated")
        ]
