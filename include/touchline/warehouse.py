"""The warehouse: one ``dbt build`` on a working copy, published only when it passed.

DuckDB allows one writer per file, and readers (BI tools, exports) should never see a half
built warehouse. So a build copies the published file, runs every model and test of the
dbt project against the copy in a single dbt process, and on success keeps the copy as the
*candidate*. The nightly DAG validates the candidate's marts (the gate before export) and
only then renames it over the published file (an atomic rename); a direct build may publish
at once. A failed build or a failed gate leaves the published file as it was.
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
from dataclasses import dataclass
from pathlib import Path

import duckdb

from touchline.config import Settings

log = logging.getLogger(__name__)


class BuildError(RuntimeError):
    """dbt build failed; the published warehouse is unchanged."""


@dataclass(frozen=True)
class BuildResult:
    run_date: dt.date
    warehouse: Path
    seconds: float
    nodes: dict[str, int]  # status -> count

    def as_dict(self) -> dict:
        return {
            "run_date": self.run_date.isoformat(),
            "warehouse": str(self.warehouse),
            "seconds": round(self.seconds, 2),
            "nodes": self.nodes,
        }


def dbt_executable() -> str:
    candidate = Path(sys.executable).with_name("dbt")
    return str(candidate) if candidate.exists() else "dbt"


MEMORY_LIMIT_CAP = 6 * 1024**3  # the most the build takes by default (it spills beyond)
MEMORY_LIMIT_SHARE = 0.6  # and at most this share of the machine's memory


def default_memory_limit() -> str:
    """DuckDB's memory limit for the build: 6 GB, or 60% of a smaller machine's memory.

    DuckDB's own default (80% of the memory) is a target it fills on a large rebuild; below
    the limit, joins, sorts and aggregates spill to disk (a medium-scale rebuild: 6.7 GB
    instead of 16.7 GB peak, 15% slower). TOUCHLINE_DUCKDB_MEMORY_LIMIT overrides it.
    """
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        total = MEMORY_LIMIT_CAP
    return f"{min(MEMORY_LIMIT_CAP, int(total * MEMORY_LIMIT_SHARE)) // 1024**2}MB"


def dbt_env(paths: Settings, run_date: dt.date, warehouse: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("TOUCHLINE_DUCKDB_MEMORY_LIMIT", default_memory_limit())
    env.update(
        TOUCHLINE_WAREHOUSE=str(warehouse),
        TOUCHLINE_LANDING_DIR=str(paths.landing_dir),
        TOUCHLINE_RUN_DATE=run_date.isoformat(),
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
        DBT_USE_COLORS="false",
        DBT_PROFILES_DIR=str(paths.dbt_project_dir),
    )
    return env


def run_dbt(
    args: list[str], paths: Settings, run_date: dt.date, warehouse: Path
) -> subprocess.CompletedProcess:
    """Run one dbt command on ``warehouse`` in its own process (the file is closed on exit)."""
    state = paths.state_dir
    command = [
        dbt_executable(),
        *args,
        "--project-dir",
        str(paths.dbt_project_dir),
        "--profiles-dir",
        str(paths.dbt_project_dir),
        "--target-path",
        str(state / "dbt-target"),
        "--log-path",
        str(state / "dbt-logs"),
    ]
    state.mkdir(parents=True, exist_ok=True)
    log.info("running %s", " ".join(command[:2]))
    return subprocess.run(
        command,
        env=dbt_env(paths, run_date, warehouse),
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


def candidate_path(paths: Settings) -> Path:
    """The last passed build, waiting for the gate before export."""
    return paths.warehouse.with_name(f".{paths.warehouse.name}.candidate")


def publish_candidate(paths: Settings) -> Path:
    """Make the candidate the published warehouse (an atomic rename)."""
    candidate = candidate_path(paths)
    if not candidate.exists():
        raise BuildError(f"no built warehouse to publish at {candidate}; run the build first")
    os.replace(candidate, paths.warehouse)
    log.info("published %s", paths.warehouse)
    return paths.warehouse


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
    for leftover in (working, working.with_name(working.name + ".wal")):
        leftover.unlink(missing_ok=True)
    if published.exists():
        shutil.copyfile(published, working)
    try:
        # unit tests check the SQL logic on fixtures: the test suite runs them, a nightly
        # build (which may start from an empty warehouse) does not need them
        completed = run_dbt(
            ["build", "--fail-fast", "--exclude", "test_type:unit"], paths, run_date, working
        )
        counts, failures = _failures(paths.state_dir / "dbt-target" / "run_results.json")
        if completed.returncode != 0:
            detail = "\n".join(failures) or _tail(completed.stdout + completed.stderr)
            raise BuildError(
                f"dbt build for {run_date} failed; the published warehouse is unchanged.\n{detail}"
            )
        with duckdb.connect(str(working)) as con:  # fold any write-ahead log into the file
            con.execute("checkpoint")
        os.replace(working, candidate_path(paths))
    finally:
        for leftover in (working, working.with_name(working.name + ".wal")):
            leftover.unlink(missing_ok=True)
    if publish:
        publish_candidate(paths)
    result = BuildResult(run_date, published, time.monotonic() - started, counts)
    log.info("built %s in %.1fs: %s", candidate_path(paths), result.seconds, counts)
    return result


def _tail(text: str, lines: int = 30) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])
