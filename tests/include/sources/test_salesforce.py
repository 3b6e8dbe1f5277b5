"""The Salesforce connector, through the provider's hook and simple-salesforce, against the
local Salesforce server (HTTPS with a local CA)."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from pydantic import ValidationError

from touchline.devservers.salesforce import SalesforceServer
from touchline.schema import entity
from touchline.sources.base import SourceError, Window
from touchline.sources.filedrop import output_schema
from touchline.sources.salesforce import SalesforceConnector, SalesforceOptions, _term_end

CRM = [entity(n) for n in ("accounts", "contacts", "contracts", "csms", "snoozes", "fx_rates")]
WINDOW = Window(
    run_date=dt.date(2026, 10, 1),
    since=None,
    until=dt.datetime(2026, 10, 2, 6, tzinfo=dt.UTC),
)


@pytest.fixture
def server(monkeypatch):
    with SalesforceServer(page_size=2) as running:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(running.ca_bundle))
        monkeypatch.setenv("AIRFLOW_CONN_TOUCHLINE_SALESFORCE", running.connection_json())
        running.add_field("Contract", "ARR__c", "currency")
        yield running


@pytest.fixture
def org(server):
    """Two CSMs, three accounts (one owned by a user who owns nothing else), their people,
    contracts and rates in a EUR-based org."""
    ids: dict[str, str] = {}
    ids["ana"] = server.put(
        "User", {"Email": "ana@vendor.example", "Name": "Ana", "IsActive": True}
    )
    ids["bo"] = server.put("User", {"Email": "bo@vendor.example", "Name": "Bo", "IsActive": True})
    server.put("User", {"Email": "idle@vendor.example", "Name": "Idle", "IsActive": True})
    for key, name, type_, owner in (
        ("acme", "Acme", "Customer - Direct", "ana"),
        ("globex", "Globex", "Prospect", "bo"),
        ("initech", "Initech", "Other", "ana"),
    ):
        ids[key] = server.put(
            "Account",
            {
                "Name": name,
                "Type": type_,
                "Industry": "Software",
                "BillingCountry": "DE",
                "OwnerId": ids[owner],
            },
        )
    ids["carol"] = server.put(
        "Contact",
        {"AccountId": ids["acme"], "Email": "carol@acme.example", "Name": "Carol", "Title": "VP"},
    )
    ids["acme_contract"] = server.put(
        "Contract",
        {
            "AccountId": ids["acme"],
            "StartDate": "2026-01-01",
            "EndDate": "2026-12-31",
            "StatusCode": "Activated",
            "CurrencyIsoCode": "GBP",
            "ARR__c": 12000.0,
        },
    )
    server.put(
        "Contract",
        {
            "AccountId": ids["globex"],
            "StartDate": "2026-02-01",
            "EndDate": "2027-01-31",
            "StatusCode": "Draft",
            "CurrencyIsoCode": "EUR",
            "ARR__c": 500.0,
        },
    )
    for code, rate, corporate in (("EUR", 1.0, True), ("USD", 1.1, False), ("GBP", 0.8, False)):
        server.put(
            "CurrencyType",
            {"IsoCode": code, "ConversionRate": rate, "IsCorporate": corporate, "IsActive": True},
        )
    for code, rate, start in (("USD", 1.1, "2026-01-01"), ("GBP", 0.8, "2026-01-01")):
        server.put(
            "DatedConversionRate", {"IsoCode": code, "ConversionRate": rate, "StartDate": start}
        )
    server.put(
        "DatedConversionRate",
        {"IsoCode": "GBP", "ConversionRate": 0.88, "StartDate": "2026-09-01"},
    )
    return ids


def _connector(**options) -> SalesforceConnector:
    options.setdefault("backoff_seconds", 0)
    return SalesforceConnector(SalesforceOptions.model_validate(options))


def _rows(extract, name):
    return extract.tables[name].to_pylist()


def test_first_run_reads_every_object_whole_through_every_page(server, org):
    extract = _connector().extract(CRM, WINDOW, {})

    for name, table in extract.tables.items():
        assert table.schema == output_schema(entity(name), []), name
    assert extract.changes_only == set()
    accounts = {r["account_id"]: r for r in _rows(extract, "accounts")}
    assert accounts[org["acme"]] == {
        "account_id": org["acme"],
        "account_name": "Acme",
        "plan": "paid",
        "is_strategic": None,
        "implementation_complexity": None,
        "csm_email": "ana@vendor.example",
        "pod": None,
        "industry": "Software",
        "region": "DE",
        "created_at": dt.datetime(2026, 10, 1, 0, 4),
    }
    assert accounts[org["globex"]]["plan"] == "trial"
    assert _rows(extract, "contracts") == [
        {
            "contract_id": org["acme_contract"],
            "account_id": org["acme"],
            "start_date": dt.date(2026, 1, 1),
            "end_date": dt.date(2026, 12, 31),
            "arr_amount": 12000.0,
            "currency": "GBP",
            "status": "active",
            "seats": None,
        }
    ]  # the draft is not a contract
    assert _rows(extract, "contacts")[0]["role"] == "VP"
    assert {r["csm_email"] for r in _rows(extract, "csms")} == {
        "ana@vendor.example",
        "bo@vendor.example",
    }  # the user owning no account is no CSM
    assert extract.tables["snoozes"].num_rows == 0
    # three accounts in pages of two: the second page through nextRecordsUrl
    pages = [r for r in server.requests if "/query/01g" in r.path]
    assert pages and all(r.status == 200 for r in pages)
    last_account = max(a["created_at"] for a in accounts.values())
    assert extract.state["cursors"]["accounts"]["modstamp"] == (
        last_account.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    )


def test_fx_rates_are_turned_from_the_corporate_currency_into_usd(server, org):
    rates = _rows(_connector().extract([entity("fx_rates")], WINDOW, {}), "fx_rates")

    by_key = {(r["currency"], r["as_of_date"]): r["rate_to_usd"] for r in rates}
    assert by_key[("USD", dt.date(2026, 1, 1))] == 1.0
    assert by_key[("EUR", dt.date(2026, 1, 1))] == pytest.approx(1.1)
    assert by_key[("GBP", dt.date(2026, 1, 1))] == pytest.approx(1.1 / 0.8)
    assert by_key[("GBP", dt.date(2026, 9, 1))] == pytest.approx(1.1 / 0.88)


def test_fixed_rates_serve_a_single_currency_org(server):
    connector = _connector(fx_rates={"source": "fixed"})
    assert _rows(connector.extract([entity("fx_rates")], WINDOW, {}), "fx_rates") == [
        {"currency": "USD", "rate_to_usd": 1.0, "as_of_date": dt.date(2000, 1, 1)}
    ]


def test_second_run_returns_only_the_change_and_the_deleted_ids(server, org):
    accounts = [entity("accounts")]
    first = _connector().extract(accounts, WINDOW, {})
    server.put("Account", {"Id": org["globex"], "Type": "Customer - Channel"})
    server.delete("Account", org["initech"])

    second = _connector().extract(accounts, WINDOW, first.state)
    again = _connector().extract(accounts, WINDOW, first.state)

    assert second.changes_only == {"accounts"}
    assert [(r["account_id"], r["plan"]) for r in _rows(second, "accounts")] == [
        (org["globex"], "paid")
    ]
    assert second.deleted == {"accounts": [org["initech"]]}
    assert second.state["cursors"]["accounts"]["modstamp"] == server.clock.strftime(
        "%Y-%m-%dT%H:%M:%S.000Z"
    )
    assert _rows(again, "accounts") == _rows(second, "accounts")  # same state, same rows
    assert again.state == second.state
    query = [r for r in server.requests_to("/services/data/v59.0/queryAll") if "q" in r.query]
    assert "IsDeleted" in query[-1].query["q"][0]


def test_a_run_with_nothing_new_keeps_the_cursor(server, org):
    accounts = [entity("accounts")]
    first = _connector().extract(accounts, WINDOW, {})
    second = _connector().extract(accounts, WINDOW, first.state)
    assert second.tables["accounts"].num_rows == 0
    assert second.deleted == {"accounts": []}
    assert second.state["cursors"] == first.state["cursors"]


@pytest.mark.parametrize("status", [429, 503])
def test_a_refusal_then_success_is_retried_by_the_client(server, org, status):
    server.fail_next(status, retry_after=0)
    extract = _connector().extract([entity("accounts")], WINDOW, {})
    assert extract.tables["accounts"].num_rows == 3
    assert [r.status for r in server.requests][:2] == [status, 200]  # refused, then retried


def test_retries_used_up_name_the_request_and_status(server, org):
    server.fail_next(503, count=3, retry_after=0)  # the first try and both retries
    connector = _connector(retries=2)
    with pytest.raises(SourceError, match=r"Salesforce describe Account: HTTP 503"):
        connector.extract([entity("accounts")], WINDOW, {})


def test_a_new_field_upstream_is_named_once_in_the_log(server, org, caplog):
    accounts = [entity("accounts")]
    first = _connector().extract(accounts, WINDOW, {})
    server.add_field("Account", "Health__c", "double")

    with caplog.at_level(logging.INFO, logger="touchline.sources.salesforce"):
        second = _connector().extract(accounts, WINDOW, first.state)
        _connector().extract(accounts, WINDOW, second.state)

    named = [r.getMessage() for r in caplog.records if "Health__c" in r.getMessage()]
    assert len(named) == 1
    assert "Account: new fields upstream" in named[0]


def test_a_required_field_gone_upstream_stops_the_run_naming_it(server, org):
    server.remove_field("Account", "Name")
    with pytest.raises(SourceError) as raised:
        _connector().extract([entity("accounts")], WINDOW, {})
    message = str(raised.value)
    assert "Salesforce Account has no field 'Name'" in message
    assert "accounts.account_name" in message


def test_an_optional_field_gone_upstream_is_left_empty(server, org, caplog):
    server.remove_field("Account", "Industry")
    with caplog.at_level(logging.WARNING, logger="touchline.sources.salesforce"):
        extract = _connector().extract([entity("accounts")], WINDOW, {})
    assert {r["industry"] for r in _rows(extract, "accounts")} == {None}
    assert "no field 'Industry' (accounts.industry)" in caplog.text


def test_an_empty_required_value_names_the_record_and_field(server, org):
    contact = server.put("Contact", {"AccountId": org["acme"], "Email": None, "Name": "Dan"})
    with pytest.raises(SourceError) as raised:
        _connector().extract([entity("contacts")], WINDOW, {})
    assert str(raised.value).startswith(f"Salesforce Contact {contact}: field Email")
    assert "contacts.email" in str(raised.value)


def test_an_unmapped_plan_value_names_the_value_and_the_setting(server, org):
    server.put("Account", {"Id": org["acme"], "Type": "Partner Reseller X"})
    with pytest.raises(SourceError, match=r"value 'Partner Reseller X' is not one of"):
        _connector().extract([entity("accounts")], WINDOW, {})
    values = {"Partner Reseller X": "paid", "Prospect": "trial", "Other": "free"}
    connector = _connector(accounts={"plan_values": values})  # replaces the default map
    rows = _rows(connector.extract([entity("accounts")], WINDOW, {}), "accounts")
    assert {r["account_id"]: r["plan"] for r in rows}[org["acme"]] == "paid"


def test_a_changed_mapping_reads_the_object_whole_again(server, org):
    accounts = [entity("accounts")]
    first = _connector().extract(accounts, WINDOW, {})
    changed = _connector(accounts={"region": None})
    second = changed.extract(accounts, WINDOW, first.state)
    assert second.changes_only == set()
    assert second.tables["accounts"].num_rows == 3


def test_contracts_from_closed_won_opportunities(server, org):
    server.put(
        "Opportunity",
        {
            "AccountId": org["acme"],
            "Amount": 9000.0,
            "CloseDate": "2026-03-15",
            "IsWon": True,
            "CurrencyIsoCode": None,
        },
    )
    server.put("Opportunity", {"AccountId": org["acme"], "Amount": 1.0, "IsWon": False})
    connector = _connector(contracts={"object": "Opportunity", "currency_default": "EUR"})
    rows = _rows(connector.extract([entity("contracts")], WINDOW, {}), "contracts")
    assert [(r["start_date"], r["end_date"], r["arr_amount"], r["currency"]) for r in rows] == [
        (dt.date(2026, 3, 15), dt.date(2027, 3, 14), 9000.0, "EUR")
    ]


def test_a_misspelt_option_is_refused_with_its_name():
    with pytest.raises(ValidationError, match="plan_valeus"):
        SalesforceOptions.model_validate({"accounts": {"plan_valeus": {}}})
    with pytest.raises(ValidationError, match="currency_default"):
        SalesforceOptions.model_validate({"contracts": {"currency": None}})


def test_term_end_is_a_day_short_of_the_anniversary():
    assert _term_end(dt.date(2026, 1, 1), 12) == dt.date(2026, 12, 31)
    assert _term_end(dt.date(2026, 1, 31), 1) == dt.date(2026, 2, 27)
