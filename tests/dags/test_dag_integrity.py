"""Every DAG imports without errors and is wired as the nightly pipeline needs."""

from __future__ import annotations

import pytest

from touchline.config import DAG_ID, REPO_ROOT, SEND_PARAM, WAREHOUSE_POOL
from touchline.schema import FAMILIES


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=REPO_ROOT / "dags")


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}
    assert DAG_ID in dagbag.dag_ids


def test_every_dag_has_tags_retries_and_docs(dagbag):
    for dag_id, dag in dagbag.dags.items():
        assert dag.tags, f"{dag_id} has no tags"
        assert dag.doc_md, f"{dag_id} has no doc_md"
        for task in dag.tasks:
            assert task.retries >= 1, f"{dag_id}.{task.task_id} has no retries"
            assert task.retry_exponential_backoff, f"{dag_id}.{task.task_id} has no backoff"


def test_nightly_shape(dagbag):
    dag = dagbag.dags[DAG_ID]
    extracts = {f"extract_{family}" for family in FAMILIES}
    gates = {"gate_before_load", "gate_before_export"}
    sends = {f"send_{name}" for name in ("files", "crm", "slack", "email", "webhook")}
    others = {"wait_for_drop", "read_crm_completions", "build_warehouse", "export_worklists"}
    others |= {"publish_marts", "write_report"}
    assert set(dag.task_ids) == extracts | gates | sends | others
    build = dag.get_task("build_warehouse")
    # the extracts run in parallel once the drop is there: none depends on another
    for task_id in extracts:
        assert dag.get_task(task_id).upstream_task_ids == {"wait_for_drop"}
    # extract -> gate before load -> build -> gate before export -> export
    assert dag.get_task("gate_before_load").upstream_task_ids == extracts | {
        "read_crm_completions"  # tasks completed in the CRM are validated with the drop
    }
    assert build.upstream_task_ids == {"gate_before_load"}
    assert dag.get_task("gate_before_export").upstream_task_ids == {"build_warehouse"}
    assert dag.get_task("export_worklists").upstream_task_ids == {"gate_before_export"}
    # the marts for BI are published beside the exports, as Assets downstream DAGs follow
    publish = dag.get_task("publish_marts")
    assert publish.upstream_task_ids == {"gate_before_export"}
    from touchline.bi_publish import MARTS

    assert sorted(a.name for a in publish.outlets) == sorted(f"touchline_mart_{m}" for m in MARTS)
    assert all(a.uri.startswith("file:///") and a.uri.endswith(".parquet") for a in publish.outlets)
    # every destination is sent to after the work lists are written, independently
    for task_id in sends:
        assert dag.get_task(task_id).upstream_task_ids == {"export_worklists"}
    # the run report comes after the work lists and nothing waits for it: a report that
    # fails holds back no list and no send
    reported = dag.get_task("write_report")
    assert reported.upstream_task_ids == {"export_worklists"}
    assert reported.downstream_task_ids == set()
    # the one writer to the DuckDB file, and the publish of the build after its gate
    assert build.pool == WAREHOUSE_POOL
    assert dag.get_task("gate_before_export").pool == WAREHOUSE_POOL
    assert dag.schedule is not None and not dag.catchup


def test_dag_file_is_named_after_its_dag_id():
    names = {p.stem for p in (REPO_ROOT / "dags").glob("*.py")}
    assert DAG_ID in names
    assert not any(name.startswith("dbt_") for name in names)


def test_a_run_can_be_told_not_to_send(dagbag):
    """A backfill's dates before its last run with send off: destinations get the newest day."""
    params = dagbag.dags[DAG_ID].params
    assert params[SEND_PARAM] is True
    assert params.get_param(SEND_PARAM).schema["type"] == "boolean"


def test_failures_and_late_lists_are_announced(dagbag):
    from touchline.alerts import FailureNotice, lists_late

    dag = dagbag.dags[DAG_ID]
    for task in dag.tasks:
        callbacks = task.on_failure_callback or []
        assert any(isinstance(c, FailureNotice) for c in callbacks), task.task_id
    (alert,) = dag.deadline
    assert alert.callback.path == f"{lists_late.__module__}.{lists_late.__name__}"
    assert alert.interval.total_seconds() > 0
