"""The extract step reads a family from the system sources.yml names, through the gate.

Zendesk feeds `support` here (the connector's own tests cover its API); what is checked is
the framework around it: the rows land like the drop's, the cursor is published with them
and only then, a failed gate re-reads the same window, and a re-run of a date lands the same
rows.
"""

from __future__ import annotations

import datetime as dt
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from touchline.config import settings
from touchline.devservers.zendesk import ZendeskServer
from touchline.extract import stage_family
from touchline.landing import (
    partition_dir,
    publish_staged,
    published_state,
    stage_table,
    staged_batches,
)
from touchline.pipeline import land_if_passed
from touchline.schema import ENTITY_BY_NAME
from touchline.sources.filedrop import output_schema

DAY = dt.date(2026, 10, 1)


@pytest.fixture
def zendesk(monkeypatch):
    with ZendeskServer() as server:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(server.ca_bundle))
        monkeypatch.setenv("AIRFLOW_CONN_TOUCHLINE_ZENDESK", server.connection_json())
        server.add_organization(1, "Acme", external_id="acc-1")
        yield server


@pytest.fixture
def paths(tmp_path, zendesk):
    sources = tmp_path / "sources.yml"
    sources.write_text(
        "families:\n  support: helpdesk\n"
        "sources:\n  helpdesk:\n    type: zendesk\n    backoff_seconds: 0\n",
        encoding="utf-8",
    )
    paths = settings().with_overrides(
        source_dir=tmp_path / "drop",
        landing_dir=tmp_path / "landing",
        output_dir=tmp_path / "output",
        sources_file=sources,
    )
    # the accounts the tickets name, landed the day before
    accounts = pa.Table.from_pylist(
        [{"account_id": "acc-1", "account_name": "Acme", "plan": "paid"}],
        schema=output_schema(ENTITY_BY_NAME["accounts"], []),
    )
    before = DAY - dt.timedelta(days=1)
    stage_table("accounts", accounts, paths.landing_dir, before, source="test")
    publish_staged(paths.landing_dir, before, ["accounts"])
    return paths


def at(day: dt.date, hour: int) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=dt.UTC)


def landed_ids(paths, day) -> list[str]:
    table = pq.read_table(partition_dir(paths.landing_dir, "tickets", day) / "part-0.parquet")
    return sorted(table.column("ticket_id").to_pylist())


def gate(paths, day):
    return land_if_passed(paths, day, entities=["tickets"])


def test_a_family_from_zendesk_lands_with_its_cursor(zendesk, paths):
    zendesk.add_ticket(10, 1, at=at(DAY, 9))
    zendesk.add_ticket(11, 1, at=at(DAY, 15))
    summary = stage_family("support", DAY, paths)
    assert summary["rows"] == {"tickets": 2}
    (batch,) = staged_batches(paths.landing_dir, DAY)
    assert batch.origin == "zendesk" and batch.source is None
    # staged, not yet published: the next date would start from scratch
    assert published_state(paths.landing_dir, "helpdesk", DAY + dt.timedelta(days=1)) is None

    result = gate(paths, DAY)
    assert result["status"] == "passed"  # a batch read from a system is no missing file
    assert landed_ids(paths, DAY) == ["10", "11"]
    saved = published_state(paths.landing_dir, "helpdesk", DAY + dt.timedelta(days=1))
    assert saved["run_date"] == DAY.isoformat() and saved["connector"]["after_cursor"]

    # the next day reads only what changed since, from the published cursor
    nxt = DAY + dt.timedelta(days=1)
    zendesk.update_ticket(11, status="solved", at=at(nxt, 8))
    zendesk.add_ticket(12, 1, at=at(nxt, 10))
    assert stage_family("support", nxt, paths)["rows"] == {"tickets": 2}
    gate(paths, nxt)
    assert landed_ids(paths, nxt) == ["11", "12"]


def test_a_failed_gate_keeps_the_cursor_and_a_rerun_lands_the_same_rows(zendesk, paths):
    zendesk.add_ticket(10, 1, at=at(DAY, 9))
    stage_family("support", DAY, paths)
    gate(paths, DAY)
    nxt = DAY + dt.timedelta(days=1)
    zendesk.add_ticket(11, None, at=at(nxt, 9))  # no organization: skipped and counted
    zendesk.add_ticket(12, 1, at=at(nxt, 10))
    stage_family("support", nxt, paths)
    # the run stops before the gate (a crash): nothing of the day is published
    assert not partition_dir(paths.landing_dir, "tickets", nxt).exists()
    first_state = published_state(paths.landing_dir, "helpdesk", nxt + dt.timedelta(days=1))
    assert first_state["run_date"] == DAY.isoformat()
    # the next attempt reads the same window again: no gap, no duplicate
    stage_family("support", nxt, paths)
    gate(paths, nxt)
    assert landed_ids(paths, nxt) == ["12"]
    saved = json.loads(
        (paths.landing_dir / "_state" / "helpdesk" / f"ds={nxt.isoformat()}.json").read_text()
    )
    # a re-run of the date starts from the state the date before it left: the same rows
    stage_family("support", nxt, paths)
    gate(paths, nxt)
    assert landed_ids(paths, nxt) == ["12"]
    again = json.loads(
        (paths.landing_dir / "_state" / "helpdesk" / f"ds={nxt.isoformat()}.json").read_text()
    )
    assert again == saved


def test_changes_from_salesforce_make_a_complete_snapshot_each_day(tmp_path, monkeypatch):
    """Day one reads the accounts whole; day two only a change and a delete, and lands the
    whole state: the unchanged account kept, the changed one updated, the deleted one gone."""
    from touchline.devservers.salesforce import SalesforceServer
    from touchline.sources.config import load
    from touchline.sources.run import stage_from_source

    sources = tmp_path / "sources.yml"
    sources.write_text(
        "entities:\n  accounts: crm_api\n"
        "sources:\n  crm_api:\n    type: salesforce\n    backoff_seconds: 0\n",
        encoding="utf-8",
    )
    paths = settings().with_overrides(landing_dir=tmp_path / "landing", sources_file=sources)
    source = load(sources).sources["crm_api"]
    with SalesforceServer() as server:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(server.ca_bundle))
        monkeypatch.setenv("AIRFLOW_CONN_TOUCHLINE_SALESFORCE", server.connection_json())
        owner = server.put("User", {"Email": "ana@vendor.example", "Name": "Ana"}, at=at(DAY, 1))
        ids = {
            name: server.put(
                "Account",
                {"Name": name, "Type": "Customer - Direct", "OwnerId": owner},
                at=at(DAY, 2),
            )
            for name in ("Acme", "Globex", "Initech")
        }
        stage_from_source(source, ["accounts"], DAY, paths)
        publish_staged(paths.landing_dir, DAY, ["accounts"])

        nxt = DAY + dt.timedelta(days=1)
        server.put("Account", {"Id": ids["Globex"], "Name": "Globex Corp"}, at=at(nxt, 3))
        server.delete("Account", ids["Initech"], at=at(nxt, 4))
        stage_from_source(source, ["accounts"], nxt, paths)
        publish_staged(paths.landing_dir, nxt, ["accounts"])

    def names(day):
        part = partition_dir(paths.landing_dir, "accounts", day) / "part-0.parquet"
        return sorted(pq.read_table(part).column("account_name").to_pylist())

    assert names(DAY) == ["Acme", "Globex", "Initech"]
    assert names(nxt) == ["Acme", "Globex Corp"]
