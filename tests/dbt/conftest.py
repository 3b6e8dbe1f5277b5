"""A warehouse built from a small generated drop, for tests of the dbt project itself."""

from __future__ import annotations

import pytest

from touchline.config import settings
from touchline.extract import land_history
from touchline.warehouse import run_dbt


@pytest.fixture(scope="session")
def built(tmp_path_factory, small_drop):
    work = tmp_path_factory.mktemp("dbt-built")
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
