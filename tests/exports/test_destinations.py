"""Each API destination against a local server that speaks its API, with the exact requests.

The servers (``touchline.devservers``) check authentication, batch limits and payload
shapes, page their searches, and answer 429 with Retry-After, 500s and stalled requests on
demand.
"""

from __future__ import annotations

import base64
import datetime as dt
import json

import pytest

from tests.exports.conftest import RUN_DATE, make_day, task
from touchline import hubspot_client
from touchline.devservers.customerio import CustomerIOServer
from touchline.devservers.hubspot import HubSpotServer
from touchline.devservers.slack import SlackServer
from touchline.devservers.webhook import WebhookServer, sign
from touchline.exports.base import export
from touchline.exports.crm import KEY_PROPERTY, HubSpotTasks, completed_since
from touchline.exports.email import CustomerIOCampaigns
from touchline.exports.http import ExportError, RetryPolicy
from touchline.exports.ledger import Ledger
from touchline.exports.slack import SlackDigests
from touchline.exports.webhook import Webhook

OWNERS = [
    {"id": "501", "email": "ana@example.com", "firstName": "Ana", "lastName": "A"},
    {"id": "502", "email": "ben@example.com", "firstName": "Ben", "lastName": "B"},
]


class Sleeps(list):
    """A retry policy's sleep that records instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps():
    return Sleeps()


@pytest.fixture
def policy(sleeps):
    return RetryPolicy(attempts=6, backoff_seconds=0.01, timeout_seconds=0.5, sleep=sleeps)


@pytest.fixture
def ledger(tmp_path):
    with Ledger(tmp_path / "ledger.sqlite") as opened:
        yield opened


@pytest.fixture
def hubspot():
    with HubSpotServer(token="hs-secret", owners=OWNERS) as server:
        yield server


def crm(server, policy, token="hs-secret"):
    """The CRM destination with the policy's attempts, backoff, timeout and recorded sleeps."""
    return HubSpotTasks(
        server.url, token, crm_retries(policy), timeout_seconds=policy.timeout_seconds
    )


def crm_retries(policy):
    return hubspot_client.retry(policy.attempts, policy.backoff_seconds, sleep=policy.sleep)


# -- CRM tasks ---------------------------------------------------------------------------------


def test_crm_upserts_each_task_once_with_owner_and_external_id(hubspot, policy, ledger, day):
    export(crm(hubspot, policy), day, ledger)
    upserts = hubspot.requests_to("/crm/v3/objects/tasks/batch/upsert", "POST")
    assert len(upserts) == 1 and all(r.status == 200 for r in upserts)
    assert upserts[0].headers["authorization"] == "Bearer hs-secret"
    inputs = upserts[0].json["inputs"]
    assert [i["id"] for i in inputs] == [t["task_key"] for t in day.worklist]
    first = inputs[0]
    assert first["idProperty"] == KEY_PROPERTY
    task_1 = day.worklist[0]
    assert first["properties"]["hs_task_subject"] == "Quarterly business review: Account 1"
    assert first["properties"]["hs_task_priority"] == "MEDIUM"  # p2
    assert first["properties"]["hs_task_body"] == task_1["reason"]
    assert first["properties"]["hubspot_owner_id"] == "501"  # ana
    owner_lookups = hubspot.requests_to("/crm/v3/owners", "GET")
    assert sorted(r.query["email"][0] for r in owner_lookups) == [
        "ana@example.com",
        "ben@example.com",
    ]  # looked up once per CSM, not per task
    assert hubspot.count_by_key() == {t["task_key"]: 1 for t in day.worklist}
    for _ in range(3):  # three re-runs: nothing sent, nothing duplicated
        export(crm(hubspot, policy), day, ledger)
    assert len(hubspot.requests_to("/crm/v3/objects/tasks/batch/upsert")) == 1
    assert set(hubspot.count_by_key().values()) == {1}


def test_crm_batches_of_100(hubspot, policy, ledger):
    many = make_day([task(n) for n in range(1, 251)])
    export(crm(hubspot, policy), many, ledger)
    sizes = [
        len(r.json["inputs"]) for r in hubspot.requests_to("/crm/v3/objects/tasks/batch/upsert")
    ]
    assert sizes == [100, 100, 50]
    assert len(hubspot.tasks()) == 250


def test_crm_updates_changed_tasks_completes_satisfied_and_archives_the_rest(
    hubspot, policy, ledger, day
):
    export(crm(hubspot, policy), day, ledger)
    ids = {t["properties"][KEY_PROPERTY]: t["id"] for t in hubspot.tasks()}
    tasks = [task(n) for n in range(1, 13) if n not in (4, 5)]
    tasks[0] = task(1, priority="p1", due_date=RUN_DATE + dt.timedelta(days=3))
    next_day = make_day(
        tasks,
        run_date=RUN_DATE + dt.timedelta(days=1),
        completions={(day.worklist[3]["account_id"], day.worklist[3]["touchpoint"]): RUN_DATE},
    )
    hubspot.requests.clear()
    plan = export(crm(hubspot, policy), next_day, ledger)
    assert (len(plan.create), len(plan.update), len(plan.close)) == (0, 1, 2)
    updated = hubspot.task_by_key("task-001")
    assert updated["id"] == ids["task-001"]  # the same CRM task, changed
    assert updated["properties"]["hs_task_priority"] == "HIGH"
    assert hubspot.task_by_key("task-004")["properties"]["hs_task_status"] == "COMPLETED"
    archived = {t["properties"][KEY_PROPERTY] for t in hubspot.archived_tasks()}
    assert archived == {"task-005"}
    archive_calls = hubspot.requests_to("/crm/v3/objects/tasks/batch/archive", "POST")
    assert archive_calls[0].json == {"inputs": [{"id": ids["task-005"]}]}


def test_crm_honours_retry_after_and_backs_off_on_5xx_and_timeouts(
    hubspot, policy, sleeps, ledger, day
):
    hubspot.fail_next(429, retry_after=7)
    hubspot.fail_next(500, count=2)
    hubspot.delay_next(1.5)  # longer than the client's 0.5 s timeout
    export(crm(hubspot, policy), day, ledger)
    assert sleeps[0] == 7  # the Retry-After, to the second
    assert sleeps[1] < sleeps[2] < sleeps[3]  # exponential backoff after 500, 500, timeout
    statuses = [r.status for r in hubspot.requests]
    assert statuses[:4] == [429, 500, 500, 504]
    assert hubspot.count_by_key() == {t["task_key"]: 1 for t in day.worklist}


def test_crm_refusal_is_not_retried_and_names_the_request(hubspot, policy, ledger, day):
    with pytest.raises(ExportError, match=r"crm: GET /crm/v3/owners was refused with 401"):
        export(crm(hubspot, policy, token="wrong"), day, ledger)
    assert len(hubspot.requests) == 1
    assert hubspot.tasks() == []


def test_completed_tasks_are_read_back_page_by_page(hubspot, policy, ledger):
    many = make_day([task(n) for n in range(1, 251)])
    export(crm(hubspot, policy), many, ledger)
    for n in range(1, 251):
        hubspot.complete(f"task-{n:03d}")
    since = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    until = since + dt.timedelta(hours=2)
    found = completed_since(hubspot.url, "hs-secret", since, until, crm_retries(policy))
    assert sorted(t["properties"][KEY_PROPERTY] for t in found) == [
        f"task-{n:03d}" for n in range(1, 251)
    ]
    searches = hubspot.requests_to("/crm/v3/objects/tasks/search", "POST")
    assert len(searches) == 2 and "after" not in searches[0].json
    assert searches[1].json["after"] == "200"


# -- Slack ------------------------------------------------------------------------------------


@pytest.fixture
def slack():
    users = {"ana@example.com": "U0ANA", "ben@example.com": "U0BEN"}
    with SlackServer(token="xoxb-secret", users=users) as server:
        yield server


def digests(server, list_url="https://lists.example/outbox"):
    return SlackDigests("xoxb-secret", base_url=server.url + "/api/", list_url=list_url)


def test_slack_sends_one_digest_per_csm_and_edits_it_when_the_day_changes(slack, ledger, day):
    export(digests(slack), day, ledger)
    posts = slack.requests_to("/api/chat.postMessage")
    assert len(posts) == 2
    assert all(r.headers["authorization"] == "Bearer xoxb-secret" for r in posts)
    ana = slack.messages_for("U0ANA")
    assert len(ana) == 1
    blocks = ana[0]["blocks"]
    assert blocks[0]["type"] == "header" and "touchpoints for" in blocks[0]["text"]["text"]
    ana_tasks = [t for t in day.worklist if t["assignee_email"] == "ana@example.com"]
    assert len([b for b in blocks if b["type"] == "section"]) == min(10, len(ana_tasks))
    assert "https://lists.example/outbox/2026-10-30/ana@example.com.html" in json.dumps(blocks)
    for _ in range(3):
        export(digests(slack), day, ledger)
    assert len(slack.requests_to("/api/chat.postMessage")) == 2  # no second digest
    changed = make_day([task(1, reason="New: usage fell 40%")] + day.worklist[1:])
    export(digests(slack), changed, ledger)
    updates = slack.requests_to("/api/chat.update")
    assert len(updates) == 1 and len(slack.messages()) == 2  # edited in place
    assert "New: usage fell 40%" in json.dumps(
        slack.messages_for("U0BEN") + slack.messages_for("U0ANA")
    )


def test_slack_text_cannot_inject_markup_or_mentions(slack, ledger):
    hostile = make_day(
        [
            task(
                1,
                account_name="<!channel> *URGENT* <@U0BEN>",
                reason="<https://evil.example|click>",
            )
        ]
    )
    export(digests(slack), hostile, ledger)
    (message,) = slack.messages()
    sent = json.dumps(message["blocks"])
    assert "<!channel>" not in sent and "<@U0BEN>" not in sent and "<https://evil" not in sent
    assert "&lt;!channel&gt;" in sent and "&lt;@U0BEN&gt;" in sent
    sections = [b for b in message["blocks"] if b["type"] == "section"]
    assert all(b["text"]["type"] == "plain_text" for b in sections)  # no mrkdwn parsing
    assert "<!channel>" not in message["text"]


def test_slack_rate_limit_is_waited_out(slack, ledger, day):
    slack.fail_next(429, retry_after=1)
    export(digests(slack), day, ledger)
    statuses = [r.status for r in slack.requests]
    assert statuses[0] == 429 and len(slack.messages()) == 2


# -- email automation -------------------------------------------------------------------------


def automation_day():
    items = [
        {
            "task_key": f"auto-{n}",
            "run_date": RUN_DATE,
            "account_id": f"acc-{n:03d}",
            "account_name": f"Account {n}",
            "contact_email": f"owner{n}@customer{n}.example",
            "touchpoint": "activation_campaign_7",
            "channel": "email",
            "campaign": "activation_campaign_7",
            "reason": "Tech-touch activation, day 7",
        }
        for n in range(1, 31)
    ]
    return make_day([], automation=items)


@pytest.fixture
def customerio():
    with CustomerIOServer(site_id="site-1", api_key="cio-secret") as server:
        yield server


def campaigns(server, policy):
    return CustomerIOCampaigns(server.url, "site-1", "cio-secret", policy=policy)


def test_email_identifies_then_enrols_each_contact_once(customerio, policy, ledger):
    day = automation_day()
    export(campaigns(customerio, policy), day, ledger)
    first = customerio.requests[0]
    expected = "Basic " + base64.b64encode(b"site-1:cio-secret").decode()
    assert first.headers["authorization"] == expected
    assert first.method == "PUT" and first.path == "/api/v1/customers/owner1%40customer1.example"
    assert first.json["account_id"] == "acc-001"
    assert customerio.requests[1].path.endswith("/events")
    events = customerio.events()
    assert len(events) == 30 and {e["name"] for e in events} == {"activation_campaign_7"}
    assert len({e["id"] for e in events}) == 30
    for _ in range(3):
        export(campaigns(customerio, policy), day, ledger)
    assert len(customerio.requests) == 60  # re-runs send nothing
    # even with the ledger lost, the event ids keep the tool from enrolling twice
    with Ledger(ledger.path.with_name("fresh.sqlite")) as fresh:
        export(campaigns(customerio, policy), day, fresh)
    assert len(customerio.events()) == 30


# -- webhook ----------------------------------------------------------------------------------


def test_webhook_posts_signed_batches_and_closes_gone_tasks(ledger, day, policy):
    with WebhookServer(secret="whsec-secret") as server:
        export(Webhook(server.hook_url, "whsec-secret", policy=policy), day, ledger)
        (delivery,) = server.deliveries()
        body = delivery["body"]
        assert body["event"] == "tasks.upserted" and len(body["tasks"]) == 12
        assert {"task_key", "version", "due_date", "reason"} <= set(body["tasks"][0])
        request = server.requests[0]
        timestamp = int(request.headers["x-touchline-timestamp"])
        assert request.headers["x-touchline-signature"] == sign(
            "whsec-secret", timestamp, request.body
        )
        for _ in range(3):
            export(Webhook(server.hook_url, "whsec-secret", policy=policy), day, ledger)
        assert len(server.deliveries()) == 1
        export(
            Webhook(server.hook_url, "whsec-secret", policy=policy),
            make_day(day.worklist[2:]),
            ledger,
        )
        closed = server.deliveries()[-1]["body"]
        assert closed["event"] == "tasks.closed"
        assert [t["task_key"] for t in closed["tasks"]] == ["task-001", "task-002"]


def test_webhook_with_a_wrong_secret_is_refused(ledger, day, policy):
    with WebhookServer(secret="whsec-secret") as server:
        with pytest.raises(ExportError, match="401"):
            export(Webhook(server.hook_url, "not-the-secret", policy=policy), day, ledger)
        assert server.deliveries() == []
    assert {r.status for r in ledger.rows("webhook").values()} == {"failed"}
