"""Load the landing's Parquet into PostgreSQL, where the postgres dbt target reads its sources.

On DuckDB the sources read the landing's partitions in place (``read_parquet`` in
dbt_project/models/staging/*/_*__sources.yml). PostgreSQL cannot read Parquet, so before a
``dbt build --target postgres`` every landed entity is copied into a table of the landing
schema (``TOUCHLINE_PG_LANDING_SCHEMA``, default ``landing``), one table per entity, named as
its folder: ``landing/<entity>/ds=<date>/*.parquet`` becomes ``landing.<entity>`` with the
partition date in its ``ds`` column, the files read the way the DuckDB sources read them
(hive partitions, columns united by name). ``landing._partitions`` lists every landed
partition, rows or not, for the freshness check (macros/collect_freshness.sql).

The copy goes through DuckDB's postgres extension (the ``duckdb-ext-postgres`` wheel of
the ``postgres`` extra): DuckDB reads the Parquet with the same reader as the DuckDB build
and writes it with PostgreSQL's binary COPY, the column types mapped by the extension
(VARCHAR to varchar, TIMESTAMP to timestamp, DOUBLE to double precision, DATE to date). The
whole landing is loaded again in one transaction, so the models never see half a load.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from touchline.config import PostgresWarehouse, postgres_warehouse

log = logging.getLogger(__name__)

PARTITIONS_TABLE = "_partitions"
EXTENSION_PACKAGE = "duckdb-ext-postgres"


class LoadError(RuntimeError):
    """The landing could not be loaded into PostgreSQL (the message says what to fix)."""


@dataclass(frozen=True)
class LoadedEntity:
    entity: str
    partitions: int
    rows: int


def extension_file() -> Path:
    """The postgres extension file that the ``duckdb-ext-postgres`` wheel installs."""
    import duckdb

    try:
        import duckdb_ext
    except ImportError:
        duckdb_ext = None
    if duckdb_ext is not None:
        roots = [Path(p) for p in getattr(duckdb_ext, "__path__", [])]
        version = f"v{duckdb.__version__}"
        for root in roots:
            found = sorted(root.glob(f"extensions/{version}/*/postgres_scanner.duckdb_extension"))
            if found:
                return found[0]
    raise LoadError(
        f"the DuckDB postgres extension for DuckDB {duckdb.__version__} is not installed; "
        f"install touchline's postgres extra (pip install -c constraints.txt -e '.[postgres]'), "
        f"which brings the {EXTENSION_PACKAGE} wheel"
    )


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def landed_entities(landing_dir: Path) -> list[str]:
    """The entities of the landing: its folders holding at least one ds= partition."""
    if not landing_dir.is_dir():
        raise LoadError(f"the landing {landing_dir} (TOUCHLINE_LANDING_DIR) does not exist")
    return sorted(
        folder.name
        for folder in landing_dir.iterdir()
        if folder.is_dir() and any(folder.glob("ds=*/*.parquet"))
    )


def load_landing(
    landing_dir: Path, warehouse: PostgresWarehouse | None = None
) -> list[LoadedEntity]:
    """Copy every landed entity into ``<landing schema>.<entity>``, replacing what was there."""
    import duckdb

    warehouse = warehouse or postgres_warehouse()
    entities = landed_entities(landing_dir)
    if not entities:
        raise LoadError(f"the landing {landing_dir} holds no ds=<date>/*.parquet partitions")
    schema = _identifier(warehouse.landing_schema)
    con = duckdb.connect()
    try:
        con.execute(f"install {_literal(str(extension_file()))}")
        con.execute("load postgres")
        try:
            con.execute(f"attach {_literal(warehouse.libpq())} as pg (type postgres)")
        except duckdb.Error as error:
            raise LoadError(
                f"cannot connect to PostgreSQL at {warehouse.host}:{warehouse.port} as "
                f"{warehouse.user}, database {warehouse.database} (TOUCHLINE_PG_HOST, _PORT, "
                f"_USER, _PASSWORD, _DATABASE): {error}"
            ) from None
        loaded = []
        con.execute("begin")
        con.execute(f"create schema if not exists pg.{schema}")
        partitions = []
        for entity in entities:
            files = _literal(str(landing_dir / entity / "ds=*" / "*.parquet"))
            table = f"pg.{schema}.{_identifier(entity)}"
            con.execute(f"drop table if exists {table}")
            con.execute(
                f"create table {table} as select * from read_parquet({files}, "
                "hive_partitioning = true, hive_types = {'ds': date}, union_by_name = true)"
            )
            rows = con.execute(f"select count(*) from {table}").fetchone()[0]
            days = con.execute(
                "select distinct cast(regexp_extract(file, 'ds=([0-9]{4}-[0-9]{2}-[0-9]{2})', 1)"
                f" as date) from glob({files}) order by 1"
            ).fetchall()
            partitions += [(entity, day) for (day,) in days]
            loaded.append(LoadedEntity(entity, len(days), rows))
        table = f"pg.{schema}.{_identifier(PARTITIONS_TABLE)}"
        con.execute(f"drop table if exists {table}")
        con.execute(f"create table {table} (entity varchar, ds date)")
        con.executemany(f"insert into {table} values (?, ?)", partitions)
        con.execute("commit")
    finally:
        con.close()
    for item in loaded:
        log.info("loaded %s: %d partitions, %d rows", item.entity, item.partitions, item.rows)
    return loaded
