"""``touchline doctor`` names each problem of a broken deployment, with its fix."""

from __future__ import annotations

import json

import duckdb
import pytest
import sqlalchemy as sa

from tests.conftest import REPO_ROOT, run_touchline
from touchline import doctor
from touchline.config import settings


@pytest.fixture
def deployment(tmp_path):
    """A deployment's folders: a drop with one day, and a warehouse that was built."""
    home = tmp_path / "home"
    (home / "drop" / "2026-10-30").mkdir(parents=True)
    (home / "landing").mkdir()
    duckdb.connect(str(home / "warehouse.duckdb")).close()
    airflow = tmp_path / "airflow"
    airflow.mkdir()
    return home, airflow


def metadata_db(path, slots: int | None) -> str:
    """A database holding the two tables the check reads, as a migrated Airflow has them."""
    from airflow.models.connection import Connection

    url = f"sqlite:///{path}"
    Connection.__table__.create(sa.create_engine(url))
    with sa.create_engine(url).begin() as connection:
        connection.execute(sa.text("create table alembic_version (version_num text)"))
        connection.execute(sa.text("create table slot_pool (pool text, slots integer)"))
        if slots is not None:
            connection.execute(
                sa.text("insert into slot_pool values ('warehouse_writer', :slots)"),
                {"slots": slots},
            )
    return url


def test_a_broken_deployment_is_named_problem_by_problem(deployment):
    home, airflow = deployment
    (home / "landing").rmdir()  # the landing the warehouse was built from is gone
    env = {
        "AIRFLOW_HOME": str(airflow),
        # nothing listens on port 1
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "postgresql+psycopg2://airflow:s3cret@127.0.0.1:1/airflow",
        "AIRFLOW_CONN_TOUCHLINE_ALERTS": '{"conn_type": "slack", "password": ',  # cut short
        "AIRFLOW_CONN_TOUCHLINE_WEBHOOK": "https://hooks.example/touchline",  # no secret
        "TOUCHLINE_DBT_THREADS": "two",
        "TOUCHLINE_DBT_PROJECT_DIR": str(REPO_ROOT / "dbt_project"),
        "TOUCHLINE_EXPECTATIONS_DIR": str(REPO_ROOT / "expectations"),
    }
    done = run_touchline("doctor", home=home, extra_env=env, timeout=300)
    report = done.stdout
    assert done.returncode == 1, report + done.stderr
    assert f"the landing folder {home / 'landing'} is missing" in report
    assert "point TOUCHLINE_LANDING_DIR at the landing the warehouse was built from" in report
    assert "cannot reach Airflow's metadata database at " in report
    assert "postgresql+psycopg2://airflow:***@127.0.0.1:1/airflow" in report
    assert "s3cret" not in report + done.stderr
    assert "correct AIRFLOW__DATABASE__SQL_ALCHEMY_CONN" in report
    assert "touchline_alerts (failure notices and deadline alerts): " in report
    assert "AIRFLOW_CONN_TOUCHLINE_ALERTS cannot be read" in report
    assert "touchline_webhook (the webhook destination, from AIRFLOW_CONN_TOUCHLINE_WEBHOOK)" in (
        report
    )
    assert "has no password" in report
    assert "TOUCHLINE_DBT_THREADS='two' is not a whole number" in report
    problems = [line for line in report.splitlines() if line.startswith("FAIL")]
    assert len(problems) == 5, report
    assert "\n5 problems, " in report


def test_a_sound_deployment_passes(deployment, tmp_path, monkeypatch):
    home, airflow = deployment
    monkeypatch.setenv("TOUCHLINE_HOME", str(home))
    url = metadata_db(tmp_path / "airflow.db", slots=1)
    monkeypatch.setenv("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", url)
    alerts = {"conn_type": "slack", "password": "xoxb-1"}
    monkeypatch.setenv("AIRFLOW_CONN_TOUCHLINE_ALERTS", json.dumps(alerts))
    findings = doctor.diagnose(settings())
    assert [f.line() for f in findings if f.level != doctor.OK] == []
    checks = {f.check for f in findings}
    assert {"settings", "drop", "landing", "disk", "warehouse", "metadata db", "pool"} <= checks
    assert any("touchline_alerts" in f.message for f in findings if f.check == "connection")


@pytest.mark.parametrize(
    ("slots", "said"),
    [(None, "does not exist"), (4, "has 4 slots: two builds would write one file")],
)
def test_the_warehouse_pool_must_exist_with_one_slot(tmp_path, monkeypatch, slots, said):
    url = metadata_db(tmp_path / "airflow.db", slots=slots)
    monkeypatch.setenv("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", url)
    (pool,) = [f for f in doctor.check_metadata_db() if f.check == "pool"]
    assert pool.level == doctor.FAIL and said in pool.message
    assert pool.fix.startswith("airflow pools set warehouse_writer 1")


def test_a_misspelt_setting_is_pointed_out(monkeypatch, tmp_path):
    monkeypatch.setenv("TOUCHLINE_OUTPUT_DIRECTORY", str(tmp_path))
    paths = settings()
    (typo,) = [f for f in doctor.check_settings(paths) if "OUTPUT_DIRECTORY" in f.message]
    assert typo.level == doctor.WARN and typo.fix == "did you mean TOUCHLINE_OUTPUT_DIR?"


def test_a_short_disk_fails(deployment, monkeypatch):
    home, _ = deployment
    monkeypatch.setenv("TOUCHLINE_HOME", str(home))
    monkeypatch.setattr(doctor, "MIN_FREE_BYTES", 1 << 62)
    (disk,) = doctor.check_disk(settings())
    assert disk.level == doctor.FAIL and "a build needs about" in disk.message
