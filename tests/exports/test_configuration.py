"""Destinations are configured by an Airflow Connection or env vars; absent means skipped."""

from __future__ import annotations

import json

import airflow.sdk  # noqa: F401  (inside Airflow, Connections are looked up)

from touchline.exports import destinations
from touchline.exports.crm import HubSpotTasks
from touchline.exports.outbox import Outbox


def clear(monkeypatch):
    for name in list(__import__("os").environ):
        if name.startswith(("TOUCHLINE_", "AIRFLOW_CONN_TOUCHLINE")):
            monkeypatch.delenv(name)


def test_nothing_configured_means_no_destination(monkeypatch):
    clear(monkeypatch)
    assert destinations.enabled() == []
    assert all(destinations.destination(name) is None for name in destinations.NAMES)


def test_env_vars_enable_a_destination(monkeypatch, tmp_path):
    clear(monkeypatch)
    monkeypatch.setenv("TOUCHLINE_OUTBOX", str(tmp_path))
    monkeypatch.setenv("TOUCHLINE_HUBSPOT_URL", "http://crm.example")
    monkeypatch.setenv("TOUCHLINE_HUBSPOT_TOKEN", "env-token-123")
    assert destinations.enabled() == ["files", "crm"]
    assert isinstance(destinations.destination("files"), Outbox)
    crm = destinations.destination("crm")
    assert isinstance(crm, HubSpotTasks)
    assert crm.call.client.access_token == "env-token-123"


def test_a_connection_wins_over_env_vars(monkeypatch):
    clear(monkeypatch)
    monkeypatch.setenv("TOUCHLINE_HUBSPOT_URL", "http://from-env.example")
    monkeypatch.setenv("TOUCHLINE_HUBSPOT_TOKEN", "env-token-123")
    connection = {
        "conn_type": "http",
        "host": "https://api.hubapi.example",
        "password": "conn-token-456",
    }
    monkeypatch.setenv("AIRFLOW_CONN_TOUCHLINE_HUBSPOT", json.dumps(connection))
    found = destinations.credentials("crm")
    assert (found.url, found.secret) == ("https://api.hubapi.example", "conn-token-456")


def test_each_destination_is_named_once_and_builds_the_class_of_that_name(tmp_path):
    """NAMES is the registry's keys, and each built destination records under its own name."""
    assert destinations.NAMES == tuple(destinations.DESTINATIONS)
    remote = destinations.Credentials("http://127.0.0.1:9", "site", "secret")
    folder = destinations.Credentials(str(tmp_path), None, None)
    for name, kind in destinations.DESTINATIONS.items():
        built = kind.build(folder if name == "files" else remote)
        assert built.name == name, f"the {name!r} destination builds {type(built).__name__}"
        built.shut()


def test_reading_the_names_imports_no_destination_code():
    """The DAG reads NAMES while it is parsed: that must not import DuckDB or any client."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from touchline.exports.destinations import NAMES\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('duckdb', 'slack_sdk', 'openpyxl', 'hubspot', 'httpx', 'fsspec')"
        " or m.startswith('touchline.exports.') and m != 'touchline.exports.destinations')\n"
        "assert not heavy, heavy\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
