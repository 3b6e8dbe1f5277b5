"""The dbt unit tests: every rule of the touch model checked at its edges on fixtures.

They need the project's relations to exist (dbt reads column types from them), so a small
generated drop is landed and built first; then `dbt test --select test_type:unit` runs.
"""

from __future__ import annotations

import json

from touchline.warehouse import run_dbt


def test_every_unit_test_passes(built):
    paths, run_date = built
    completed = run_dbt(["test", "--select", "test_type:unit"], paths, run_date, paths.warehouse)
    results = json.loads((paths.state_dir / "dbt-target" / "run_results.json").read_text())
    statuses = {r["unique_id"]: r["status"] for r in results["results"]}
    failed = {name: status for name, status in statuses.items() if status != "pass"}
    assert completed.returncode == 0 and not failed, completed.stdout[-5000:]
    # an empty selection must not pass silently: the touch model has dozens of rules
    assert len(statuses) >= 30, sorted(statuses)
