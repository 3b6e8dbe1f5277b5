"""The gate before export on a real built warehouse: a bad mart stops the publish.

The warehouse built from the small drop is copied to a candidate, broken in one place with
SQL, and put through the gate: it must fail naming the mart, the expectation and the
offending task, publish nothing, and keep the candidate for inspection.
"""

from __future__ import annotations

import json
import shutil

import duckdb
import pytest

from touchline.errors import GateFailed
from touchline.pipeline import publish_if_passed
from touchline.quality.gates import gate_before_export
from touchline.quality.report import report_dir
from touchline.warehouse import candidate_path


@pytest.fixture
def candidate(built, tmp_path):
    source, run_date = built
    paths = source.with_overrides(
        warehouse=tmp_path / "warehouse.duckdb", output_dir=tmp_path / "output"
    )
    shutil.copyfile(source.warehouse, candidate_path(paths))
    return paths, run_date


def first_task(paths) -> str:
    with duckdb.connect(str(candidate_path(paths)), read_only=True) as con:
        return con.execute(
            "select task_key from main.fct_touchpoints_due where owner_role <> 'automation' "
            "order by task_key limit 1"
        ).fetchone()[0]


def tamper(paths, sql: str) -> None:
    with duckdb.connect(str(candidate_path(paths))) as con:
        con.execute(sql)


def test_a_clean_build_passes_and_is_published(candidate):
    paths, run_date = candidate
    summary = publish_if_passed(paths, run_date)
    assert summary["status"] == "passed" and summary["expectations"] >= 10
    assert paths.warehouse.exists() and not candidate_path(paths).exists()
    report = json.loads((report_dir(paths.output_dir, run_date) / "report.json").read_text())
    (gate,) = report["steps"]
    assert gate["step"] == "before_export" and gate["status"] == "passed"


def test_the_gate_returns_its_verdict_and_leaves_publishing_to_the_pipeline(candidate):
    paths, run_date = candidate
    key = first_task(paths)
    tamper(paths, f"update main.fct_touchpoints_due set due_date = null where task_key = '{key}'")
    verdict = gate_before_export(paths, run_date)
    assert not verdict.passed and verdict.status == "failed"
    assert [(o.dataset, o.column) for o in verdict.failures] == [("tasks", "due_date")]
    assert "the candidate is kept for inspection" in verdict.message
    assert not paths.warehouse.exists() and candidate_path(paths).exists()


FAULTS = {
    "unknown touchpoint code": (
        "update main.fct_touchpoints_due set touchpoint = 'coffee_chat' where task_key = '{key}'",
        "tasks: expect_column_values_to_be_in_set on 'touchpoint'",
        "found 'coffee_chat'",
    ),
    "missing due date": (
        "update main.fct_touchpoints_due set due_date = null where task_key = '{key}'",
        "tasks: expect_column_values_to_not_be_null on 'due_date'",
        "1 of",
    ),
    "due date out of range": (
        "update main.fct_touchpoints_due set due_date = date '2031-01-01' where task_key = '{key}'",
        "tasks: expect_column_values_to_be_between on 'due_date'",
        "2031-01-01",
    ),
    "duplicate task_key": (
        "insert into main.fct_touchpoints_due select * from main.fct_touchpoints_due "
        "where task_key = '{key}'",
        "tasks: expect_column_values_to_be_unique on 'task_key'",
        "2 of",
    ),
    "task with no one to do it": (
        "update main.fct_touchpoints_due set assignee_email = null, owner_role = 'csm' "
        "where task_key = '{key}'",
        "tasks: expect_column_values_to_not_be_null on 'routed_to'",
        "1 of",
    ),
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_broken_mart_stops_the_publish(candidate, fault):
    paths, run_date = candidate
    key = first_task(paths)
    sql, expectation, observed = FAULTS[fault]
    tamper(paths, sql.format(key=key))
    with pytest.raises(GateFailed) as caught:
        publish_if_passed(paths, run_date)
    message = str(caught.value)
    assert expectation in message and observed in message, message
    assert f"task_key={key}" in message
    assert "the build was not published and no work list was written" in message
    assert not paths.warehouse.exists()  # nothing published
    assert candidate_path(paths).exists()  # kept for inspection
