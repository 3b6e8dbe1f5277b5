"""The built warehouse is one file that works under any name: a past date's build is kept
under its date, and BI tools may read a copy. Its views must not name the file they were
built in."""

from __future__ import annotations

import shutil

import duckdb


def test_every_view_answers_in_a_copy_under_another_name(built, tmp_path):
    paths, _ = built
    copy = tmp_path / "2026-10-29.duckdb"
    shutil.copyfile(paths.warehouse, copy)
    with duckdb.connect(str(copy), read_only=True) as con:
        views = [
            name
            for (name,) in con.execute(
                "select view_name from duckdb_views() where not internal and schema_name = 'main'"
            ).fetchall()
        ]
        assert "fct_account_health_daily" in views
        for view in views:
            con.execute(f'select count(*) from main."{view}"').fetchone()
