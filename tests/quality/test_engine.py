"""Validating in chunks gives the verdict of validating the whole batch at once."""

from __future__ import annotations

import datetime as dt

import great_expectations as gx
import great_expectations.expectations as gxe
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from touchline.quality import gates
from touchline.quality.engine import Validator
from touchline.quality.suites import fail, warn


def suite(*expectations):
    return gx.ExpectationSuite(name="test", expectations=list(expectations))


def frame(statuses: list[str], offset: int = 0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": [f"r{offset + n}" for n in range(len(statuses))],
            "status": pd.array(statuses, dtype="string"),
        }
    )


def test_counts_and_samples_merge_over_chunks():
    statuses = ["ok"] * 100
    for n in (3, 15, 27, 41, 55, 69, 83):
        statuses[n] = "bad"
    chunks = [frame(statuses[i : i + 10], i) for i in range(0, 100, 10)]
    (outcome,), rows, seconds = Validator().validate(
        "things",
        "rows",
        suite(fail(gxe.ExpectColumnValuesToBeInSet(column="status", value_set=["ok"]))),
        chunks,
        ["id"],
    )
    assert rows == 100 and seconds >= 0
    assert not outcome.success and outcome.failed
    assert (outcome.element_count, outcome.unexpected_count) == (100, 7)
    assert outcome.sample_ids == [{"id": f"r{n}"} for n in (3, 15, 27, 41, 55)]  # first five
    assert outcome.as_dict()["sample_values"] == ["bad"] * 5


def test_mostly_is_judged_over_the_whole_batch_not_per_chunk():
    """4 bad rows in one chunk of 10 (40%) are 4% of the batch: within mostly=0.95."""
    statuses = ["ok"] * 100
    for n in (90, 91, 92, 93):
        statuses[n] = "bad"
    chunks = [frame(statuses[i : i + 10], i) for i in range(0, 100, 10)]
    expectation = warn(
        gxe.ExpectColumnValuesToBeInSet(column="status", value_set=["ok"], mostly=0.95)
    )
    (outcome,), _, _ = Validator().validate("things", "rows", suite(expectation), chunks, ["id"])
    assert outcome.success and outcome.unexpected_share == 0.04
    assert outcome.severity == "warn"
    # and 6% is not, though no chunk but one has a bad row
    statuses[94] = statuses[95] = "bad"
    chunks = [frame(statuses[i : i + 10], i) for i in range(0, 100, 10)]
    (outcome,), _, _ = Validator().validate("things", "rows", suite(expectation), chunks, ["id"])
    assert not outcome.success and not outcome.failed  # a warning, not a stop


def test_gate_reads_a_staged_batch_in_chunks(tmp_path, monkeypatch):
    """The gate's verdict on a batch is the same whatever the chunk size."""
    path = tmp_path / "batch.parquet"
    n = 1_000
    pq.write_table(
        pa.table(
            {
                "ticket_id": [f"t{i}" for i in range(n)],
                "created_at": pa.array(
                    [dt.datetime(2026, 10, 30, 8)] * (n - 2) + [dt.datetime(2027, 1, 1)] * 2,
                    pa.timestamp("us"),
                ),
            }
        ),
        path,
    )
    sql = (
        "select *, file_row_number as _row from read_parquet(?, file_row_number = true) "
        "order by _row"
    )
    late = fail(
        gxe.ExpectColumnValuesToBeBetween(column="created_at", max_value=dt.datetime(2026, 11, 1))
    )
    import duckdb

    verdicts = []
    for chunk_rows in (1_000_000, 64):
        monkeypatch.setattr(gates, "CHUNK_ROWS", chunk_rows)
        with duckdb.connect() as con:
            chunks = list(gates._read(con, sql, [str(path)]))
            (outcome,), rows, _ = Validator().validate(
                "tickets", "rows", suite(late), iter(chunks), ["ticket_id"]
            )
        assert len(chunks) == (1 if chunk_rows > n else -(-n // chunk_rows))
        verdicts.append((rows, outcome.success, outcome.unexpected_count, outcome.row_numbers))
    assert verdicts[0] == verdicts[1] == (n, False, 2, [n - 2, n - 1])


def test_row_counts_and_maxima_are_the_whole_batchs():
    """Three chunks of 100 rows are a batch of 300, whose maximum is the largest chunk's."""
    chunks = [
        pd.DataFrame({"id": [f"r{offset + n}" for n in range(100)], "share": [share] * 100})
        for offset, share in ((0, 0.2), (100, 0.9), (200, 0.4))
    ]
    expectations = {
        "in range": fail(gxe.ExpectTableRowCountToBeBetween(min_value=250, max_value=350)),
        "too few": fail(gxe.ExpectTableRowCountToBeBetween(min_value=301)),
        "too many": fail(gxe.ExpectTableRowCountToBeBetween(max_value=299)),
        "equal": fail(gxe.ExpectTableRowCountToEqual(value=300)),
        "max within": fail(gxe.ExpectColumnMaxToBeBetween(column="share", max_value=0.9)),
        "max beyond": fail(gxe.ExpectColumnMaxToBeBetween(column="share", max_value=0.8)),
    }
    outcomes, rows, _ = Validator().validate(
        "things", "rows", suite(*expectations.values()), iter(chunks), ["id"]
    )
    assert rows == 300
    verdicts = {(o.expectation, o.observed_value, o.success) for o in outcomes}
    assert verdicts == {
        ("expect_table_row_count_to_be_between", 300, True),
        ("expect_table_row_count_to_be_between", 300, False),
        ("expect_table_row_count_to_equal", 300, True),
        ("expect_column_max_to_be_between", 0.9, True),
        ("expect_column_max_to_be_between", 0.9, False),
    }
    assert sum(not o.success for o in outcomes) == 3


def test_chunks_for_a_uniqueness_check_never_split_a_key(monkeypatch):
    """Rows with one key, far apart in the batch, arrive in one chunk, whatever its size."""
    import duckdb

    monkeypatch.setattr(gates, "CHUNK_ROWS", 16)
    sql = (
        "select 'k' || (i % 97) as key, i as _row from range(500) as t(i) "
        "union all select null, 500 union all select null, 501"
    )
    unique = fail(gxe.ExpectColumnValuesToBeUnique(column="key"))
    with duckdb.connect() as con:
        chunks = list(gates._read(con, sql, unique_by=["key"]))
        (outcome,), rows, _ = Validator().validate(
            "things", "keys", suite(unique), iter(chunks), ["key"]
        )
    assert len(chunks) > 1 and sum(len(c) for c in chunks) == rows == 502
    for chunk in chunks:
        for key in chunk["key"].dropna().unique():
            assert all(key not in other["key"].values for other in chunks if other is not chunk)
    # 97 keys over 500 rows: every row shares its key with another (the nulls count for none)
    assert not outcome.success and outcome.unexpected_count == 500
