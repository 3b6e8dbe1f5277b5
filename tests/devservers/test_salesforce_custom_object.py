"""The local Salesforce server holds custom objects, as an org with them defined does."""

from __future__ import annotations

import pytest
from simple_salesforce import Salesforce

from touchline.devservers.salesforce import SalesforceServer


@pytest.fixture
def server(monkeypatch):
    with SalesforceServer() as running:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(running.ca_bundle))
        yield running


def test_a_custom_object_is_created_with_its_first_field_and_can_be_queried(server):
    server.add_field("CS_Snooze__c", "Account__c", "reference:Account:Account__r")
    server.add_field("CS_Snooze__c", "Snoozed_Until__c", "date")
    snooze = server.put("CS_Snooze__c", {"Account__c": "acc-1", "Snoozed_Until__c": "2026-11-20"})
    client = Salesforce(session_id=server.token, instance_url=server.url)

    described = {f["name"] for f in client.CS_Snooze__c.describe()["fields"]}
    records = list(client.query_all_iter("SELECT Id, Account__c FROM CS_Snooze__c"))

    assert {"Id", "SystemModstamp", "Account__c", "Snoozed_Until__c"} <= described
    assert [(r["Id"], r["Account__c"]) for r in records] == [(snooze, "acc-1")]
