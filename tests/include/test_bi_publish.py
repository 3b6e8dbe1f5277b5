"""The marts published for BI: readers never fail on a publish nor see a half-written or mixed
version, connections held open see each new day, old versions are deleted only after their
grace period, the catalog follows column changes."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from fsspec.implementations.local import LocalFileSystem

from touchline import bi_publish
from touchline.bi_publish import CATALOG, KEEP_VERSIONS, MARTS, PUBLICATION, publish
from touchline.config import REPO_ROOT

FINGERPRINT = "select count(*), sum(hash(t))::varchar from {source} t"


def wait_for(condition, what: str, timeout: float = 300.0, reader=None):
    """Poll ``condition`` until it is true; fail naming ``what`` after a generous timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if reader is not None and reader.poll() is not None:
            pytest.fail(f"the reader exited ({reader.returncode}) while waiting for {what}")
        time.sleep(0.05)
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")


def _variant(source: Path, target: Path, drop: int, extra_column: bool = False) -> Path:
    """A copy of the built warehouse whose every mart lacks ``drop`` rows (so each variant's
    marts have counts of their own; a mart of three rows or fewer stays whole);
    ``extra_column`` adds a column to dim_accounts."""
    shutil.copyfile(source, target)
    with duckdb.connect(str(target)) as con:
        kinds = dict(
            con.execute(
                "select table_name, table_type from information_schema.tables"
                " where table_schema = 'main'"
            ).fetchall()
        )
        for mart in MARTS:
            (rows,) = con.execute(f"select count(*) from main.{mart}").fetchone()
            if rows <= 3:  # an empty mart (the backtest of a short history) stays as it is
                continue
            con.execute(f"create table main._kept as select * from main.{mart} limit {rows - drop}")
            kind = "view" if kinds[mart] == "VIEW" else "table"
            con.execute(f"drop {kind} main.{mart}")
            con.execute(f"alter table main._kept rename to {mart}")
        if extra_column:
            con.execute(
                "alter table main.dim_accounts add column bi_test_flag boolean default true"
            )
        con.execute("checkpoint")
    return target


@pytest.fixture(scope="module")
def variants(built, tmp_path_factory):
    """Four warehouses: the built one less 0, 1, 2 and 3 rows of every mart."""
    paths, _ = built
    work = tmp_path_factory.mktemp("bi-variants")
    return [_variant(paths.warehouse, work / f"warehouse-{k}.duckdb", k) for k in range(4)]


def fingerprints(bi_dir: Path, version: str) -> dict[str, list]:
    """Each mart's [rows, hash of every row] in one published version, read from its files."""
    folder = bi_publish.version_dir(bi_dir, version)
    # no hive partitioning: DuckDB would otherwise add the folder's v=<stamp> as a column
    source = "read_parquet('{}', hive_partitioning = false)"
    with duckdb.connect() as con:
        return {
            mart: list(
                con.execute(
                    FINGERPRINT.format(source=source.format(mart_files(folder, mart)))
                ).fetchone()
            )
            for mart in MARTS
        }


def mart_files(folder: Path, mart: str) -> Path:
    """The Parquet of ``mart`` in a version's folder: its file, or its monthly files."""
    path = folder / f"{mart}.parquet"
    return path / "*.parquet" if path.is_dir() else path


READER = r"""
import json, os, sys, time

import duckdb

bi_dir, out_path, stop_path, marts = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4].split(",")
catalog = f"{bi_dir}/marts.duckdb"
query = "select count(*), sum(hash(t))::varchar from {source} t"
held = duckdb.connect(catalog, read_only=True)  # open the whole time, as a pool keeps it
direct = duckdb.connect()
with open(out_path, "a", encoding="utf-8") as out:
    iteration = 0
    while not os.path.exists(stop_path):
        iteration += 1
        for channel in ("held", "new", "current", "pinned"):
            fresh = duckdb.connect(catalog, read_only=True) if channel == "new" else None
            if channel == "pinned":  # resolve current once, then read that version's files
                folder = f"{bi_dir}/versions/{os.path.basename(os.readlink(bi_dir + '/current'))}"
            for mart in marts:
                if channel == "current":
                    con, source = direct, f"read_parquet('{bi_dir}/current/{mart}.parquet')"
                elif channel == "pinned":
                    source = f"read_parquet('{folder}/{mart}.parquet', hive_partitioning = false)"
                    con = direct
                else:
                    con, source = (held if fresh is None else fresh), mart
                record = {"iteration": iteration, "channel": channel, "mart": mart}
                record["started"] = time.monotonic()
                try:
                    record["read"] = list(con.execute(query.format(source=source)).fetchone())
                except Exception as exc:
                    record["error"] = f"{type(exc).__name__}: {exc}"
                record["ended"] = time.monotonic()
                out.write(json.dumps(record) + "\n")
            if fresh is not None:
                fresh.close()
        out.flush()
"""
CHANNELS = ("held", "new", "current", "pinned")


def _records(path: Path) -> list[dict]:
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    # the last line may be half written while the reader runs
    return [json.loads(line) for line in lines if line.endswith("}")]


def _iterations_seeing(records: list[dict], expected: dict[str, list]) -> set[int]:
    """The reader's iterations in which every channel read ``expected`` for every mart."""
    seen: dict[int, int] = {}
    for record in records:
        if record.get("read") == expected[record["mart"]]:
            seen[record["iteration"]] = seen.get(record["iteration"], 0) + 1
    return {i for i, reads in seen.items() if reads == len(CHANNELS) * len(MARTS)}


def _last_iteration(path: Path) -> int:
    return max((record["iteration"] for record in _records(path)), default=0)


def test_readers_never_fail_and_see_one_complete_version_while_publishing(
    variants, tmp_path, monkeypatch
):
    """A reader in another process reads every mart all the time: through a connection held
    open to the catalog, new connections to it, the Parquet under ``current`` and a version
    resolved once. It sees every publish, no read through the catalog or of a resolved
    version ever fails, and no read ever returns part of a version or a mix of two.

    Only reads of ``current/<mart>.parquet`` may fail, and only in flight at the instant
    ``current`` is swapped (DuckDB opens the file twice per query, by path): such a failure
    must overlap a swap, by the monotonic clock both processes share.
    """
    bi_dir = tmp_path / "bi"
    swaps: list[tuple[float, float]] = []
    swap = bi_publish._swap_current

    def timed_swap(*args):
        before = time.monotonic()
        swap(*args)
        swaps.append((before, time.monotonic()))

    monkeypatch.setattr(bi_publish, "_swap_current", timed_swap)
    published = [publish(variants[0], bi_dir)]
    expected = {published[0].version: fingerprints(bi_dir, published[0].version)}
    out, stop = tmp_path / "reads.jsonl", tmp_path / "stop"
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(bi_dir), str(out), str(stop), ",".join(MARTS)],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for warehouse in [*variants[1:], variants[0]]:
            before = _last_iteration(out)
            wait_for(
                lambda before=before: _last_iteration(out) > before + 1,
                "the reader to read the marts again",
                reader=reader,
            )
            result = publish(warehouse, bi_dir)
            published.append(result)
            expected[result.version] = fingerprints(bi_dir, result.version)
            after = _last_iteration(out)
            wait_for(
                lambda version=result.version, after=after: {
                    iteration
                    for iteration in _iterations_seeing(_records(out), expected[version])
                    if iteration > after
                },
                f"the reader to see version {result.version} on every channel",
                reader=reader,
            )
    finally:
        stop.touch()
        try:
            _, errors = reader.communicate(timeout=300)
        except subprocess.TimeoutExpired:
            reader.kill()
            _, errors = reader.communicate()
    assert reader.returncode == 0, errors[-3000:]
    assert len(published) >= 4
    for result in published:
        assert result.counts == {mart: expected[result.version][mart][0] for mart in MARTS}

    records = _records(out)
    known = {mart: [version[mart] for version in expected.values()] for mart in MARTS}
    failed = [record for record in records if "error" in record]
    unexplained = [
        record
        for record in failed
        if record["channel"] != "current"
        or not any(
            record["started"] <= ended and started <= record["ended"] for started, ended in swaps
        )
    ]
    catalog_reads = [record for record in records if record["channel"] in ("held", "new")]
    partial = [
        record
        for record in records
        if "read" in record and record["read"] not in known[record["mart"]]
    ]
    assert not unexplained and not partial, (
        f"{len(unexplained)} failed reads outside a swap and {len(partial)} partial or mixed "
        f"reads of {len(records)} ({len(failed)} failed in all); first failures: "
        f"{unexplained[:3]}; first partial: {partial[:3]}; "
        f"published counts: {[r.counts for r in published]}"
    )
    assert {record["channel"] for record in records} == set(CHANNELS)
    assert len(swaps) == len(published)
    # the publishes happened while the catalog was read: its reads spanned every publish
    assert len({record["iteration"] for record in catalog_reads}) > 2 * len(published)
    # nothing was deleted under the reader (every version is within its grace period)
    assert not [name for result in published for name in result.removed]


class _PublishOnFirstListing(LocalFileSystem):
    """The local disk under ``racing://``, on which a publish lands right after the first
    listing a query makes: between the view's two listings of the versions."""

    protocol = "racing"
    root_marker = "/"

    def __init__(self, land, **kwargs):
        super().__init__(**kwargs)
        self.land = land
        self.listings: list[str] = []

    def glob(self, path, **kwargs):
        found = super().glob(path, **kwargs)
        self.listings.append(path)
        if len(self.listings) == 1:
            self.land()
        return found


def test_a_publish_between_the_views_two_listings_still_gives_one_whole_version(variants, tmp_path):
    """Each view lists the versions twice (the newest stamp, then the rows). A version that
    lands between the two must not leave the query with no rows: it returns the version the
    first listing saw as newest, whole."""
    bi_dir = tmp_path / "bi"
    older = publish(variants[0], bi_dir).version
    newer = publish(variants[1], bi_dir).version
    expected = fingerprints(bi_dir, older)
    columns = json.loads((bi_dir / bi_publish._CATALOG_SPEC).read_text())["views"]
    arriving = tmp_path / "arriving"
    arriving.mkdir()
    newer_dir = bi_publish.version_dir(bi_dir, newer)
    for mart in MARTS:
        newer_dir.rename(arriving / newer_dir.name)
        disk = _PublishOnFirstListing(lambda: (arriving / newer_dir.name).rename(newer_dir))
        sql = bi_publish.view_sql(bi_dir, mart, columns[mart])
        sql = sql.replace(f"'{bi_dir}", f"'{disk.protocol}://{bi_dir}")
        with duckdb.connect() as con:
            con.register_filesystem(disk)
            read = list(con.execute(FINGERPRINT.format(source=f"({sql})")).fetchone())
        assert len(disk.listings) == 2, disk.listings
        assert newer_dir.is_dir(), "the publish did not land between the listings"
        assert read == expected[mart], f"{mart}: read {read}, the older version is {expected[mart]}"


def test_a_pooled_connection_and_a_new_one_see_the_new_day(variants, tmp_path):
    """A connection opened before a publish sees the new version on its next query, and so
    does one opened later in the same process (DuckDB gives it the cached database)."""
    bi_dir = tmp_path / "bi"
    publish(variants[0], bi_dir)
    first = bi_publish.read_manifest(bi_dir)
    pooled = duckdb.connect(str(bi_dir / CATALOG), read_only=True)
    try:
        assert (
            pooled.execute("select count(*) from dim_accounts").fetchone()[0]
            == (first["counts"]["dim_accounts"])
        )
        second = publish(variants[1], bi_dir)
        assert second.counts["dim_accounts"] == first["counts"]["dim_accounts"] - 1
        assert not second.catalog_rewritten
        for con in (pooled, duckdb.connect(str(bi_dir / CATALOG), read_only=True)):
            for mart in MARTS:
                (rows,) = con.execute(f"select count(*) from {mart}").fetchone()
                assert rows == second.counts[mart], mart
            version, run_date, mart_rows = con.execute(
                f"select any_value(version), any_value(run_date), count(*) from {PUBLICATION}"
            ).fetchone()
            assert (version, run_date, mart_rows) == (
                second.version,
                second.run_date,
                len(MARTS),
            )
    finally:
        pooled.close()


def test_superset_s_engine_sees_each_new_day_through_its_pool(variants, tmp_path):
    """The SQLAlchemy engine docs/bi.md gives Superset (duckdb-engine, the URI with four
    slashes, read_only in connect_args), with one pooled connection checked out and back
    between queries: after a publish the same pooled connection reads the new version."""
    sqlalchemy = pytest.importorskip("sqlalchemy")
    pytest.importorskip("duckdb_engine")
    bi_dir = tmp_path / "bi"
    first = publish(variants[0], bi_dir)
    engine = sqlalchemy.create_engine(
        f"duckdb:///{bi_dir / CATALOG}",
        connect_args={"read_only": True},
        poolclass=sqlalchemy.pool.QueuePool,
        pool_size=1,
        max_overflow=0,
    )
    count = sqlalchemy.text("select count(*) from dim_accounts")
    try:
        with engine.connect() as connection:
            assert connection.execute(count).scalar() == first.counts["dim_accounts"]
            raw = connection.connection.driver_connection
        second = publish(variants[1], bi_dir)
        with engine.connect() as connection:
            assert connection.connection.driver_connection is raw, "the pool opened a new one"
            assert connection.execute(count).scalar() == second.counts["dim_accounts"]
            published = connection.execute(
                sqlalchemy.text(f"select any_value(version) from {PUBLICATION}")
            ).scalar()
            assert published == second.version
    finally:
        engine.dispose()


def test_old_versions_are_deleted_after_their_grace_period(variants, tmp_path, monkeypatch):
    """A version is deleted once it has not been the newest for the retention period
    (measured from the next version's stamp; the clock is passed in), the newest two are
    always kept, and what an interrupted publish or the previous layout left is cleaned."""
    bi_dir = tmp_path / "bi"
    versions = bi_dir / bi_publish.VERSIONS
    grace = dt.timedelta(minutes=15)
    results = [publish(variants[k % len(variants)], bi_dir, retention=grace) for k in range(5)]
    names = [result.version for result in results]
    stamps = [result.published_at for result in results]
    assert names == sorted(names) and stamps == sorted(stamps)
    assert not [name for result in results for name in result.removed], "all within grace"
    assert sorted(entry.name for entry in versions.iterdir()) == [f"v={n}" for n in names]

    leftover = versions / ".partial-99999"
    leftover.mkdir()
    (leftover / "dim_accounts.parquet").write_bytes(b"half")
    legacy = versions / "19990101T000000000000Z_1998-12-31"  # a folder of the old layout
    legacy.mkdir()
    (legacy / bi_publish.MANIFEST).write_text("{}")

    def kept() -> list[str]:
        return sorted(entry.name.removeprefix("v=") for entry in versions.iterdir())

    tick = dt.timedelta(microseconds=1)
    # versions 0 and 1 stopped being the newest at stamps[1] and stamps[2]
    removed = bi_publish.prune(bi_dir, retention=grace, now=stamps[2] + grace - tick)
    assert removed == [legacy.name, names[0]]
    assert kept() == names[1:]
    assert bi_publish.prune(bi_dir, retention=grace, now=stamps[2] + grace) == [names[1]]
    # long after: all but the newest two
    assert bi_publish.prune(bi_dir, retention=grace, now=stamps[-1] + 10 * grace) == [names[2]]
    assert kept() == names[-KEEP_VERSIONS:]
    assert bi_publish.prune(bi_dir, retention=dt.timedelta(0)) == []

    # the setting is the default retention: 0 minutes keeps only the newest two at a publish
    monkeypatch.setenv("TOUCHLINE_BI_RETENTION_MINUTES", "0")
    last = publish(variants[0], bi_dir)
    assert last.removed == [names[3]]
    assert kept() == [names[4], last.version]
    assert bi_publish.current_version(bi_dir) == last.version
    assert os.readlink(bi_dir / "current") == f"versions/v={last.version}"
    manifest = bi_publish.read_manifest(bi_dir)
    assert manifest["counts"] == last.counts
    assert set(manifest["columns"]) == {*MARTS, PUBLICATION}
    # a setting that is not a number is named
    monkeypatch.setenv("TOUCHLINE_BI_RETENTION_MINUTES", "x")
    with pytest.raises(ValueError, match="TOUCHLINE_BI_RETENTION_MINUTES='x'"):
        bi_publish.prune(bi_dir, keep=0)


def test_a_publication_folder_with_an_equals_sign_is_refused(variants, tmp_path):
    with pytest.raises(bi_publish.PublishError, match="has '=' in 'a=b'"):
        publish(variants[0], tmp_path / "a=b" / "bi")


def test_the_catalog_is_rewritten_only_when_columns_change(variants, tmp_path):
    bi_dir = tmp_path / "bi"
    catalog = bi_dir / CATALOG
    assert publish(variants[0], bi_dir).catalog_rewritten
    written = catalog.stat().st_ino
    assert not publish(variants[1], bi_dir).catalog_rewritten
    assert catalog.stat().st_ino == written

    held = duckdb.connect(str(catalog), read_only=True)
    try:
        changed = _variant(variants[0], tmp_path / "changed.duckdb", 0, extra_column=True)
        result = publish(changed, bi_dir)
        assert result.catalog_rewritten
        assert catalog.stat().st_ino != written
        # a connection held across a column change keeps the old views: the new version's
        # rows, without the new column, until it reconnects
        relation = held.sql("select * from dim_accounts")
        assert "bi_test_flag" not in relation.columns
        assert len(relation.fetchall()) == result.counts["dim_accounts"]
    finally:
        held.close()
    with duckdb.connect(str(catalog), read_only=True) as con:
        columns = [row[0] for row in con.execute("describe dim_accounts").fetchall()]
        assert columns[-1] == "bi_test_flag"
        assert (
            con.execute("select count(*) from dim_accounts").fetchone()[0]
            == (result.counts["dim_accounts"])
        )


def test_publish_never_opens_the_warehouse_for_writing(variants, tmp_path):
    """The warehouse is read while another process holds it open read-only (a writer would
    be refused its lock), and its bytes are unchanged afterwards."""
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copyfile(variants[0], warehouse)
    before = warehouse.read_bytes()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys; con = duckdb.connect(sys.argv[1], read_only=True); "
            "print('open', flush=True); sys.stdin.read()",
            str(warehouse),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "open"
        result = publish(warehouse, tmp_path / "bi")
    finally:
        holder.communicate("", timeout=120)
    assert result.counts["dim_accounts"] > 0
    assert warehouse.read_bytes() == before


def test_a_missing_warehouse_is_named(tmp_path):
    with pytest.raises(bi_publish.PublishError, match="no published warehouse at .*missing"):
        publish(tmp_path / "missing.duckdb", tmp_path / "bi")


def test_the_mart_list_is_the_marts_folder():
    models = {path.stem for path in (REPO_ROOT / "dbt_project/models/marts").rglob("*.sql")}
    published = models - set(bi_publish.NOT_PUBLISHED)
    assert set(MARTS) == published, "update touchline.bi_publish.MARTS to the marts folder"
    assert set(bi_publish.NOT_PUBLISHED) <= models


def test_importing_the_module_loads_no_duckdb():
    """The DAG imports it when parsed, for the mart list and the Asset names."""
    code = (
        "import sys, touchline.bi_publish as b; "
        "print(sorted(m for m in ('duckdb', 'pandas', 'pyarrow') if m in sys.modules)); "
        "print(b.asset_name('dim_accounts'), b.mart_uri('/srv/bi', 'dim_accounts'))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.splitlines() == [
        "[]",
        "touchline_mart_dim_accounts file:///srv/bi/current/dim_accounts.parquet",
    ]


def test_the_step_and_the_command_publish_the_run_warehouse(
    variants, tmp_path, monkeypatch, capsys
):
    """``publish_marts`` (the DAG's step) and ``touchline publish-marts`` publish from the
    published warehouse into TOUCHLINE_BI_DIR; a missing warehouse fails the task at once."""
    from airflow.sdk.exceptions import AirflowFailException

    from touchline import cli, pipeline
    from touchline.config import settings

    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copyfile(variants[0], warehouse)
    monkeypatch.setenv("TOUCHLINE_BI_DIR", str(tmp_path / "bi"))
    paths = settings().with_overrides(warehouse=warehouse)
    monkeypatch.setattr(pipeline, "run_context", lambda: (dt.date(2026, 11, 1), paths))
    summary = pipeline.publish_marts()
    assert summary["run"] == "2026-11-01"
    assert summary["bi_dir"] == str(tmp_path / "bi")
    assert summary["counts"] == bi_publish.read_manifest(tmp_path / "bi")["counts"]

    assert cli.main(["publish-marts", "--warehouse", str(warehouse)]) == 0
    captured = capsys.readouterr().out  # Airflow's logging, once imported, writes here too
    printed = json.loads(captured[captured.index("{\n") :])
    assert printed["version"] == bi_publish.current_version(tmp_path / "bi") != summary["version"]

    missing = settings().with_overrides(warehouse=tmp_path / "none.duckdb")
    monkeypatch.setattr(pipeline, "run_context", lambda: (dt.date(2026, 11, 1), missing))
    with pytest.raises(AirflowFailException, match="no published warehouse at"):
        pipeline.publish_marts()
    assert cli.main(["publish-marts", "--warehouse", str(tmp_path / "none.duckdb")]) == 1
    assert "touchline publish-marts: no published warehouse" in capsys.readouterr().err


@pytest.fixture
def two_months(built, tmp_path):
    """A copy of the built warehouse whose daily history spans two months: its first days
    moved 40 days back, each day recorded as written by the first build."""
    paths, _ = built
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copyfile(paths.warehouse, warehouse)
    with duckdb.connect(str(warehouse)) as con:
        (first,) = con.execute(
            "select min(history_date) from main.int_account_tiers_daily"
        ).fetchone()
        for table in ("int_account_health_daily", "int_account_tiers_daily"):
            con.execute(
                f"update main.{table} set history_date = history_date - 40 where history_date < ?",
                [first + dt.timedelta(days=3)],
            )
        con.execute(
            "create or replace table main.int_history_writes_daily as "
            "select distinct history_date, 'first-build' as written_by "
            "from main.int_account_tiers_daily"
        )
        con.execute("checkpoint")
    return warehouse


def monthly_files(bi_dir: Path, version: str, mart: str) -> dict[str, int]:
    folder = bi_publish.version_dir(bi_dir, version) / f"{mart}.parquet"
    return {file.name: file.stat().st_ino for file in sorted(folder.iterdir())}


def write_days(warehouse: Path, where: str, run: str) -> None:
    with duckdb.connect(str(warehouse)) as con:
        con.execute(f"update main.int_history_writes_daily set written_by = ? where {where}", [run])
        con.execute("checkpoint")


def test_a_night_writes_only_the_months_a_run_wrote_again(two_months, tmp_path):
    """Months none of whose days were written since are hard links to the last version's
    files; each version still reads as the whole mart."""
    bi_dir = tmp_path / "bi"
    mart = "fct_account_health_daily"
    first = publish(two_months, bi_dir)
    before = monthly_files(bi_dir, first.version, mart)
    assert len(before) == 2, before
    old, new = sorted(before)
    write_days(
        two_months,
        "history_date = (select max(history_date) from int_history_writes_daily)",
        "night",
    )
    second = publish(two_months, bi_dir)
    after = monthly_files(bi_dir, second.version, mart)
    assert after[old] == before[old]  # the same file, linked
    assert after[new] != before[new]  # the month the night wrote
    with duckdb.connect(str(two_months), read_only=True) as con:
        expected = con.execute(FINGERPRINT.format(source=f"main.{mart}")).fetchone()
    with duckdb.connect(str(bi_dir / CATALOG), read_only=True) as con:
        assert con.execute(FINGERPRINT.format(source=mart)).fetchone() == expected
    assert fingerprints(bi_dir, second.version)[mart] == list(expected)
    # a past day written again (a backfill) writes its month again
    write_days(
        two_months,
        "history_date = (select min(history_date) from int_history_writes_daily)",
        "backfill",
    )
    third = publish(two_months, bi_dir)
    assert monthly_files(bi_dir, third.version, mart)[old] != after[old]


def test_without_a_record_of_the_writes_every_month_is_written(two_months, tmp_path):
    with duckdb.connect(str(two_months)) as con:
        con.execute("drop table main.int_history_writes_daily")
        con.execute("checkpoint")
    bi_dir = tmp_path / "bi"
    first = publish(two_months, bi_dir)
    second = publish(two_months, bi_dir)
    mart = "fct_account_tiers_daily"
    before, after = (monthly_files(bi_dir, v.version, mart) for v in (first, second))
    assert before.keys() == after.keys() and not set(before.values()) & set(after.values())
