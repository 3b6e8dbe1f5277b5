"""The local fake API servers answer like the APIs they imitate, over real HTTP."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import pytest

from touchline.devservers import (
    CustomerIOServer,
    HubSpotServer,
    SlackServer,
    WebhookServer,
    sign,
)
from touchline.devservers.hubspot import owner_id_for
from touchline.devservers.slack import user_id_for

# a client timeout no loaded machine reaches; a test that means a timeout passes its own
PATIENT_SECONDS = 120.0

HS_AUTH = {"Authorization": "Bearer test-token"}
SLACK_AUTH = {"Authorization": "Bearer xoxb-test"}
CIO_AUTH = {"Authorization": "Basic " + base64.b64encode(b"site:key").decode()}
UPSERT = "/crm/v3/objects/tasks/batch/upsert"
ARCHIVE = "/crm/v3/objects/tasks/batch/archive"
SEARCH = "/crm/v3/objects/tasks/search"


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def call(
    method: str,
    url: str,
    *,
    body: Any = None,
    data: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = PATIENT_SECONDS,
) -> Answer:
    """One request with urllib; HTTP errors are returned, not raised."""
    all_headers = dict(headers or {})
    if body is not None:
        data = json.dumps(body).encode()
        all_headers.setdefault("Content-Type", "application/json; charset=utf-8")
    request = urllib.request.Request(url, data=data, method=method, headers=all_headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return Answer(response.status, dict(response.headers.items()), response.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return Answer(exc.code, dict(exc.headers.items()), exc.read())


@pytest.fixture
def hubspot():
    with HubSpotServer() as server:
        yield server


@pytest.fixture
def slack():
    with SlackServer() as server:
        yield server


@pytest.fixture
def cio():
    with CustomerIOServer() as server:
        yield server


@pytest.fixture
def webhook():
    with WebhookServer() as server:
        yield server


def task_input(key: str, **properties: str) -> dict[str, Any]:
    props = {"hs_timestamp": "2025-03-01T09:00:00Z", "hs_subject": f"Touch {key}", **properties}
    return {"idProperty": "touchline_task_key", "id": key, "properties": props}


def wait_until(condition: Callable[[], bool], what: str) -> None:
    """Poll the server's state until ``condition`` holds (the state is the signal, not time)."""
    deadline = time.monotonic() + PATIENT_SECONDS
    while not condition():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.01)


def upsert(server: HubSpotServer, *inputs: dict[str, Any]) -> Answer:
    return call("POST", server.url + UPSERT, body={"inputs": list(inputs)}, headers=HS_AUTH)


def search(server: HubSpotServer, **body: Any) -> Answer:
    return call("POST", server.url + SEARCH, body=body, headers=HS_AUTH)


# ---------------------------------------------------------------------- common machinery


def test_health_and_state_are_neither_recorded_nor_faulted(hubspot):
    hubspot.fail_next(500)
    health = call("GET", hubspot.url + "/__health")
    assert (health.status, health.json) == (200, {"ok": True})
    state = call("GET", hubspot.url + "/__state")
    assert state.status == 200
    assert state.json["tasks"] == [] and len(state.json["owners"]) == 2
    assert hubspot.requests == []
    # the pending fault is still there for the first real request
    assert upsert(hubspot, task_input("a")).status == 500
    assert [r.status for r in hubspot.requests] == [500]


def test_requests_are_recorded_with_lower_case_headers_query_and_status(hubspot):
    call("GET", hubspot.url + "/crm/v3/owners?email=ana%40x.example&limit=5", headers=HS_AUTH)
    upsert(hubspot, task_input("a"))
    call("GET", hubspot.url + "/crm/v3/owners")
    first, second, third = hubspot.requests
    assert first.method == "GET" and first.path == "/crm/v3/owners"
    assert first.query == {"email": ["ana@x.example"], "limit": ["5"]}
    assert first.headers["authorization"] == "Bearer test-token"
    assert first.status == 200 and first.body == b"" and first.json is None
    assert second.json["inputs"][0]["id"] == "a" and json.loads(second.body) == second.json
    assert third.status == 401


def test_unknown_path_is_a_json_404(hubspot, cio):
    for server, headers in ((hubspot, HS_AUTH), (cio, CIO_AUTH)):
        answer = call("GET", server.url + "/nope", headers=headers)
        assert answer.status == 404
        assert answer.headers["Content-Type"].startswith("application/json")
        assert answer.json  # a JSON error body in the API's shape


def test_body_over_10_mb_is_refused_unread(cio):
    answer = call(
        "PUT",
        cio.url + "/api/v1/customers/x",
        data=b"{}",
        headers={**CIO_AUTH, "Content-Length": str(10 * 1024 * 1024 + 1)},
    )
    assert answer.status == 413
    assert cio.people() == {}
    assert [r.status for r in cio.requests] == [413]


def test_fail_next_500_twice_then_success(hubspot):
    hubspot.fail_next(status=500, count=2)
    for _ in range(2):
        answer = upsert(hubspot, task_input("k1"))
        assert answer.status == 500
        assert answer.json["status"] == "error"
        assert "Retry-After" not in answer.headers
        assert hubspot.tasks() == []
    answer = upsert(hubspot, task_input("k1"))
    assert answer.status == 200
    assert [t["properties"]["touchline_task_key"] for t in hubspot.tasks()] == ["k1"]
    assert [r.status for r in hubspot.requests] == [500, 500, 200]


def test_delay_next_times_out_the_client_and_is_not_applied(cio):
    # held six times the client's patience: a client starved for seconds still gives up first
    cio.delay_next(3.0)
    with pytest.raises((TimeoutError, urllib.error.URLError)):
        call("PUT", cio.url + "/api/v1/customers/ana", body={"a": 1}, headers=CIO_AUTH, timeout=0.5)
    wait_until(lambda: cio.requests, "the delayed request was recorded")
    assert [r.status for r in cio.requests] == [504]
    assert cio.wait_idle(PATIENT_SECONDS)
    assert cio.people() == {}
    # the delay was consumed; the retry goes through
    assert call("PUT", cio.url + "/api/v1/customers/ana", body={"a": 1}, headers=CIO_AUTH).ok
    assert cio.people() == {"ana": {"a": 1}}


def test_delayed_request_answers_504_to_a_patient_client(webhook):
    webhook.delay_next(0.2)
    answer = call("POST", webhook.hook_url, body={"x": 1})
    assert answer.status == 504
    assert answer.json == {"error": "gateway timeout"}


def test_kill_after_calls_back_once_after_n_applied_requests(cio):
    calls: list[int] = []
    cio.kill_after(3, lambda: calls.append(len(cio.events())))

    def event(event_id: str) -> Answer:
        url = cio.url + "/api/v1/customers/ana/events"
        return call("POST", url, body={"name": "touch_due", "id": event_id}, headers=CIO_AUTH)

    assert event("e1").status == 200
    cio.fail_next(500)
    assert event("e2").status == 500  # faulted: not applied
    assert call("POST", cio.url + "/api/v1/customers/ana/events", body={}).status == 401
    assert event("e1").status == 200  # duplicate: not applied
    assert event("e2").status == 200
    assert calls == []
    assert event("e3").status == 200
    assert calls == [3]  # ran after the third event was stored
    for n in range(4, 8):
        event(f"e{n}")
    assert calls == [3]


def test_kill_after_runs_before_the_answer_is_written(webhook):
    seen_by_callback: list[int] = []
    in_callback, release = threading.Event(), threading.Event()
    answers: list[Answer] = []

    def callback() -> None:
        seen_by_callback.append(len(webhook.deliveries()))
        in_callback.set()
        release.wait(PATIENT_SECONDS)

    webhook.kill_after(1, callback)
    timestamp = int(time.time())
    body = b'{"n": 1}'
    headers = {"X-Touchline-Timestamp": str(timestamp)}
    headers["X-Touchline-Signature"] = sign("whsec-test", timestamp, body)
    client = threading.Thread(
        target=lambda: answers.append(call("POST", webhook.hook_url, data=body, headers=headers))
    )
    client.start()
    assert in_callback.wait(PATIENT_SECONDS)
    assert answers == []  # the delivery is stored, and the client has no answer yet
    assert seen_by_callback == [1]
    release.set()
    client.join(PATIENT_SECONDS)
    assert [answer.status for answer in answers] == [200]


def test_reset_forgets_state_requests_and_faults(hubspot):
    upsert(hubspot, task_input("a"))
    hubspot.fail_next(500, count=3)
    hubspot.reset()
    assert hubspot.tasks() == [] and hubspot.requests == []
    answer = upsert(hubspot, task_input("a"))
    assert answer.status == 200 and answer.json["results"][0]["id"] == "1001"


def test_stop_releases_the_port_and_wakes_delayed_requests():
    server = HubSpotServer().start()
    port = server.port
    server.delay_next(PATIENT_SECONDS * 10)
    errors: list[BaseException] = []

    def slow() -> None:
        try:
            upsert(server, task_input("a"))
        except Exception as exc:
            errors.append(exc)

    thread = threading.Thread(target=slow)
    thread.start()
    wait_until(lambda: server.requests, "the delayed request was recorded")
    server.stop()
    # woken by the stop: well before the delay it was held for
    assert server.wait_idle(PATIENT_SECONDS)
    thread.join(PATIENT_SECONDS)
    assert not thread.is_alive()
    assert server.tasks() == []
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", port))


def test_concurrent_upserts_get_distinct_ids(hubspot):
    outcomes: list[Answer | BaseException] = []

    def send(key: str) -> None:
        try:
            outcomes.append(upsert(hubspot, task_input(key)))
        except BaseException as exc:  # a lost request must fail the test, not vanish
            outcomes.append(exc)

    threads = [threading.Thread(target=send, args=(f"k{n}",)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [getattr(outcome, "status", outcome) for outcome in outcomes] == [200] * 20
    tasks = hubspot.tasks()
    assert len(tasks) == 20
    assert len({t["id"] for t in tasks}) == 20
    assert hubspot.count_by_key() == {f"k{n}": 1 for n in range(20)}


# ---------------------------------------------------------------------- HubSpot


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}])
def test_hubspot_rejects_missing_or_wrong_token(hubspot, headers):
    answer = call("POST", hubspot.url + UPSERT, body={"inputs": [task_input("a")]}, headers=headers)
    assert answer.status == 401
    assert answer.json == {
        "status": "error",
        "message": "Authentication credentials not found.",
        "category": "INVALID_AUTHENTICATION",
    }
    assert hubspot.tasks() == []


def test_hubspot_upsert_creates_then_updates_the_same_task(hubspot):
    first = upsert(hubspot, task_input("acme-qbr", hs_task_status="NOT_STARTED"))
    assert first.status == 200 and first.json["status"] == "COMPLETE"
    [created] = first.json["results"]
    assert created["new"] is True and created["id"] == "1001" and created["archived"] is False
    assert created["properties"]["touchline_task_key"] == "acme-qbr"

    second = upsert(
        hubspot,
        task_input("acme-qbr", hs_task_status="IN_PROGRESS"),
        task_input("beta-call", hs_task_priority="HIGH"),
    )
    updated, other = second.json["results"]
    assert (updated["id"], updated["new"]) == ("1001", False)
    assert updated["properties"]["hs_task_status"] == "IN_PROGRESS"
    assert updated["properties"]["hs_subject"] == "Touch acme-qbr"  # merged, not replaced
    assert (other["id"], other["new"]) == ("1002", True)
    assert int(updated["properties"]["hs_lastmodifieddate"]) > int(
        created["properties"]["hs_lastmodifieddate"]
    )
    assert updated["properties"]["hs_createdate"] == created["properties"]["hs_createdate"]
    assert hubspot.count_by_key() == {"acme-qbr": 1, "beta-call": 1}
    assert hubspot.task_by_key("acme-qbr")["properties"]["hs_task_status"] == "IN_PROGRESS"


def test_hubspot_upsert_echoes_each_inputs_write_trace_id(hubspot):
    answer = upsert(
        hubspot,
        dict(task_input("acme-qbr"), objectWriteTraceId="trace-a"),
        dict(task_input("beta-call"), objectWriteTraceId="trace-b"),
    )
    traced = {
        r["objectWriteTraceId"]: r["properties"]["touchline_task_key"]
        for r in answer.json["results"]
    }
    assert traced == {"trace-a": "acme-qbr", "trace-b": "beta-call"}


def test_hubspot_batch_update_by_id_refuses_a_deleted_task_with_404(hubspot):
    upsert(hubspot, task_input("acme-qbr"), task_input("beta-call"))
    url = hubspot.url + "/crm/v3/objects/tasks/batch/update"
    change = {"properties": {"hs_task_status": "COMPLETED"}}
    answer = call(
        "POST",
        url,
        body={"inputs": [dict(change, id="1001", objectWriteTraceId="acme-qbr")]},
        headers=HS_AUTH,
    )
    assert answer.status == 200
    assert answer.json["results"][0]["objectWriteTraceId"] == "acme-qbr"
    assert hubspot.task_by_key("acme-qbr")["properties"]["hs_task_status"] == "COMPLETED"
    assert hubspot.delete_task("beta-call") == "1002"
    refused = call(
        "POST",
        url,
        body={"inputs": [dict(change, id="1001"), dict(change, id="1002")]},
        headers=HS_AUTH,
    )
    assert refused.status == 404
    assert refused.json["category"] == "OBJECT_NOT_FOUND"
    assert refused.json["context"] == {"ids": ["1002"]}
    assert hubspot.task_by_key("beta-call") is None  # not created again


def test_hubspot_batch_read_answers_207_with_the_missing_ids(hubspot):
    upsert(hubspot, task_input("acme-qbr"), task_input("beta-call"))
    hubspot.delete_task("beta-call")
    url = hubspot.url + "/crm/v3/objects/tasks/batch/read"
    body = {
        "inputs": [{"id": "1001"}, {"id": "1002"}, {"id": "9"}],
        "properties": ["touchline_task_key"],
    }
    answer = call("POST", url, body=body, headers=HS_AUTH)
    assert answer.status == 207
    assert [r["id"] for r in answer.json["results"]] == ["1001"]
    assert answer.json["results"][0]["properties"]["touchline_task_key"] == "acme-qbr"
    [error] = answer.json["errors"]
    assert (error["category"], error["context"]["ids"]) == ("OBJECT_NOT_FOUND", ["1002", "9"])
    whole = call("POST", url, body={"inputs": [{"id": "1001"}]}, headers=HS_AUTH)
    assert whole.status == 200 and "errors" not in whole.json


def test_hubspot_batch_limit_is_100(hubspot):
    too_many = upsert(hubspot, *(task_input(f"k{n}") for n in range(101)))
    assert too_many.status == 400
    assert too_many.json == {
        "status": "error",
        "message": "Batch size limit is 100",
        "category": "VALIDATION_ERROR",
    }
    assert hubspot.tasks() == []
    assert upsert(hubspot, *(task_input(f"k{n}") for n in range(100))).status == 200
    assert len(hubspot.tasks()) == 100


@pytest.mark.parametrize(
    "inputs",
    [
        [task_input("a"), task_input("a")],
        [task_input("a"), {**task_input("b"), "idProperty": "hs_object_id"}],
        [task_input("a"), task_input("b", hs_task_status="DONE")],
        [task_input("a"), task_input("b", hs_task_priority="URGENT")],
        [task_input("a"), task_input("b", hs_timestamp="next tuesday")],
        [task_input("a"), {"idProperty": "touchline_task_key", "id": "b", "properties": {}}],
    ],
    ids=["duplicate", "id-property", "status", "priority", "timestamp", "no-timestamp"],
)
def test_hubspot_rejects_invalid_batches_as_a_whole(hubspot, inputs):
    answer = upsert(hubspot, *inputs)
    assert answer.status == 400
    assert answer.json["category"] == "VALIDATION_ERROR"
    assert hubspot.tasks() == []


def test_hubspot_timestamp_formats_and_update_without_timestamp(hubspot):
    assert upsert(hubspot, task_input("a", hs_timestamp="1740819600000")).status == 200
    update = {"idProperty": "touchline_task_key", "id": "a", "properties": {"hs_task_body": "x"}}
    assert upsert(hubspot, update).status == 200
    assert hubspot.task_by_key("a")["properties"]["hs_timestamp"] == "1740819600000"


def test_hubspot_archive_hides_tasks_and_ignores_unknown_ids(hubspot):
    ids = [r["id"] for r in upsert(hubspot, task_input("a"), task_input("b")).json["results"]]
    answer = call(
        "POST",
        hubspot.url + ARCHIVE,
        body={"inputs": [{"id": ids[0]}, {"id": "999999"}]},
        headers=HS_AUTH,
    )
    assert answer.status == 204 and answer.body == b""
    assert [t["id"] for t in hubspot.tasks()] == [ids[1]]
    assert hubspot.task_by_key("a") is None
    assert search(hubspot, limit=10).json["total"] == 1
    # the key is free again: a new upsert creates a new task
    recreated = upsert(hubspot, task_input("a")).json["results"][0]
    assert recreated["new"] is True and recreated["id"] not in ids
    many = {"inputs": [{"id": str(n)} for n in range(101)]}
    assert call("POST", hubspot.url + ARCHIVE, body=many, headers=HS_AUTH).status == 400


def test_hubspot_search_pages_through_250_tasks(hubspot):
    for start in range(0, 250, 100):
        batch = [task_input(f"k{n:03d}") for n in range(start, min(start + 100, 250))]
        assert upsert(hubspot, *batch).status == 200
    upsert(hubspot, task_input("other", hs_task_status="COMPLETED"))
    keyed = [
        {"propertyName": "hs_subject", "operator": "HAS_PROPERTY"},
        {"propertyName": "touchline_task_key", "operator": "LTE", "value": "k999"},
    ]
    query = {
        "filterGroups": [{"filters": keyed}],
        "properties": ["touchline_task_key"],
        "limit": 100,
    }
    pages, after = [], None
    while True:
        answer = search(hubspot, **query, **({"after": after} if after else {}))
        assert answer.status == 200
        pages.append(answer.json)
        after = answer.json.get("paging", {}).get("next", {}).get("after")
        if after is None:
            break
    assert [len(p["results"]) for p in pages] == [100, 100, 50]
    assert all(p["total"] == 250 for p in pages)
    ids = [r["id"] for p in pages for r in p["results"]]
    assert len(set(ids)) == 250 and ids == sorted(ids, key=int)
    first = pages[0]["results"][0]
    assert set(first["properties"]) == {
        "touchline_task_key",
        "hs_object_id",
        "hs_createdate",
        "hs_lastmodifieddate",
    }
    assert first["properties"]["touchline_task_key"] == "k000"
    # an OR group brings the completed one in
    completed = [{"propertyName": "hs_task_status", "operator": "EQ", "value": "COMPLETED"}]
    both = search(hubspot, filterGroups=[{"filters": keyed}, {"filters": completed}], limit=1)
    assert both.json["total"] == 251


def test_hubspot_search_by_last_modified_gte(hubspot):
    upsert(hubspot, *(task_input(f"k{n}") for n in range(5)))
    since = max(int(t["properties"]["hs_lastmodifieddate"]) for t in hubspot.tasks()) + 1
    hubspot.complete("k1")
    hubspot.complete("k3")
    answer = search(
        hubspot,
        filterGroups=[
            {
                "filters": [
                    {"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": since}
                ]
            }
        ],
        properties=["touchline_task_key", "hs_task_status"],
    )
    assert answer.status == 200
    found = {r["properties"]["touchline_task_key"]: r for r in answer.json["results"]}
    assert set(found) == {"k1", "k3"}
    assert {r["properties"]["hs_task_status"] for r in found.values()} == {"COMPLETED"}
    assert "paging" not in answer.json
    # numeric, not string, comparison: a shorter number is smaller
    lte = search(
        hubspot,
        filterGroups=[
            {"filters": [{"propertyName": "hs_lastmodifieddate", "operator": "LTE", "value": "9"}]}
        ],
    )
    assert lte.json["total"] == 0
    with pytest.raises(KeyError):
        hubspot.complete("missing")


def test_hubspot_search_limits_and_cursor(hubspot):
    assert search(hubspot, limit=201).status == 400
    assert search(hubspot, limit=10, after="abc").status == 400
    bad_operator = {"filters": [{"propertyName": "x", "operator": "LIKE", "value": "y"}]}
    assert search(hubspot, filterGroups=[bad_operator]).status == 400
    upsert(hubspot, *(task_input(f"k{n}") for n in range(12)))
    default = search(hubspot)
    assert len(default.json["results"]) == 10
    assert default.json["paging"] == {"next": {"after": "10"}}
    last = search(hubspot, after=default.json["paging"]["next"]["after"])
    assert len(last.json["results"]) == 2 and "paging" not in last.json
    exact = search(hubspot, limit=12)  # a full last page has no next cursor either
    assert len(exact.json["results"]) == 12 and "paging" not in exact.json


def test_hubspot_owners_lookup_and_pages(hubspot):
    by_email = call("GET", hubspot.url + "/crm/v3/owners?email=ben@x.example", headers=HS_AUTH)
    [ben] = by_email.json["results"]
    assert (ben["id"], ben["email"], ben["firstName"]) == ("502", "ben@x.example", "Ben")
    assert "paging" not in by_email.json
    page = call("GET", hubspot.url + "/crm/v3/owners?limit=1", headers=HS_AUTH)
    assert [o["id"] for o in page.json["results"]] == ["501"]
    after = page.json["paging"]["next"]["after"]
    rest = call("GET", hubspot.url + f"/crm/v3/owners?limit=1&after={after}", headers=HS_AUTH)
    assert [o["id"] for o in rest.json["results"]] == ["502"] and "paging" not in rest.json
    unknown = call("GET", hubspot.url + "/crm/v3/owners?email=zed@x.example", headers=HS_AUTH)
    assert unknown.json["results"] == []
    assert call("GET", hubspot.url + "/crm/v3/owners/501", headers=HS_AUTH).json["id"] == "501"


def test_hubspot_accept_any_email_gives_stable_owner_ids():
    with HubSpotServer(accept_any_email=True) as server:
        url = server.url + "/crm/v3/owners?email=Zed@Q.example"
        first = call("GET", url, headers=HS_AUTH).json["results"]
        second = call("GET", url, headers=HS_AUTH).json["results"]
    assert first == second and first[0]["id"] == owner_id_for("zed@q.example")
    assert first[0]["id"].isdigit() and first[0]["id"] != owner_id_for("amy@q.example")


def test_hubspot_429_carries_retry_after(hubspot):
    hubspot.fail_next(429, retry_after=3)
    answer = upsert(hubspot, task_input("a"))
    assert answer.status == 429 and answer.headers["Retry-After"] == "3"
    assert answer.json["category"] == "RATE_LIMITS"
    assert hubspot.tasks() == []


def test_hubspot_snapshot_and_summary(hubspot):
    upsert(hubspot, task_input("a"), task_input("b"))
    hubspot.complete("b")
    snap = hubspot.snapshot()
    assert [t["properties"]["touchline_task_key"] for t in snap["tasks"]] == ["a", "b"]
    assert snap["request_count"] == 1
    assert hubspot.summary() == "hubspot: 2 tasks (1 completed), 1 requests"


# ---------------------------------------------------------------------- Slack


def slack_call(server: SlackServer, method: str, headers=SLACK_AUTH, **args: Any) -> Answer:
    return call("POST", f"{server.url}/api/{method}", body=args, headers=headers)


def slack_form(server: SlackServer, method: str, **args: Any) -> Answer:
    data = urlencode(args).encode()
    headers = {**SLACK_AUTH, "Content-Type": "application/x-www-form-urlencoded"}
    return call("POST", f"{server.url}/api/{method}", data=data, headers=headers)


@pytest.mark.parametrize(
    ("headers", "error"),
    [({}, "not_authed"), ({"Authorization": "Bearer xoxb-wrong"}, "invalid_auth")],
)
def test_slack_auth_errors_are_http_200_ok_false(slack, headers, error):
    answer = slack_call(slack, "chat.postMessage", headers=headers, channel="U0ANA", text="hi")
    assert answer.status == 200
    assert answer.json == {"ok": False, "error": error}
    assert slack.messages() == []


def test_slack_lookup_post_and_update(slack):
    assert slack_call(slack, "auth.test").json["user_id"] == "UBOT"
    found = call(
        "GET", f"{slack.url}/api/users.lookupByEmail?email=ana@x.example", headers=SLACK_AUTH
    )
    assert found.json["ok"] is True and found.json["user"]["id"] == "U0ANA"
    assert found.json["user"]["profile"]["email"] == "ana@x.example"
    missing = slack_form(slack, "users.lookupByEmail", email="nobody@x.example")
    assert missing.json == {"ok": False, "error": "users_not_found"}

    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*Acme* QBR due"}}]
    posted = slack_call(slack, "chat.postMessage", channel="U0ANA", text="Acme QBR", blocks=blocks)
    assert posted.json["ok"] is True and posted.json["channel"] == "D0ANA"
    assert posted.json["message"]["blocks"] == blocks
    second = slack_form(
        slack, "chat.postMessage", channel="#cs-team", text="digest", blocks=json.dumps(blocks)
    )
    assert second.json["channel"] == "#cs-team"
    assert float(second.json["ts"]) > float(posted.json["ts"])
    assert posted.json["ts"] == "1700000000.000100"

    updated = slack_call(
        slack, "chat.update", channel="D0ANA", ts=posted.json["ts"], text="Acme QBR done"
    )
    assert updated.json["ok"] is True
    [dm] = slack.messages_for("U0ANA")
    assert dm == {
        "channel": "D0ANA",
        "ts": posted.json["ts"],
        "text": "Acme QBR done",
        "blocks": blocks,
    }
    assert [m["text"] for m in slack.messages()] == ["Acme QBR done", "digest"]
    unknown = slack_call(slack, "chat.update", channel="D0ANA", ts="1.2", text="x")
    assert unknown.json == {"ok": False, "error": "message_not_found"}


@pytest.mark.parametrize(
    ("args", "error"),
    [
        ({"text": "no channel"}, "channel_not_found"),
        ({"channel": "U0NOBODY", "text": "unknown user"}, "channel_not_found"),
        ({"channel": "U0ANA", "blocks": [{"type": "divider"}] * 51}, "invalid_blocks"),
        ({"channel": "U0ANA", "blocks": "[not json"}, "invalid_blocks"),
        ({"channel": "U0ANA", "text": "x" * 40_001}, "msg_too_long"),
        ({"channel": "U0ANA"}, "no_text"),
    ],
)
def test_slack_post_message_errors(slack, args, error):
    answer = slack_call(slack, "chat.postMessage", **args)
    assert answer.status == 200
    assert answer.json == {"ok": False, "error": error}
    assert slack.messages() == []


def test_slack_fifty_blocks_and_40000_chars_are_allowed(slack):
    answer = slack_call(
        slack,
        "chat.postMessage",
        channel="U0ANA",
        text="x" * 40_000,
        blocks=[{"type": "divider"}] * 50,
    )
    assert answer.json["ok"] is True
    assert len(slack.messages()) == 1


def test_slack_rate_limit_is_http_429_with_retry_after(slack):
    slack.fail_next(429, retry_after=7)
    limited = slack_call(slack, "chat.postMessage", channel="U0ANA", text="hi")
    assert limited.status == 429
    assert limited.headers["Retry-After"] == "7"
    assert limited.json == {"ok": False, "error": "ratelimited"}
    assert slack.messages() == []
    assert slack_call(slack, "chat.postMessage", channel="U0ANA", text="hi").json["ok"] is True
    assert len(slack.messages()) == 1


def test_slack_unknown_method_and_accept_any_email(slack):
    assert slack_call(slack, "chat.delete").status == 404
    with SlackServer(accept_any_email=True) as open_slack:
        answer = slack_form(open_slack, "users.lookupByEmail", email="Csm.Person@corp.example")
        user_id = answer.json["user"]["id"]
        assert user_id == user_id_for("csm.person@corp.example")
        assert user_id.startswith("U") and len(user_id) == 9
        posted = slack_call(open_slack, "chat.postMessage", channel=user_id, text="hi")
        assert posted.json["channel"] == "D" + user_id[1:]


# ---------------------------------------------------------------------- Customer.io


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Basic " + base64.b64encode(b"site:wrong").decode()},
        {"Authorization": "Bearer key"},
    ],
)
def test_customerio_rejects_bad_credentials(cio, headers):
    answer = call("PUT", cio.url + "/api/v1/customers/ana", body={"a": 1}, headers=headers)
    assert answer.status == 401
    assert answer.json == {"meta": {"error": "unauthorized"}}
    assert cio.people() == {}


def test_customerio_identify_decodes_email_identifiers_and_merges(cio):
    url = cio.url + "/api/v1/customers/" + quote("ana@x.example", safe="")
    assert "%40" in url
    first = call("PUT", url, body={"email": "ana@x.example", "account_id": "A1"}, headers=CIO_AUTH)
    assert (first.status, first.json) == (200, {})
    call("PUT", url, body={"account_id": "A2", "created_at": 1700000000}, headers=CIO_AUTH)
    assert cio.people() == {
        "ana@x.example": {"email": "ana@x.example", "account_id": "A2", "created_at": 1700000000}
    }
    assert cio.requests[0].path.endswith("/ana%40x.example")


def test_customerio_events_are_deduplicated_by_id(cio):
    url = cio.url + "/api/v1/customers/" + quote("ben@x.example", safe="") + "/events"
    event = {"name": "touch_due", "id": "01HTOUCH1", "data": {"tier": "high"}, "timestamp": 1700}
    assert call("POST", url, body=event, headers=CIO_AUTH).status == 200
    again = call("POST", url, body={**event, "data": {"tier": "low"}}, headers=CIO_AUTH)
    assert (again.status, again.json) == (200, {})
    assert call("POST", url, body={"name": "touch_due", "id": "01HTOUCH2"}, headers=CIO_AUTH).ok
    assert call("POST", url, body={"name": "no_id"}, headers=CIO_AUTH).ok
    assert call("POST", url, body={"name": "no_id"}, headers=CIO_AUTH).ok
    events = cio.events()
    assert [e["id"] for e in events] == ["01HTOUCH1", "01HTOUCH2", None, None]
    assert events[0] == {
        "identifier": "ben@x.example",
        "name": "touch_due",
        "id": "01HTOUCH1",
        "data": {"tier": "high"},
        "timestamp": 1700,
    }
    assert set(cio.events_by_id()) == {"01HTOUCH1", "01HTOUCH2"}
    assert cio.people() == {"ben@x.example": {}}  # created by its first event


def test_customerio_event_without_name_is_400(cio):
    answer = call(
        "POST", cio.url + "/api/v1/customers/ana/events", body={"data": {}}, headers=CIO_AUTH
    )
    assert answer.status == 400
    assert answer.json == {"meta": {"error": "missing event name"}}
    assert cio.events() == [] and cio.people() == {}


# ---------------------------------------------------------------------- webhook


def signed_headers(body: bytes, timestamp: int | None = None, secret: str = "whsec-test"):
    timestamp = int(time.time()) if timestamp is None else timestamp
    return {
        "Content-Type": "application/json",
        "X-Touchline-Timestamp": str(timestamp),
        "X-Touchline-Signature": sign(secret, timestamp, body),
    }


def test_sign_is_hmac_sha256_of_timestamp_dot_body():
    expected = hmac.new(b"s3cret", b"1700000000.{}", hashlib.sha256).hexdigest()
    assert sign("s3cret", 1700000000, b"{}") == "sha256=" + expected


def test_webhook_accepts_a_good_signature(webhook):
    body = json.dumps({"task_key": "acme-qbr", "status": "due"}).encode()
    answer = call("POST", webhook.hook_url, data=body, headers=signed_headers(body))
    assert (answer.status, answer.json) == (200, {"ok": True})
    [delivery] = webhook.deliveries()
    assert delivery["body"] == {"task_key": "acme-qbr", "status": "due"}
    assert delivery["idempotency_key"] is None
    assert delivery["received_at"].endswith("Z")


@pytest.mark.parametrize("case", ["tampered", "missing", "wrong-secret", "no-timestamp"])
def test_webhook_rejects_bad_signatures(webhook, case):
    body = b'{"task_key": "acme-qbr"}'
    headers = signed_headers(body, secret="other" if case == "wrong-secret" else "whsec-test")
    if case == "tampered":
        body = b'{"task_key": "acme-qbX"}'
    elif case == "missing":
        del headers["X-Touchline-Signature"]
    elif case == "no-timestamp":
        del headers["X-Touchline-Timestamp"]
    answer = call("POST", webhook.hook_url, data=body, headers=headers)
    assert answer.status == 401
    assert answer.json == {"error": "bad signature"}
    assert webhook.deliveries() == []


def test_webhook_rejects_a_stale_timestamp(webhook):
    body = b'{"n": 1}'
    stale = call(
        "POST", webhook.hook_url, data=body, headers=signed_headers(body, int(time.time()) - 301)
    )
    assert stale.status == 401 and stale.json == {"error": "stale timestamp"}
    fresh = call(
        "POST", webhook.hook_url, data=body, headers=signed_headers(body, int(time.time()) - 200)
    )
    assert fresh.status == 200
    assert len(webhook.deliveries()) == 1


def test_webhook_idempotency_key_is_stored_once(webhook):
    body = b'{"task_key": "acme-qbr"}'
    headers = {**signed_headers(body), "Idempotency-Key": "acme-qbr@2025-03-01"}
    assert call("POST", webhook.hook_url, data=body, headers=headers).json == {"ok": True}
    repeat = call("POST", webhook.hook_url, data=body, headers=headers)
    assert (repeat.status, repeat.json) == (200, {"ok": True, "duplicate": True})
    other = {**signed_headers(body), "Idempotency-Key": "acme-qbr@2025-03-02"}
    assert call("POST", webhook.hook_url, data=body, headers=other).json == {"ok": True}
    assert [d["idempotency_key"] for d in webhook.deliveries()] == [
        "acme-qbr@2025-03-01",
        "acme-qbr@2025-03-02",
    ]


def test_webhook_other_paths_and_bad_json(webhook):
    assert call("POST", webhook.url + "/hooks/other", body={}).status == 404
    body = b"not json"
    answer = call("POST", webhook.hook_url, data=body, headers=signed_headers(body))
    assert answer.status == 400 and webhook.deliveries() == []


# ---------------------------------------------------------------------- python -m


def test_module_runs_all_four_and_summarises_on_sigterm(tmp_path):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "touchline.devservers", "--port-base", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        lines = [proc.stdout.readline().strip() for _ in range(4)]
        values = dict(
            pair.split("=", 1) for line in lines for pair in line.removeprefix("export ").split()
        )
        assert all(line.startswith("export TOUCHLINE_") for line in lines)
        assert set(values) == {
            "TOUCHLINE_HUBSPOT_URL",
            "TOUCHLINE_HUBSPOT_TOKEN",
            "TOUCHLINE_SLACK_URL",
            "TOUCHLINE_SLACK_TOKEN",
            "TOUCHLINE_CUSTOMERIO_URL",
            "TOUCHLINE_CUSTOMERIO_SITE_ID",
            "TOUCHLINE_CUSTOMERIO_API_KEY",
            "TOUCHLINE_WEBHOOK_URL",
            "TOUCHLINE_WEBHOOK_SECRET",
        }
        assert values["TOUCHLINE_SLACK_URL"].endswith("/api/")
        assert values["TOUCHLINE_WEBHOOK_URL"].endswith("/hooks/touchline")
        hs_url = values["TOUCHLINE_HUBSPOT_URL"]
        token = {"Authorization": "Bearer " + values["TOUCHLINE_HUBSPOT_TOKEN"]}
        body = {"inputs": [task_input("demo-1")]}
        assert call("POST", hs_url + UPSERT, body=body, headers=token).status == 200
        owner = call("GET", hs_url + "/crm/v3/owners?email=new.csm@corp.example", headers=token)
        assert owner.json["results"][0]["id"] == owner_id_for("new.csm@corp.example")
        lookup = call(
            "POST",
            values["TOUCHLINE_SLACK_URL"] + "users.lookupByEmail",
            body={"email": "new.csm@corp.example"},
            headers={"Authorization": "Bearer " + values["TOUCHLINE_SLACK_TOKEN"]},
        )
        assert lookup.json["ok"] is True
        state = call("GET", hs_url + "/__state").json
        assert [t["properties"]["touchline_task_key"] for t in state["tasks"]] == ["demo-1"]
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=PATIENT_SECONDS)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0
    summary = out.strip().splitlines()
    assert summary[0] == "hubspot: 1 tasks (0 completed), 2 requests"
    assert [line.split(":")[0] for line in summary] == ["hubspot", "slack", "customerio", "webhook"]
