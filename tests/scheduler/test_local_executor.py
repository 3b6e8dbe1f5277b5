"""The nightly DAG under Airflow 3's own services, with the LocalExecutor, as deployed.

A metadata DB of its own on PostgreSQL, the ``warehouse_writer`` pool of one slot, and the
api-server, scheduler, dag-processor and triggerer as separate processes. The DAG is
unpaused and triggered for the drop's last day through the REST API, as an operator or
another system would, and the checks read what the API reports: the run's state, the tasks
(whatever the DAG holds: nothing here lists them) and their start and end times.
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.scheduler import stack
from touchline.config import DAG_ID, WAREHOUSE_POOL

pytestmark = [pytest.mark.scheduler, pytest.mark.e2e]

# the work-list files of a date (docs/outputs.md); run_summary.json also records timings
WORKLIST_FILES = ("worklist.csv", "automation_queue.csv", "accounts.csv")


@dataclass
class Nightly:
    stack: stack.AirflowStack
    api: stack.Api
    run_date: object
    run: dict
    duplicate: object  # the response to a second trigger for the same logical date
    instances: list[dict]
    output: Path
    root: Path

    @property
    def day_dir(self) -> Path:
        return self.output / self.run_date.isoformat()


@pytest.fixture(scope="module")
def nightly(request, tmp_path_factory, postgres, small_drop):
    root = tmp_path_factory.mktemp("local-executor")
    with stack.running_stack(
        root, small_drop.out_dir, "LocalExecutor", request.module.__name__
    ) as started:
        api = stack.ready_to_trigger(started)
        run_date = small_drop.dates[1]
        response = api.trigger(DAG_ID, run_date)
        assert response.status_code == 200, response.text
        run = response.json()
        duplicate = api.trigger(DAG_ID, run_date)  # while the first is queued or running
        instances = api.wait_for_run(DAG_ID, run["dag_run_id"])
        yield Nightly(
            started,
            api,
            run_date,
            run,
            duplicate,
            instances,
            Path(started.env["TOUCHLINE_OUTPUT_DIR"]),
            root,
        )


def by_prefix(instances: list[dict], prefix: str) -> list[dict]:
    return [t for t in instances if t["task_id"].startswith(prefix)]


def in_pool(instances: list[dict], pool: str) -> list[dict]:
    return [t for t in instances if t["pool"] == pool]


def worklist_digests(day_dir: Path) -> dict[str, str]:
    files = [day_dir / name for name in WORKLIST_FILES] + sorted(day_dir.glob("worklists/*"))
    return {str(f.relative_to(day_dir)): hashlib.sha256(f.read_bytes()).hexdigest() for f in files}


def test_the_run_succeeds_with_every_task_done(nightly):
    run = nightly.api.get(f"/dags/{DAG_ID}/dagRuns/{nightly.run['dag_run_id']}")
    assert run["state"] == "success"
    assert run["logical_date"].startswith(nightly.run_date.isoformat())
    tasks = {t["task_id"] for t in nightly.api.get(f"/dags/{DAG_ID}/tasks")["tasks"]}
    states = {t["task_id"]: t["state"] for t in nightly.instances}
    assert set(states) == tasks, "every task of the DAG has an instance in the run"
    # the send tasks skip: this deployment configures no destination
    assert set(states.values()) <= {"success", "skipped"}, states
    assert by_prefix(nightly.instances, "extract_"), "the DAG extracts no family"


def test_the_work_lists_are_written_for_the_date(nightly):
    day = nightly.day_dir
    for name in (*WORKLIST_FILES, "run_summary.json"):
        assert (day / name).is_file(), f"{name} missing in {day}"
    assert list(day.glob("worklists/*.csv")), f"no per-CSM work list in {day / 'worklists'}"
    header = (day / "worklist.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header.startswith("task_key,run_date,"), header
    quality = nightly.output / "quality" / nightly.run_date.isoformat()
    assert (quality / "report.html").is_file() and (quality / "report.json").is_file()


def test_the_extracts_ran_in_parallel(nightly):
    extracts = by_prefix(nightly.instances, "extract_")
    assert len(extracts) >= 2
    assert stack.overlapping_pairs(extracts), (
        "no two extract tasks ran at the same time:\n" + stack.timeline(nightly.instances)
    )


def test_the_warehouse_writers_never_overlapped(nightly):
    pool = nightly.api.get(f"/pools/{WAREHOUSE_POOL}")
    assert pool["slots"] == 1, pool
    writers = in_pool(nightly.instances, WAREHOUSE_POOL)
    assert len(writers) >= 2, "the DAG puts fewer than two tasks in the writer pool"
    assert not stack.overlapping_pairs(writers), stack.timeline(writers)


def test_a_second_trigger_for_the_same_logical_date_is_refused(nightly):
    assert nightly.duplicate.status_code == 409, nightly.duplicate.text
    runs = nightly.api.get(f"/dags/{DAG_ID}/dagRuns")["dag_runs"]
    assert [r["dag_run_id"] for r in runs] == [nightly.run["dag_run_id"]]


def test_clearing_the_run_reruns_it_to_the_same_work_lists(nightly):
    before = worklist_digests(nightly.day_dir)
    first = nightly.root / "first-run"  # the first run's files, to compare when they differ
    shutil.copytree(nightly.day_dir, first)
    run_id = nightly.run["dag_run_id"]
    tries = {t["task_id"]: t["try_number"] for t in nightly.instances}
    ran = {task: n for task, n in tries.items() if n}  # a task skipped unrun has no try
    cleared = nightly.api.call(
        "POST",
        f"/dags/{DAG_ID}/clearTaskInstances",
        json={"dag_run_id": run_id, "dry_run": False, "only_failed": False},
    )
    cleared_ids = {t["task_id"] for t in cleared["task_instances"]}
    assert cleared_ids == set(tries), f"cleared {sorted(cleared_ids)}, ran {sorted(tries)}"
    rerun = nightly.api.wait_for_run(DAG_ID, run_id, past_tries=ran)
    assert {t["state"] for t in rerun} <= {"success", "skipped"}
    again = {t["task_id"] for t in rerun if t["try_number"] > tries[t["task_id"]]}
    assert set(ran) <= again, stack.timeline(rerun)
    after = worklist_digests(nightly.day_dir)
    changed = sorted(
        name for name in before.keys() | after.keys() if before.get(name) != after.get(name)
    )
    assert not changed, f"the re-run changed {changed} in {nightly.day_dir} (first run: {first})"
    assert not stack.overlapping_pairs(in_pool(rerun, WAREHOUSE_POOL)), stack.timeline(rerun)
