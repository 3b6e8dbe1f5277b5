"""The warehouse: one ``dbt build`` on a working copy, published only when it passed.

DuckDB allows one writer per file, and readers (BI tools, exports) should never see a half
built warehouse. So a build copies the published file, runs every model and test of the
dbt project against the copy in a single dbt process, and on success keeps the copy as the
*candidate*. The nightly DAG validates the candidate's marts (the gate before export) and
only then renames it over the published file (an atomic rename); a direct build may publish
at once. A failed build or a failed gate leaves the published file as it was.

The daily history tables hold one row per account per day. A first build (or one long
behind) adds every day at once unless that exceeds a budget of account-days: then the
history models run first in batches of days, each its own dbt process on the same working
copy, and the build adds the last day (see ``catch_up_history``).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from touchline.config import (
    Settings,
    dbt_threads,
    duckdb_memory_limit,
    evidence_every_days,
    history_batch_account_days,
)
from touchline.config import default_memory_limit as default_memory_limit  # for bench.py
from touchline.errors import BuildError
from touchline.landing import previous_partition, published_partitions
from touchline.quality.dbt_tests import FailedTest, explain, failed_data_tests

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BuildResult:
    run_date: dt.date
    warehouse: Path
    seconds: float
    nodes: dict[str, int]  # status -> count
    history_batches: int = 0  # history runs before the build (a long first build)
    stale_sources: list[str] = field(default_factory=list)  # sources whose freshness warns
    evidence: bool = True  # whether the evidence marts were computed again (evidence_due)

    def as_dict(self) -> dict:
        return {
            "run_date": self.run_date.isoformat(),
            "warehouse": str(self.warehouse),
            "seconds": round(self.seconds, 2),
            "nodes": self.nodes,
            "stale_sources": self.stale_sources,
            "history_batches": self.history_batches,
            "evidence": self.evidence,
        }


def dbt_executable() -> str:
    candidate = Path(sys.executable).with_name("dbt")
    return str(candidate) if candidate.exists() else "dbt"


# unit tests check the SQL logic on fixtures: the test suite runs them, a nightly build
# (which may start from an empty warehouse) does not need them
BUILD_EXCLUDED = ["test_type:unit"]
# the models that read the whole history to grade it (models/*/evidence), and their tests
EVIDENCE_SELECTOR = "tag:evidence"


def build_args(evidence: bool = True) -> list[str]:
    """The nightly ``dbt build``: every model, seed and data test, the evidence if asked."""
    excluded = BUILD_EXCLUDED if evidence else [*BUILD_EXCLUDED, EVIDENCE_SELECTOR]
    return ["build", "--fail-fast", "--exclude", *excluded]


def evidence_as_of(warehouse: Path) -> dt.date | None:
    """The history day the evidence marts of ``warehouse`` were computed through (None: never)."""
    if not warehouse.exists():
        return None
    with duckdb.connect(str(warehouse), read_only=True) as con:
        schema = table_schema(con, "evidence_as_of")
        if schema is None:
            return None
        found = con.execute(f'select max(as_of_date) from "{schema}".evidence_as_of').fetchone()
    return found[0]


def evidence_due(run_date: dt.date, warehouse: Path) -> bool:
    """Whether a build of ``run_date`` on ``warehouse`` computes the evidence marts again.

    Yes when they were never computed, or ``TOUCHLINE_EVIDENCE_EVERY_DAYS`` days or more
    before ``run_date``. Never for a date older than the newest stored day: a past date's
    build publishes only its history rows, and the evidence stays as of the newest day.
    """
    newest = newest_history_day(warehouse)
    if newest is not None and run_date < newest:
        return False
    as_of = evidence_as_of(warehouse)
    return as_of is None or (run_date - as_of).days >= evidence_every_days()


# a history batch: the daily history (health and its ledger, the last of it) and its
# parents, and the record of the days each run wrote (which the BI publication reads)
HISTORY_MODELS = "+int_account_health_contributions_daily int_history_writes_daily"


def history_batch_days(paths: Settings, run_date: dt.date) -> int | None:
    """The days one history run adds: the account-day budget over the accounts landed.

    TOUCHLINE_HISTORY_BATCH_ACCOUNT_DAYS overrides the budget (4 million: a medium-scale
    history, 20,000 accounts over 180 days, in one run; 200,000 accounts in 20-day batches).
    None when no accounts have landed by ``run_date``.
    """
    latest = previous_partition(paths.landing_dir, "accounts", run_date, days_back=0)
    if latest is None:
        return None
    budget = history_batch_account_days()
    with duckdb.connect() as con:
        (accounts,) = con.execute(
            "select count(*) from read_parquet(?)", [str(latest[1])]
        ).fetchone()
    return max(1, budget // max(1, accounts))


def newest_history_day(warehouse: Path) -> dt.date | None:
    """The newest day of the daily history in ``warehouse`` (None: no history built yet)."""
    if not warehouse.exists():
        return None
    with duckdb.connect(str(warehouse), read_only=True) as con:
        schema = table_schema(con, "int_account_tiers_daily")
        if schema is None:
            return None
        (newest,) = con.execute(
            f'select max(history_date) from "{schema}".int_account_tiers_daily'
        ).fetchone()
    return newest


def table_schema(con: duckdb.DuckDBPyConnection, table: str) -> str | None:
    """The schema holding ``table`` in the database of ``con`` (None: no such table)."""
    found = con.execute(
        "select table_schema from information_schema.tables"
        " where table_name = ? and table_catalog = current_database()",
        [table],
    ).fetchone()
    return found[0] if found else None


def history_batch_vars(batch_days: int, through: dt.date) -> dict:
    """The dbt vars of one history batch: at most ``batch_days`` days, up to ``through``."""
    return {"history_batch_days": batch_days, "history_through": through.isoformat()}


def history_batches(
    paths: Settings, run_date: dt.date, warehouse: Path
) -> tuple[int, dt.date] | None:
    """(days per batch, first day) when the history needs batches before the build, else None.

    Needed when the days the build would add, times the accounts, exceed the budget of
    ``history_batch_days``.
    """
    batch_days = history_batch_days(paths, run_date)
    if batch_days is None:
        return None
    newest = newest_history_day(warehouse)
    if newest is not None:
        first = newest + dt.timedelta(days=1)
    else:
        landed = published_partitions(paths.landing_dir, "accounts")
        first = min(day for day in landed if day <= run_date)
    if (run_date - first).days + 1 <= batch_days:
        return None
    return batch_days, first


def catch_up_history(
    paths: Settings,
    run_date: dt.date,
    warehouse: Path,
    run_batch: Callable[[dict], None] | None = None,
) -> int:
    """Build the history models in batches up to the day before ``run_date``, if needed.

    Needed when :func:`history_batches` says so. By default each batch is a ``dbt build`` of
    the history models and their seeds (no tests: the build that follows tests every row);
    ``run_batch(vars)`` runs a batch some other way. Returns the batches run.
    """
    planned = history_batches(paths, run_date, warehouse)
    if planned is None:
        return 0
    batch_days, first = planned
    newest = newest_history_day(warehouse)
    through = run_date - dt.timedelta(days=1)
    if run_batch is None:

        def run_batch(batch_vars: dict) -> None:
            _run_checked(
                [
                    "build",
                    "--select",
                    HISTORY_MODELS,
                    "--resource-type",
                    "model",
                    "--resource-type",
                    "seed",
                    "--vars",
                    json.dumps(batch_vars),
                ],
                paths,
                run_date,
                warehouse,
                what=f"history batch from {first}",
            )

    batches = 0
    while newest is None or newest < through:
        log.info("history batch %d: up to %d days from %s", batches + 1, batch_days, first)
        run_batch(history_batch_vars(batch_days, through))
        batches += 1
        reached = newest_history_day(warehouse)
        if reached is None or (newest is not None and reached <= newest):
            raise BuildError(
                f"history batch from {first} for {run_date} added no days; "
                "the published warehouse is unchanged."
            )
        newest, first = reached, reached + dt.timedelta(days=1)
    return batches


def dbt_env(
    paths: Settings, run_date: dt.date, warehouse: Path, tested_from: dt.date | None = None
) -> dict[str, str]:
    """The environment of a dbt process; ``tested_from``: see :func:`first_tested_day`."""
    env = dict(os.environ)
    env.pop(TESTED_FROM_ENV, None)
    if tested_from is not None:
        env[TESTED_FROM_ENV] = tested_from.isoformat()
    env.update(
        # the build's settings, always passed: dbt's profile has defaults for a bare dbt only
        TOUCHLINE_DUCKDB_MEMORY_LIMIT=duckdb_memory_limit(),
        TOUCHLINE_DBT_THREADS=str(dbt_threads()),
        TOUCHLINE_WAREHOUSE=str(warehouse),
        TOUCHLINE_LANDING_DIR=str(paths.landing_dir),
        TOUCHLINE_RUN_DATE=run_date.isoformat(),
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
        DBT_USE_COLORS="false",
        DBT_PROFILES_DIR=str(paths.dbt_project_dir),
    )
    return env


# the first day a build's data tests check in the tables that grow by day (macros/tested_days.sql)
TESTED_FROM_ENV = "TOUCHLINE_TESTED_FROM"


def first_tested_day(run_date: dt.date, warehouse: Path) -> dt.date | None:
    """The first day a build of ``run_date`` on ``warehouse`` adds: its data tests check the
    days from there on in the tables that grow by day (the earlier days passed the builds that
    added them). None on a first build: every row is tested."""
    newest = newest_history_day(warehouse)
    if newest is None:
        return None
    return min(run_date, newest + dt.timedelta(days=1))


def run_dbt(
    args: list[str],
    paths: Settings,
    run_date: dt.date,
    warehouse: Path,
    then: list[list[str]] = (),
    tested_from: dt.date | None = None,
) -> subprocess.CompletedProcess:
    """Run one dbt command on ``warehouse`` in its own process (the file is closed on exit).

    ``then``: more dbt commands run after ``args`` in the same process, each only if the one
    before succeeded, all served by one parse of the project (``touchline.dbt_steps``).
    ``tested_from``: the first day the data tests check in the tables that grow by day.
    """
    state = paths.state_dir
    common = [
        "--project-dir",
        str(paths.dbt_project_dir),
        "--profiles-dir",
        str(paths.dbt_project_dir),
        "--target-path",
        str(state / "dbt-target"),
        "--log-path",
        str(state / "dbt-logs"),
    ]
    if then:
        steps = json.dumps({"common": common, "steps": [args, *then]})
        command = [sys.executable, "-m", "touchline.dbt_steps", steps]
    else:
        command = [dbt_executable(), *args, *common]
    state.mkdir(parents=True, exist_ok=True)
    named = [" ".join(w for w in step[:2] if not w.startswith("-")) for step in [args, *then]]
    log.info("running dbt %s", ", then ".join(named))
    return subprocess.run(
        command,
        env=dbt_env(paths, run_date, warehouse, tested_from),
        cwd=paths.dbt_project_dir,
        capture_output=True,
        text=True,
        check=False,
    )


def _failures(run_results: Path) -> tuple[dict[str, int], list[str]]:
    if not run_results.exists():
        return {}, []
    results = json.loads(run_results.read_text())["results"]
    counts: dict[str, int] = {}
    failures = []
    for result in results:
        counts[result["status"]] = counts.get(result["status"], 0) + 1
        if result["status"] in ("error", "fail"):
            message = " ".join((result.get("message") or result["status"]).split())
            failures.append(f"{result['unique_id']}: {message[:500]}")
    return counts, failures


def _run_checked(
    args: list[str],
    paths: Settings,
    run_date: dt.date,
    warehouse: Path,
    what: str = "dbt build",
    tested_from: dt.date | None = None,
) -> dict[str, int]:
    """Run dbt; its node counts by status, or BuildError naming every failed node."""
    completed = run_dbt(args, paths, run_date, warehouse, tested_from=tested_from)
    return _checked(completed, paths, run_date, warehouse, what)


def _checked(
    completed: subprocess.CompletedProcess,
    paths: Settings,
    run_date: dt.date,
    warehouse: Path,
    what: str = "dbt build",
) -> dict[str, int]:
    """The node counts by status of the dbt run that ended as ``completed``, or BuildError."""
    run_results = paths.state_dir / "dbt-target" / "run_results.json"
    counts, failures = _failures(run_results)
    if completed.returncode != 0:
        tests = _explain_failed_tests(failed_data_tests(run_results), paths, run_date, warehouse)
        if tests:
            failures = [f"- {test.describe()}" for test in tests] + [
                line for line in failures if not line.startswith("test.")
            ]
        detail = "\n".join(failures) or _tail(completed.stdout + completed.stderr)
        raise BuildError(
            f"{what} for {run_date} failed; the published warehouse is unchanged.\n{detail}",
            tests=[test.as_dict() for test in tests],
        )
    return counts


def check_freshness(
    paths: Settings,
    run_date: dt.date,
    warehouse: Path,
    then: list[list[str]] = (),
    tested_from: dt.date | None = None,
) -> tuple[list[str], subprocess.CompletedProcess]:
    """``dbt source freshness`` as of ``run_date``: the sources that warn, in words.

    Each source declares its thresholds (models/staging/*/_*__sources.yml); its age is the
    run date less its newest landed partition. Past ``error_after`` the build stops with
    BuildError naming each stale source, before anything is built. ``then``: dbt commands
    the same process runs once the sources pass (see :func:`run_dbt`, also for
    ``tested_from``); the process is returned with the warnings.
    """
    completed = run_dbt(
        ["source", "freshness"], paths, run_date, warehouse, then=then, tested_from=tested_from
    )
    found = paths.state_dir / "dbt-target" / "sources.json"
    if not found.exists():
        raise BuildError(
            f"dbt source freshness for {run_date} did not run; the published warehouse is "
            f"unchanged.\n{_tail(completed.stdout + completed.stderr)}"
        )
    warned, stale = [], []
    for result in json.loads(found.read_text())["results"]:
        name = result["unique_id"].removeprefix("source.touchline.")
        newest = (result.get("max_loaded_at") or "")[:10] or "never"
        if result["status"] == "runtime error":
            stale.append(f"{name}: {' '.join((result.get('error') or '').split())[:300]}")
            continue
        age = (result.get("max_loaded_at_time_ago_in_s") or 0) / 86400
        line = f"{name}: newest partition {newest}, {age:.1f} days before {run_date}"
        if result["status"] == "warn":
            warned.append(line)
        elif result["status"] == "error":
            stale.append(line)
    if stale:
        raise BuildError(
            f"sources too stale to build {run_date} (past their error_after); the published "
            "warehouse is unchanged.\n" + "\n".join(f"- {line}" for line in stale)
        )
    for line in warned:
        log.warning("source freshness: %s", line)
    return warned, completed


def _explain_failed_tests(
    test_ids: list[str], paths: Settings, run_date: dt.date, warehouse: Path
) -> list[FailedTest]:
    """Run the failed data tests again, storing their rows, and say what they found.

    Best effort: the build has failed either way, so a failure here leaves the plain dbt
    message in place.
    """
    if not test_ids:
        return []
    names = [test_id.split(".")[2] for test_id in test_ids]
    try:
        run_dbt(["test", "--store-failures", "--select", *names], paths, run_date, warehouse)
        return explain(paths.state_dir / "dbt-target", warehouse)
    except Exception:  # noqa: BLE001 - the build's own error is what matters
        log.warning("could not read the failing rows of %s", ", ".join(names), exc_info=True)
        return []


def candidate_path(paths: Settings) -> Path:
    """The last passed build, waiting for the gate before export."""
    return paths.warehouse.with_name(f".{paths.warehouse.name}.candidate")


# the daily history (published by the fct_ marts over them): a past date's rows replace that
# day's rows in the published file
DAILY_HISTORY_TABLES = (
    "int_account_health_daily",
    "int_account_tiers_daily",
    "int_history_writes_daily",  # which run wrote each day: the BI publication reads it
)
# the stores of landed events: a past date's build holds them whole, with its late records
EVENT_STORE_TABLES = ("int_usage_events", "int_ticket_versions")
# the models that carry running state from the last run: dropped after a past date, so the
# next run folds them again from the facts (late records included)
CARRIED_TABLES = (
    "int_account_measure_changes_daily",
    "int_account_user_spans",
    "int_account_core_feature_spans",
)


def published_date(warehouse: Path) -> dt.date | None:
    """The run date the published warehouse holds (None: nothing published yet)."""
    return newest_history_day(warehouse)


def is_past_date(paths: Settings, run_date: dt.date) -> bool:
    """Whether ``run_date`` is older than the date the published warehouse holds."""
    published = published_date(paths.warehouse)
    return published is not None and run_date < published


def past_build_path(paths: Settings, run_date: dt.date) -> Path:
    """Where a past date's passed build waits for its own files (never published)."""
    return paths.state_dir / "past" / f"{run_date.isoformat()}.duckdb"


def publish_candidate(paths: Settings, run_date: dt.date | None = None) -> Path:
    """Publish the candidate: an atomic rename, or for a past date only its history rows.

    The published warehouse always holds the newest date. A candidate built for an older
    date (late data, a backfill, a re-run of yesterday) replaces only that day's rows of the
    daily history marts and the event stores in the published file; its marts of the day
    are kept at ``past_build_path`` for that day's own files, never published.
    """
    candidate = candidate_path(paths)
    if not candidate.exists():
        raise BuildError(f"no built warehouse to publish at {candidate}; run the build first")
    built_for = run_date or _run_date_of(candidate)
    published = published_date(paths.warehouse)
    if published is not None and built_for < published:
        _merge_past_day(paths, candidate, built_for)
        kept = past_build_path(paths, built_for)
        kept.parent.mkdir(parents=True, exist_ok=True)
        os.replace(candidate, kept)
        log.info(
            "%s is older than the published %s: its history rows were merged into %s, which "
            "still holds %s",
            built_for,
            published,
            paths.warehouse,
            published,
        )
        return paths.warehouse
    os.replace(candidate, paths.warehouse)
    log.info("published %s", paths.warehouse)
    return paths.warehouse


def _run_date_of(built: Path) -> dt.date:
    with duckdb.connect(str(built), read_only=True) as con:
        schema = table_schema(con, "int_history_days")
        (day,) = con.execute(
            f'select max(history_date) from "{schema}".int_history_days'
        ).fetchone()
    return day


def _merge_past_day(paths: Settings, candidate: Path, day: dt.date) -> None:
    """Copy a past day's history rows from ``candidate`` into a copy of the published file.

    The copy replaces the published file by one rename, so readers see the old file or the
    new one. Carried running state is dropped: the next run folds it again from the facts,
    which now hold the day's late records.
    """
    published = paths.warehouse
    merging = published.with_name(f".{published.name}.merging")
    for leftover in (merging, merging.with_name(merging.name + ".wal")):
        leftover.unlink(missing_ok=True)
    shutil.copyfile(published, merging)
    try:
        with duckdb.connect(str(merging)) as con:
            quoted = str(candidate).replace("'", "''")
            con.execute(f"attach '{quoted}' as past (read_only)")
            for table in DAILY_HISTORY_TABLES:
                schema = table_schema(con, table)
                con.execute(f'delete from "{schema}".{table} where history_date = ?', [day])
                con.execute(
                    f'insert into "{schema}".{table} by name '
                    f'select * from past."{schema}".{table} where history_date = ?',
                    [day],
                )
            for table in EVENT_STORE_TABLES:
                schema = table_schema(con, table)
                con.execute(
                    f'create or replace table "{schema}".{table} as '
                    f'select * from past."{schema}".{table}'
                )
            for table in CARRIED_TABLES:
                schema = table_schema(con, table)
                if schema is not None:
                    con.execute(f'drop table "{schema}".{table}')
            con.execute("detach past")
            con.execute("checkpoint")
        os.replace(merging, published)
    finally:
        for leftover in (merging, merging.with_name(merging.name + ".wal")):
            leftover.unlink(missing_ok=True)


def discard_candidate(paths: Settings) -> None:
    candidate = candidate_path(paths)
    for leftover in (candidate, candidate.with_name(candidate.name + ".wal")):
        leftover.unlink(missing_ok=True)


def build(paths: Settings, run_date: dt.date, publish: bool = True) -> BuildResult:
    """Build every model, seed and test for ``run_date``; publish it, or keep the candidate."""
    started = time.monotonic()
    published = paths.warehouse
    published.parent.mkdir(parents=True, exist_ok=True)
    working = published.with_name(f".{published.name}.building")
    discard_candidate(paths)
    shutil.rmtree(paths.state_dir / "past", ignore_errors=True)
    for leftover in (working, working.with_name(working.name + ".wal")):
        leftover.unlink(missing_ok=True)
    if published.exists():
        shutil.copyfile(published, working)
    try:
        first_tested = first_tested_day(run_date, working)
        evidence = evidence_due(run_date, working)
        if not evidence:
            log.info(
                "the evidence marts stay as of %s (computed every %d days)",
                evidence_as_of(working),
                evidence_every_days(),
            )
        args = build_args(evidence)
        if history_batches(paths, run_date, working) is None:
            # the usual night: one dbt process checks the sources and builds
            stale, completed = check_freshness(
                paths, run_date, working, then=[args], tested_from=first_tested
            )
            batches, counts = 0, _checked(completed, paths, run_date, working)
        else:
            stale, _ = check_freshness(paths, run_date, working)
            batches = catch_up_history(paths, run_date, working)
            counts = _run_checked(args, paths, run_date, working, tested_from=first_tested)
        with duckdb.connect(str(working)) as con:  # fold any write-ahead log into the file
            con.execute("checkpoint")
        os.replace(working, candidate_path(paths))
    finally:
        for leftover in (working, working.with_name(working.name + ".wal")):
            leftover.unlink(missing_ok=True)
    if publish:
        publish_candidate(paths)
    result = BuildResult(
        run_date,
        published,
        time.monotonic() - started,
        counts,
        batches,
        stale_sources=stale,
        evidence=evidence,
    )
    log.info("built %s in %.1fs: %s", candidate_path(paths), result.seconds, counts)
    return result


def _tail(text: str, lines: int = 30) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])
