"""Failure notices and the deadline alert, posted through the Slack provider to a local Slack."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from types import SimpleNamespace

import pytest

from touchline.alerts import FailureNotice, failure_text, lists_late
from touchline.devservers.slack import SlackServer

TOKEN = "xoxb-alerts"


@pytest.fixture
def slack(monkeypatch):
    with SlackServer(token=TOKEN) as server:
        connection = {
            "conn_type": "slack",
            "password": TOKEN,
            "extra": {"base_url": server.url + "/api/"},
        }
        monkeypatch.setenv("AIRFLOW_CONN_TOUCHLINE_ALERTS", json.dumps(connection))
        monkeypatch.setenv("TOUCHLINE_ALERT_CHANNEL", "#cs-ops")
        yield server


def failed_context(error: str) -> dict:
    ti = SimpleNamespace(
        task_id="extract_crm",
        run_id="scheduled__2026-10-30T02:00:00+00:00",
        try_number=4,
        log_url="http://airflow.example/dags/touchline_nightly/runs/x/tasks/extract_crm",
    )
    return {
        "ti": ti,
        "logical_date": dt.datetime(2026, 10, 30, 2, tzinfo=dt.UTC),
        "exception": ValueError(error),
    }


def test_a_failed_task_is_announced_with_its_date_error_and_log(slack):
    error = "drop/2026-10-30/accounts.csv, line 7, column plan: 'gold' is not one of free, trial"
    FailureNotice().notify(failed_context(error))
    (message,) = slack.messages()
    assert message["channel"] == "#cs-ops"
    assert "extract_crm failed for 2026-10-30" in message["text"]
    assert "try 4" in message["text"]
    assert error in message["text"]
    assert "http://airflow.example/dags/touchline_nightly" in message["text"]
    posted = slack.requests_to("/api/chat.postMessage")
    assert posted[0].headers["authorization"] == f"Bearer {TOKEN}"


def test_a_long_error_is_cut_and_the_log_has_the_rest():
    text = failure_text(failed_context("x" * 10_000))
    assert len(text) < 2_000 and "..." in text


def test_without_the_connection_nothing_is_posted_and_the_log_says_so(monkeypatch, caplog):
    monkeypatch.delenv("AIRFLOW_CONN_TOUCHLINE_ALERTS", raising=False)
    FailureNotice().notify(failed_context("boom"))
    assert "no Connection touchline_alerts" in caplog.text


def test_a_server_error_is_not_hidden(slack):
    slack.fail_next(500, count=10)
    with pytest.raises(Exception):  # noqa: B017 - whatever the client raises, it is raised
        FailureNotice().notify(failed_context("boom"))


def test_late_lists_are_announced_with_the_run_and_its_deadline(slack):
    context = {
        "dag_run": {
            "dag_run_id": "scheduled__2026-10-30T02:00:00+00:00",
            "logical_date": "2026-10-30T02:00:00Z",
            "state": "running",
        },
        "deadline": {"id": "d1", "deadline_time": "2026-10-30T07:00:00+00:00"},
    }
    asyncio.run(lists_late(context=context))
    (message,) = slack.messages()
    assert message["channel"] == "#cs-ops"
    late = "work lists for 2026-10-30 were not ready by 2026-10-30T07:00:00+00:00"
    assert late in message["text"]
    assert "is running" in message["text"]
