"""The benchmark: each stage of a nightly run at a named scale, against two floors.

    touchline bench --scale small|medium|large

generates a demo drop at the scale (not part of the timings), lands its history, then
measures each stage in its own process (wall time, peak memory of the process tree, rows
per second):

1. ``full_pipeline``: the nightly DAG through Airflow for the second-to-last day, on an
   empty warehouse (a full rebuild of the whole history);
2. ``scan_floor``: one DuckDB connection reading every landed Parquet file once, every
   column;
3. ``nightly_incremental``: the nightly DAG through Airflow for the last day;
4. ``exports``: the files destination for the last day;
5. ``evidence``: the evidence models (the backtest and the plays' outcomes, ``tag:evidence``)
   built on a copy of the published warehouse, as the night they are due adds them
   (``TOUCHLINE_EVIDENCE_EVERY_DAYS``); the usual night leaves them out;
6. ``sql_floor``: the time DuckDB spends in the statements of the models of the full
   rebuild's day (the build's batches, one dbt thread), as dbt times each statement it
   sends: no dbt parsing or compiling, no Airflow; seeds loaded beforehand.

The Airflow overhead of a DAG run is its wall time minus the time its tasks ran. The DAG
stages also name their slowest tasks (from the task instances) and the slowest models and
tests of their last ``dbt build`` (from its ``run_results.json``). Results go to
``bench/results/<scale>-<date>-<commit>.json`` and ``.md``, with the scale's targets.

    touchline bench --scale medium --stage sources

is the opt-in ``sources`` stage (see :func:`run_sources`): the drop's last date served from
the local Salesforce, Zendesk and S3 servers (``touchline.demo.serve``), and each source's
extraction of that date through ``stage_from_source`` measured in its own process. Results
go to ``bench/results/<scale>-sources-<date>.json`` and ``.md``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

from touchline.config import DAG_ID, REPO_ROOT, Settings, settings
from touchline.progress import step

SCALES = {
    "tiny": (300, 10),  # a smoke run of the benchmark itself
    "small": (2_000, 90),
    "medium": (20_000, 180),
    "large": (200_000, 365),
}


@dataclass
class Stage:
    name: str
    seconds: float
    peak_rss_mb: float
    rows: int
    rows_per_second: float
    detail: dict


def _tree_rss(process: psutil.Process) -> int:
    total = 0
    try:
        members = [process, *process.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    for member in members:
        try:
            total += member.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total


def measure(name: str, command: list[str], env: dict[str, str], rows: int = 0) -> Stage:
    """Run ``command``; its wall time and the peak RSS of its process tree (polled)."""
    started = time.monotonic()
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    watched = psutil.Process(process.pid)
    peak = 0
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(process.stdout), daemon=True)
    reader.start()
    # a live line on a terminal; off one, the stage's own result line is the only line
    with step(f"bench stage {name}", unit="", line=False) as progress:
        while process.poll() is None:
            peak = max(peak, _tree_rss(watched))
            progress.note(f"peak {peak / 2**20:,.0f} MB")
            time.sleep(0.1)
    reader.join()
    seconds = time.monotonic() - started
    if process.returncode != 0:
        tail = "".join(output)[-4000:]
        raise RuntimeError(f"bench stage {name} failed ({process.returncode}):\n{tail}")
    detail = {}
    for line in output:
        if line.startswith("BENCH "):
            detail.update(json.loads(line[6:]))
    rows = int(detail.pop("rows", rows))
    return Stage(
        name,
        round(seconds, 2),
        round(peak / 2**20, 1),
        rows,
        round(rows / seconds, 1) if seconds else 0.0,
        detail,
    )


def _python(*code_args: str) -> list[str]:
    return [sys.executable, "-m", "touchline.bench", *code_args]


def _touchline(*args: str) -> list[str]:
    return [str(Path(sys.executable).with_name("touchline")), *args]


# -- steps run in their own process (python -m touchline.bench <step> ...) -----------------


def step_land(paths: Settings, first: dt.date, last: dt.date) -> None:
    from touchline.extract import land_history

    days = [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]
    land_history(paths, days)
    print("BENCH " + json.dumps({"rows": landed_rows(paths.landing_dir), "days": len(days)}))


def landed_rows(landing_dir: Path) -> int:
    import pyarrow.parquet as pq

    return sum(
        pq.ParquetFile(part).metadata.num_rows
        for part in Path(landing_dir).glob("*/ds=*/part-0.parquet")
    )


SLOWEST = 5  # the slowest models, tests and tasks a stage names


def dbt_profile(paths: Settings) -> dict:
    """The last ``dbt build``'s elapsed seconds and its slowest models and tests."""
    found = paths.state_dir / "dbt-target" / "run_results.json"
    if not found.exists():
        return {}
    results = json.loads(found.read_text())
    timed = sorted(results["results"], key=lambda r: -r["execution_time"])
    slowest = {}
    for kind in ("model", "test"):
        slowest[f"slowest_{kind}s"] = [
            [r["unique_id"].split(".")[-1 if kind == "model" else 2], round(r["execution_time"], 2)]
            for r in timed
            if r["unique_id"].startswith(f"{kind}.")
        ][:SLOWEST]
    return {"dbt_seconds": round(results["elapsed_time"], 2), **slowest}


def step_scan(paths: Settings) -> None:
    import duckdb

    rows = 0
    with duckdb.connect() as con:
        for folder in sorted(Path(paths.landing_dir).iterdir()):
            if not folder.is_dir() or folder.name.startswith("."):
                continue
            pattern = str(folder / "ds=*" / "part-0.parquet")
            # min() of every column makes DuckDB read every column of every file
            found = con.execute(
                f"select count(*), min(columns(*)) from read_parquet('{pattern}', "
                "union_by_name = true)"
            ).fetchone()
            rows += found[0]
    print("BENCH " + json.dumps({"rows": rows}))


def step_sql_floor(paths: Settings, run_date: dt.date, database: Path) -> None:
    """The time the build's SQL takes in DuckDB: dbt's own statements, timed by dbt.

    The models run as the build runs them (the history in the batches of days the build
    would use, see ``touchline.warehouse.catch_up_history``, then the run date) on
    ``database``, on one thread so that no two statements overlap. dbt times every
    statement it sends (its SQLQueryStatus events, in its JSON log); the floor is the sum of
    those of the models, whatever the materialization or incremental strategy makes of
    them. dbt's own work between statements (parsing, compiling, rendering) is not in it.
    """
    from touchline.warehouse import HISTORY_MODELS, catch_up_history, run_dbt

    timed = {"sql_seconds": 0.0, "statements": 0, "runs": 0}
    dbt_log = paths.state_dir / "dbt-logs" / "dbt.log"

    def dbt(*args: str) -> list[dict]:
        dbt_log.unlink(missing_ok=True)
        done = run_dbt(
            [*args, "--log-format-file", "json", "--log-level-file", "debug"],
            paths,
            run_date,
            database,
        )
        if done.returncode != 0:
            raise SystemExit(done.stdout[-3000:])
        return [json.loads(line) for line in dbt_log.read_text().splitlines() if line]

    def run_models(batch_vars: dict | None = None) -> None:
        selected = [] if batch_vars is None else ["--select", HISTORY_MODELS]
        variables = [] if batch_vars is None else ["--vars", json.dumps(batch_vars)]
        events = dbt("run", "--threads", "1", *selected, *variables)
        statements = [
            event["data"]["elapsed"]
            for event in events
            if event["info"]["name"] == "SQLQueryStatus"
            and event["data"].get("node_info", {}).get("resource_type") == "model"
        ]
        timed["sql_seconds"] += sum(statements)
        timed["statements"] += len(statements)
        timed["runs"] += 1

    dbt("seed")
    catch_up_history(paths, run_date, database, run_batch=run_models)
    run_models()
    timed["sql_seconds"] = round(timed["sql_seconds"], 2)
    print("BENCH " + json.dumps(timed))


def step_evidence(paths: Settings, run_date: dt.date, database: Path) -> None:
    """Build the evidence models and their tests on ``database``, a copy of the published
    warehouse, as the night they are due does (``touchline.warehouse.build_args``)."""
    from touchline.warehouse import BUILD_EXCLUDED, EVIDENCE_SELECTOR, run_dbt

    shutil.copyfile(paths.warehouse, database)
    done = run_dbt(
        ["build", "--select", EVIDENCE_SELECTOR, "--exclude", *BUILD_EXCLUDED],
        paths,
        run_date,
        database,
    )
    if done.returncode != 0:
        raise SystemExit(done.stdout[-3000:])
    print("BENCH " + json.dumps(dbt_profile(paths)))  # run_dbt keeps its state in paths


def step_serve(drop: Path, day: dt.date, sources_file: Path, environment_file: Path) -> None:
    """Serve ``day`` of ``drop`` from the local servers until stdin closes.

    Writes the ``sources.yml`` that reads them and their Connections (as env vars, in
    ``environment_file``, readable by its owner only), then prints the ready line.
    """
    from touchline.demo.serve import DemoServers, ServedBook, write_sources_file

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the S3 server's requests
    with DemoServers() as servers:
        started = time.monotonic()
        ServedBook(servers, drop).serve_day(day)
        served = round(time.monotonic() - started, 2)
        write_sources_file(sources_file)
        environment_file.touch(mode=0o600)
        environment_file.write_text(json.dumps(servers.environment()))
        print(SERVING + json.dumps({"serve_seconds": served}), flush=True)
        sys.stdin.read()  # until the benchmark closes the pipe


SERVING = "BENCH-SERVING "


def step_source(paths: Settings, source_name: str, run_date: dt.date) -> None:
    """Extract every entity ``sources.yml`` reads from ``source_name`` for ``run_date``."""
    from touchline.sources.config import load
    from touchline.sources.run import stage_from_source

    config = load(paths.sources_file)
    entities = [entity for entity, name in config.by_entity.items() if name == source_name]
    started = time.monotonic()
    staged = stage_from_source(config.sources[source_name], entities, run_date, paths)
    # the process's wall time less its start (interpreter, imports, configuration)
    extracting = round(time.monotonic() - started, 2)
    rows = {batch.entity: batch.rows for batch in staged}
    found = {"rows": sum(rows.values()), "entities": rows, "extract_seconds": extracting}
    print("BENCH " + json.dumps(found))


class ServedDay:
    """The server process of the ``sources`` stage: started, then serving until closed."""

    def __init__(self, command: list[str], env: dict[str, str]) -> None:
        self.command, self.env = command, env
        self.output: list[str] = []
        self.ready: dict = {}

    def __enter__(self) -> ServedDay:
        self.process = subprocess.Popen(
            self.command,
            env=self.env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        signalled = threading.Event()

        def read() -> None:
            for line in self.process.stdout:
                self.output.append(line)
                if line.startswith(SERVING):
                    self.ready = json.loads(line[len(SERVING) :])
                    signalled.set()
            signalled.set()  # the process ended without serving

        self.reader = threading.Thread(target=read, daemon=True)
        self.reader.start()
        signalled.wait()
        if not self.ready:
            returncode = self.process.wait()
            self.reader.join()
            tail = "".join(self.output)[-4000:]
            raise RuntimeError(f"bench: the servers did not start ({returncode}):\n{tail}")
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.stdin.close()
        self.process.wait()
        self.reader.join()


# -- the run --------------------------------------------------------------------------------


def _airflow_overhead(paths: Settings, run_date: dt.date, wall: float) -> dict:
    database = paths.home / "airflow" / "airflow.db"
    with sqlite3.connect(database) as db:
        rows = db.execute(
            "select task_id, julianday(end_date) - julianday(start_date) from task_instance"
            " where dag_id = ? and run_id = (select run_id from dag_run where dag_id = ?"
            " and substr(logical_date, 1, 10) = ? order by id desc limit 1)",
            (DAG_ID, DAG_ID, run_date.isoformat()),
        ).fetchall()
    tasks = {task: round((days or 0) * 86400, 2) for task, days in rows}
    # the tasks of `airflow dags test` run one after the other: the rest is Airflow's
    ran = sum(tasks.values())
    slowest = sorted(tasks.items(), key=lambda item: -item[1])[:SLOWEST]
    return {
        "task_seconds": tasks,
        "slowest_tasks": [list(item) for item in slowest],
        "airflow_overhead_seconds": round(wall - ran, 2),
    }


def run(
    scale: str,
    out_dir: Path,
    keep: bool = False,
    drop: Path | None = None,
    reuse_landing: bool = False,
    sql_floor: bool = True,
) -> dict:
    """Benchmark one scale in ``out_dir``.

    ``drop``: a drop generated for the scale before (by ``touchline demo-data`` with its
    accounts, days + 1 and the default end date), used as it is instead of generating one.
    ``reuse_landing``: keep the history an earlier ``--keep`` run of the scale landed in
    ``out_dir`` and start at the full pipeline. Neither stage is part of the pipeline's
    timings; both are skipped in the results. ``sql_floor``: measure the SQL floor last (at
    the large scale it repeats the first build's time).
    """
    accounts, days = SCALES[scale]
    work = Path(out_dir) / f"bench-{scale}"
    landing = work / "home" / "landing"
    reuse_landing = reuse_landing and landing.is_dir()
    if work.exists():
        _clear(work, keep_landing=reuse_landing)
    work.mkdir(parents=True, exist_ok=True)
    paths = settings().with_overrides(
        home=work / "home",
        source_dir=Path(drop) if drop else work / "drop",
        landing_dir=landing,
        warehouse=work / "home" / "warehouse.duckdb",
        output_dir=work / "output",
    )
    env = dict(os.environ)
    for key in list(env):
        if key.startswith(("TOUCHLINE_", "AIRFLOW")):
            del env[key]
    env.update(TOUCHLINE_HOME=str(paths.home), TOUCHLINE_LEDGER=str(work / "ledger.sqlite"))
    # the DAG runs send nowhere; the exports stage writes the files destination on its own
    export_env = dict(env, TOUCHLINE_OUTBOX=str(work / "outbox"))
    from touchline.demo.generator import DEFAULT_END_DATE

    end = DEFAULT_END_DATE
    first = end - dt.timedelta(days=days)  # days + 1 drops: the last one is the next night
    full_date, next_date = end - dt.timedelta(days=1), end
    stages: list[Stage] = []

    def say(stage: Stage) -> None:
        stages.append(stage)
        print(
            f"  {stage.name:<22} {stage.seconds:>9.1f} s {stage.peak_rss_mb:>9.0f} MB "
            f"{stage.rows:>12,} rows",
            flush=True,
        )

    print(f"touchline bench {scale}: {accounts:,} accounts, {days} days (+1 night)", flush=True)
    if drop is None:
        say(measure("generate", _generate_command(paths.source_dir, accounts, days + 1, end), env))
    elif not all((Path(drop) / day.isoformat()).is_dir() for day in (first, end)):
        raise SystemExit(f"touchline bench: {drop} has no drops for {first} to {end}")
    history_end = full_date - dt.timedelta(days=1)
    if reuse_landing:
        _drop_partitions_after(paths.landing_dir, history_end)
    else:
        say(
            measure(
                "land_history",
                _python(
                    "land",
                    str(paths.home),
                    str(paths.source_dir),
                    first.isoformat(),
                    history_end.isoformat(),
                ),
                env,
            )
        )
    run_args = ["run", "--source-dir", str(paths.source_dir), "--output-dir", str(paths.output_dir)]
    full = measure("full_pipeline", _touchline(*run_args, "--date", full_date.isoformat()), env)
    full.rows = landed_rows(paths.landing_dir)
    full.rows_per_second = round(full.rows / full.seconds, 1)
    full.detail = {**_airflow_overhead(paths, full_date, full.seconds), **dbt_profile(paths)}
    say(full)
    scan = measure("scan_floor", _python("scan", str(paths.home)), env)
    say(scan)
    before = landed_rows(paths.landing_dir)
    nightly = measure(
        "nightly_incremental", _touchline(*run_args, "--date", next_date.isoformat()), env
    )
    nightly.rows = landed_rows(paths.landing_dir) - before
    nightly.rows_per_second = round(nightly.rows / nightly.seconds, 1)
    nightly.detail = {
        **_airflow_overhead(paths, next_date, nightly.seconds),
        **dbt_profile(paths),
    }
    say(nightly)
    exports = measure(
        "exports",
        _touchline(
            "export",
            "--date",
            next_date.isoformat(),
            "--destination",
            "files",
            "--warehouse",
            str(paths.warehouse),
        ),
        export_env,
    )
    exports.rows = _worklist_rows(paths.output_dir / next_date.isoformat() / "worklist.csv")
    exports.rows_per_second = round(exports.rows / exports.seconds, 1)
    say(exports)
    evidence = measure(
        "evidence",
        _python("evidence", str(paths.home), next_date.isoformat(), str(work / "evidence.duckdb")),
        dict(env, TOUCHLINE_LANDING_DIR=str(paths.landing_dir)),
        rows=full.rows,
    )
    evidence.rows_per_second = round(evidence.rows / evidence.seconds, 1)
    say(evidence)
    ratios = {
        "full_pipeline_over_scan_floor": round(full.seconds / scan.seconds, 2),
        "nightly_over_scan_floor": round(nightly.seconds / scan.seconds, 2),
    }
    # the SQL floor last: it builds for the full rebuild's date, so the night landed since
    # is not read, and the figures that matter most for a large scale come first
    if sql_floor:
        floor_db = work / "sql-floor.duckdb"
        sql = measure(
            "sql_floor",
            _python("sql", str(paths.home), full_date.isoformat(), str(floor_db)),
            dict(env, TOUCHLINE_LANDING_DIR=str(paths.landing_dir)),
            rows=full.rows,
        )
        # the stage runs dbt to seed and build; only the time of the models' SQL is the floor
        sql.seconds = sql.detail["sql_seconds"]
        sql.rows_per_second = round(sql.rows / sql.seconds, 1)
        say(sql)
        ratios |= {
            "full_pipeline_over_sql_floor": round(full.seconds / sql.seconds, 2),
            "nightly_over_sql_floor": round(nightly.seconds / sql.seconds, 2),
            "nightly_minus_airflow_overhead_over_sql_floor": round(
                (nightly.seconds - nightly.detail["airflow_overhead_seconds"]) / sql.seconds, 2
            ),
        }
    result = {
        "scale": scale,
        "accounts": accounts,
        "days": days,
        "date": dt.date.today().isoformat(),
        "commit": code_version(),
        "machine": machine(),
        "stages": [asdict(s) for s in stages],
        "ratios": ratios,
    }
    result["targets"] = targets(result)
    write_results(result)
    if not keep:
        shutil.rmtree(work, ignore_errors=True)
    return result


SOURCE_TYPES = ("salesforce", "zendesk", "usage_files")  # the order they are measured in


def run_sources(
    scale: str,
    out_dir: Path,
    keep: bool = False,
    drop: Path | None = None,
    results_dir: Path | None = None,
) -> dict:
    """The ``sources`` stage at ``scale``: each source's extraction of the drop's last date.

    The drop (generated, or ``drop``) has its last date served from the local Salesforce,
    Zendesk and S3 servers in a process of their own: the first serve is the whole state of
    the snapshots, and that date's tickets and usage events. Each source is then extracted
    for that date through ``stage_from_source`` in its own process (a first read: no saved
    state), measured like every stage: wall time, peak RSS of its process tree (the servers'
    process is not in it) and rows per second. Neither generating nor serving is timed.
    """
    from touchline.airflow_local import airflow_env
    from touchline.demo.serve import drop_dates, sources_config

    accounts, days = SCALES[scale]
    work = Path(out_dir) / f"bench-{scale}-sources"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    paths = settings().with_overrides(
        home=work / "home",
        source_dir=Path(drop) if drop else work / "drop",
        landing_dir=work / "home" / "landing",
        sources_file=work / "home" / "sources.yml",
    )
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TOUCHLINE_", "AIRFLOW"))
    }
    # the connectors look their Connections up through Airflow, in a home of the bench's own
    env.update({key: value for key, value in airflow_env(paths).items() if "AIRFLOW" in key})
    env.update(TOUCHLINE_HOME=str(paths.home), TOUCHLINE_SOURCES=str(paths.sources_file))
    from touchline.demo.generator import DEFAULT_END_DATE

    print(f"touchline bench {scale} sources: {accounts:,} accounts", flush=True)
    if drop is None:
        generate = _generate_command(paths.source_dir, accounts, days + 1, DEFAULT_END_DATE)
        measure("generate", generate, env)
    dates = drop_dates(paths.source_dir) if paths.source_dir.is_dir() else []
    if not dates:
        raise SystemExit(f"touchline bench: {paths.source_dir} holds no date folder (YYYY-MM-DD)")
    day = dates[-1]
    environment_file = work / "servers.env.json"
    serve = _python(
        "serve",
        str(paths.source_dir),
        day.isoformat(),
        str(paths.sources_file),
        str(environment_file),
    )
    names = {
        source["type"]: name
        for name, source in sources_config()["sources"].items()
        if source["type"] in SOURCE_TYPES
    }
    stages: list[Stage] = []
    with ServedDay(serve, env) as served:
        print(f"  served {day} in {served.ready['serve_seconds']:.1f} s", flush=True)
        source_env = dict(env, **json.loads(environment_file.read_text()))
        for source_type in SOURCE_TYPES:
            step_args = ("source", str(paths.home), str(paths.sources_file), names[source_type])
            stage = measure(source_type, _python(*step_args, day.isoformat()), source_env)
            stage.detail["source"] = names[source_type]
            stages.append(stage)
            print(
                f"  {stage.name:<12} {stage.seconds:>9.1f} s {stage.peak_rss_mb:>9.0f} MB "
                f"{stage.rows:>12,} rows {stage.rows_per_second:>12,.0f} rows/s",
                flush=True,
            )
    result = {
        "stage": "sources",
        "scale": scale,
        "accounts": accounts,
        "days": days,
        "date": dt.date.today().isoformat(),
        "served_date": day.isoformat(),
        "serve_seconds": served.ready["serve_seconds"],
        "commit": code_version(),
        "machine": machine(),
        "stages": [asdict(s) for s in stages],
    }
    write_results(result, results_dir)
    if not keep:
        shutil.rmtree(work, ignore_errors=True)
    return result


# the targets of each scale, on a 2-core machine: (what, stage, figure, limit)
TARGETS = {
    "medium": [
        ("nightly under 25 s (s)", "nightly_incremental", "seconds", 25),
    ],
    "large": [
        ("nightly under 45 s (s)", "nightly_incremental", "seconds", 45),
        ("nightly peak memory under 4 GB (MB)", "nightly_incremental", "peak_rss_mb", 4096),
        ("the night's dbt build under 15 s (s)", "nightly_incremental", "dbt_seconds", 15),
        ("first build under 10 minutes (s)", "full_pipeline", "seconds", 600),
        ("exports under 15 s (s)", "exports", "seconds", 15),
    ],
}


def targets(result: dict) -> list[dict]:
    """The scale's targets, each with its limit, the measured figure, whether it is met and,
    for a time, its ratio to the scan floor (every landed row read once).

    The smaller scales are there to see the fixed costs, and have none.
    """
    stages = {stage["name"]: stage for stage in result["stages"]}
    scan = stages.get("scan_floor", {}).get("seconds")
    checks = []
    for name, stage_name, figure, limit in TARGETS.get(result["scale"], []):
        stage = stages.get(stage_name)
        if stage is None:
            continue
        measured = stage[figure] if figure in stage else stage["detail"].get(figure)
        if measured is None:
            continue
        check = {"target": name, "limit": limit, "measured": measured, "met": measured <= limit}
        if figure != "peak_rss_mb" and scan:
            check["over_scan_floor"] = round(measured / scan, 1)
        checks.append(check)
    return checks


def _clear(work: Path, keep_landing: bool) -> None:
    """Empty ``work`` for a new run, keeping the generated drop and, if asked, the landing."""
    if not keep_landing:
        shutil.rmtree(work)
        return
    for child in work.iterdir():
        if child.name == "drop":
            continue
        if child.name == "home":
            for item in child.iterdir():
                if item.name != "landing":
                    shutil.rmtree(item) if item.is_dir() else item.unlink()
            continue
        shutil.rmtree(child) if child.is_dir() else child.unlink()


def _drop_partitions_after(landing_dir: Path, last: dt.date) -> None:
    """Remove what a previous run landed or staged after the history's last day."""
    shutil.rmtree(Path(landing_dir) / ".staged", ignore_errors=True)
    for partition in Path(landing_dir).glob("*/ds=*"):
        if dt.date.fromisoformat(partition.name[3:]) > last:
            shutil.rmtree(partition)


def _generate_command(out: Path, accounts: int, days: int, end: dt.date) -> list[str]:
    return _touchline(
        "demo-data",
        "--out",
        str(out),
        "--accounts",
        str(accounts),
        "--days",
        str(days),
        "--end-date",
        end.isoformat(),
        "--usage-format",
        "csv.gz",
        "--gzip",
    )


def _worklist_rows(path: Path) -> int:
    with open(path, encoding="utf-8") as handle:
        return max(sum(1 for _ in handle) - 1, 0)


def machine() -> dict:
    return {
        "cpus": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def code_version() -> str | None:
    """The commit the benchmark ran, with -dirty when code differs from it (results written
    by an earlier scale of the same run, and documents, do not count), if it runs in a git
    checkout."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", "-C", str(REPO_ROOT), *args], capture_output=True, text=True, check=False
            )
        except OSError:
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "--short", "HEAD")
    if not commit:
        return None
    # documents do not change what is measured
    changed = git(
        "status", "--porcelain", "--untracked-files=no", "--", ".", ":!bench/results", ":!*.md"
    )
    return f"{commit}-dirty" if changed else commit


def markdown(result: dict, earlier: dict | None = None) -> str:
    """The results as a table; with ``earlier`` (a previous result of the scale), its
    seconds beside each stage, so a regression shows."""
    commit = f"commit {result['commit']}; " if result.get("commit") else ""
    lines = [
        f"### {result['scale']}: {result['accounts']:,} accounts, {result['days']} days "
        f"({result['date']}; {commit}{result['machine']['cpus']} cores, "
        f"{result['machine']['memory_gb']} GB)",
        "",
    ]
    before = {}
    if earlier:
        before = {stage["name"]: stage["seconds"] for stage in earlier["stages"]}
        lines += [
            f"| stage | seconds | earlier ({earlier.get('commit') or earlier['date']}) | "
            "peak RSS (MB) | rows | rows/s |",
            "|---|---:|---:|---:|---:|---:|",
        ]
    else:
        lines += [
            "| stage | seconds | peak RSS (MB) | rows | rows/s |",
            "|---|---:|---:|---:|---:|",
        ]
    for stage in result["stages"]:
        was = ""
        if earlier:
            was = f" {before[stage['name']]:.1f} |" if stage["name"] in before else " |"
        lines.append(
            f"| {stage['name']} | {stage['seconds']:.1f} |{was} {stage['peak_rss_mb']:.0f} | "
            f"{stage['rows']:,} | {stage['rows_per_second']:,.0f} |"
        )
    lines.append("")
    for name, value in result["ratios"].items():
        lines.append(f"- {name.replace('_', ' ')}: {value}")
    for stage in result["stages"]:
        if "airflow_overhead_seconds" in stage["detail"]:
            lines.append(
                f"- {stage['name']}: Airflow overhead "
                f"{stage['detail']['airflow_overhead_seconds']} s"
            )
    for check in result["targets"] if "targets" in result else targets(result):
        verdict = "met" if check["met"] else "NOT met"
        ratio = (
            f" ({check['over_scan_floor']} x the scan floor)" if "over_scan_floor" in check else ""
        )
        lines.append(
            f"- target: {check['target']}: {check['measured']:,}{ratio} against "
            f"{check['limit']:,}, {verdict}"
        )
    slowest = [
        (stage["name"], kind, stage["detail"][f"slowest_{kind}"])
        for stage in result["stages"]
        for kind in ("tasks", "models", "tests")
        if stage["detail"].get(f"slowest_{kind}")
    ]
    if slowest:
        lines += ["", "Slowest (seconds):", ""]
        for name, kind, found in slowest:
            named = ", ".join(f"{what} {seconds:.1f}" for what, seconds in found)
            lines.append(f"- {name}, {kind}: {named}")
    return "\n".join(lines) + "\n"


def sources_markdown(result: dict) -> str:
    """The ``sources`` stage's table: one row per source."""
    commit = f"commit {result['commit']}; " if result.get("commit") else ""
    lines = [
        f"### {result['scale']} sources: {result['accounts']:,} accounts, the drop's last date "
        f"{result['served_date']} from the local servers ({result['date']}; {commit}"
        f"{result['machine']['cpus']} cores, {result['machine']['memory_gb']} GB)",
        "",
        "| source | entities | seconds | of which extracting | peak RSS (MB) | rows | rows/s |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for stage in result["stages"]:
        entities = ", ".join(stage["detail"].get("entities", {}))
        lines.append(
            f"| {stage['name']} | {entities} | {stage['seconds']:.1f} | "
            f"{stage['detail']['extract_seconds']:.1f} | {stage['peak_rss_mb']:.0f} | "
            f"{stage['rows']:,} | {stage['rows_per_second']:,.0f} |"
        )
    lines += [
        "",
        "- each extraction in its own process through `stage_from_source`, a first read (no "
        "saved state); seconds and rows/s are the process's wall time, extracting the time "
        "`stage_from_source` took in it; the servers run in another process, not counted in "
        "the peak RSS",
        f"- serving the date (not timed above): {result['serve_seconds']} s",
    ]
    return "\n".join(lines) + "\n"


def write_results(result: dict, folder: Path | None = None) -> None:
    """``<scale>-<date>-<commit>.json`` and ``.md`` in ``folder`` (default bench/results).

    A run never replaces an earlier commit's figures, and the table shows the newest of
    them beside its own.
    """
    folder = Path(folder) if folder else REPO_ROOT / "bench" / "results"
    folder.mkdir(parents=True, exist_ok=True)
    sources = result.get("stage") == "sources"
    name = f"{result['scale']}{'-sources' if sources else ''}-{result['date']}"
    stem = folder / (f"{name}-{result['commit']}" if result.get("commit") else name)
    if sources:
        table = sources_markdown(result)
    else:
        table = markdown(result, earlier_result(folder, result, stem.with_suffix(".json")))
    stem.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    stem.with_suffix(".md").write_text(table)
    print()
    print(table)


def earlier_result(folder: Path, result: dict, written: Path) -> dict | None:
    """The newest pipeline result of ``result``'s scale in ``folder`` from another commit."""
    found = []
    for path in folder.glob(f"{result['scale']}-*.json"):
        try:
            other = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if path == written or other.get("stage") or "stages" not in other:
            continue
        if result.get("commit") and other.get("commit") == result["commit"]:
            continue
        found.append((other.get("date", ""), path.stat().st_mtime, other))
    return max(found, key=lambda entry: entry[:2])[2] if found else None


def _main(argv: list[str]) -> None:
    step, home, *rest = argv
    paths = settings().with_overrides(
        home=home, landing_dir=Path(home) / "landing", warehouse=Path(home) / "warehouse.duckdb"
    )
    if step == "land":
        source, first, last = rest
        paths = paths.with_overrides(source_dir=source)
        step_land(paths, dt.date.fromisoformat(first), dt.date.fromisoformat(last))
    elif step == "scan":
        step_scan(paths)
    elif step == "sql":
        step_sql_floor(paths, dt.date.fromisoformat(rest[0]), Path(rest[1]))
    elif step == "evidence":
        step_evidence(paths, dt.date.fromisoformat(rest[0]), Path(rest[1]))
    elif step == "serve":
        day, sources_file, environment_file = rest
        step_serve(
            Path(home), dt.date.fromisoformat(day), Path(sources_file), Path(environment_file)
        )
    elif step == "source":
        sources_file, source_name, day = rest
        paths = paths.with_overrides(sources_file=sources_file)
        step_source(paths, source_name, dt.date.fromisoformat(day))
    else:
        raise SystemExit(f"unknown bench step {step}")


if __name__ == "__main__":
    _main(sys.argv[1:])
