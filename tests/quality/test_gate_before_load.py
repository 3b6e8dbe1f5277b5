"""The gate before load: each expectation family stops a bad batch, names it, publishes nothing.

These run the real suites (``expectations/landed.py``) with Great Expectations on staged
Parquet written by the real extract code from small hand-written drops.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from touchline.config import settings
from touchline.errors import GateFailed
from touchline.landing import PART_NAME, land_entities, partition_dir, stage_entities, staging_dir
from touchline.pipeline import land_if_passed
from touchline.quality.gates import gate_before_load
from touchline.quality.report import report_dir

DAY = dt.date(2026, 10, 30)
ENTITIES = ("accounts", "contracts", "tickets")

ACCOUNTS = "account_id,account_name,plan\n" + "".join(
    f"a{n},Account {n},paid\n" for n in range(1, 201)
)
CONTRACTS = "contract_id,account_id,start_date,end_date,arr_amount,currency,seats\n" + "".join(
    f"c{n},a{n},2026-01-01,2026-12-31,{1000 * n},USD,{n}\n" for n in range(1, 201)
)
TICKETS = "ticket_id,account_id,created_at,status,priority,solved_at,csat_score\n" + "".join(
    f"t{n},a{n},2026-10-30T08:00:00Z,solved,normal,2026-10-30T09:00:00Z,4\n" for n in range(1, 101)
)
GOOD = {"accounts": ACCOUNTS, "contracts": CONTRACTS, "tickets": TICKETS}


def write_drop(root: Path, files: dict[str, str], day: dt.date = DAY) -> None:
    folder = root / "drop" / day.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / f"{name}.csv").write_text(text, encoding="utf-8")


def paths_for(root: Path):
    return settings().with_overrides(
        home=root,
        source_dir=root / "drop",
        landing_dir=root / "landing",
        warehouse=root / "warehouse.duckdb",
        output_dir=root / "output",
    )


def replace_line(text: str, line: int, old: str, new: str) -> str:
    """``text`` with ``old`` replaced by ``new`` on one line (the header is line 1)."""
    lines = text.splitlines(keepends=True)
    assert old in lines[line - 1], (old, lines[line - 1])
    lines[line - 1] = lines[line - 1].replace(old, new, 1)
    return "".join(lines)


def run_gate(root: Path, changes: dict[str, str], day: dt.date = DAY):
    files = dict(GOOD)
    files.update(changes)
    write_drop(root, files, day)
    paths = paths_for(root)
    stage_entities(ENTITIES, paths.source_dir, paths.landing_dir, day)
    return paths, land_if_passed(paths, day, ENTITIES)


def published(root: Path, day: dt.date = DAY) -> list[str]:
    return sorted(
        e for e in ENTITIES if (partition_dir(root / "landing", e, day) / PART_NAME).exists()
    )


def test_a_good_batch_passes_and_is_published(tmp_path):
    paths, summary = run_gate(tmp_path, {})
    assert summary["status"] == "passed" and summary["warnings"] == 0
    assert sorted(summary["published"]) == sorted(ENTITIES)
    assert published(tmp_path) == sorted(ENTITIES)
    assert not staging_dir(paths.landing_dir, DAY).exists()
    report = json.loads((report_dir(paths.output_dir, DAY) / "report.json").read_text())
    (gate,) = [s for s in report["steps"] if s["step"] == "before_load"]
    assert gate["status"] == "passed"
    assert {d["name"] for d in gate["datasets"]} == set(ENTITIES)
    assert all(d["seconds"] >= 0 and d["rows"] > 0 for d in gate["datasets"])
    html = (report_dir(paths.output_dir, DAY) / "report.html").read_text()
    assert "Gate before load" in html and "tickets" in html


def test_the_gate_returns_its_verdict_and_leaves_publishing_to_the_pipeline(tmp_path):
    write_drop(tmp_path, GOOD)
    paths = paths_for(tmp_path)
    stage_entities(ENTITIES, paths.source_dir, paths.landing_dir, DAY)
    verdict = gate_before_load(paths, DAY, ENTITIES)
    assert verdict.passed and verdict.status == "passed" and verdict.failures == []
    assert sorted(verdict.datasets) == sorted(ENTITIES)
    assert verdict.report == report_dir(paths.output_dir, DAY) / "report.html"
    assert verdict.report.exists()
    # validated, not published: the batches wait in the staging folder
    assert published(tmp_path) == []
    assert {p.stem for p in staging_dir(paths.landing_dir, DAY).glob("*.parquet")} == set(ENTITIES)


def test_a_failed_verdict_names_its_failures_and_the_error_to_raise(tmp_path):
    write_drop(tmp_path, {**GOOD, "tickets": replace_line(TICKETS, 12, "normal", "critical")})
    paths = paths_for(tmp_path)
    stage_entities(ENTITIES, paths.source_dir, paths.landing_dir, DAY)
    verdict = gate_before_load(paths, DAY, ENTITIES)
    assert not verdict.passed and verdict.status == "failed"
    assert [(o.dataset, o.column) for o in verdict.failures] == [("tickets", "priority")]
    error = verdict.error()
    assert isinstance(error, GateFailed)
    assert str(error) == f"{verdict.message}\nreport: {verdict.report}"
    assert "were not published" in verdict.message
    assert published(tmp_path) == []


# family: (entity, change to its file, expectation, column, words in the message)
FAULTS = {
    "key not null": (
        "accounts",
        lambda t: replace_line(t, 5, "a4,", ","),
        "expect_column_values_to_not_be_null",
        "account_id",
        ["accounts.csv, line 5"],
    ),
    "key unique": (
        "contracts",
        lambda t: replace_line(t, 8, "c7,", "c3,"),
        "expect_column_values_to_be_unique",
        "contract_id",
        ["contract_id=c3"],
    ),
    "required value empty": (
        "accounts",
        lambda t: replace_line(t, 3, "Account 2", ""),
        "expect_column_values_to_not_be_null",
        "account_name",
        ["accounts.csv, line 3", "account_id=a2"],
    ),
    "enum": (
        "tickets",
        lambda t: replace_line(t, 12, "normal", "critical"),
        "expect_column_values_to_be_in_set",
        "priority",
        ["found 'critical'", "one of low/normal/high/urgent", "tickets.csv, line 12", "t11"],
    ),
    "negative ARR": (
        "contracts",
        lambda t: replace_line(t, 4, ",3000,", ",-3000,"),
        "expect_column_values_to_be_between",
        "arr_amount",
        ["found -3000", ">= 0", "contracts.csv, line 4", "contract_id=c3"],
    ),
    "negative seats": (
        "contracts",
        lambda t: replace_line(t, 6, ",5\n", ",-5\n"),
        "expect_column_values_to_be_between",
        "seats",
        ["found -5", "contract_id=c5"],
    ),
    "CSAT out of range": (
        "tickets",
        lambda t: replace_line(t, 2, ",4\n", ",9\n"),
        "expect_column_values_to_be_between",
        "csat_score",
        ["found 9", "<= 5", "ticket_id=t1"],
    ),
    "timestamp in the future": (
        "tickets",
        lambda t: replace_line(t, 3, "2026-10-30T08:00:00Z", "2026-11-02T08:00:00Z"),
        "expect_column_values_to_be_between",
        "created_at",
        ["2026-11-02", "<= 2026-10-31T06:00:00", "ticket_id=t2"],
    ),
    "solved before created": (
        "tickets",
        lambda t: replace_line(t, 4, "2026-10-30T09:00:00Z", "2026-10-29T09:00:00Z"),
        "expect_column_pair_values_a_to_be_greater_than_b",
        "solved_at>=created_at",
        ["ticket_id=t3", "tickets.csv, line 4"],
    ),
    "unknown accounts above the fail share": (
        "tickets",
        lambda t: "".join(
            line.replace(",a", ",zz", 1) if n in range(1, 11) else line
            for n, line in enumerate(t.splitlines(keepends=True))
        ),
        "expect_column_values_to_not_be_null",
        "known_account_id",
        ["10 of 100 rows unexpected (10.00%)", "at least 95% of rows"],
    ),
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_fault_stops_the_batch_with_a_message_and_publishes_nothing(tmp_path, fault):
    entity, change, expectation, column, words = FAULTS[fault]
    with pytest.raises(GateFailed) as caught:
        run_gate(tmp_path, {entity: change(GOOD[entity])})
    message = str(caught.value)
    failing = [line for line in message.splitlines() if line.startswith(f"- {entity}:")]
    assert failing, message
    assert any(expectation in line and repr(column) in line for line in failing), message
    for word in words:
        assert word in message, (word, message)
    assert "were not published" in message
    assert published(tmp_path) == []  # all or nothing: the good entities wait too
    report = json.loads((report_dir(tmp_path / "output", DAY) / "report.json").read_text())
    assert report["status"] == "failed"


def test_unknown_accounts_between_the_shares_warn_and_pass(tmp_path):
    changed = "".join(
        line.replace(",a", ",zz", 1) if n in (1, 2) else line
        for n, line in enumerate(TICKETS.splitlines(keepends=True))
    )
    paths, summary = run_gate(tmp_path, {"tickets": changed})
    assert summary["status"] == "warned" and summary["warnings"] == 1
    assert published(tmp_path) == sorted(ENTITIES)
    report = json.loads((report_dir(paths.output_dir, DAY) / "report.json").read_text())
    (gate,) = [s for s in report["steps"] if s["step"] == "before_load"]
    (tickets,) = [d for d in gate["datasets"] if d["name"] == "tickets"]
    warned = [o for o in tickets["outcomes"] if not o["success"]]
    assert [(o["column"], o["severity"], o["unexpected_count"]) for o in warned] == [
        ("known_account_id", "warn", 2)
    ]
    assert {tuple(r.values()) for r in warned[0]["sample_ids"]} == {("t1", "zz1"), ("t2", "zz2")}


def test_volume_against_the_previous_run(tmp_path):
    """A snapshot a third of yesterday's size is a truncated export: it fails."""
    paths = paths_for(tmp_path)
    yesterday = DAY - dt.timedelta(days=1)
    write_drop(tmp_path, GOOD, yesterday)
    land_entities(ENTITIES, paths.source_dir, paths.landing_dir, yesterday)
    truncated = "".join(CONTRACTS.splitlines(keepends=True)[:67])  # header + 66 of 200
    with pytest.raises(GateFailed) as caught:
        run_gate(tmp_path, {"contracts": truncated})
    message = str(caught.value)
    assert "contracts: expect_table_row_count_to_be_between" in message
    assert "observed 66" in message and ">= 133" in message
    assert "baseline: 200 rows on 2026-10-29, factor 1.5" in message
    assert published(tmp_path) == []
    # the same batch at full size passes against the same baseline
    _, summary = run_gate(tmp_path, {})
    assert summary["status"] == "passed"


def test_columns_and_types_of_a_batch_staged_by_another_source(tmp_path):
    """A batch that did not come through the CSV parser is still held to the contract."""
    paths = paths_for(tmp_path)
    write_drop(tmp_path, GOOD)
    stage_entities(ENTITIES, paths.source_dir, paths.landing_dir, DAY)
    staged = staging_dir(paths.landing_dir, DAY) / "contracts.parquet"
    table = pq.read_table(staged)
    table = table.drop_columns(["currency"]).set_column(
        table.schema.get_field_index("arr_amount"),
        "arr_amount",
        pa.array([str(v) for v in table.column("arr_amount").to_pylist()]),
    )
    pq.write_table(table, staged)
    with pytest.raises(GateFailed) as caught:
        land_if_passed(paths, DAY, ENTITIES)
    message = str(caught.value)
    assert "contracts: expect_column_to_exist on 'currency'" in message
    assert "contracts: expect_column_values_to_be_in_type_list on 'arr_amount'" in message
    assert "observed str" in message and "float64" in message
    assert published(tmp_path) == []


def test_nothing_staged_is_a_clear_error(tmp_path):
    with pytest.raises(GateFailed, match="no staged batch for accounts, contracts, tickets"):
        land_if_passed(paths_for(tmp_path), DAY, ENTITIES)


def test_a_batch_read_in_many_chunks_is_counted_and_checked_whole(tmp_path, monkeypatch):
    """Row counts are the batch's, not a chunk's; a key repeated far apart is still caught."""
    from touchline.quality import gates

    monkeypatch.setattr(gates, "CHUNK_ROWS", 64)  # 200 contracts in four chunks
    paths = paths_for(tmp_path)
    yesterday = DAY - dt.timedelta(days=1)
    write_drop(tmp_path, GOOD, yesterday)
    land_entities(ENTITIES, paths.source_dir, paths.landing_dir, yesterday)
    _, summary = run_gate(tmp_path, {})
    assert summary["status"] == "passed"
    report = json.loads((report_dir(paths.output_dir, DAY) / "report.json").read_text())
    (gate,) = [s for s in report["steps"] if s["step"] == "before_load"]
    (contracts,) = [d for d in gate["datasets"] if d["name"] == "contracts"]
    counts = [
        outcome["observed_value"]
        for outcome in contracts["outcomes"]
        if outcome["expectation"] == "expect_table_row_count_to_be_between"
    ]
    assert counts == [200, 200]  # at least one row; within the baseline's bounds
    # contract c5's id again on the last line, 195 rows further on
    last = "c5,a200,2026-01-01,2026-12-31,1,USD,1\n"
    repeated = CONTRACTS.rstrip("\n").rsplit("\n", 1)[0] + "\n" + last
    with pytest.raises(GateFailed) as caught:
        run_gate(tmp_path / "again", {"contracts": repeated})
    message = str(caught.value)
    assert "contracts: expect_column_values_to_be_unique" in message and "c5" in message
