"""A failed dbt data test is told in words: the rule, the model, the failing rows by id."""

from __future__ import annotations

import csv
import datetime as dt
import json
import shutil

import pytest

from touchline import warehouse
from touchline.config import settings
from touchline.extract import land_history
from touchline.quality import gates, report


@pytest.fixture(scope="module")
def unconvertible(tmp_path_factory, small_drop):
    """The small drop with two active contracts in a currency no fx_rates row knows, landed
    without the gate (as a landing written by hand or by an older version would be)."""
    work = tmp_path_factory.mktemp("unconvertible")
    drop = work / "drop"
    shutil.copytree(small_drop.out_dir, drop)
    first, last = small_drop.dates
    contracts = drop / last.isoformat() / "contracts.csv"
    with open(contracts, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    changed = [row for row in rows if row["status"] == "active"][:2]
    for row in changed:
        row["currency"] = "XTS"  # ISO 4217's code for testing: no rate anywhere
    with open(contracts, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    paths = settings().with_overrides(
        source_dir=drop,
        landing_dir=work / "landing",
        warehouse=work / "warehouse.duckdb",
        output_dir=work / "output",
    )
    land_history(paths, [first, last])
    with pytest.raises(warehouse.BuildError) as raised:
        warehouse.build(paths, last)
    return paths, last, raised.value, {row["account_id"] for row in changed}


def test_the_error_names_the_rule_and_the_accounts(unconvertible):
    paths, _, error, accounts = unconvertible
    message = str(error)
    assert "int_account_arr_daily: accounts with an active contract whose currency" in message
    assert "2 failing rows" in message
    for account in accounts:
        assert f"account_id={account}" in message
    assert "Got 2 results" not in message  # dbt's own wording is replaced
    assert not paths.warehouse.exists()  # nothing was published


def test_the_report_lists_the_failing_rows(unconvertible):
    paths, run_date, error, accounts = unconvertible
    gates.record_build(paths, run_date, error)
    saved = json.loads((report.report_dir(paths.output_dir, run_date) / "report.json").read_text())
    assert saved["status"] == report.FAILED
    (part,) = [step for step in saved["steps"] if step["step"] == report.BUILD]
    (test,) = part["failed_tests"]
    assert test["where"] == "int_account_arr_daily" and test["failures"] == 2
    assert {row["account_id"] for row in test["rows"]} == accounts
    html = (report.report_dir(paths.output_dir, run_date) / "report.html").read_text()
    assert "fx_rates row on or before the day" in html


def test_stale_sources_stop_the_night_before_any_model(tmp_path, small_drop):
    """Past error_after the build stops at the freshness check, naming each stale source."""
    first, _ = small_drop.dates
    paths = settings().with_overrides(
        source_dir=small_drop.out_dir,
        landing_dir=tmp_path / "landing",
        warehouse=tmp_path / "warehouse.duckdb",
        output_dir=tmp_path / "output",
    )
    land_history(paths, [first])
    late = first + dt.timedelta(days=8)  # crm, support and usage allow 7 days; engagement 30
    with pytest.raises(warehouse.BuildError) as raised:
        warehouse.build(paths, late)
    message = str(raised.value)
    assert message.startswith(f"sources too stale to build {late}"), message
    stale = {line[2:].split(":")[0] for line in message.splitlines() if line.startswith("- ")}
    assert {name.split(".")[0] for name in stale} == {"crm", "support", "usage"}, message
    assert f"newest partition {first}" in message
    assert not paths.warehouse.exists() and not warehouse.candidate_path(paths).exists()
    built = paths.state_dir / "dbt-target" / "run_results.json"
    assert not built.exists() or "model." not in built.read_text(), "a model was built"
