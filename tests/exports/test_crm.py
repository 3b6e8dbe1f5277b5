"""What a real HubSpot portal does to the CRM destination: trace ids, deleted tasks, big windows."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.exports.conftest import RUN_DATE, make_day
from touchline import hubspot_client
from touchline.devservers.hubspot import HubSpotServer
from touchline.exports.base import export
from touchline.exports.crm import DELETED_IN_CRM, KEY_PROPERTY, HubSpotTasks, completed_since
from touchline.exports.ledger import Ledger

OWNERS = [{"id": "501", "email": "ana@example.com", "firstName": "Ana", "lastName": "A"}]


def no_wait(seconds: float) -> None:
    raise AssertionError(f"no retry expected, asked to wait {seconds} s")


def crm(server: HubSpotServer) -> HubSpotTasks:
    return HubSpotTasks(server.url, "hs-secret", hubspot_client.retry(sleep=no_wait))


@pytest.fixture
def ledger(tmp_path):
    with Ledger(tmp_path / "ledger.sqlite") as opened:
        yield opened


class UnechoedKeyServer(HubSpotServer):
    """Answers upserts without the unique property and in reverse order (HubSpot may)."""

    def _upsert(self, request):
        reply = super()._upsert(request)
        reply.payload["results"].reverse()
        for result in reply.payload["results"]:
            result["properties"].pop(KEY_PROPERTY, None)
        return reply


def test_upsert_results_are_matched_to_inputs_by_write_trace_id(ledger, day):
    with UnechoedKeyServer(token="hs-secret", owners=OWNERS) as server:
        export(crm(server), day, ledger)
        ids = {t["properties"][KEY_PROPERTY]: t["id"] for t in server.tasks()}
        traces = [i["objectWriteTraceId"] for i in server.requests[-1].json["inputs"]]
    assert traces == [t["task_key"] for t in day.worklist]
    rows = ledger.rows("crm")
    assert {key: row.remote_id for key, row in rows.items()} == ids
    assert {row.status for row in rows.values()} == {"sent"}


def test_a_task_deleted_in_the_crm_is_closed_as_deleted_and_never_recreated(ledger, day):
    with HubSpotServer(token="hs-secret", owners=OWNERS) as server:
        export(crm(server), day, ledger)
        changed, completed, kept = day.worklist[0], day.worklist[3], day.worklist[6]
        server.delete_task(changed["task_key"])
        server.delete_task(completed["task_key"])
        tasks = [t for t in day.worklist if t is not completed]
        tasks[0] = dict(changed, priority="p1")
        tasks[5] = dict(kept, priority="p1")
        next_day = make_day(
            tasks,
            run_date=RUN_DATE + dt.timedelta(days=1),
            completions={(completed["account_id"], completed["touchpoint"]): RUN_DATE},
        )
        for _ in range(2):  # the next night, then the one after: nothing fails, nothing re-sent
            server.requests.clear()
            export(crm(server), next_day, ledger)
            assert server.task_by_key(changed["task_key"]) is None
            assert server.task_by_key(completed["task_key"]) is None
            assert len(server.tasks()) == len(day.worklist) - 2
        assert server.requests == []  # the second night had nothing to do
        assert server.task_by_key(kept["task_key"])["properties"]["hs_task_priority"] == "HIGH"
    rows = ledger.rows("crm")
    for gone in (changed, completed):
        assert (rows[gone["task_key"]].status, rows[gone["task_key"]].closed_reason) == (
            "closed",
            DELETED_IN_CRM,
        )
    assert rows[kept["task_key"]].status == "sent"


def test_a_window_of_more_than_10000_completed_tasks_is_read_completely():
    start = dt.datetime.combine(RUN_DATE - dt.timedelta(days=29), dt.time(), tzinfo=dt.UTC)
    end = start + dt.timedelta(days=30)
    count = 10_250
    step = (end - start) / count
    rows = [
        (
            {
                KEY_PROPERTY: f"task-{n:05d}",
                "hs_task_status": "COMPLETED",
                "hs_timestamp": "1790000000000",
            },
            int((start + step * n).timestamp() * 1000) + 1,
        )
        for n in range(count)
    ]
    with HubSpotServer(token="hs-secret", owners=OWNERS) as server:
        server.add_tasks(rows)
        server.add_tasks([({KEY_PROPERTY: "open", "hs_task_status": "NOT_STARTED"}, rows[5][1])])
        found = completed_since(server.url, "hs-secret", start, end, hubspot_client.retry())
        searches = server.requests_to("/crm/v3/objects/tasks/search", "POST")
    keys = [t["properties"][KEY_PROPERTY] for t in found]
    assert len(keys) == count and set(keys) == {f"task-{n:05d}" for n in range(count)}
    assert all(r.status == 200 for r in searches)  # never paged past the 10,000th result
