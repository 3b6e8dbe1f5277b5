"""Run the nightly DAG through Airflow itself, with a project-local Airflow home.

``touchline run`` uses this: an embedded Airflow (SQLite metadata DB under
``$TOUCHLINE_HOME/airflow``, copied from a template migrated once per Airflow version, with
the ``warehouse_writer`` pool), then ``airflow dags test`` for the requested logical date
with the paths as the run's params.
The run's final state is read back from the metadata DB, so a failed task means a non-zero
exit and a readable message naming the task and its error.

One run at a time per warehouse, and per date in an Airflow home: a run holds a lock on
each (``<warehouse state>/run.lock``, ``runs/<date>/run.lock``) for its whole length, with
its date, pid and log written in the lock file, and a second run is refused at once with
what the first one is. Each run logs to its own file, ``runs/<date>/<started>-<pid>.log``;
``runs/<date>.log`` links to the latest.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import logging
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

from touchline.config import DAG_ID, REPO_ROOT, SEND_PARAM, WAREHOUSE_POOL, Settings

log = logging.getLogger(__name__)

SCHEMA_STAMP = "touchline-airflow-ready"
ON_DATE = "substr(logical_date, 1, 10) = ?"  # logical dates are stored as 'YYYY-MM-DD hh:mm:ss'


class PipelineError(RuntimeError):
    """The DAG run did not succeed."""


class RunInProgress(PipelineError):
    """Another run holds the warehouse (or the date): this one did not start."""


@dataclass(frozen=True)
class DagRunOutcome:
    run_id: str
    state: str
    task_states: dict[str, str]
    log_path: Path


def airflow_home(paths: Settings) -> Path:
    return paths.home / "airflow"


def airflow_env(paths: Settings) -> dict[str, str]:
    home = airflow_home(paths)
    env = dict(os.environ)
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(REPO_ROOT / "dags"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home / 'airflow.db'}",
        AIRFLOW__CORE__EXECUTOR="LocalExecutor",
        AIRFLOW__LOGGING__LOGGING_LEVEL=os.environ.get("AIRFLOW__LOGGING__LOGGING_LEVEL", "INFO"),
        # The DAG's default params (read at parse time) point at the same paths.
        TOUCHLINE_HOME=str(paths.home),
        TOUCHLINE_SOURCE_DIR=str(paths.source_dir),
        TOUCHLINE_LANDING_DIR=str(paths.landing_dir),
        TOUCHLINE_WAREHOUSE=str(paths.warehouse),
        TOUCHLINE_OUTPUT_DIR=str(paths.output_dir),
        TOUCHLINE_DBT_PROJECT_DIR=str(paths.dbt_project_dir),
        TOUCHLINE_EXPECTATIONS_DIR=str(paths.expectations_dir),
        TOUCHLINE_SOURCES=str(paths.sources_file),
        # No deadline alert: no scheduler watches a run made here, and this command waits for
        # the run and reports its outcome itself (Airflow 3.3's `dags test` also fails at the
        # end of a run whose DAG declares a deadline).
        TOUCHLINE_LISTS_DEADLINE_MINUTES="0",
    )
    return env


def _airflow_command(*args: str) -> list[str]:
    return [str(Path(sys.executable).with_name("airflow")), *args]


def _airflow(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        _airflow_command(*args), env=env, capture_output=True, text=True, check=False
    )


def ensure_airflow(paths: Settings) -> None:
    """Give the home its metadata DB (migrated, with the one-slot writer pool), once.

    Migrating a new SQLite DB costs Airflow ten seconds or so, the same ten for every home:
    the first home of an Airflow version migrates a template DB in the user's cache
    (:func:`metadata_template`), and each new home starts from a copy of it.
    """
    home = airflow_home(paths)
    stamp = home / SCHEMA_STAMP
    if stamp.exists():
        return
    home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(metadata_template(), _metadata_db(paths))
    stamp.write_text("ready\n")


def metadata_template() -> Path:
    """A migrated metadata DB with the writer pool, for this Airflow version (made once).

    It lives under ``$XDG_CACHE_HOME/touchline`` (``~/.cache/touchline``); it is written in
    a scratch folder and renamed into place, so a home never copies a half-migrated file.
    """
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "touchline"
    template = cache / f"airflow-{version('apache-airflow')}-metadata.db"
    if template.exists():
        return template
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".airflow-template-", dir=cache) as scratch:
        env = dict(os.environ)
        env.update(
            AIRFLOW_HOME=scratch,
            AIRFLOW__CORE__LOAD_EXAMPLES="False",
            AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{Path(scratch) / 'airflow.db'}",
        )
        for args in (
            ["db", "migrate"],
            ["pools", "set", WAREHOUSE_POOL, "1", "One writer to the DuckDB warehouse at a time"],
        ):
            completed = _airflow(args, env)
            if completed.returncode != 0:
                output = (completed.stdout + completed.stderr)[-3000:]
                raise PipelineError(f"airflow {' '.join(args[:2])} failed:\n{output}")
        os.replace(Path(scratch) / "airflow.db", template)
    return template


def run_log_path(paths: Settings, run_date: dt.date, started: dt.datetime, pid: int) -> Path:
    """This run's own log file: two runs never share one."""
    stamp = started.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return airflow_home(paths) / "runs" / run_date.isoformat() / f"{stamp}-{pid}.log"


def _link_latest(log_path: Path, run_date: dt.date) -> None:
    """Point ``runs/<date>.log`` at this run's log (replaced atomically)."""
    latest = log_path.parent.with_name(f"{run_date.isoformat()}.log")
    scratch = latest.with_name(f".{latest.name}.{os.getpid()}")
    scratch.unlink(missing_ok=True)
    scratch.symlink_to(log_path.relative_to(latest.parent))
    scratch.replace(latest)


@contextmanager
def _holding(lock_file: Path, what: str, holder: dict[str, str | int]) -> Iterator[None]:
    """Hold ``lock_file`` for the block, or raise :class:`RunInProgress` naming its holder."""
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_file, "a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            raise RunInProgress(_refusal(what, handle.read(), holder)) from None
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps(holder) + "\n")
        handle.flush()
        try:
            yield
        finally:
            handle.truncate(0)  # released: the next reader finds no holder


def _refusal(what: str, recorded: str, mine: dict[str, str | int]) -> str:
    try:
        other = json.loads(recorded)
    except ValueError:
        other = {}  # the holder has not written itself down yet
    known = [f"pid {other['pid']}"] if other.get("pid") else []
    if other.get("started_at"):
        known.append(f"started {other['started_at']}")
    if other.get("log"):
        known.append(f"log {other['log']}")
    holds = f"another touchline run holds {what}"
    if other.get("run_date"):
        holds += f" for {other['run_date']}"
    if known:
        holds += f" ({', '.join(known)})"
    return (
        f"{holds}; this run of {mine['run_date']} did not start: wait for that run to end "
        "(or stop it), then run again"
    )


# what `airflow dags test` logs as it starts and ends each task
TASK_EVENT = re.compile(r"\[DAG TEST\] (?P<event>starting|end task) task_id=(?P<task>\S+)")
TaskEvents = Callable[[str, str], object]


def run_dag(
    paths: Settings, run_date: dt.date, on_task: TaskEvents | None = None, send: bool = True
) -> DagRunOutcome:
    """Run the nightly DAG for ``run_date`` via ``airflow dags test``; raise if it failed.

    ``send=False``: the send tasks skip (a backfill's dates before its last).

    Raises :class:`RunInProgress` at once when another run holds the warehouse or the date.
    ``on_task(event, task_id)`` hears each task start (``"starting"``) and end
    (``"end task"``) as the run logs it.
    """
    started = dt.datetime.now(dt.UTC)
    log_path = run_log_path(paths, run_date, started, os.getpid())
    holder = {
        "run_date": run_date.isoformat(),
        "pid": os.getpid(),
        "started_at": started.strftime("%Y-%m-%d %H:%M:%S UTC"),
        "log": str(log_path),
    }
    with ExitStack() as held:
        held.enter_context(
            _holding(paths.state_dir / "run.lock", f"the warehouse {paths.warehouse}", holder)
        )
        held.enter_context(
            _holding(
                log_path.parent / "run.lock",
                f"the date in the Airflow home {airflow_home(paths)}",
                holder,
            )
        )
        return _run_held(paths, run_date, log_path, on_task, send)


def _run_held(
    paths: Settings, run_date: dt.date, log_path: Path, on_task: TaskEvents | None, send: bool
) -> DagRunOutcome:
    ensure_airflow(paths)
    env = airflow_env(paths)
    _link_latest(log_path, run_date)
    _delete_previous_run(paths, run_date)
    conf = json.dumps({**paths.as_params(), SEND_PARAM: send})
    log.info("running %s for %s through Airflow (log: %s)", DAG_ID, run_date, log_path)
    command = _airflow_command("dags", "test", DAG_ID, run_date.isoformat(), "--conf", conf)
    with open(log_path, "w", encoding="utf-8") as handle:
        process = subprocess.Popen(command, env=env, stdout=handle, stderr=subprocess.STDOUT)
    returncode = _follow(process, log_path, on_task)
    outcome = _read_outcome(paths, run_date, log_path)
    if returncode != 0 or outcome.state != "success":
        raise PipelineError(_failure_message(outcome, log_path, returncode))
    return outcome


def _follow(process: subprocess.Popen, log_path: Path, on_task: TaskEvents | None) -> int:
    """Wait for ``process``, telling ``on_task`` the task events its log file gains."""
    if on_task is None:
        return process.wait()
    partial = ""
    with open(log_path, encoding="utf-8", errors="replace") as reading:
        while True:
            ended = process.poll() is not None
            partial += reading.read()
            *lines, partial = partial.split("\n")
            for line in lines:
                found = TASK_EVENT.search(line)
                if found:
                    on_task(found["event"], found["task"])
            if ended:
                return process.returncode
            time.sleep(0.2)  # the display's refresh, not a synchronisation


def _metadata_db(paths: Settings) -> Path:
    return airflow_home(paths) / "airflow.db"


def _delete_previous_run(paths: Settings, run_date: dt.date) -> None:
    """A re-run of a date replaces its DAG run (a logical date is unique per DAG).

    The run's task instances, XComs and notes go with it (the schema's ON DELETE CASCADE).
    """
    with sqlite3.connect(_metadata_db(paths)) as db:
        db.execute("pragma foreign_keys = on")
        db.execute(
            f"delete from dag_run where dag_id = ? and {ON_DATE}", (DAG_ID, run_date.isoformat())
        )


def _read_outcome(paths: Settings, run_date: dt.date, log_path: Path) -> DagRunOutcome:
    with sqlite3.connect(_metadata_db(paths)) as db:
        row = db.execute(
            f"select run_id, state from dag_run where dag_id = ? and {ON_DATE}"
            " order by id desc limit 1",
            (DAG_ID, run_date.isoformat()),
        ).fetchone()
        if row is None:
            return DagRunOutcome("", "missing", {}, log_path)
        tasks = dict(
            db.execute(
                "select task_id, coalesce(state, 'none') from task_instance"
                " where dag_id = ? and run_id = ?",
                (DAG_ID, row[0]),
            ).fetchall()
        )
    return DagRunOutcome(row[0], row[1], tasks, log_path)


ERROR_LINE = re.compile(
    r"(InputError|BuildError|AirflowFailException|PipelineError|Error)[:\]]\s*(?P<msg>.+)"
)


def _failure_message(outcome: DagRunOutcome, log_path: Path, returncode: int) -> str:
    failed = sorted(t for t, s in outcome.task_states.items() if s == "failed")
    skipped = sorted(t for t, s in outcome.task_states.items() if s == "upstream_failed")
    lines = [f"{DAG_ID} run for {outcome.run_id or 'the date'} ended {outcome.state}"]
    if failed:
        lines[0] += f"; failed tasks: {', '.join(failed)}"
    if skipped:
        lines[0] += f"; not run: {', '.join(skipped)}"
    reason = _first_error(log_path)
    if reason:
        lines.append(reason)
    lines.append(f"(full log: {log_path}; airflow exit code {returncode})")
    return "\n".join(lines)


def _first_error(log_path: Path) -> str | None:
    """The first data error the tasks reported, as the user should read it."""
    if not log_path.exists():
        return None
    text = log_path.read_text(encoding="utf-8", errors="replace")
    for marker in ("AirflowFailException: ", "InputError: ", "BuildError: "):
        at = text.find(marker)
        if at >= 0:
            message = text[at + len(marker) :]
            stop = message.find("\n20")  # the next timestamped log line
            return message[: stop if stop > 0 else 2000].strip()
    return None
