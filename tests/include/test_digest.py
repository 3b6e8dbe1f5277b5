"""The digest tells two builds apart by their rows, never by the order they are stored in."""

from __future__ import annotations

import duckdb

from touchline.digest import compare, row_differences, table_digests


def _warehouse(path, rows, extra_column=False, view=False):
    with duckdb.connect(str(path)) as con:
        columns = "account_id varchar, score double" + (
            ", position integer" if extra_column else ""
        )
        con.execute(f"create table health ({columns})")
        for number, (account, score) in enumerate(rows):
            values = [account, score] + ([number] if extra_column else [])
            con.execute(f"insert into health values ({', '.join('?' for _ in values)})", values)
        if view:
            con.execute("create view health_view as select * from health")
    return path


def test_the_same_rows_in_another_order_digest_the_same(tmp_path):
    first = _warehouse(tmp_path / "a.duckdb", [("a1", 50.0), ("a2", 70.0)])
    second = _warehouse(tmp_path / "b.duckdb", [("a2", 70.0), ("a1", 50.0)])
    assert compare({"tables": table_digests(first)}, {"tables": table_digests(second)}) == []


def test_a_changed_value_is_named(tmp_path):
    first = _warehouse(tmp_path / "a.duckdb", [("a1", 50.0), ("a2", 70.0)])
    second = _warehouse(tmp_path / "b.duckdb", [("a1", 50.0), ("a2", 71.0)])
    (difference,) = compare({"tables": table_digests(first)}, {"tables": table_digests(second)})
    assert difference.startswith("tables/health:")
    (health,) = row_differences(first, second)
    assert health["status"] == "differs"
    assert health["rows_only_in_old"] == health["rows_only_in_new"] == 1


def test_rows_compare_on_shared_columns_through_renames_and_views(tmp_path):
    old = _warehouse(tmp_path / "old.duckdb", [("a1", 50.0), ("a2", 70.0)])
    new = tmp_path / "warehouse.duckdb"
    _warehouse(new, [("a2", 70.0), ("a1", 50.0)], extra_column=True, view=True)
    with duckdb.connect(str(old)) as con:
        con.execute("alter table health rename to health_scores")
    found = {row["table"]: row for row in row_differences(old, new, {"health_scores": "health"})}
    assert found["health_scores -> health"]["status"] == "same"
    assert found["health_scores -> health"]["columns_added"] == ["position"]
    assert found["health_view"]["status"] == "only in the new"
