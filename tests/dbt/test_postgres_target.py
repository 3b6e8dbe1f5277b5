"""The dbt project builds on PostgreSQL and gives the same work lists as on DuckDB.

The small demo book's landing (the `built` fixture's, built there on DuckDB) is loaded into
a PostgreSQL database of the test's own (touchline.warehouse_postgres) and built with
`dbt build --target postgres`, every data test included. The published accounts, the daily
health and both lists must then hold the same rows on both engines. Text, dates, integers
and booleans must be equal; doubles may differ in their last bits (below), nothing more.

Skipped, saying why, when no PostgreSQL server answers on 127.0.0.1:5432 as postgres.
"""

from __future__ import annotations

import decimal
import json
import math
import uuid

import duckdb
import pytest

from touchline.config import PostgresWarehouse
from touchline.warehouse import run_dbt

HOST, PORT, USER = "127.0.0.1", 5432, "postgres"
# the compared tables and the columns that identify a row
TABLES = {
    "dim_accounts": ("account_id",),
    "fct_account_health_daily": ("history_date", "account_id"),
    "csm_worklist": ("task_key",),
    "automation_queue": ("task_key",),
    # the arms dealt by md5 (DuckDB's hash() differs), the rebuilt occurrences, the arms' rows
    "int_experiment_assignments": ("experiment", "account_id"),
    "int_touchpoint_outcomes": ("account_id", "touchpoint", "due_date"),
    "experiment_results": ("experiment", "arm"),
}
# Doubles (ARR converted at a rate, the health measures, their scores) are summed and
# divided in another order on PostgreSQL, and rounded there through numeric (PostgreSQL
# rounds no doubles): a result may differ from DuckDB's in its last bits, so doubles and
# numerics compare to a relative 1e-9. Every other value compares exactly.
TOLERANCE = 1e-9


def _connect(dbname: str):
    psycopg = pytest.importorskip("psycopg", reason="psycopg (the celery extra) is not installed")
    return psycopg.connect(
        host=HOST, port=PORT, user=USER, dbname=dbname, autocommit=True, connect_timeout=10
    )


@pytest.fixture(scope="module")
def postgres_database():
    """A database of the module's own (C collation: text sorts as in DuckDB), then dropped."""
    try:
        admin = _connect("postgres")
    except Exception as error:  # any failure to reach the server: no PostgreSQL here
        pytest.skip(f"PostgreSQL is not reachable at {HOST}:{PORT} as {USER}: {error}")
    name = f"touchline_test_{uuid.uuid4().hex[:10]}"
    with admin:
        admin.execute(
            f"create database {name} template template0 encoding 'UTF8' lc_collate 'C' lc_ctype 'C'"
        )
        try:
            yield PostgresWarehouse(
                host=HOST,
                port=PORT,
                user=USER,
                password="",
                database=name,
                schema="touchline",
                landing_schema="landing",
            )
        finally:
            admin.execute(f"drop database if exists {name} with (force)")


@pytest.fixture(scope="module")
def both_built(built, postgres_database, tmp_path_factory):
    """The DuckDB warehouse of `built`, and the same landing built on PostgreSQL."""
    from touchline.warehouse_postgres import load_landing

    paths, run_date = built
    loaded = load_landing(paths.landing_dir, postgres_database)
    assert {item.entity for item in loaded} >= {"accounts", "usage_events", "tickets"}
    # its own dbt target folder (beside a warehouse file that is never written)
    pg_paths = paths.with_overrides(warehouse=tmp_path_factory.mktemp("pg") / "unused.duckdb")
    env = {
        "TOUCHLINE_PG_HOST": postgres_database.host,
        "TOUCHLINE_PG_PORT": str(postgres_database.port),
        "TOUCHLINE_PG_USER": postgres_database.user,
        "TOUCHLINE_PG_DATABASE": postgres_database.database,
        "TOUCHLINE_PG_SCHEMA": postgres_database.schema,
        "TOUCHLINE_PG_LANDING_SCHEMA": postgres_database.landing_schema,
    }
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        freshness = run_dbt(
            ["source", "freshness", "--target", "postgres"], pg_paths, run_date, pg_paths.warehouse
        )
        assert freshness.returncode == 0, freshness.stdout[-3000:]
        build = run_dbt(
            ["build", "--target", "postgres", "--exclude", "test_type:unit"],
            pg_paths,
            run_date,
            pg_paths.warehouse,
        )
        assert build.returncode == 0, build.stdout[-3000:]
    return paths, pg_paths, postgres_database


def _duckdb_rows(warehouse, table):
    with duckdb.connect(str(warehouse), read_only=True) as con:
        cursor = con.execute(f"select * from {table}")
        return [column[0] for column in cursor.description], cursor.fetchall()


def _postgres_rows(database: PostgresWarehouse, table):
    with _connect(database.database) as con:
        cursor = con.execute(f"select * from {database.schema}.{table}")
        return [column.name for column in cursor.description], cursor.fetchall()


def _same(left, right) -> bool:
    numbers = (float, decimal.Decimal)
    if isinstance(left, numbers) and isinstance(right, numbers):
        return math.isclose(float(left), float(right), rel_tol=TOLERANCE, abs_tol=TOLERANCE)
    if isinstance(left, bool) or isinstance(right, bool):
        return left is right
    return left == right


@pytest.mark.parametrize("table", list(TABLES))
def test_postgres_gives_the_same_rows_as_duckdb(both_built, table):
    paths, _, database = both_built
    duck_columns, duck_rows = _duckdb_rows(paths.warehouse, table)
    pg_columns, pg_rows = _postgres_rows(database, table)
    assert pg_columns == duck_columns
    assert duck_rows, f"{table} is empty on DuckDB: the comparison would prove nothing"
    key = [duck_columns.index(column) for column in TABLES[table]]

    def by_key(rows):
        keyed = {tuple(row[i] for i in key): row for row in rows}
        assert len(keyed) == len(rows), f"{table}: {TABLES[table]} is not unique"
        return keyed

    duck, pg = by_key(duck_rows), by_key(pg_rows)
    assert sorted(pg) == sorted(duck), f"{table}: other rows on PostgreSQL"
    differences = [
        f"{name} of {row_key}: DuckDB {left!r}, PostgreSQL {right!r}"
        for row_key, duck_row in sorted(duck.items())
        for name, left, right in zip(duck_columns, duck_row, pg[row_key], strict=True)
        if not _same(left, right)
    ]
    assert not differences, f"{table}: {len(differences)} values differ:\n" + "\n".join(
        differences[:20]
    )


def test_freshness_reads_the_loaded_partitions(both_built):
    """dbt source freshness on PostgreSQL sees the landed days DuckDB sees in the folders."""
    _, pg_paths, _ = both_built
    found = json.loads((pg_paths.state_dir / "dbt-target" / "sources.json").read_text())
    newest = {result["unique_id"]: result["max_loaded_at"] for result in found["results"]}
    landed = sorted(p.name for p in (pg_paths.landing_dir / "accounts").glob("ds=*"))
    assert newest["source.touchline.crm.accounts"].startswith(landed[-1].removeprefix("ds="))
    assert all(value for value in newest.values()), newest


def test_the_build_named_postgres(both_built):
    """The build wrote its models into the PostgreSQL schema, not a DuckDB file."""
    _, pg_paths, database = both_built
    assert not pg_paths.warehouse.exists()
    with _connect(database.database) as con:
        schemas = {
            row[0]
            for row in con.execute(
                "select table_schema from information_schema.tables "
                "where table_name in ('dim_accounts', 'accounts')"
            )
        }
    assert schemas == {database.schema, database.landing_schema}
