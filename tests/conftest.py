"""Shared fixtures: small generated drops and a runner for the touchline command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
TOUCHLINE = str(Path(sys.executable).with_name("touchline"))


# `make test` runs the suite on every core (pytest-xdist). Each group's tests run in one
# worker, so a module's fixtures are built once: a group is a module, or the modules that
# share a costly session fixture (a session fixture is built once per worker that uses it).
SHARED_FIXTURE_MODULES = {
    "tests/include/test_diff.py": "two_nights",
    "tests/include/test_preview.py": "two_nights",
}


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    from xdist.scheduler import LoadScopeScheduling

    config.option.loadscopereorder = False  # keep the order below, not the largest first

    class ByGroup(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::")[0]
            return SHARED_FIXTURE_MODULES.get(module, module)

    return ByGroup(config, log)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Hand the longest groups to the workers first.

    Workers take groups in collection order, so a long group collected last would leave the
    other workers idle at the end: the scheduler stacks go first, then the other nights
    through Airflow (the e2e mark), then the rest, each in its collected order.
    """

    def weight(item) -> int:
        if item.nodeid.startswith("tests/scheduler/"):
            return 0
        return 1 if item.get_closest_marker("e2e") else 2

    items.sort(key=weight)  # stable: collection order within each weight


def pytest_configure(config):
    """Tests that import Airflow get a throw-away Airflow home, never ~/airflow."""
    import tempfile

    home = Path(tempfile.mkdtemp(prefix="touchline-tests-airflow-"))
    os.environ["AIRFLOW_HOME"] = str(home)
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{home / 'airflow.db'}"


@pytest.fixture(scope="session")
def small_drop(tmp_path_factory):
    """A small demo drop: 150 accounts over 8 days (folders end on the default end date)."""
    from touchline.demo.generator import generate

    out = tmp_path_factory.mktemp("drop")
    summary = generate(out, accounts=150, days=8, seed=7, usage_format="csv")
    return summary


def run_touchline(
    *args: str, home: Path, timeout: int = 900, extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """Run the touchline command with its own TOUCHLINE_HOME, as a user would."""
    env = dict(os.environ)
    for key in list(env):
        if key.startswith(("TOUCHLINE_", "AIRFLOW")):
            del env[key]
    env.update(extra_env or {})
    env["TOUCHLINE_HOME"] = str(home)
    return subprocess.run(
        [TOUCHLINE, *args],
        env=env,
        cwd=home.parent,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="session")
def built(tmp_path_factory, small_drop):
    """A warehouse built by dbt from the small drop's first and last days (no Airflow)."""
    from touchline.config import settings
    from touchline.extract import land_history
    from touchline.warehouse import run_dbt

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
