"""The local Salesforce server answers the REST query API as Salesforce does."""

from __future__ import annotations

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest

from touchline.devservers.salesforce import SalesforceServer


@pytest.fixture
def server(monkeypatch):
    with SalesforceServer(page_size=2) as running:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(running.ca_bundle))
        yield running


def _client(server: SalesforceServer) -> Salesforce:
    return Salesforce(session_id=server.token, instance_url=server.url)


def test_query_pages_through_next_records_url_and_query_all_keeps_deleted(server):
    owner = server.put("User", {"Email": "csm@example.com", "Name": "C", "IsActive": True})
    ids = [server.put("Account", {"Name": f"a{i}", "OwnerId": owner}) for i in range(3)]
    server.delete("Account", ids[0])
    soql = "SELECT Id, Owner.Email FROM Account ORDER BY SystemModstamp, Id"

    live = list(_client(server).query_all_iter(soql))
    everything = list(_client(server).query_all_iter(soql, include_deleted=True))

    assert [r["Id"] for r in live] == ids[1:]
    assert [r["Id"] for r in everything] == ids[1:] + ids[:1]  # the delete stamped it last
    assert live[0]["Owner"]["Email"] == "csm@example.com"
    assert len(server.requests_to("/services/data/v59.0/queryAll")) == 2  # two pages


def test_unknown_field_is_refused_as_invalid_field(server):
    server.remove_field("Account", "Industry")
    with pytest.raises(SalesforceMalformedRequest, match="INVALID_FIELD"):
        _client(server).query("SELECT Id, Industry FROM Account")
