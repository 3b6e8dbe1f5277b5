"""Unreadable input stops an entity with a message naming file, line, column and value.

Parsing is the contract check of the extract step: a file that cannot be typed stops here.
Rules on parsed values (enums, ranges, required values, unique keys) are the quality gate's
and are tested in ``tests/quality``.
"""

from __future__ import annotations

import datetime as dt
import gzip
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from touchline.landing import PART_NAME, land_entities, partition_dir
from touchline.sources.filedrop import InputError

DAY = dt.date(2026, 10, 30)

GOOD = {
    "accounts": (
        "account_id,account_name,plan,is_strategic,created_at,notes\n"
        'a1,"Acme, Inc",paid,true,2024-01-01T09:00:00+02:00,kept\n'
        'a2,"Multi\nline name",free,,2024-02-01,\n'
        "a3,Solo,trial,false,,\n"
    ),
    "contracts": (
        "contract_id,account_id,start_date,end_date,arr_amount,currency,status,seats\n"
        "c1,a1,2026-01-01,2026-12-31,120000.50,USD,active,40\n"
        "c2,a2,2026-03-01,2027-02-28,0,EUR,,\n"
    ),
}


def write_drop(root: Path, files: dict[str, str], day: dt.date = DAY) -> Path:
    folder = root / day.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / f"{name}.csv").write_text(text, encoding="utf-8")
    return folder


def land(root: Path, entities=("accounts", "contracts"), day: dt.date = DAY):
    return land_entities(entities, root / "drop", root / "landing", day)


def test_good_file_is_typed_and_keeps_extra_columns(tmp_path):
    write_drop(tmp_path / "drop", GOOD)
    landed = land(tmp_path)
    assert {p.entity: p.rows for p in landed} == {"accounts": 3, "contracts": 2}
    table = pq.read_table(partition_dir(tmp_path / "landing", "accounts", DAY) / PART_NAME)
    rows = {r["account_id"]: r for r in table.to_pylist()}
    assert rows["a1"]["account_name"] == "Acme, Inc"
    assert rows["a2"]["account_name"] == "Multi\nline name"
    assert rows["a1"]["is_strategic"] is True and rows["a2"]["is_strategic"] is None
    # an offset is honoured and stored as UTC; a value without offset is UTC
    assert rows["a1"]["created_at"] == dt.datetime(2024, 1, 1, 7, 0)
    assert rows["a2"]["created_at"] == dt.datetime(2024, 2, 1, 0, 0)
    assert rows["a1"]["notes"] == "kept"  # unknown columns are kept
    contracts = pq.read_table(partition_dir(tmp_path / "landing", "contracts", DAY) / PART_NAME)
    assert contracts.schema.field("arr_amount").type == "double"
    assert contracts.to_pylist()[0]["arr_amount"] == 120000.50


def test_gzipped_csv_is_accepted(tmp_path):
    folder = write_drop(tmp_path / "drop", {"contracts": GOOD["contracts"]})
    with gzip.open(folder / "accounts.csv.gz", "wt", encoding="utf-8") as handle:
        handle.write(GOOD["accounts"])
    assert {p.entity: p.rows for p in land(tmp_path)}["accounts"] == 3


BAD_CASES = {
    # name: (entity, file text, line, column, value, expected words)
    "missing required column": (
        "contracts",
        "contract_id,account_id,start_date,end_date,currency\nc1,a1,2026-01-01,2026-12-31,USD\n",
        1,
        "arr_amount",
        None,
        "the columns",
    ),
    "unparseable date": (
        "contracts",
        "contract_id,account_id,start_date,end_date,arr_amount,currency\n"
        "c1,a1,2026-01-01,31/12/2026,10,USD\n",
        2,
        "end_date",
        "31/12/2026",
        "a date YYYY-MM-DD",
    ),
    "unparseable number": (
        "contracts",
        "contract_id,account_id,start_date,end_date,arr_amount,currency\n"
        'c1,a1,2026-01-01,2026-12-31,"1,000",USD\n',
        2,
        "arr_amount",
        "1,000",
        "a number >= 0",
    ),
    "unparseable timestamp after a multi-line record": (
        "accounts",
        'account_id,account_name,plan,created_at\na1,"two\nlines",paid,2024-01-01\n'
        "a2,B,paid,yesterday\n",
        4,
        "created_at",
        "yesterday",
        "an ISO 8601 timestamp",
    ),
    "wrong number of fields": (
        "accounts",
        "account_id,account_name,plan\na1,A,paid\na2,B,paid,extra\n",
        3,
        None,
        "a2,B,paid,extra",
        "3 fields",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_input_names_file_line_column_value(tmp_path, case):
    entity, text, line, column, value, expected = BAD_CASES[case]
    files = dict(GOOD)
    files[entity] = text
    folder = write_drop(tmp_path / "drop", files)
    with pytest.raises(InputError) as caught:
        land(tmp_path)
    error = caught.value
    assert error.path == folder / f"{entity}.csv"
    assert error.line == line
    assert error.column == column
    if value is not None:
        assert error.value == value
    message = str(error)
    assert f"{entity}.csv" in message and f"line {line}" in message
    assert expected in message
    if column:
        assert repr(column) in message


def test_bad_file_lands_nothing_of_its_family(tmp_path):
    """All or nothing: a bad contracts file leaves the earlier accounts partition as it was."""
    write_drop(tmp_path / "drop", GOOD)
    land(tmp_path)
    accounts_part = partition_dir(tmp_path / "landing", "accounts", DAY) / PART_NAME
    before = accounts_part.read_bytes()
    changed = dict(GOOD)
    changed["accounts"] = GOOD["accounts"] + "a4,New,paid,,,\n"
    changed["contracts"] = GOOD["contracts"] + "c3,a4,2026-01-01,never,1,USD,active,1\n"
    write_drop(tmp_path / "drop", changed)
    with pytest.raises(InputError, match="end_date"):
        land(tmp_path)
    assert accounts_part.read_bytes() == before
    leftovers = [p for p in (tmp_path / "landing").rglob("*") if p.name.endswith(".partial")]
    assert leftovers == []


def test_missing_required_file_is_named(tmp_path):
    write_drop(tmp_path / "drop", {"accounts": GOOD["accounts"]})
    with pytest.raises(InputError, match="required file is missing") as caught:
        land(tmp_path)
    assert caught.value.path.name == "contracts.csv"


def test_missing_drop_folder_is_named(tmp_path):
    (tmp_path / "drop").mkdir()
    with pytest.raises(InputError, match="no drop for 2026-10-30"):
        land(tmp_path)


def test_parsed_values_are_left_to_the_gate(tmp_path):
    """An out-of-set enum or a negative number parses; the gate before load judges it."""
    files = dict(GOOD)
    files["accounts"] = "account_id,account_name,plan\na1,A,enterprise\na1,,paid\n"
    files["contracts"] = (
        "contract_id,account_id,start_date,end_date,arr_amount,currency\n"
        "c1,a1,2026-01-01,2026-12-31,-5,USD\n"
    )
    write_drop(tmp_path / "drop", files)
    landed = {p.entity: p for p in land(tmp_path)}
    rows = pq.read_table(landed["accounts"].path).to_pylist()
    assert [(r["plan"], r["account_name"]) for r in rows] == [("enterprise", "A"), ("paid", None)]
    assert pq.read_table(landed["contracts"].path).to_pylist()[0]["arr_amount"] == -5.0


def test_optional_event_file_absent_lands_an_empty_partition(tmp_path):
    write_drop(tmp_path / "drop", GOOD)
    landed = land_entities(["churn_events"], tmp_path / "drop", tmp_path / "landing", DAY)
    assert landed[0].rows == 0 and landed[0].source is None
    table = pq.read_table(landed[0].path)
    assert table.num_rows == 0 and "churned_on" in table.column_names
