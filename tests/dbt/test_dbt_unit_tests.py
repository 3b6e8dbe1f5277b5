"""The dbt unit tests: every rule of the touch model checked at its edges on fixtures.

They need the project's relations to exist (dbt reads column types from them), so a small
generated drop is landed and built first; then `dbt test --select test_type:unit` runs.
"""

from __future__ import annotations

import json

import pytest

from touchline.config import settings
from touchline.extract import land_history
from touchline.warehouse import run_dbt


@pytest.fixture(scope="module")
def built(tmp_path_factory, small_drop):
    work = tmp_path_factory.mktemp("dbt-unit")
    paths = settings().with_overrides(
        source_dir=small_drop.out_dir,
        landing_dir=work / "landing",
        warehouse=work / "warehouse.duckdb",
    )
    first, last = small_drop.dates
    land_history(paths, [first, last])
    build = run_dbt(["build", "--exclude", "test_type:unit"], paths, last, paths.warehouse)
    assert build.returncode == 0, build.stdout[-3000:]
    return paths, last


def test_every_unit_test_passes(built):
    paths, run_date = built
    completed = run_dbt(["test", "--select", "test_type:unit"], paths, run_date, paths.warehouse)
    results = json.loads((paths.state_dir / "dbt-target" / "run_results.json").read_text())
    statuses = {r["unique_id"]: r["status"] for r in results["results"]}
    failed = {name: status for name, status in statuses.items() if status != "pass"}
    assert completed.returncode == 0 and not failed, completed.stdout[-5000:]
    # an empty selection must not pass silently: the touch model has dozens of rules
    assert len(statuses) >= 30, sorted(statuses)
