"""Encodings and big fields in the file drop: read when declared, else a located error.

A family's files are read in ``TOUCHLINE_SOURCE_ENCODING_<FAMILY>`` (else
``TOUCHLINE_SOURCE_ENCODING``, else UTF-8); a byte that does not decode is reported with
the file, line, column name and the bytes, and says which variable to set. A record larger
than the read block is read with a larger block up to ``MAX_RECORD_BYTES``; past it, the
file, line, column and field size are named. The block sizes are lowered here so that a few
kilobytes straddle blocks.
"""

from __future__ import annotations

import datetime as dt
import gzip
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from touchline.landing import land_entities
from touchline.sources import filedrop
from touchline.sources.filedrop import InputError, physical_line

DAY = dt.date(2026, 10, 30)
CONTRACTS = (
    "contract_id,account_id,start_date,end_date,arr_amount,currency\n"
    "c1,a1,2026-01-01,2026-12-31,10,EUR\n"
)


@pytest.fixture(autouse=True)
def no_declared_encoding(monkeypatch):
    for name in ("", "_CRM", "_SUPPORT", "_USAGE", "_ENGAGEMENT"):
        monkeypatch.delenv(f"TOUCHLINE_SOURCE_ENCODING{name}", raising=False)


def accounts(rows: int, special: dict[int, str] | None = None) -> str:
    """An accounts file of ``rows`` records; ``special`` replaces some records' names."""
    lines = ["account_id,account_name,plan\n"]
    for index in range(rows):
        name = (special or {}).get(index, f"Account {index}")
        lines.append(f'a{index},"{name}",paid\n')
    return "".join(lines)


def drop(root: Path, files: dict[str, bytes]) -> Path:
    folder = root / "drop" / DAY.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder


def land(root: Path, entities=("accounts", "contracts")):
    return {p.entity: p for p in land_entities(entities, root / "drop", root / "landing", DAY)}


def names(partition) -> list[str]:
    return [row["account_name"] for row in pq.read_table(partition.path).to_pylist()]


# -- declared encodings ---------------------------------------------------------------------


@pytest.mark.parametrize("value", ["utf9", "base64", "utf-16"])
def test_unusable_encoding_fails_the_family_naming_the_variable(monkeypatch, tmp_path, value):
    monkeypatch.setenv("TOUCHLINE_SOURCE_ENCODING_CRM", value)
    folder = drop(tmp_path, {"accounts.csv": accounts(2).encode(), "contracts.csv": b""})
    with pytest.raises(InputError, match="TOUCHLINE_SOURCE_ENCODING_CRM") as caught:
        land(tmp_path)
    assert caught.value.path == folder / "accounts.csv"


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz"])
def test_declared_cp1252_family_is_read_in_it(monkeypatch, tmp_path, suffix):
    """Excel and older CRMs write cp1252: the euro sign is 0x80 there, not a latin-1 control."""
    monkeypatch.setenv("TOUCHLINE_SOURCE_ENCODING", "latin-1")
    monkeypatch.setenv("TOUCHLINE_SOURCE_ENCODING_CRM", "cp1252")
    text = accounts(3, {1: "Liège €uro", 2: 'Zoë ""Ltd""\nsecond line'})
    data = text.encode("cp1252")
    data = gzip.compress(data) if suffix.endswith(".gz") else data
    drop(tmp_path, {f"accounts{suffix}": data, "contracts.csv": CONTRACTS.encode("cp1252")})
    landed = land(tmp_path)
    assert names(landed["accounts"]) == ["Account 0", "Liège €uro", 'Zoë "Ltd"\nsecond line']


def test_byte_order_mark_means_utf8_whatever_is_declared(monkeypatch, tmp_path):
    """Excel's "CSV UTF-8" starts with a BOM; its plain "CSV" is cp1252. Both in one family."""
    monkeypatch.setenv("TOUCHLINE_SOURCE_ENCODING_CRM", "cp1252")
    bom = b"\xef\xbb\xbf" + accounts(2, {1: "Liège"}).encode("utf-8")
    contracts = CONTRACTS.replace("EUR", "EUR,\n").replace("currency\n", "currency,note\n")
    contracts = contracts.replace("EUR,\n", "EUR,Liège\n").encode("cp1252")
    drop(tmp_path, {"accounts.csv": bom, "contracts.csv": contracts})
    landed = land(tmp_path)
    table = pq.read_table(landed["accounts"].path)
    assert table.column_names[0] == "account_id"
    assert names(landed["accounts"]) == ["Account 0", "Liège"]
    assert pq.read_table(landed["contracts"].path).to_pylist()[0]["note"] == "Liège"


# -- bytes that do not decode ---------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz"])
@pytest.mark.parametrize("row", [2, 600])  # in the header's first read, and well after it
def test_latin1_byte_in_utf8_file_names_line_column_bytes_and_variable(tmp_path, row, suffix):
    text = accounts(800, {0: "two\nlines", row: "Café Liège"})
    data = text.encode("latin-1")
    data = gzip.compress(data) if suffix.endswith(".gz") else data
    folder = drop(tmp_path, {f"accounts{suffix}": data, "contracts.csv": CONTRACTS.encode()})
    with pytest.raises(InputError) as caught:
        land(tmp_path)
    error = caught.value
    assert error.path == folder / f"accounts{suffix}"
    assert error.line == row + 3  # header, then the two-line record 0
    assert error.column == "account_name"
    assert error.value == "Caf\ufffd Li\ufffdge"
    message = str(error)
    assert f"line {row + 3}" in message and "'account_name'" in message
    assert "\\xe9" in message  # the offending byte, escaped
    assert "TOUCHLINE_SOURCE_ENCODING_CRM=cp1252" in message


def test_undefined_cp1252_byte_names_its_place(monkeypatch, tmp_path):
    monkeypatch.setenv("TOUCHLINE_SOURCE_ENCODING_CRM", "cp1252")
    data = accounts(3).encode("cp1252").replace(b"Account 2", b"Acc\x81ount 2")
    drop(tmp_path, {"accounts.csv": data, "contracts.csv": CONTRACTS.encode()})
    with pytest.raises(InputError, match=r"bytes \\x81 are not cp1252 text") as caught:
        land(tmp_path)
    assert (caught.value.line, caught.value.column) == (4, "account_name")
    assert "TOUCHLINE_SOURCE_ENCODING_CRM" in str(caught.value)


def test_undecodable_header_is_named_on_line_1(tmp_path):
    data = b"account_id,account_n\xe4me,plan\na1,A,paid\n"
    drop(tmp_path, {"accounts.csv": data, "contracts.csv": CONTRACTS.encode()})
    with pytest.raises(InputError, match=r"\\xe4") as caught:
        land(tmp_path)
    assert caught.value.line == 1 and caught.value.column == "header field #2"


def test_gate_locates_rows_of_a_declared_cp1252_file(monkeypatch, tmp_path):
    """The quality gate names lines through physical_line, which reads the declared encoding."""
    monkeypatch.setenv("TOUCHLINE_SOURCE_ENCODING_CRM", "cp1252")
    folder = drop(tmp_path, {"accounts.csv": accounts(3, {0: "Liège\nNord"}).encode("cp1252")})
    assert physical_line(folder / "accounts.csv", 2) == 5


# -- fields larger than the read block ------------------------------------------------------


@pytest.fixture
def small_blocks(monkeypatch):
    monkeypatch.setattr(filedrop, "BATCH_BYTES", 1 << 10)
    monkeypatch.setattr(filedrop, "MAX_RECORD_BYTES", 16 << 10)


def test_field_larger_than_the_block_is_read_whole(tmp_path, small_blocks):
    """A long notes field is legitimate: the block grows, no record is lost or repeated."""
    notes = "pasted log line\n" * 400  # 6.4 KB, six times the block
    text = accounts(300, {150: notes, 220: notes.upper()})
    drop(tmp_path, {"accounts.csv": text.encode(), "contracts.csv": CONTRACTS.encode()})
    landed = land(tmp_path)
    rows = pq.read_table(landed["accounts"].path).to_pylist()
    assert [row["account_id"] for row in rows] == [f"a{i}" for i in range(300)]
    assert rows[150]["account_name"] == notes and rows[220]["account_name"] == notes.upper()


def test_field_past_the_record_limit_names_line_column_and_size(tmp_path, small_blocks):
    """20 KB against a 16 KiB limit stands for 100 MB against 64 MiB: an unclosed quote."""
    text = accounts(300, {0: "two\nlines", 200: "x" * 20_000})
    folder = drop(tmp_path, {"accounts.csv": text.encode(), "contracts.csv": CONTRACTS.encode()})
    with pytest.raises(InputError) as caught:
        land(tmp_path)
    error = caught.value
    assert error.path == folder / "accounts.csv"
    assert (error.line, error.column) == (203, "account_name")
    assert "field of 19.5 KiB makes its record larger than 16 KiB" in str(error)
    assert "quote" in str(error)


def test_line_of_a_record_after_a_field_over_the_csv_module_limit(tmp_path):
    """Python's csv module stops at 131,072 characters a field unless told otherwise."""
    folder = drop(tmp_path, {"accounts.csv": accounts(3, {0: "y" * 200_000}).encode()})
    assert physical_line(folder / "accounts.csv", 2) == 4
