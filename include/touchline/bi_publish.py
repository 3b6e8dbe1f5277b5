"""The marts BI tools read: a read-only copy of them, published after each nightly run.

BI tools must not read the warehouse file: the pipeline replaces it by a rename, and a
DuckDB connection (or a new one in the same process, which DuckDB serves from its cache of
open databases) keeps seeing the file it opened, so a dashboard would show the previous day
with no error. The publication folder (``TOUCHLINE_BI_DIR``, default ``$TOUCHLINE_HOME/bi``)
holds instead::

    versions/<stamp>/<mart>.parquet   one Parquet file per mart, never changed once written
    versions/<stamp>/publication.parquet, manifest.json   run date, published_at, row counts
    current -> versions/<stamp>       the newest version, swapped by one rename
    marts.duckdb                      views over current/<mart>.parquet, and ``publication``

Every query through ``marts.duckdb`` reads the Parquet ``current`` points to at that moment,
so a connection held open (or pooled) sees the new day after a publish. Files are never
changed once written, but DuckDB opens a Parquet file twice per query (to plan it, then to
scan it), so a query in flight at the very instant of a swap can fail (docs/bi.md:
consistency); readers that must never meet a swap read ``pinned_version_dir``. The catalog
file is rewritten
(to a temporary name, then renamed) only when the marts or their columns change. The last
``KEEP_VERSIONS`` versions are kept, so a reader that resolved ``current`` just before a
swap still finds its files. docs/bi.md says how to connect Metabase, Superset and notebooks.

Airflow imports this module when it parses the DAG (for ``MARTS``), so it imports only the
standard library and the settings; DuckDB is imported by the functions that use it.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import logging
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from touchline.config import duckdb_memory_limit

log = logging.getLogger(__name__)

# the marts of dbt_project/models/marts, which dashboards read
MARTS = (
    "dim_accounts",
    "fct_account_health_daily",
    "fct_account_tiers_daily",
    "fct_touchpoints_due",
    "csm_worklist",
    "automation_queue",
    "csm_capacity",
    "touch_model_metrics",
)
PUBLICATION = "publication"  # the view (and Parquet file) saying what is published
CATALOG = "marts.duckdb"
CURRENT = "current"
VERSIONS = "versions"
MANIFEST = "manifest.json"
KEEP_VERSIONS = 3
ASSET_PREFIX = "touchline_mart_"
# what the catalog was written for: the views' columns and paths (beside the catalog)
_CATALOG_SPEC = ".marts.duckdb.json"


def asset_name(mart: str) -> str:
    """The Airflow Asset name of a published mart (``touchline_mart_<mart>``)."""
    return f"{ASSET_PREFIX}{mart}"


def mart_path(bi_dir: Path, mart: str) -> Path:
    """The Parquet file of ``mart`` in the current version (what the catalog's view reads)."""
    return Path(bi_dir).absolute() / CURRENT / f"{mart}.parquet"


def mart_uri(bi_dir: Path, mart: str) -> str:
    """The Airflow Asset URI of a published mart: ``file://<bi_dir>/current/<mart>.parquet``."""
    return mart_path(bi_dir, mart).as_uri()


class PublishError(RuntimeError):
    """The marts could not be published; the message names the file and the fix."""


@dataclass(frozen=True)
class Publication:
    version: str
    run_date: dt.date
    published_at: dt.datetime
    bi_dir: Path
    counts: dict[str, int]
    seconds: float
    catalog_rewritten: bool
    removed: list[str] = field(default_factory=list)  # versions deleted past retention

    def as_dict(self) -> dict:
        return {
            "version": self.version,
            "run_date": self.run_date.isoformat(),
            "published_at": self.published_at.isoformat(),
            "bi_dir": str(self.bi_dir),
            "catalog": str(self.bi_dir / CATALOG),
            "counts": self.counts,
            "seconds": round(self.seconds, 2),
            "catalog_rewritten": self.catalog_rewritten,
            "removed_versions": self.removed,
        }


def publish(
    warehouse: Path,
    bi_dir: Path,
    run_date: dt.date | None = None,
    marts: tuple[str, ...] = MARTS,
    keep: int = KEEP_VERSIONS,
) -> Publication:
    """Publish ``marts`` of the (published) ``warehouse`` as a new version in ``bi_dir``.

    The warehouse is attached read-only to an in-memory database, so the file as it is now
    is read (never a copy DuckDB cached in this process) and never locked for writing.
    ``run_date``: the date the warehouse holds (default: the newest day of its history).
    """
    import duckdb

    started = time.monotonic()
    warehouse, bi_dir = Path(warehouse).absolute(), Path(bi_dir).absolute()
    if not warehouse.exists():
        raise PublishError(
            f"no published warehouse at {warehouse} (TOUCHLINE_WAREHOUSE) to publish the marts "
            "from; run the nightly build first"
        )
    versions = bi_dir / VERSIONS
    versions.mkdir(parents=True, exist_ok=True)
    with _publishing(bi_dir), duckdb.connect(config={"memory_limit": duckdb_memory_limit()}) as con:
        # no progress bar: it would print on the output of touchline publish-marts and the task
        con.execute("set enable_progress_bar = false")
        published_at = dt.datetime.now(dt.UTC)
        quoted = str(warehouse).replace("'", "''")
        con.execute(f"attach '{quoted}' as warehouse (read_only)")
        schemas = _mart_schemas(con, warehouse, marts)
        if run_date is None:
            run_date = _run_date(con, schemas)
        version = _new_version(versions, published_at, run_date)
        building = versions / f".{version}.partial"
        shutil.rmtree(building, ignore_errors=True)
        building.mkdir()
        try:
            counts = {
                mart: _write_mart(con, schemas[mart], mart, building / f"{mart}.parquet")
                for mart in marts
            }
            _write_publication(con, building, version, run_date, published_at, counts)
            columns = {
                name: _parquet_columns(con, building / f"{name}.parquet")
                for name in (*marts, PUBLICATION)
            }
            manifest = {
                "version": version,
                "run_date": run_date.isoformat(),
                "published_at": published_at.isoformat(),
                "warehouse": str(warehouse),
                "counts": counts,
                "columns": columns,
                "duckdb": duckdb.__version__,
            }
            (building / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
            _fsync_tree(building)
            os.rename(building, versions / version)
        except BaseException:
            shutil.rmtree(building, ignore_errors=True)
            raise
        _swap_current(bi_dir, version)
        rewritten = _ensure_catalog(bi_dir, columns)
        removed = prune(bi_dir, keep)
    result = Publication(
        version,
        run_date,
        published_at,
        bi_dir,
        counts,
        time.monotonic() - started,
        rewritten,
        removed,
    )
    log.info(
        "published the marts of %s for BI as %s in %.1fs%s",
        run_date,
        versions / version,
        result.seconds,
        " (catalog rewritten)" if rewritten else "",
    )
    return result


@contextmanager
def _publishing(bi_dir: Path) -> Iterator[None]:
    """One publish at a time per folder (a nightly run and a manual publish-marts)."""
    with open(bi_dir / ".publish.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _mart_schemas(con, warehouse: Path, marts: tuple[str, ...]) -> dict[str, str]:
    rows = con.execute(
        "select table_name, table_schema from information_schema.tables"
        " where table_catalog = 'warehouse'"
    ).fetchall()
    found = {name: schema for name, schema in rows}
    missing = [mart for mart in marts if mart not in found]
    if missing:
        raise PublishError(
            f"{warehouse} has no {', '.join(missing)}: it is not a warehouse the nightly build "
            "published (or was built by an older dbt project); run the nightly build first"
        )
    return {mart: found[mart] for mart in marts}


def _run_date(con, schemas: dict[str, str]) -> dt.date:
    """The newest day of the daily history: the run date the warehouse holds."""
    table = "fct_account_tiers_daily"
    schema = schemas.get(table, "main")
    (day,) = con.execute(f'select max(history_date) from warehouse."{schema}"."{table}"').fetchone()
    if day is None:
        raise PublishError(f"{table} in the warehouse is empty: nothing was built to publish")
    return day


def _new_version(versions: Path, published_at: dt.datetime, run_date: dt.date) -> str:
    """A version name that sorts in publishing order: ``<published_at UTC>_<run date>``."""
    stamp = published_at.strftime("%Y%m%dT%H%M%S%fZ")
    version = f"{stamp}_{run_date.isoformat()}"
    newest = _versions(versions)
    if newest and newest[-1] >= version:  # a clock set back: still after the newest
        version = f"{newest[-1]}+"
    return version


def _versions(versions: Path) -> list[str]:
    """The complete versions in ``versions``, oldest first."""
    if not versions.is_dir():
        return []
    return sorted(
        entry.name
        for entry in versions.iterdir()
        if not entry.name.startswith(".") and (entry / MANIFEST).is_file()
    )


def _write_mart(con, schema: str, mart: str, target: Path) -> int:
    relation = f'warehouse."{schema}"."{mart}"'
    described = con.execute(f"describe select * from {relation}").fetchall()
    # Parquet has no 128-bit integers (DuckDB would write them as doubles): counts as BIGINT
    select = ", ".join(
        f'cast("{name}" as bigint) as "{name}"' if kind in ("HUGEINT", "UHUGEINT") else f'"{name}"'
        for name, kind, *_ in described
    )
    (count,) = con.execute(
        f"copy (select {select} from {relation}) to '{_sql_path(target)}' "
        "(format parquet, compression zstd)"
    ).fetchone()
    return int(count)


def _write_publication(
    con,
    folder: Path,
    version: str,
    run_date: dt.date,
    published_at: dt.datetime,
    counts: dict[str, int],
) -> None:
    con.execute(
        "create or replace temp table publication_rows "
        "(version varchar, run_date date, published_at timestamptz, mart varchar, row_count bigint)"
    )
    con.executemany(
        "insert into publication_rows values (?, ?, ?, ?, ?)",
        [[version, run_date, published_at, mart, rows] for mart, rows in counts.items()],
    )
    con.execute(
        f"copy (select * from publication_rows order by mart) to "
        f"'{_sql_path(folder / f'{PUBLICATION}.parquet')}' (format parquet)"
    )


def _parquet_columns(con, path: Path) -> list[list[str]]:
    described = con.execute(f"describe select * from read_parquet('{_sql_path(path)}')").fetchall()
    return [[name, kind] for name, kind, *_ in described]


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")


def _fsync_tree(folder: Path) -> None:
    """Flush a version's files to disk before ``current`` can point at them."""
    for entry in folder.iterdir():
        with open(entry, "rb") as handle:
            os.fsync(handle.fileno())
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _swap_current(bi_dir: Path, version: str) -> None:
    """Point ``current`` at ``version`` by one rename: readers see the old or the new one."""
    link = bi_dir / CURRENT
    if link.exists() and not link.is_symlink():
        raise PublishError(
            f"{link} is not the symbolic link the publish maintains; move it away and publish "
            "again (touchline publish-marts)"
        )
    temporary = bi_dir / f".{CURRENT}.{os.getpid()}"
    temporary.unlink(missing_ok=True)
    os.symlink(Path(VERSIONS) / version, temporary)
    os.replace(temporary, link)


def current_version(bi_dir: Path) -> str | None:
    """The version ``current`` points at (None: nothing published yet)."""
    link = Path(bi_dir) / CURRENT
    return Path(os.readlink(link)).name if link.is_symlink() else None


def pinned_version_dir(bi_dir: Path) -> Path:
    """The folder of the current version, resolved once: for reads that must all see one
    version (several marts joined, or a reader that must never meet a swap), read the files
    in it rather than through ``current``. It is kept for the next two publishes."""
    version = current_version(bi_dir)
    if version is None:
        raise PublishError(f"nothing is published in {bi_dir} yet; run touchline publish-marts")
    return Path(bi_dir).absolute() / VERSIONS / version


def _catalog_spec(bi_dir: Path, columns: dict[str, list[list[str]]]) -> dict:
    return {
        "bi_dir": str(bi_dir),
        "views": {name: columns[name] for name in sorted(columns)},
    }


def _ensure_catalog(bi_dir: Path, columns: dict[str, list[list[str]]]) -> bool:
    """Write ``marts.duckdb`` when it is missing or its views' marts or columns changed.

    Unchanged, it is left alone: its views read ``current`` on every query, so connections
    held open keep working and see each new version.
    """
    import duckdb

    catalog, spec_file = bi_dir / CATALOG, bi_dir / _CATALOG_SPEC
    spec = _catalog_spec(bi_dir, columns)
    try:
        unchanged = catalog.exists() and json.loads(spec_file.read_text()) == spec
    except (OSError, ValueError):
        unchanged = False
    if unchanged:
        return False
    temporary = bi_dir / f".{CATALOG}.{os.getpid()}.tmp"
    for leftover in (temporary, temporary.with_name(temporary.name + ".wal")):
        leftover.unlink(missing_ok=True)
    try:
        with duckdb.connect(str(temporary)) as con:
            for name in spec["views"]:
                con.execute(
                    f'create view "{name}" as select * from '
                    f"read_parquet('{_sql_path(mart_path(bi_dir, name))}')"
                )
            con.execute("checkpoint")
        os.replace(temporary, catalog)
    finally:
        for leftover in (temporary, temporary.with_name(temporary.name + ".wal")):
            leftover.unlink(missing_ok=True)
    spec_file.write_text(json.dumps(spec, indent=1) + "\n")
    log.info("wrote %s: views over %s", catalog, bi_dir / CURRENT)
    return True


def prune(bi_dir: Path, keep: int = KEEP_VERSIONS) -> list[str]:
    """Delete the versions older than the newest ``keep`` (never the current one).

    Also removes what an interrupted publish left (``versions/.<stamp>.partial``); called
    while publishing, under the folder's lock.
    """
    versions = Path(bi_dir) / VERSIONS
    if not versions.is_dir():
        return []
    current = current_version(bi_dir)
    for entry in versions.glob(".*.partial"):
        shutil.rmtree(entry, ignore_errors=True)
    complete = _versions(versions)
    removed = [name for name in complete[: max(0, len(complete) - keep)] if name != current]
    for name in removed:
        shutil.rmtree(versions / name, ignore_errors=True)
    return removed


def read_manifest(bi_dir: Path, version: str | None = None) -> dict:
    """The manifest of ``version`` (default: the current one)."""
    bi_dir = Path(bi_dir)
    version = version or current_version(bi_dir)
    if version is None:
        raise PublishError(f"nothing is published in {bi_dir} yet; run touchline publish-marts")
    return json.loads((bi_dir / VERSIONS / version / MANIFEST).read_text())
