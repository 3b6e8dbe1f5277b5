"""The nightly DAG on the CeleryExecutor: Redis as the broker, two workers.

The stack of test_local_executor.py with ``AIRFLOW__CORE__EXECUTOR=CeleryExecutor``, a Redis
database of its own as the broker, the result backend in the stack's PostgreSQL database,
and two ``airflow celery worker`` processes with names of their own. The tasks of one run
spread over both workers, and the one-slot ``warehouse_writer`` pool still keeps a single
writer on the warehouse across them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.scheduler import stack
from touchline.config import DAG_ID, WAREHOUSE_POOL

pytestmark = [pytest.mark.scheduler, pytest.mark.e2e]

WORKERS = ("worker-a", "worker-b")  # each with --concurrency 2


@pytest.fixture(scope="module")
def celery_run(request, tmp_path_factory, postgres, redis_server, small_drop):
    root = tmp_path_factory.mktemp("celery-executor")
    with (
        stack.scratch_redis_db() as broker_db,
        stack.running_stack(
            root,
            small_drop.out_dir,
            "CeleryExecutor",
            request.module.__name__,
            broker_db=broker_db,
            celery_workers=WORKERS,
        ) as started,
    ):
        api = stack.ready_to_trigger(started)
        run_date = small_drop.dates[1]
        response = api.trigger(DAG_ID, run_date)
        assert response.status_code == 200, response.text
        run = response.json()
        instances = api.wait_for_run(DAG_ID, run["dag_run_id"])
        yield api, run, instances, Path(started.env["TOUCHLINE_OUTPUT_DIR"]) / str(run_date)


def test_the_run_succeeds_on_the_celery_workers(celery_run):
    api, run, instances, day_dir = celery_run
    assert api.get(f"/dags/{DAG_ID}/dagRuns/{run['dag_run_id']}")["state"] == "success"
    assert {t["state"] for t in instances} <= {"success", "skipped"}, stack.timeline(instances)
    assert (day_dir / "worklist.csv").is_file() and list(day_dir.glob("worklists/*.csv"))


def test_tasks_ran_on_both_workers(celery_run):
    _api, _run, instances, _day = celery_run
    hosts = {t["hostname"] for t in instances if t["try_number"]}
    assert hosts == set(WORKERS), stack.timeline(instances)


def test_the_warehouse_writers_never_overlapped_across_workers(celery_run):
    _api, _run, instances, _day = celery_run
    writers = [t for t in instances if t["pool"] == WAREHOUSE_POOL]
    assert len(writers) >= 2, "the DAG puts fewer than two tasks in the writer pool"
    assert not stack.overlapping_pairs(writers), stack.timeline(writers)
