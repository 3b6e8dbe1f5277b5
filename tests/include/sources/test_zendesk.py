"""The Zendesk connector, through the provider's hook and zenpy, against a local Zendesk."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from pydantic import ValidationError

from touchline.devservers.zendesk import ZendeskServer
from touchline.schema import entity
from touchline.sources.base import SourceError, Window
from touchline.sources.filedrop import output_schema
from touchline.sources.zendesk import EXPORT_PATH, ZendeskConnector, ZendeskOptions

TICKETS = entity("tickets")
WINDOW = Window(
    run_date=dt.date(2026, 10, 1),
    since=None,
    until=dt.datetime(2026, 10, 2, 6, 0, tzinfo=dt.UTC),
)


@pytest.fixture
def zendesk(monkeypatch):
    with ZendeskServer() as server:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(server.ca_bundle))
        monkeypatch.setenv("AIRFLOW_CONN_TOUCHLINE_ZENDESK", server.connection_json())
        server.add_organization(1, "Acme", external_id="acc-1", crm_id="crm-1")
        server.add_organization(2, "Globex", external_id="acc-2", crm_id="crm-2")
        yield server


def connector(**options) -> ZendeskConnector:
    options.setdefault("backoff_seconds", 0)
    return ZendeskConnector(ZendeskOptions(**options))


def extract(conn: ZendeskConnector, state=None, window: Window = WINDOW):
    return conn.extract([TICKETS], window, state or {})


def rows(result) -> dict[str, dict]:
    return {row["ticket_id"]: row for row in result.tables["tickets"].to_pylist()}


def export_requests(server: ZendeskServer) -> list:
    return server.requests_to(EXPORT_PATH)


def test_first_run_maps_every_ticket_through_the_pages(zendesk):
    zendesk.add_ticket(10, 1, priority=None, tags=["bug", "billing"])
    zendesk.add_ticket(11, 2, status="hold", priority="urgent")
    zendesk.add_ticket(12, 1, priority="low")
    zendesk.reply(10, after_minutes=90)
    zendesk.update_ticket(10, status="solved")
    zendesk.rate(10, "good")
    zendesk.rate(12, "bad")

    result = extract(connector(page_size=2))

    assert result.tables["tickets"].schema == output_schema(TICKETS, [])
    got = rows(result)
    assert set(got) == {"10", "11", "12"}
    first = got["10"]
    assert first["account_id"] == "acc-1"
    assert first["status"] == "solved"
    assert first["priority"] == "normal"  # no priority in Zendesk
    assert first["tags"] == "bug;billing"
    assert first["csat_score"] == 5
    assert first["first_reply_at"] == first["created_at"] + dt.timedelta(minutes=90)
    assert first["solved_at"] is not None and first["solved_at"] >= first["created_at"]
    assert got["11"]["status"] == "pending"  # hold
    assert got["11"]["priority"] == "urgent"
    assert got["11"]["first_reply_at"] is None and got["11"]["solved_at"] is None
    assert got["12"]["csat_score"] == 1
    # 3 tickets, 2 per page: two pages, the first from start_time, the next by cursor
    sent = export_requests(zendesk)
    assert len(sent) == 2
    assert sent[0].query["start_time"] == ["0"]
    assert "cursor" in sent[1].query
    assert result.state["after_cursor"]


def test_second_run_returns_only_the_changed_ticket_and_moves_the_cursor(zendesk):
    zendesk.add_ticket(10, 1)
    zendesk.add_ticket(11, 2)
    first = extract(connector())

    zendesk.update_ticket(11, status="open", priority="high")
    second = extract(connector(), first.state)

    assert list(rows(second)) == ["11"]
    assert rows(second)["11"]["priority"] == "high"
    assert second.state["after_cursor"] != first.state["after_cursor"]
    assert export_requests(zendesk)[-1].query["cursor"] == [first.state["after_cursor"]]
    third = extract(connector(), second.state)
    assert third.tables["tickets"].num_rows == 0
    assert third.state == second.state


def test_same_state_gives_the_same_rows_and_state(zendesk):
    for ticket_id in range(10, 15):
        zendesk.add_ticket(ticket_id, 1)
    first = extract(connector(page_size=2))
    zendesk.update_ticket(12, status="solved")
    again = [extract(connector(page_size=2), first.state) for _ in range(2)]
    assert again[0].tables["tickets"].equals(again[1].tables["tickets"])
    assert again[0].state == again[1].state


def test_rate_limit_then_success(zendesk):
    zendesk.add_ticket(10, 1)
    zendesk.fail_next(429, count=2, retry_after=0)
    result = extract(connector())
    assert list(rows(result)) == ["10"]
    assert [r.status for r in export_requests(zendesk)] == [429, 429, 200]


def test_server_error_then_success(zendesk):
    zendesk.add_ticket(10, 1)
    zendesk.fail_next(503, retry_after=0)
    zendesk.fail_next(500, retry_after=None)
    result = extract(connector())
    assert list(rows(result)) == ["10"]
    assert [r.status for r in export_requests(zendesk)] == [503, 500, 200]


def test_errors_that_outlast_the_retries_name_the_request_and_status(zendesk):
    zendesk.fail_next(503, count=3, retry_after=0)
    with pytest.raises(SourceError, match=r"cursor\.json answered 503"):
        extract(connector(max_retries=2))


def test_deleted_ticket_is_left_out_and_logged(zendesk, caplog):
    zendesk.add_ticket(10, 1)
    zendesk.add_ticket(11, 1)
    first = extract(connector())
    zendesk.delete_ticket(10)
    with caplog.at_level(logging.WARNING, logger="touchline.sources.zendesk"):
        second = extract(connector(), first.state)
    assert second.tables["tickets"].num_rows == 0
    assert "1 deleted tickets left out (ids 10)" in caplog.text


def test_new_upstream_field_is_ignored_and_named_once(zendesk, caplog):
    zendesk.add_ticket(10, 1, sentiment="positive")
    zendesk.add_ticket(11, 1, sentiment="negative")
    with caplog.at_level(logging.WARNING, logger="touchline.sources.zendesk"):
        result = extract(connector(page_size=1))
    assert set(rows(result)) == {"10", "11"}
    named = [r.getMessage() for r in caplog.records if "sentiment" in r.getMessage()]
    assert named == ["Zendesk: ticket fields unknown to touchline are ignored: sentiment"]


def test_missing_required_field_names_the_ticket_and_field(zendesk):
    zendesk.add_ticket(10, 1)
    zendesk.add_ticket(11, 1)
    zendesk.update_ticket(11, remove=("created_at",))
    with pytest.raises(SourceError) as raised:
        extract(connector())
    message = str(raised.value)
    assert "Zendesk ticket 11" in message and "'created_at'" in message


def test_ticket_without_an_account_is_skipped_or_refused(zendesk, caplog):
    zendesk.add_organization(3, "No external id")
    zendesk.add_ticket(10, 1)
    zendesk.add_ticket(11, None)
    zendesk.add_ticket(12, 3)
    with caplog.at_level(logging.WARNING, logger="touchline.sources.zendesk"):
        result = extract(connector())
    assert list(rows(result)) == ["10"]
    assert "2 tickets without an account" in caplog.text and "11, 12" in caplog.text
    with pytest.raises(SourceError, match="Zendesk ticket 11: no account id"):
        extract(connector(missing_account="fail"))


def test_account_id_from_an_organization_field_or_the_organization_id(zendesk):
    zendesk.add_ticket(10, 2)
    by_field = extract(connector(account_id="organization_field", account_id_field="crm_id"))
    assert rows(by_field)["10"]["account_id"] == "crm-2"
    by_id = extract(connector(account_id="organization_id"))
    assert rows(by_id)["10"]["account_id"] == "2"


def test_tickets_changed_after_the_window_are_left_for_a_later_run(zendesk):
    zendesk.add_ticket(10, 1)
    first = extract(connector())
    zendesk.add_ticket(11, 1, at=dt.datetime(2026, 10, 1, 12, tzinfo=dt.UTC))
    zendesk.add_ticket(12, 1, at=dt.datetime(2026, 10, 3, 9, tzinfo=dt.UTC))
    early = extract(connector(page_size=1), first.state)
    assert list(rows(early)) == ["11"]
    late_window = Window(WINDOW.run_date, None, dt.datetime(2026, 10, 4, tzinfo=dt.UTC))
    late = extract(connector(page_size=1), early.state, late_window)
    assert list(rows(late)) == ["12"]


def test_configured_start_time_is_sent_on_the_first_run_only(zendesk):
    zendesk.add_ticket(10, 1)
    start = dt.datetime(2026, 9, 1, tzinfo=dt.UTC)
    first = extract(connector(start_time=start))
    extract(connector(start_time=start), first.state)
    sent = export_requests(zendesk)
    assert sent[0].query["start_time"] == [str(int(start.timestamp()))]
    assert "start_time" not in sent[1].query


def test_options_refuse_a_misspelt_key_and_bad_scores():
    with pytest.raises(ValidationError, match="page_sise"):
        ZendeskOptions(page_sise=10)
    with pytest.raises(ValidationError, match="not a CSAT score"):
        ZendeskOptions(csat_scores={"good": 10})
    with pytest.raises(ValidationError, match="account_id_field is required"):
        ZendeskOptions(account_id="organization_field")
