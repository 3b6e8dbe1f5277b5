"""`touchline demo --drop DIR` runs on an existing drop and refuses one without dates."""

from __future__ import annotations

from tests.conftest import run_touchline


def test_a_drop_without_date_folders_is_refused_before_anything_runs(tmp_path):
    drop = tmp_path / "empty-drop"
    (drop / "not-a-date").mkdir(parents=True)
    completed = run_touchline("demo", "--drop", str(drop), home=tmp_path / "home")
    assert completed.returncode != 0
    assert f"--drop {drop} holds no date folder (YYYY-MM-DD)" in completed.stderr
    assert not (tmp_path / "home" / "airflow").exists(), "Airflow started on an empty drop"
