"""The HubSpot connector, through the official client, against the local HubSpot server."""

from __future__ import annotations

import datetime as dt
import json
import logging

import pytest

from touchline.devservers.hubspot import HubSpotServer
from touchline.schema import entity
from touchline.sources.base import SourceError, Window
from touchline.sources.filedrop import output_schema
from touchline.sources.hubspot import HubSpotConnector, HubSpotOptions

TOKEN = "pat-na1-test-token"
RUN_DATE = dt.date(2026, 11, 30)
UNTIL = dt.datetime(2026, 12, 1, 6, 0)
NOW = dt.datetime(2026, 12, 1, 3, 0, tzinfo=dt.UTC).timestamp()
DAY_MS = 86_400_000
T0 = int(dt.datetime(2026, 11, 29, tzinfo=dt.UTC).timestamp() * 1000)  # before the first run
CRM = [entity(n) for n in ("accounts", "contacts", "contracts", "csms")]
OWNERS = [
    {
        "id": "501",
        "email": "Ana@X.example",
        "firstName": "Ana",
        "lastName": "Lopez",
        "teams": [{"id": "9", "name": "Pod East", "primary": True}],
    },
    {"id": "502", "email": "sam@x.example", "firstName": "Sam", "lastName": "Sales"},
]


@pytest.fixture
def hubspot(monkeypatch):
    with HubSpotServer(token=TOKEN, owners=OWNERS, clock=lambda: NOW) as server:
        conn = {"conn_type": "http", "host": server.url, "password": TOKEN}
        monkeypatch.setenv("AIRFLOW_CONN_TOUCHLINE_HUBSPOT_SOURCE", json.dumps(conn))
        yield server


def options(**overrides) -> HubSpotOptions:
    base = {
        "requests_per_second": None,
        "backoff_factor": 0,
        "index_lag_seconds": 0,
        "csms": {"teams": ["Pod East"], "capacity_by_team": {"Pod East": 30}},
        "contracts": {"end_date": "contract_end_date", "default_currency": "USD"},
    }
    return HubSpotOptions.model_validate({**base, **overrides})


def connector(**overrides) -> HubSpotConnector:
    return HubSpotConnector(options(**overrides), clock=lambda: NOW)


def window() -> Window:
    return Window(run_date=RUN_DATE, since=None, until=UNTIL)


def seed(server: HubSpotServer) -> dict[str, str]:
    """Two companies, a contact each (one with two companies), a won and a lost deal."""
    acme = server.add(
        "companies",
        {"name": "Acme", "touchline_plan": "Paid", "hubspot_owner_id": "501", "country": "DE"},
        modified_ms=T0,
    )
    beta = server.add("companies", {"name": "Beta", "touchline_plan": "trial"}, modified_ms=T0)
    ann = server.add(
        "contacts",
        {"email": "ann@acme.example", "firstname": "Ann", "lastname": "Ames", "jobtitle": "CTO"},
        modified_ms=T0,
    )
    bob = server.add("contacts", {"email": "bob@beta.example"}, modified_ms=T0)
    won = server.add(
        "deals",
        {
            "dealstage": "closedwon",
            "amount": "12000",
            "deal_currency_code": "eur",
            "closedate": "2026-01-01T00:00:00.000Z",
            "contract_end_date": "2026-12-31",
        },
        modified_ms=T0,
    )
    lost = server.add("deals", {"dealstage": "closedlost", "amount": "5"}, modified_ms=T0)
    server.associate("contacts", ann, "companies", acme, primary=True)
    server.associate("contacts", bob, "companies", acme)
    server.associate("contacts", bob, "companies", beta, primary=True)
    server.associate("deals", won, "companies", acme, primary=True)
    server.associate("deals", lost, "companies", beta, primary=True)
    return {"acme": acme, "beta": beta, "ann": ann, "bob": bob, "won": won, "lost": lost}


def rows(extract, name: str) -> list[dict]:
    return extract.tables[name].to_pylist()


def test_first_run_reads_every_object_as_a_complete_snapshot(hubspot):
    ids = seed(hubspot)
    result = connector(list_page_size=1).extract(CRM, window(), {})

    for entity_ in CRM:
        assert result.tables[entity_.name].schema == output_schema(entity_, [])
    assert result.changes_only == set() and result.deleted == {}
    assert rows(result, "accounts")[0] == {
        "account_id": ids["acme"],
        "account_name": "Acme",
        "plan": "paid",
        "is_strategic": None,
        "implementation_complexity": None,
        "csm_email": "ana@x.example",
        "pod": "Pod East",
        "industry": None,
        "region": "DE",
        "created_at": dt.datetime(2026, 11, 29),
    }
    contacts = {r["contact_id"]: r for r in rows(result, "contacts")}
    assert contacts[ids["ann"]]["name"] == "Ann Ames"
    assert contacts[ids["bob"]]["account_id"] == ids["beta"]  # the primary company
    assert rows(result, "contracts") == [
        {
            "contract_id": ids["won"],
            "account_id": ids["acme"],
            "start_date": dt.date(2026, 1, 1),
            "end_date": dt.date(2026, 12, 31),
            "arr_amount": 12000.0,
            "currency": "EUR",
            "status": "active",
            "seats": None,
        }
    ]
    assert rows(result, "csms") == [
        {
            "csm_email": "ana@x.example",
            "name": "Ana Lopez",
            "pod": "Pod East",
            "capacity_hours_per_week": 30.0,
        }
    ]
    # one company per page: the list endpoint was paged with ``after``
    pages = [r for r in hubspot.requests_to("/crm/v3/objects/companies") if r.method == "GET"]
    assert len(pages) == 2 and pages[1].query["after"] == ["1"]
    cursor = int(NOW * 1000)
    assert result.state["objects"]["companies"]["cursor_ms"] == cursor
    assert set(result.state["objects"]) == {"companies", "contacts", "deals"}


def test_snoozes_and_fx_rates_have_no_hubspot_object(hubspot):
    result = connector().extract([entity("snoozes"), entity("fx_rates")], window(), {})
    assert result.tables == {}


def test_a_change_and_a_delete_between_two_runs(hubspot):
    ids = seed(hubspot)
    first = connector().extract(CRM, window(), {})
    changed_ms = int(NOW * 1000) + 3_600_000  # after the first run
    hubspot.update("companies", ids["beta"], {"name": "Beta GmbH"}, modified_ms=changed_ms)
    hubspot.archive("companies", ids["acme"], archived_ms=changed_ms)
    hubspot.update("deals", ids["won"], {"dealstage": "closedlost"}, modified_ms=changed_ms)
    later = NOW + 86_400
    second_window = Window(RUN_DATE + dt.timedelta(days=1), None, UNTIL + dt.timedelta(days=1))

    run = HubSpotConnector(options(), clock=lambda: later)
    second = run.extract(CRM, second_window, first.state)

    assert rows(second, "accounts") == [
        {**row, "account_name": "Beta GmbH"}
        for row in rows(first, "accounts")
        if row["account_id"] == ids["beta"]
    ]
    assert second.deleted["accounts"] == [ids["acme"]]
    assert rows(second, "contacts") == [] and second.deleted["contacts"] == []
    # a deal that leaves the closed-won stages is no longer a contract
    assert rows(second, "contracts") == [] and second.deleted["contracts"] == [ids["won"]]
    assert second.changes_only == {"accounts", "contacts", "contracts"}
    assert len(rows(second, "csms")) == 1  # owners are always read whole
    assert second.state["objects"]["companies"]["cursor_ms"] == int(later * 1000)

    # the same input state reads the same rows again
    again = HubSpotConnector(options(), clock=lambda: later).extract(
        CRM, second_window, first.state
    )
    assert again.tables == second.tables and again.deleted == second.deleted
    assert again.state == second.state


def test_incremental_reads_stop_at_the_window_and_the_index_lag(hubspot):
    ids = seed(hubspot)
    state = {"version": 1, "objects": {}}
    first = connector().extract([entity("accounts")], window(), state)
    cursor = first.state["objects"]["companies"]["cursor_ms"]
    hubspot.update("companies", ids["beta"], {"name": "Soon"}, modified_ms=int(NOW * 1000) - 1000)

    lagging = HubSpotConnector(options(index_lag_seconds=60), clock=lambda: NOW + 30)
    result = lagging.extract([entity("accounts")], window(), first.state)

    assert rows(result, "accounts") == []  # modified inside the lag: read next time
    assert result.state["objects"]["companies"]["cursor_ms"] == cursor


def test_more_than_ten_thousand_changes_are_read_in_slices(hubspot):
    start = T0 + DAY_MS
    first = HubSpotConnector(options(), clock=lambda: start / 1000)
    state = first.extract([entity("accounts")], window(), {}).state
    hubspot.add_many(
        "companies",
        [({"name": f"C{i}", "touchline_plan": "free"}, start + 1 + i * 3) for i in range(25_000)],
    )

    result = connector(page_size=200).extract([entity("accounts")], window(), state)

    ids = [r["account_id"] for r in rows(result, "accounts")]
    assert len(ids) == len(set(ids)) == 25_000
    searches = hubspot.requests_to("/crm/v3/objects/companies/search")
    assert all(r.status == 200 for r in searches)  # never paged past the ceiling
    assert all(r.json["limit"] == 200 for r in searches)
    assert max(int(r.json.get("after") or 0) for r in searches) < 10_000


def test_a_429_then_success_and_a_5xx_then_success(hubspot):
    seed(hubspot)
    hubspot.fail_next(429, retry_after=1)
    hubspot.fail_next(503, retry_after=0)
    hubspot.fail_next(500)
    result = connector().extract([entity("accounts")], window(), {})
    assert len(rows(result, "accounts")) == 2
    assert [r.status for r in hubspot.requests[:4]] == [429, 503, 500, 200]


def test_refusals_after_the_retries_name_the_request(hubspot):
    hubspot.fail_next(500, count=3)
    with pytest.raises(SourceError, match=r"list of owners .* HTTP 500"):
        connector(max_retries=2).extract([entity("csms")], window(), {})


def test_a_wrong_token_is_refused_without_retrying(hubspot, monkeypatch):
    conn = {"conn_type": "http", "host": hubspot.url, "password": "wrong-token"}
    monkeypatch.setenv("AIRFLOW_CONN_TOUCHLINE_HUBSPOT_SOURCE", json.dumps(conn))
    with pytest.raises(SourceError, match="HTTP 401"):
        connector().extract([entity("csms")], window(), {})
    assert len(hubspot.requests) == 1


def test_a_missing_required_property_names_object_record_and_field(hubspot):
    seed(hubspot)
    nameless = hubspot.add("companies", {"touchline_plan": "paid"}, modified_ms=T0)
    with pytest.raises(SourceError) as caught:
        connector().extract([entity("accounts")], window(), {})
    message = str(caught.value)
    assert f"companies record {nameless}" in message
    assert "'name'" in message and "account_name" in message


def test_a_new_upstream_property_is_ignored_and_named_once(caplog, monkeypatch):
    with HubSpotServer(
        token=TOKEN, owners=OWNERS, clock=lambda: NOW, default_properties={"hs_new_score": "7"}
    ) as server:
        conn = {"conn_type": "http", "host": server.url, "password": TOKEN}
        monkeypatch.setenv("AIRFLOW_CONN_TOUCHLINE_HUBSPOT_SOURCE", json.dumps(conn))
        seed(server)
        with caplog.at_level(logging.INFO, logger="touchline.sources.hubspot"):
            result = connector().extract([entity("accounts")], window(), {})
    assert len(rows(result, "accounts")) == 2
    assert "hs_new_score" not in result.tables["accounts"].column_names
    named = [r for r in caplog.records if "hs_new_score" in r.getMessage()]
    assert len(named) == 1 and "companies" in named[0].getMessage()


def test_a_misspelt_option_is_refused_with_its_name():
    with pytest.raises(ValueError, match="page_sise"):
        HubSpotOptions.model_validate({"page_sise": 10})


def test_a_changed_mapping_reads_the_object_in_full_again(hubspot):
    seed(hubspot)
    first = connector().extract([entity("accounts")], window(), {})
    changed = connector(accounts={"region": "state"})
    result = changed.extract([entity("accounts")], window(), first.state)
    assert "accounts" not in result.changes_only and len(rows(result, "accounts")) == 2


def test_line_items_as_contracts_take_their_deals_company(hubspot):
    ids = seed(hubspot)
    item = hubspot.add(
        "line_items",
        {
            "hs_arr": "2400",
            "hs_recurring_billing_start_date": "2026-03-01",
            "hs_line_item_currency_code": "GBP",
        },
        modified_ms=T0,
    )
    hubspot.associate("line_items", item, "deals", ids["won"])
    contracts = {
        "object": "line_items",
        "arr": "hs_arr",
        "currency": "hs_line_item_currency_code",
        "start_date": "hs_recurring_billing_start_date",
        "status": None,
    }
    result = connector(contracts=contracts).extract([entity("contracts")], window(), {})
    assert rows(result, "contracts") == [
        {
            "contract_id": item,
            "account_id": ids["acme"],
            "start_date": dt.date(2026, 3, 1),
            "end_date": dt.date(2027, 2, 28),
            "arr_amount": 2400.0,
            "currency": "GBP",
            "status": None,
            "seats": None,
        }
    ]
