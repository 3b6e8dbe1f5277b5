"""Fixtures of the scheduler tests: the machine's PostgreSQL and Redis, and failure reports.

These tests bring Airflow up as a deployment runs it (tests/scheduler/stack.py); they need
PostgreSQL at 127.0.0.1:5432 (trust auth, user postgres) and, for Celery, Redis at
127.0.0.1:6379, and skip with the reason when either cannot be reached. Run them alone with
`pytest tests/scheduler` or `pytest -m scheduler`.
"""

from __future__ import annotations

import pytest

from tests.scheduler import stack


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "scheduler: runs the nightly DAG under Airflow's own services (slow)"
    )


@pytest.fixture(scope="session")
def postgres() -> None:
    reason = stack.postgres_unreachable()
    if reason:
        pytest.skip(f"needs PostgreSQL for Airflow's metadata DB: {reason}")


@pytest.fixture(scope="session")
def redis_server() -> None:
    reason = stack.redis_unreachable()
    if reason:
        pytest.skip(f"needs Redis as the Celery broker: {reason}")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failing test (or fixture) of a module shows the end of its services' logs."""
    outcome = yield
    report = outcome.get_result()
    if not report.failed:
        return
    for started in stack.STACKS.get(item.module.__name__, []):
        tails = started.tails()
        title = f"Airflow services ({started.executor})"
        if tails == getattr(started, "reported_tails", None):
            tails = "(unchanged since the previous failure's report)"
        else:
            started.reported_tails = tails
        report.sections.append((title, tails))
