"""Warehouses for the run report's tests: the dbt-built one of tests/conftest.py, copied,
without the evidence marts and with them filled by hand (nulls and notes included): the
backtest's in the columns of dbt_project/models/marts/evidence, the plays' and experiments'
in the shapes those marts are planned with."""

from __future__ import annotations

import shutil

import duckdb
import pytest

from touchline.report.figures import EVIDENCE_MARTS

# what the evidence marts hold, in the shapes the report reads; a null figure is withheld
# for too few data and its row's note says so
WITHHELD_RATE = "Too few churns (2) to show a rate; a rate needs at least 5."
WITHHELD_METRICS = "Withheld: 3 churns within 30 days, fewer than the 10 a figure needs."
WITHHELD_OUTCOME = "Too few accounts (4) to show a churn rate."
WITHHELD_ARM = "Too few accounts in this arm (12) to judge."
VERDICT = "The 60-day renewal call lowers churn: the intervals of the two arms do not overlap."

SEGMENTS = [
    # horizon_days, segment_kind, segment, segment_order, account_days, churned_account_days,
    # churned_accounts, churn_rate, mean_score, note
    (30, "band", "red", 1, 4200, 63, 9, 0.015, 38.2, None),
    (30, "band", "yellow", 2, 3900, 12, 3, 0.0031, 64.0, None),
    (30, "band", "green", 3, 1100, 2, 2, None, 84.5, WITHHELD_RATE),
    (90, "band", "red", 1, 4200, 504, 21, 0.12, 38.2, None),
    (90, "band", "yellow", 2, 3900, 195, 9, 0.05, 64.0, None),
    (90, "band", "green", 3, 1100, 41, 5, 0.0375, 84.5, None),
    (90, "tier", "high", 1, 840, 17, 5, 0.02, 70.1, None),
    (90, "tier", "medium", 2, 1200, 72, 6, 0.06, 61.0, None),
    (90, "tier", "low", 3, 1590, 143, 9, 0.09, 55.3, None),
    (90, "tier", "tech", 4, 870, 2, 2, None, 49.9, WITHHELD_RATE),
    *[
        (90, "score_decile", f"{10 * n}-{10 * n + 9}", n, 920, 0, 0,
         round(0.2 - 0.018 * n, 4), 10.0 * n + 5, None)
        for n in range(10)
    ],
]  # fmt: skip
METRICS = [
    # horizon_days, score_name, observations, churned_account_days, churned_accounts, auc, k,
    # precision_at_k, churn_rate, red_churn_rate, green_churn_rate, lift_red_over_green,
    # churners_red_before_share, median_lead_time_days, note
    (30, "health", 9200, 77, 3, None, None, None, None, None, None, None, None, None,
     WITHHELD_METRICS),
    (90, "health", 9200, 740, 27, 0.7412, 920, 0.31, 0.08, 0.12, 0.0375, 3.2, 0.81, 41.0, None),
    (90, "usage", 9200, 740, 27, 0.6633, 920, 0.22, 0.08, None, None, None, None, None, None),
]  # fmt: skip
OUTCOMES = [
    # touchpoint, outcome_group, occurrences, accounts, health_change_30d_mean,
    # health_change_90d_mean, churn_rate_90d, note
    ("qbr", "completed", 48, 30, 2.5, 4.75, 0.021, None),
    ("qbr", "due_not_done", 22, 19, -1.25, -3.5, 0.091, None),
    ("health_drop_outreach", "completed", 17, 15, 6.0, 8.25, 0.059, None),
    ("health_drop_outreach", "due_not_done", 5, 4, -2.0, None, None, WITHHELD_OUTCOME),
]
EXPERIMENTS = [
    # experiment, arm, accounts, completion_rate, health_change_90d_mean, its ci_low/high,
    # churn_rate, its ci_low/high, renewal_rate, its ci_low/high, verdict, note
    ("renewal_call_60", "control", 410, 0.0, 0.4, -1.1, 1.9, 0.081, 0.056, 0.106,
     0.86, 0.83, 0.89, None, None),
    ("renewal_call_60", "call", 405, 0.78, 3.1, 1.7, 4.5, 0.032, 0.015, 0.049,
     0.93, 0.905, 0.955, VERDICT, None),
    ("welcome_webinar", "control", 12, 0.0, None, None, None, None, None, None,
     None, None, None, None, WITHHELD_ARM),
    ("welcome_webinar", "webinar", 11, 0.55, None, None, None, None, None, None,
     None, None, None, None, WITHHELD_ARM),
]  # fmt: skip

SHAPES = {
    "health_backtest_by_segment": (
        "horizon_days integer, segment_kind varchar, segment varchar, segment_order integer, "
        "account_days bigint, churned_account_days bigint, churned_accounts bigint, "
        "churn_rate double, mean_score double, note varchar",
        SEGMENTS,
    ),
    "health_backtest_metrics": (
        "horizon_days integer, score_name varchar, observations bigint, "
        "churned_account_days bigint, churned_accounts bigint, auc double, k bigint, "
        "precision_at_k double, churn_rate double, red_churn_rate double, "
        "green_churn_rate double, lift_red_over_green double, "
        "churners_red_before_share double, median_lead_time_days double, note varchar",
        METRICS,
    ),
    "touchpoint_outcomes": (
        "touchpoint varchar, outcome_group varchar, occurrences bigint, accounts bigint, "
        "health_change_30d_mean double, health_change_90d_mean double, churn_rate_90d double, "
        "note varchar",
        OUTCOMES,
    ),
    "experiment_results": (
        "experiment varchar, arm varchar, accounts bigint, completion_rate double, "
        "health_change_90d_mean double, health_change_90d_ci_low double, "
        "health_change_90d_ci_high double, churn_rate double, churn_rate_ci_low double, "
        "churn_rate_ci_high double, renewal_rate double, renewal_rate_ci_low double, "
        "renewal_rate_ci_high double, verdict varchar, note varchar",
        EXPERIMENTS,
    ),
}


def drop_evidence(con: duckdb.DuckDBPyConnection) -> None:
    """Drop whichever evidence marts the build made (tables or views)."""
    for name, kind in con.execute(
        "select table_name, table_type from information_schema.tables where table_schema = 'main'"
    ).fetchall():
        if name in EVIDENCE_MARTS:
            con.execute(f"drop {'view' if kind == 'VIEW' else 'table'} main.{name}")


@pytest.fixture(scope="session")
def report_warehouses(built, tmp_path_factory):
    """``(run_date, {"built": ..., "without": ..., "with": ...})``: the dbt-built warehouse
    as it is, one without any evidence mart, and one with them filled by hand."""
    paths, run_date = built
    work = tmp_path_factory.mktemp("report-warehouses")
    copies = {}
    for variant in ("built", "without", "with"):
        copy = work / variant / "warehouse.duckdb"
        copy.parent.mkdir()
        shutil.copyfile(paths.warehouse, copy)
        copies[variant] = copy
    with duckdb.connect(str(copies["without"])) as con:
        drop_evidence(con)
    with duckdb.connect(str(copies["with"])) as con:
        drop_evidence(con)
        for mart, (columns, rows) in SHAPES.items():
            con.execute(f"create table main.{mart} ({columns})")
            width = len(rows[0])
            con.executemany(
                f"insert into main.{mart} values ({', '.join('?' * width)})",
                [list(r) for r in rows],
            )
    return run_date, copies
