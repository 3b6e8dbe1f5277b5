"""Airflow 3 as a data team deploys it, on this machine, for the scheduler tests.

An :class:`AirflowStack` is one Airflow installation of its own: an ``AIRFLOW_HOME`` in a
temporary folder, a metadata database of its own on the machine's PostgreSQL, the
``warehouse_writer`` pool, and the api-server, scheduler, dag-processor and triggerer (and
Celery workers, when asked) as separate processes, each in its own process group and with its
own log file. :class:`Api` is a client of the api-server's REST API with a token from
``POST /auth/token`` (SimpleAuthManager, one admin whose password is in the passwords file).

Nothing here waits on time: every wait polls a condition until a generous deadline, and a
service that exits early fails the wait at once with its log.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx

from tests.scheduler.worker_name import WORKER_NAME_VARIABLE

REPO_ROOT = Path(__file__).resolve().parents[2]
AIRFLOW = str(Path(sys.executable).with_name("airflow"))

PG_HOST, PG_PORT, PG_USER = "127.0.0.1", 5432, "postgres"
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
ADMIN = "admin"
SIMPLE_AUTH_MANAGER = (
    "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
)
# A task reports the host it ran on through [core] hostname_callable: each Celery worker of a
# stack gets its own name, as each container of a deployment has its own hostname.
WORKER_HOSTNAME_CALLABLE = "tests.scheduler.worker_name.hostname"

# Generous: a loaded 2-core machine must pass. None of these is asserted as a duration.
COMMAND_TIMEOUT = 600
HEALTH_TIMEOUT = 300
RUN_TIMEOUT = 900

T = TypeVar("T")

# every stack started, by the test module that owns it: a failing test of that module gets
# the services' log tails in its report (tests/scheduler/conftest.py)
STACKS: dict[str, list[AirflowStack]] = {}


class StackError(AssertionError):
    """The Airflow services did not come up, or did not do what was asked."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(
    condition: Callable[[], T],
    what: str,
    timeout: float,
    check: Callable[[], None] | None = None,
    interval: float = 1.0,
) -> T:
    """Poll ``condition`` until it returns something truthy; ``check`` raises to give up early."""
    deadline = time.monotonic() + timeout
    while True:
        if check is not None:
            check()
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise StackError(f"gave up after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


# -- the machine's PostgreSQL and Redis ---------------------------------------------------------


def _postgres_admin(statement: str) -> None:
    import psycopg2

    connection = psycopg2.connect(
        host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres", connect_timeout=10
    )
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute(statement)
    finally:
        connection.close()


def postgres_unreachable() -> str | None:
    """Why the machine's PostgreSQL cannot be used, or None when it can."""
    try:
        _postgres_admin("select 1")
    except Exception as exc:  # any failure to connect is a reason to skip, said as it is
        return f"PostgreSQL at {PG_HOST}:{PG_PORT} (user {PG_USER}, trust auth): {exc}".strip()
    return None


def redis_unreachable() -> str | None:
    import redis

    try:
        redis.Redis(host=REDIS_HOST, port=REDIS_PORT, socket_timeout=5).ping()
    except Exception as exc:
        return f"Redis at {REDIS_HOST}:{REDIS_PORT}: {exc}"
    return None


def database_url(database: str, driver: str = "postgresql+psycopg2") -> str:
    return f"{driver}://{PG_USER}@{PG_HOST}:{PG_PORT}/{database}"


@contextmanager
def scratch_database(prefix: str = "touchline_sched") -> Iterator[str]:
    """A PostgreSQL database of its own, dropped at the end (with whatever still uses it)."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    _postgres_admin(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        _postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


REDIS_CLAIM = "touchline:scheduler-tests:claim"


@contextmanager
def scratch_redis_db() -> Iterator[int]:
    """An empty Redis database number (1-15), claimed with a key, flushed at the end."""
    import redis

    token = uuid.uuid4().hex
    for number in range(15, 0, -1):
        client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=number, socket_timeout=10)
        try:
            if client.dbsize() == 0 and client.set(REDIS_CLAIM, token, nx=True):
                break
        except redis.ResponseError:  # the server has fewer databases
            pass
        client.close()
    else:
        raise StackError(
            f"Redis at {REDIS_HOST}:{REDIS_PORT} has no empty database among 1-15 to use as "
            "the Celery broker; flush one that nothing uses (redis-cli -n N flushdb)"
        )
    try:
        yield number
    finally:
        client.flushdb()
        client.close()


# -- the services -------------------------------------------------------------------------------


@dataclass
class Service:
    name: str
    command: list[str]
    log: Path
    process: subprocess.Popen

    def exited(self) -> int | None:
        return self.process.poll()


class AirflowStack:
    """One Airflow installation under ``root``; :meth:`stop` ends every process it started."""

    def __init__(
        self,
        root: Path,
        database: str,
        touchline_env: dict[str, str],
        executor: str,
        owner: str,
        broker_db: int | None = None,
    ) -> None:
        self.root = root
        self.home = root / "airflow"
        self.logs = root / "service-logs"
        self.database = database
        self.executor = executor
        self.api_port = free_port()
        self.base_url = f"http://127.0.0.1:{self.api_port}"
        self.password = secrets.token_urlsafe(18)
        self.services: list[Service] = []
        self.env = self._environment(touchline_env)
        if executor == "CeleryExecutor":
            if broker_db is None:
                raise ValueError("the CeleryExecutor needs a Redis database number (broker_db)")
            self.env.update(
                AIRFLOW__CELERY__BROKER_URL=f"redis://{REDIS_HOST}:{REDIS_PORT}/{broker_db}",
                # task states in the stack's own database (SQLAlchemy: psycopg2 behind it)
                AIRFLOW__CELERY__RESULT_BACKEND=f"db+{database_url(database, 'postgresql')}",
            )
        STACKS.setdefault(owner, []).append(self)

    def _environment(self, touchline_env: dict[str, str]) -> dict[str, str]:
        from cryptography.fernet import Fernet

        # nothing of the test process's own (SQLite) Airflow or touchline settings leaks in
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "TOUCHLINE_"))}
        env.update(
            AIRFLOW_HOME=str(self.home),
            AIRFLOW__CORE__DAGS_FOLDER=str(REPO_ROOT / "dags"),
            AIRFLOW__CORE__LOAD_EXAMPLES="False",
            AIRFLOW__CORE__EXECUTOR=self.executor,
            AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=database_url(self.database),
            AIRFLOW__CORE__FERNET_KEY=Fernet.generate_key().decode(),
            # the same secrets in every process: tokens signed by one are checked by another
            AIRFLOW__API_AUTH__JWT_SECRET=secrets.token_hex(32),
            AIRFLOW__API__SECRET_KEY=secrets.token_hex(32),
            AIRFLOW__API__HOST="127.0.0.1",
            AIRFLOW__API__PORT=str(self.api_port),
            AIRFLOW__API__BASE_URL=self.base_url,
            AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"{self.base_url}/execution/",
            AIRFLOW__CORE__AUTH_MANAGER=SIMPLE_AUTH_MANAGER,
            AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS=f"{ADMIN}:admin",
            AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE=str(self.home / "passwords.json"),
            # runs come only from the REST API: unpausing must not start the cron's own run
            AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE="False",
            # quick to come up and to notice each other; generous where a loaded machine is slow
            AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC="2",
            AIRFLOW__SCHEDULER__JOB_HEARTBEAT_SEC="2",
            AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC="2",
            AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL="5",
            AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES="1",
            AIRFLOW__DAG_PROCESSOR__DAG_FILE_PROCESSOR_TIMEOUT="240",
            AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT="180",
            AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_THRESHOLD="120",
            AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD="120",
            AIRFLOW__DAG_PROCESSOR__HEALTH_CHECK_THRESHOLD="120",
            # ports of their own: several stacks (and the machine's other users) side by side
            AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=str(free_port()),
            AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT=str(free_port()),
            AIRFLOW__CORE__PARALLELISM="8",
        )
        env.update(touchline_env)
        return env

    # -- lifecycle

    def __enter__(self) -> AirflowStack:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def migrate(self) -> None:
        """``airflow db migrate``, and the admin's password file."""
        self.home.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(parents=True, exist_ok=True)
        passwords = Path(self.env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"])
        passwords.write_text(json.dumps({ADMIN: self.password}) + "\n", encoding="utf-8")
        passwords.chmod(0o600)
        self.airflow("db", "migrate")

    def airflow(self, *args: str, env: dict[str, str] | None = None) -> str:
        """Run one ``airflow`` command to its end; its output goes to its own log file."""
        log = self.logs / f"airflow-{'-'.join(args[:2])}.log"
        with open(log, "ab") as handle:
            completed = subprocess.run(
                [AIRFLOW, *args],
                env={**self.env, **(env or {})},
                cwd=self.root,
                stdin=subprocess.DEVNULL,
                stdout=handle,
                stderr=subprocess.STDOUT,
                timeout=COMMAND_TIMEOUT,
                check=False,
            )
        if completed.returncode != 0:
            raise StackError(
                f"airflow {' '.join(args)} exited {completed.returncode}:\n{tail(log, 60)}"
            )
        return log.read_text(encoding="utf-8", errors="replace")

    def spawn(self, name: str, *args: str, env: dict[str, str] | None = None) -> Service:
        """Start ``airflow <args>`` in a process group of its own, logging to ``<name>.log``."""
        self.logs.mkdir(parents=True, exist_ok=True)
        log = self.logs / f"{name}.log"
        command = [AIRFLOW, *args]
        with open(log, "ab") as handle:
            process = subprocess.Popen(
                command,
                env={**self.env, **(env or {})},
                cwd=self.root,
                stdin=subprocess.DEVNULL,
                stdout=handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        service = Service(name, command, log, process)
        self.services.append(service)
        return service

    def start(self, celery_workers: tuple[str, ...] = (), concurrency: int = 2) -> None:
        """The four Airflow 3 services (and Celery workers), all started at once, then wait
        until the api-server reports them healthy and each worker is ready."""
        self.spawn("api-server", "api-server", "--host", "127.0.0.1", "--port", str(self.api_port))
        self.spawn("scheduler", "scheduler")
        self.spawn("dag-processor", "dag-processor")
        self.spawn("triggerer", "triggerer")
        workers = [self._spawn_celery_worker(name, concurrency) for name in celery_workers]
        wait_for(self._healthy, "the api-server to report every service healthy", HEALTH_TIMEOUT)
        for worker in workers:
            wait_for(
                lambda w=worker: f"{w.name} ready." in w.log.read_text(errors="replace"),
                f"the Celery worker {worker.name} to report ready",
                HEALTH_TIMEOUT,
                check=self.check_alive,
            )

    def _healthy(self) -> bool:
        self.check_alive()
        try:
            health = httpx.get(f"{self.base_url}/api/v2/monitor/health", timeout=10).json()
        except (httpx.HTTPError, ValueError):
            return False
        parts = ("metadatabase", "scheduler", "triggerer", "dag_processor")
        if not all((health.get(part) or {}).get("status") == "healthy" for part in parts):
            return False
        # the Task Execution API builds its routes on its first request: not the first task's
        try:
            return httpx.get(f"{self.base_url}/execution/health", timeout=60).status_code == 200
        except httpx.HTTPError:
            return False

    def _spawn_celery_worker(self, name: str, concurrency: int) -> Service:
        """``airflow celery worker -H <name>``: its own log-server port and reported hostname."""
        return self.spawn(
            name,
            "celery",
            "worker",
            "--celery-hostname",
            name,
            "--concurrency",
            str(concurrency),
            env={
                "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
                "AIRFLOW__CORE__HOSTNAME_CALLABLE": WORKER_HOSTNAME_CALLABLE,
                WORKER_NAME_VARIABLE: name,
                "PYTHONPATH": os.pathsep.join(
                    p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH")) if p
                ),
            },
        )

    def check_alive(self) -> None:
        for service in self.services:
            code = service.exited()
            if code is not None:
                raise StackError(
                    f"airflow {service.name} exited with code {code}; the end of {service.log}:\n"
                    f"{tail(service.log, 60)}"
                )

    def stop(self, grace: float = 30) -> None:
        """End every process started here: each service's group, and any descendant it left."""
        import psutil

        family: list[psutil.Process] = []
        for service in self.services:
            try:
                leader = psutil.Process(service.process.pid)
                family += [leader, *leader.children(recursive=True)]
            except psutil.NoSuchProcess:
                pass
        for service in self.services:
            _signal_group(service.process.pid, signal.SIGTERM)
        for process in family:
            try:
                process.terminate()
            except psutil.NoSuchProcess:
                pass
        _gone, alive = psutil.wait_procs(family, timeout=grace)
        for service in self.services:
            _signal_group(service.process.pid, signal.SIGKILL)
        for process in alive:
            try:
                process.kill()
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(alive, timeout=10)
        for service in self.services:
            try:
                service.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass

    # -- what a failing test shows

    def tails(self, lines: int = 40) -> str:
        parts = [f"AIRFLOW_HOME {self.home}; metadata DB {self.database}"]
        for log in sorted(self.logs.glob("*.log")) if self.logs.exists() else []:
            parts.append(f"----- {log.name} (last {lines} lines) -----\n{tail(log, lines)}")
        task_logs = sorted(
            (self.home / "logs").glob("dag_id=*/**/*.log"), key=lambda p: p.stat().st_mtime
        )
        for log in task_logs[-4:]:  # the latest tasks' own logs: where a task error is told
            name = log.relative_to(self.home / "logs")
            parts.append(f"----- task log {name} (last {lines} lines) -----\n{tail(log, lines)}")
        return "\n".join(parts)

    def api(self) -> Api:
        client = Api(self.base_url, check=self.check_alive)
        client.login(ADMIN, self.password)
        return client


def _signal_group(pid: int, signum: int) -> None:
    try:
        os.killpg(pid, signum)  # start_new_session: the service leads a group of its own id
    except (ProcessLookupError, PermissionError):
        pass


def tail(path: Path, lines: int) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


# -- the REST API -------------------------------------------------------------------------------


class Api:
    """The api-server's public REST API (``/api/v2``) with a bearer token."""

    def __init__(self, base_url: str, check: Callable[[], None] | None = None) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=60)
        self.check = check

    def login(self, username: str, password: str) -> None:
        response = self.http.post("/auth/token", json={"username": username, "password": password})
        if response.status_code != 201:
            raise StackError(f"POST /auth/token: {response.status_code} {response.text}")
        self.http.headers["Authorization"] = f"Bearer {response.json()['access_token']}"

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.request(method, f"/api/v2{path}", **kwargs)

    def call(self, method: str, path: str, expect: int = 200, **kwargs: Any) -> Any:
        response = self.request(method, path, **kwargs)
        if response.status_code != expect:
            raise StackError(
                f"{method} /api/v2{path}: {response.status_code}, expected {expect}: "
                f"{response.text[:2000]}"
            )
        return response.json()

    def get(self, path: str, **params: Any) -> Any:
        return self.call("GET", path, params=params)

    # -- DAGs and their runs

    def wait_for_dag(self, dag_id: str) -> dict:
        """The DAG once the dag-processor has parsed it; its import error at once if it has one."""

        def parsed() -> dict | None:
            response = self.request("GET", f"/dags/{dag_id}")
            if response.status_code == 200:
                return response.json()
            errors = self.get("/importErrors").get("import_errors", [])
            if errors:
                raise StackError(
                    "the dag-processor could not import the DAG files:\n"
                    + "\n".join(f"{e['filename']}:\n{e['stack_trace']}" for e in errors)
                )
            return None

        return wait_for(parsed, f"the dag-processor to parse {dag_id}", HEALTH_TIMEOUT, self.check)

    def create_pool(self, name: str, slots: int, description: str) -> dict:
        """A pool, as ``airflow pools set`` makes it (airflow_local.py, docker-compose.yml)."""
        body = {"name": name, "slots": slots, "description": description}
        return self.call("POST", "/pools", expect=201, json=body)

    def unpause(self, dag_id: str) -> None:
        dag = self.call("PATCH", f"/dags/{dag_id}", json={"is_paused": False})
        assert dag["is_paused"] is False, dag

    def trigger(self, dag_id: str, logical_date: dt.date) -> httpx.Response:
        logical = dt.datetime.combine(logical_date, dt.time(), dt.UTC).isoformat()
        return self.request(
            "POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": logical, "conf": {}}
        )

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        found = self.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances", limit=1000)
        return found["task_instances"]

    def wait_for_run(
        self, dag_id: str, run_id: str, past_tries: dict[str, int] | None = None
    ) -> list[dict]:
        """Wait for the run to succeed; return its task instances.

        ``past_tries``: a cleared run counts as done only once each of these tasks ran again.
        A task that fails or is put up for retry fails the wait at once, with its state: a
        valid drop never needs a retry, and the DAG's retry delays would only hide it.
        """

        def finished() -> list[dict] | None:
            run = self.get(f"/dags/{dag_id}/dagRuns/{run_id}")
            instances = self.task_instances(dag_id, run_id)
            broken = {t["task_id"]: t["state"] for t in instances}
            broken = {k: v for k, v in broken.items() if v in ("failed", "up_for_retry")}
            if broken or run["state"] == "failed":
                raise StackError(
                    f"{dag_id} run {run_id} is {run['state']}; tasks failed or retrying: {broken}"
                )
            if run["state"] != "success":
                return None
            if past_tries and any(
                t["try_number"] <= past_tries.get(t["task_id"], -1) for t in instances
            ):
                return None
            return instances

        return wait_for(
            finished, f"{dag_id} run {run_id} to succeed", RUN_TIMEOUT, self.check, interval=2
        )


# -- reading task instances ---------------------------------------------------------------------


def interval(instance: dict) -> tuple[dt.datetime, dt.datetime]:
    return (
        dt.datetime.fromisoformat(instance["start_date"]),
        dt.datetime.fromisoformat(instance["end_date"]),
    )


def overlap(a: dict, b: dict) -> bool:
    (a_start, a_end), (b_start, b_end) = interval(a), interval(b)
    return a_start < b_end and b_start < a_end


def overlapping_pairs(instances: list[dict]) -> list[tuple[str, str]]:
    return [
        (a["task_id"], b["task_id"])
        for i, a in enumerate(instances)
        for b in instances[i + 1 :]
        if overlap(a, b)
    ]


def timeline(instances: list[dict]) -> str:
    """The tasks' start and end, for a failure message."""
    rows = sorted(instances, key=lambda t: t["start_date"] or "")
    return "\n".join(
        f"  {t['task_id']:<28} {t['state']!s:<10} {t['start_date']} .. {t['end_date']}"
        f"  pool={t['pool']} host={t['hostname']}"
        for t in rows
    )


# -- touchline's side -------------------------------------------------------------------------


def touchline_env(root: Path, drop: Path) -> dict[str, str]:
    """A touchline home under ``root`` with a copy of ``drop`` (in place before any trigger)."""
    import shutil

    home = root / "touchline"
    shutil.copytree(drop, home / "drop")
    return {
        "TOUCHLINE_HOME": str(home),
        "TOUCHLINE_SOURCE_DIR": str(home / "drop"),
        "TOUCHLINE_LANDING_DIR": str(home / "landing"),
        "TOUCHLINE_WAREHOUSE": str(home / "warehouse" / "warehouse.duckdb"),
        "TOUCHLINE_OUTPUT_DIR": str(root / "output"),
    }


@contextmanager
def running_stack(
    root: Path,
    drop: Path,
    executor: str,
    owner: str,
    broker_db: int | None = None,
    celery_workers: tuple[str, ...] = (),
    extra_env: dict[str, str] | None = None,
) -> Iterator[AirflowStack]:
    """A migrated stack with its services up and healthy; all of it gone at the end.

    ``extra_env``: more settings for every service (touchline's, Connections).
    """
    with scratch_database() as database:
        env = {**touchline_env(root, drop), **(extra_env or {})}
        stack = AirflowStack(root, database, env, executor, owner, broker_db=broker_db)
        try:
            stack.migrate()
            stack.start(celery_workers)
            yield stack
        finally:
            stack.stop()  # before the database is dropped: nothing holds a connection then


def ready_to_trigger(started: AirflowStack) -> Api:
    """A logged-in client, once the writer pool exists and the DAG is parsed and unpaused."""
    from touchline.config import DAG_ID, WAREHOUSE_POOL

    api = started.api()
    api.create_pool(WAREHOUSE_POOL, 1, "One writer to the DuckDB warehouse at a time")
    api.wait_for_dag(DAG_ID)
    api.unpause(DAG_ID)
    return api
