"""The marts BI tools read: a read-only copy of them, published after each nightly run.

BI tools must not read the warehouse file: the pipeline replaces it by a rename, and a
DuckDB connection (or a new one in the same process, which DuckDB serves from its cache of
open databases) keeps seeing the file it opened, so a dashboard would show the previous day
with no error. The publication folder (``TOUCHLINE_BI_DIR``, default ``$TOUCHLINE_HOME/bi``)
holds instead::

    versions/v=<stamp>/<mart>.parquet   one Parquet file per mart, never changed once written
    versions/v=<stamp>/<mart>.parquet/<YYYY-MM>.parquet   the daily history marts, by month
    versions/v=<stamp>/publication.parquet, manifest.json   run date, published_at, counts
    marts.duckdb                        a view per mart over every version, newest kept
    current -> versions/v=<stamp>       the newest version, for reading Parquet by hand

A version is written in a hidden folder and renamed into ``versions/`` whole; stamps sort
in publishing order. Each view of ``marts.duckdb`` reads ``versions/v=*/<mart>.parquet``
and keeps the rows of the newest version: a first listing finds the newest stamp, and the
scan of the rows, joined to it, opens only that version's file. Every file a query names stays
at its path, unchanged, for the query's life, so a query never fails on a publish and
always returns one whole version; a connection held open (or pooled) sees the new day on
its next query. DuckDB opens a Parquet file twice per query (to plan it, then to scan it),
by path: that is why no path a query may list is ever swapped. ``current`` is still
swapped by one rename, for people who read the files directly; a read through it may fail
at the instant of a swap (docs/bi.md: consistency).

The two daily history marts grow by a day each night, so they are written a file per month
of ``history_date``, in a folder named as the other marts' files: a month none of whose days
the build wrote again since the last version (``int_history_writes_daily``), with the same
columns and rows, is a hard link to the last version's file, never a copy, so a night
writes one month, not the year. A file is still never changed once written.

A version is deleted once it has not been the newest for ``TOUCHLINE_BI_RETENTION_MINUTES``
(longer than any BI query), and the newest ``KEEP_VERSIONS`` always stay: after a nightly
publish the folder holds two versions, and a query reads the newest. The catalog file is
rewritten (to a temporary name, then renamed) only when the marts or their columns change.
docs/bi.md says how to connect Metabase, Superset and notebooks.

Airflow imports this module when it parses the DAG (for ``MARTS``), so it imports only the
standard library and the settings; DuckDB is imported by the functions that use it.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from touchline.config import bi_retention_minutes, duckdb_memory_limit
from touchline.filelock import held

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
    "health_backtest_by_segment",
    "health_backtest_metrics",
    "health_backtest_lead_times",
    "touchpoint_outcomes",
    "experiment_results",
    "evidence_as_of",
)
# marts that stay in the warehouse: the backtest's rows are every account-day of the
# history again (the BI copy holds their aggregates, and fct_account_health_daily)
NOT_PUBLISHED = ("fct_account_outcomes_daily",)
# the marts written a file per month of their day column (see the module's docstring)
MONTHLY_MARTS = {
    "fct_account_health_daily": "history_date",
    "fct_account_tiers_daily": "history_date",
}
# which dbt run last wrote each day of the daily history (models/intermediate/history)
WRITTEN_DAYS = "int_history_writes_daily"
PUBLICATION = "publication"  # the view (and Parquet file) saying what is published
CATALOG = "marts.duckdb"
CURRENT = "current"
VERSIONS = "versions"
VERSION_PREFIX = "v="  # versions/v=<stamp>: the hive partition the views keep the newest of
VERSION_COLUMN = "v"
MANIFEST = "manifest.json"
KEEP_VERSIONS = 2  # the newest versions always kept, however old
_PARTIAL = ".partial-"  # versions/.partial-<pid>: a version being written (never v=*)
_STAMP = "%Y%m%dT%H%M%S%fZ"
# what the view's SQL looks like: a catalog written for another layout is rewritten
_LAYOUT = "versions/v=*, newest joined per query, history marts by month"
ASSET_PREFIX = "touchline_mart_"
# what the catalog was written for: the views' columns and paths (beside the catalog)
_CATALOG_SPEC = ".marts.duckdb.json"


def asset_name(mart: str) -> str:
    """The Airflow Asset name of a published mart (``touchline_mart_<mart>``)."""
    return f"{ASSET_PREFIX}{mart}"


def mart_path(bi_dir: Path, mart: str) -> Path:
    """The Parquet file of ``mart`` under ``current`` (a folder of monthly files for the
    daily history marts; for reading by hand, the catalog's views read ``mart_glob``)."""
    return Path(bi_dir).absolute() / CURRENT / f"{mart}.parquet"


def mart_glob(bi_dir: Path, mart: str) -> str:
    """The files of ``mart`` in every version: ``<bi_dir>/versions/v=*/<mart>.parquet``
    (``.../<mart>.parquet/*.parquet`` for the monthly marts)."""
    path = Path(bi_dir).absolute() / VERSIONS / f"{VERSION_PREFIX}*" / f"{mart}.parquet"
    return str(path / "*.parquet" if mart in MONTHLY_MARTS else path)


def version_dir(bi_dir: Path, version: str) -> Path:
    """The folder of one published version: ``<bi_dir>/versions/v=<version>``."""
    return Path(bi_dir).absolute() / VERSIONS / f"{VERSION_PREFIX}{version}"


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
    retention: dt.timedelta | None = None,
) -> Publication:
    """Publish ``marts`` of the (published) ``warehouse`` as a new version in ``bi_dir``.

    The warehouse is attached read-only to an in-memory database, so the file as it is now
    is read (never a copy DuckDB cached in this process) and never locked for writing.
    ``run_date``: the date the warehouse holds (default: the newest day of its history).
    ``keep`` and ``retention``: what ``prune`` keeps afterwards.
    """
    import duckdb

    started = time.monotonic()
    warehouse, bi_dir = Path(warehouse).absolute(), Path(bi_dir).absolute()
    if not warehouse.exists():
        raise PublishError(
            f"no published warehouse at {warehouse} (TOUCHLINE_WAREHOUSE) to publish the marts "
            "from; run the nightly build first"
        )
    _check_folder(bi_dir)
    versions = bi_dir / VERSIONS
    versions.mkdir(parents=True, exist_ok=True)
    with _publishing(bi_dir), duckdb.connect(config={"memory_limit": duckdb_memory_limit()}) as con:
        # no progress bar: it would print on the output of touchline publish-marts and the task
        con.execute("set enable_progress_bar = false")
        quoted = str(warehouse).replace("'", "''")
        con.execute(f"attach '{quoted}' as warehouse (read_only)")
        schemas = _mart_schemas(con, warehouse, marts)
        if run_date is None:
            run_date = _run_date(con, schemas)
        building = versions / f"{_PARTIAL}{os.getpid()}"
        shutil.rmtree(building, ignore_errors=True)
        building.mkdir()
        written = _written_days(con)
        last = _versions(versions)
        last_dir = version_dir(bi_dir, last[-1]) if last else None
        last_months = read_manifest(bi_dir, last[-1]).get("months", {}) if last else {}
        try:
            counts, months, linked = {}, {}, 0
            for mart in marts:
                target = building / f"{mart}.parquet"
                if mart not in MONTHLY_MARTS:
                    counts[mart] = _write_mart(con, schemas[mart], mart, target)
                    continue
                kept = (
                    (last_dir / f"{mart}.parquet", last_months.get(mart, {})) if last_dir else None
                )
                counts[mart], months[mart], reused = _write_monthly(
                    con, schemas[mart], mart, target, written, kept
                )
                linked += reused
            # stamped when the marts are written, just before the version appears: the
            # previous version stops being the newest at (about) this instant
            published_at = dt.datetime.now(dt.UTC)
            version = _new_version(versions, published_at, run_date)
            _write_publication(con, building, version, run_date, published_at, counts)
            columns = {
                name: _parquet_columns(con, building / f"{name}.parquet")
                for name in (*marts, PUBLICATION)
            }
            _check_columns(columns)
            manifest = {
                "version": version,
                "run_date": run_date.isoformat(),
                "published_at": published_at.isoformat(),
                "warehouse": str(warehouse),
                "counts": counts,
                "columns": columns,
                "months": months,
                "duckdb": duckdb.__version__,
            }
            (building / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
            _fsync_tree(building)
            os.rename(building, version_dir(bi_dir, version))
            _fsync_dir(versions)
        except BaseException:
            shutil.rmtree(building, ignore_errors=True)
            raise
        _swap_current(bi_dir, version)
        rewritten = _ensure_catalog(bi_dir, columns)
        removed = _prune(bi_dir, keep, retention)
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
        version_dir(bi_dir, version),
        result.seconds,
        " (catalog rewritten)" if rewritten else "",
    )
    log.info("history marts: %d monthly files kept from the last version", linked)
    return result


def _check_folder(bi_dir: Path) -> None:
    """The views read ``v=<stamp>`` as a hive partition: DuckDB would read any other
    ``name=value`` folder on the path as a column too."""
    for part in bi_dir.parts:
        if "=" in part:
            raise PublishError(
                f"the publication folder {bi_dir} (TOUCHLINE_BI_DIR) has '=' in {part!r}: "
                "DuckDB would read it as a column of every mart; choose a path without '='"
            )


def _check_columns(columns: dict[str, list[list[str]]]) -> None:
    clashes = [name for name, cols in columns.items() if VERSION_COLUMN in (c for c, _ in cols)]
    if clashes:
        raise PublishError(
            f"{', '.join(clashes)} has a column named {VERSION_COLUMN!r}, the name the "
            "published views give the version folder; rename that column in the dbt model"
        )


@contextmanager
def _publishing(bi_dir: Path) -> Iterator[None]:
    """One publish at a time per folder (a nightly run and a manual publish-marts)."""
    with held(bi_dir / ".publish.lock"):
        yield


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
    stamp = published_at.strftime(_STAMP)
    version = f"{stamp}_{run_date.isoformat()}"
    newest = _versions(versions)
    if newest and newest[-1] >= version:  # a clock set back: still after the newest
        version = f"{newest[-1]}+"
    return version


def _versions(versions: Path) -> list[str]:
    """The complete versions in ``versions`` (``v=<version>``), oldest first."""
    if not versions.is_dir():
        return []
    return sorted(
        entry.name.removeprefix(VERSION_PREFIX)
        for entry in versions.iterdir()
        if entry.name.startswith(VERSION_PREFIX) and (entry / MANIFEST).is_file()
    )


def _stamp_time(version: str) -> dt.datetime | None:
    """When ``version`` was published, from its name (None: not a name publish gives)."""
    try:
        return dt.datetime.strptime(version.split("_", 1)[0], _STAMP).replace(tzinfo=dt.UTC)
    except ValueError:
        return None


def _select_list(con, relation: str) -> str:
    described = con.execute(f"describe select * from {relation}").fetchall()
    # Parquet has no 128-bit integers (DuckDB would write them as doubles): counts as BIGINT
    return ", ".join(
        f'cast("{name}" as bigint) as "{name}"' if kind in ("HUGEINT", "UHUGEINT") else f'"{name}"'
        for name, kind, *_ in described
    )


def _write_mart(con, schema: str, mart: str, target: Path, where: str = "true") -> int:
    relation = f'warehouse."{schema}"."{mart}"'
    (count,) = con.execute(
        f"copy (select {_select_list(con, relation)} from {relation} where {where}) "
        f"to '{_sql_path(target)}' (format parquet, compression zstd)"
    ).fetchone()
    return int(count)


def _written_days(con) -> dict[dt.date, str]:
    """Per month of the daily history, a digest of which dbt run wrote each of its days
    (empty when the warehouse has no record of it: every month is then written)."""
    import hashlib

    found = con.execute(
        "select table_schema from information_schema.tables"
        " where table_catalog = 'warehouse' and table_name = ?",
        [WRITTEN_DAYS],
    ).fetchone()
    if found is None:
        return {}
    rows = con.execute(
        f"select date_trunc('month', history_date)::date, history_date, written_by "
        f'from warehouse."{found[0]}".{WRITTEN_DAYS} order by history_date'
    ).fetchall()
    digests: dict[dt.date, hashlib._Hash] = {}
    for month, day, run in rows:
        digests.setdefault(month, hashlib.sha256()).update(f"{day} {run}\n".encode())
    return {month: digest.hexdigest() for month, digest in digests.items()}


def _write_monthly(
    con,
    schema: str,
    mart: str,
    target: Path,
    written: dict[dt.date, str],
    last: tuple[Path, dict[str, str]] | None,
) -> tuple[int, dict[str, str], int]:
    """Write ``mart`` as a file per month into the folder ``target``; a month whose
    fingerprint (its days' writers, its row count, the mart's columns) is the one in the
    last version, ``last`` (its folder and fingerprints), is linked from there.

    Returns the rows, the fingerprints and the files linked.
    """
    import hashlib

    day_column = MONTHLY_MARTS[mart]
    relation = f'warehouse."{schema}"."{mart}"'
    columns = hashlib.sha256(_select_list(con, relation).encode()).hexdigest()
    per_month = con.execute(
        f"select date_trunc('month', {day_column})::date as month, count(*) from {relation} "
        "group by month order by month"
    ).fetchall()
    target.mkdir()
    fingerprints, rows, linked = {}, 0, 0
    for month, count in per_month:
        name = month.strftime("%Y-%m")
        file = target / f"{name}.parquet"
        fingerprint = f"{columns}:{written[month]}:{count}" if month in written else None
        if fingerprint is not None:
            fingerprints[name] = fingerprint
        before = last[0] / file.name if last else None
        if fingerprint and last and last[1].get(name) == fingerprint and before.is_file():
            os.link(before, file)
            linked += 1
        else:
            upto = (month + dt.timedelta(days=32)).replace(day=1)
            where = f"{day_column} >= date '{month}' and {day_column} < date '{upto}'"
            _write_mart(con, schema, mart, file, where)
        rows += count
    if not per_month:  # an empty mart still has a file: the views find versions by their files
        _write_mart(con, schema, mart, target / "empty.parquet", "false")
    return rows, fingerprints, linked


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
    files = path / "*.parquet" if path.is_dir() else path
    described = con.execute(f"describe select * from read_parquet('{_sql_path(files)}')").fetchall()
    return [[name, kind] for name, kind, *_ in described]


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")


def _fsync_tree(folder: Path) -> None:
    """Flush a version's files to disk before ``current`` can point at them."""
    for entry in folder.iterdir():
        if entry.is_dir():
            _fsync_tree(entry)
            continue
        with open(entry, "rb") as handle:
            os.fsync(handle.fileno())
    _fsync_dir(folder)


def _fsync_dir(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _swap_current(bi_dir: Path, version: str) -> None:
    """Point ``current`` at ``version`` by one rename (for reading the Parquet by hand; the
    catalog's views do not use it)."""
    link = bi_dir / CURRENT
    if link.exists() and not link.is_symlink():
        raise PublishError(
            f"{link} is not the symbolic link the publish maintains; move it away and publish "
            "again (touchline publish-marts)"
        )
    temporary = bi_dir / f".{CURRENT}.{os.getpid()}"
    temporary.unlink(missing_ok=True)
    os.symlink(Path(VERSIONS) / f"{VERSION_PREFIX}{version}", temporary)
    os.replace(temporary, link)


def current_version(bi_dir: Path) -> str | None:
    """The version ``current`` points at (None: nothing published yet)."""
    link = Path(bi_dir) / CURRENT
    if not link.is_symlink():
        return None
    return Path(os.readlink(link)).name.removeprefix(VERSION_PREFIX)


def pinned_version_dir(bi_dir: Path) -> Path:
    """The folder of the current version, resolved once: for reads that must all see one
    version (several marts joined), read the files in it. It is kept for at least
    ``TOUCHLINE_BI_RETENTION_MINUTES`` after the next publish."""
    version = current_version(bi_dir)
    if version is None:
        raise PublishError(f"nothing is published in {bi_dir} yet; run touchline publish-marts")
    return version_dir(bi_dir, version)


def _catalog_spec(bi_dir: Path, columns: dict[str, list[list[str]]]) -> dict:
    return {
        "bi_dir": str(bi_dir),
        "layout": _LAYOUT,
        "views": {name: columns[name] for name in sorted(columns)},
    }


def view_sql(bi_dir: Path, name: str, columns: list[list[str]]) -> str:
    """The query of the view of ``name`` (a mart, or ``publication``): the rows of the
    newest version, found by a first listing of every version's file.

    Two listings: ``newest`` (the newest stamp) and the rows joined to it. DuckDB binds the
    left side of the join first, so ``newest`` lists the folder no later than the rows'
    scan does, and the scan's listing holds that version too (a version is never deleted
    while it may be the newest of a listing: its grace period). The join's filter reaches
    the rows' scan, which then opens only the newest version's file. A newest side bound
    second could name a version published between the two listings and keep no row: the
    concurrent test in ``tests/include/test_bi_publish.py`` publishes exactly there.
    ``union_by_name`` and the casts keep the view's columns those of the newest version
    while an older one, with other columns, is still listed.
    """
    select = ", ".join(f'cast(t."{column}" as {kind}) as "{column}"' for column, kind in columns)
    scan = (
        f"read_parquet('{_sql_path(mart_glob(bi_dir, name))}', hive_partitioning = true, "
        f"hive_types = {{'{VERSION_COLUMN}': varchar}}, union_by_name = true)"
    )
    return (
        f"select {select} from (select max({VERSION_COLUMN}) as newest from {scan}) as n "
        f"join {scan} as t on t.{VERSION_COLUMN} = n.newest"
    )


def _ensure_catalog(bi_dir: Path, columns: dict[str, list[list[str]]]) -> bool:
    """Write ``marts.duckdb`` when it is missing or its views' marts or columns changed.

    Unchanged, it is left alone: its views list the versions on every query, so connections
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
            for name, view_columns in spec["views"].items():
                con.execute(f'create view "{name}" as {view_sql(bi_dir, name, view_columns)}')
            con.execute("checkpoint")
        os.replace(temporary, catalog)
    finally:
        for leftover in (temporary, temporary.with_name(temporary.name + ".wal")):
            leftover.unlink(missing_ok=True)
    spec_file.write_text(json.dumps(spec, indent=1) + "\n")
    log.info("wrote %s: views over %s", catalog, bi_dir / VERSIONS)
    return True


def prune(
    bi_dir: Path,
    keep: int = KEEP_VERSIONS,
    retention: dt.timedelta | None = None,
    now: dt.datetime | None = None,
) -> list[str]:
    """Delete the versions that stopped being the newest more than ``retention`` ago
    (default ``TOUCHLINE_BI_RETENTION_MINUTES``), always keeping the newest ``keep`` and the
    one ``current`` points at; ``now``: the time to measure from (default: now).

    A version stops being the newest when the next one is published (the next one's stamp),
    so a query that listed it has ``retention`` to finish. Also removes what an interrupted
    publish left (``versions/.partial-*``), and version folders of the layout before
    ``v=<stamp>``. Takes the folder's publish lock; returns the versions deleted.
    """
    bi_dir = Path(bi_dir)
    if not (bi_dir / VERSIONS).is_dir():
        return []
    with _publishing(bi_dir):
        return _prune(bi_dir, keep, retention, now)


def _prune(
    bi_dir: Path,
    keep: int,
    retention: dt.timedelta | None = None,
    now: dt.datetime | None = None,
) -> list[str]:
    versions = Path(bi_dir) / VERSIONS
    if not versions.is_dir():
        return []
    if retention is None:
        retention = dt.timedelta(minutes=bi_retention_minutes())
    now = now or dt.datetime.now(dt.UTC)
    current = current_version(bi_dir)
    for entry in versions.iterdir():
        # interrupted publishes (and the previous layout's ``.<stamp>.partial``)
        if entry.name.startswith(_PARTIAL) or (
            entry.name.startswith(".") and entry.name.endswith(".partial")
        ):
            shutil.rmtree(entry, ignore_errors=True)
    # folders of the layout before v=<stamp>: older than every v= version
    legacy = sorted(
        entry.name
        for entry in versions.iterdir()
        if not entry.name.startswith((".", VERSION_PREFIX)) and (entry / MANIFEST).is_file()
    )
    complete = [(name, versions / name) for name in legacy] + [
        (version, version_dir(bi_dir, version)) for version in _versions(versions)
    ]
    removed = []
    for index, (name, folder) in enumerate(complete[: max(0, len(complete) - keep)]):
        if name == current:
            continue
        superseded = _stamp_time(complete[index + 1][0])
        if superseded is not None and now - superseded >= retention:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(name)
    return removed


def read_manifest(bi_dir: Path, version: str | None = None) -> dict:
    """The manifest of ``version`` (default: the current one)."""
    bi_dir = Path(bi_dir)
    version = version or current_version(bi_dir)
    if version is None:
        raise PublishError(f"nothing is published in {bi_dir} yet; run touchline publish-marts")
    return json.loads((version_dir(bi_dir, version) / MANIFEST).read_text())
