"""The run report's figures, read once from the published warehouse.

The warehouse is opened read-only, as the exports open it (``exports.day``): the nightly
build is the one writer of the DuckDB file, and a reader never takes its lock. Every figure
is plain Python (dates, numbers, text, None for a SQL null), so the page and
``report.json`` are rendered from the same values.

The marts of the backtest and of the plays (``EVIDENCE_MARTS``) may not be built yet: each
is read when the warehouse has it, and is ``None`` otherwise, so its section says so.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# the marts the sections to come read; absent ones leave their section saying so
EVIDENCE_MARTS = (
    "health_backtest_by_segment",
    "health_backtest_metrics",
    "touchpoint_outcomes",
    "experiment_results",
)
EVIDENCE_ROW_LIMIT = 2000  # each of them is a small summary; more rows means a wrong grain

BAND_ORDER = ("red", "yellow", "green")
TIER_ORDER = ("high", "medium", "low", "tech")
UNSCORED = "unscored"  # an account-day without a health score (no component had data)


class WarehouseNotReady(ValueError):
    """The warehouse is missing, not built, or holds another day than the one asked for."""


@dataclass
class Figures:
    run_date: dt.date
    warehouse: Path
    accounts: int
    per_tier: dict[str, int]
    per_band: dict[str, int]  # with UNSCORED for accounts without a score
    per_stage: dict[str, int]
    human_tasks: int
    automation_items: int
    band_mix: list[dict[str, Any]]  # history_date, segment, accounts
    tier_mix: list[dict[str, Any]]
    capacity: list[dict[str, Any]]  # csm_capacity, by pod and name
    metrics: list[dict[str, Any]]  # touch_model_metrics
    # each of EVIDENCE_MARTS: its rows, or None when the warehouse has no such mart
    evidence: dict[str, list[dict[str, Any]] | None] = field(default_factory=dict)
    evidence_columns: dict[str, list[str]] = field(default_factory=dict)
    band_ranges: dict[str, tuple[int, int]] = field(default_factory=dict)  # health_bands seed
    evidence_as_of: dt.date | None = (
        None  # the history day the evidence marts were computed through
    )


def ordered(codes, order: tuple[str, ...]) -> list[str]:
    """``codes`` in the touch model's order, codes it does not know after them, sorted."""
    known = [code for code in order if code in codes]
    return known + sorted(code for code in codes if code not in order)


def _clean(value: Any) -> Any:
    """A value as the page shows it: a NaN or infinity is no figure at all."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, decimal.Decimal):
        return float(value)
    return value


def _rows(con, sql: str, params: list | None = None) -> list[dict[str, Any]]:
    cursor = con.execute(sql, params or [])
    names = [d[0] for d in cursor.description]
    return [
        {name: _clean(value) for name, value in zip(names, row, strict=True)}
        for row in cursor.fetchall()
    ]


def _columns(con, table: str) -> list[str]:
    return [
        name
        for (name,) in con.execute(
            "select column_name from information_schema.columns"
            " where table_schema = 'main' and table_name = ? order by ordinal_position",
            [table],
        ).fetchall()
    ]


def _tables(con) -> set[str]:
    return {
        name
        for (name,) in con.execute(
            "select table_name from information_schema.tables where table_schema = 'main'"
        ).fetchall()
    }


def read(warehouse: Path, run_date: dt.date) -> Figures:
    """The figures of ``run_date`` from the published ``warehouse`` (read-only).

    Raises :class:`WarehouseNotReady` when the file is missing or holds another day.
    """
    import duckdb

    from touchline.warehouse import published_date

    warehouse = Path(warehouse)
    if not warehouse.exists():
        raise WarehouseNotReady(
            f"no published warehouse at {warehouse} (TOUCHLINE_WAREHOUSE); run the nightly "
            "pipeline first"
        )
    published = published_date(warehouse)
    if published is None:
        raise WarehouseNotReady(f"{warehouse} holds no built history; run the nightly pipeline")
    if published != run_date:
        raise WarehouseNotReady(
            f"the published warehouse holds {published}, not {run_date}: the report of a day "
            "is written from the warehouse while it holds that day"
        )
    with duckdb.connect(str(warehouse), read_only=True) as con:
        con.execute("set enable_progress_bar = false")
        tables = _tables(con)
        counted = dict(
            tier=_counts(con, "tier"),
            band=_counts(con, f"coalesce(health_band, '{UNSCORED}')"),
            stage=_counts(con, "lifecycle_stage"),
        )
        (accounts,) = con.execute("select count(*) from main.dim_accounts").fetchone()
        (human_tasks,) = con.execute("select count(*) from main.csm_worklist").fetchone()
        (automation,) = con.execute("select count(*) from main.automation_queue").fetchone()
        band_mix = _rows(
            con,
            f"select history_date, coalesce(health_band, '{UNSCORED}') as segment,"
            " count(*) as accounts from main.fct_account_health_daily"
            " where history_date <= ? group by all order by all",
            [run_date],
        )
        tier_mix = _rows(
            con,
            "select history_date, tier as segment, count(*) as accounts"
            " from main.fct_account_tiers_daily where history_date <= ?"
            " group by all order by all",
            [run_date],
        )
        capacity = _rows(con, "select * from main.csm_capacity order by pod, csm_name, csm_email")
        metrics = _rows(con, "select * from main.touch_model_metrics order by metric, tier")
        band_ranges = {}
        if "health_bands" in tables:
            band_ranges = {
                band: (low, high)
                for band, low, high in con.execute(
                    "select band, min_score, max_score from main.health_bands order by min_score"
                ).fetchall()
            }
        evidence: dict[str, list[dict[str, Any]] | None] = {}
        evidence_columns: dict[str, list[str]] = {}
        for mart in EVIDENCE_MARTS:
            if mart not in tables:
                evidence[mart] = None
                continue
            evidence_columns[mart] = _columns(con, mart)
            evidence[mart] = _rows(con, f"select * from main.{mart} limit {EVIDENCE_ROW_LIMIT}")
        evidence_as_of = None
        if "evidence_as_of" in tables:
            (evidence_as_of,) = con.execute(
                "select max(as_of_date) from main.evidence_as_of"
            ).fetchone()
    return Figures(
        run_date=run_date,
        warehouse=warehouse,
        accounts=accounts,
        per_tier=counted["tier"],
        per_band=counted["band"],
        per_stage=counted["stage"],
        human_tasks=human_tasks,
        automation_items=automation,
        band_mix=band_mix,
        tier_mix=tier_mix,
        capacity=capacity,
        metrics=metrics,
        evidence=evidence,
        evidence_columns=evidence_columns,
        band_ranges=band_ranges,
        evidence_as_of=evidence_as_of,
    )


def _counts(con, expression: str) -> dict[str, int]:
    return dict(
        con.execute(
            f"select {expression} as code, count(*) from main.dim_accounts group by 1 order by 1"
        ).fetchall()
    )


def shares(
    rows: list[dict[str, Any]], order: tuple[str, ...], exclude: tuple[str, ...] = ()
) -> tuple[list[dt.date], dict[str, list[float]], list[int]]:
    """Per day, each segment's share (0-1) of the day's accounts, and the day's total.

    ``exclude``: segments counted in neither the shares nor the total (accounts without a
    health score, whose band is unknown).
    """
    days = sorted({row["history_date"] for row in rows})
    at = {day: n for n, day in enumerate(days)}
    segments = ordered({row["segment"] for row in rows} - set(exclude), order)
    counts = {segment: [0] * len(days) for segment in segments}
    for row in rows:
        if row["segment"] in counts:
            counts[row["segment"]][at[row["history_date"]]] += row["accounts"]
    totals = [sum(counts[s][n] for s in segments) for n in range(len(days))]
    return (
        days,
        {
            s: [c / total if total else 0.0 for c, total in zip(counts[s], totals, strict=True)]
            for s in segments
        },
        totals,
    )
