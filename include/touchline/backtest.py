"""The health score's backtest in words: what the evidence marts hold, for a terminal.

The marts (dbt_project/models/marts/evidence, docs/backtest.md) grade each day's stored
score against what happened next. This module reads them from the published warehouse,
read-only, and says them: a few lines for the run summary (:func:`summary_lines`), and
every table for ``touchline backtest`` (:func:`render`). A figure the marts withhold for too
few churns is said as their note, never as a number.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

METRICS = "health_backtest_metrics"
SEGMENTS = "health_backtest_by_segment"


@dataclass(frozen=True)
class Backtest:
    metrics: list[dict]  # health_backtest_metrics, by horizon then score
    segments: list[dict]  # health_backtest_by_segment, by horizon, kind, order

    def horizons(self) -> list[int]:
        return sorted({row["horizon_days"] for row in self.metrics})

    def metric(self, horizon: int, score: str = "health") -> dict | None:
        return next(
            (
                row
                for row in self.metrics
                if row["horizon_days"] == horizon and row["score_name"] == score
            ),
            None,
        )


def read(warehouse: Path) -> Backtest | None:
    """The backtest marts of ``warehouse``; None when it has none (built before them)."""
    import duckdb

    with duckdb.connect(str(warehouse), read_only=True) as con:
        present = {
            name
            for (name,) in con.execute(
                "select table_name from information_schema.tables where table_schema = 'main'"
            ).fetchall()
        }
        if not {METRICS, SEGMENTS} <= present:
            return None
        return Backtest(
            _rows(con, f"select * from main.{METRICS} order by horizon_days, score_name"),
            _rows(
                con,
                f"select * from main.{SEGMENTS}"
                " order by horizon_days, segment_kind, segment_order, segment",
            ),
        )


def _rows(con, sql: str) -> list[dict]:
    cursor = con.execute(sql)
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _percent(rate: float | None) -> str:
    if rate is None:
        return "-"
    return f"{100 * rate:.2f}%" if rate < 0.1 else f"{100 * rate:.1f}%"


def horizon_line(backtest: Backtest, horizon: int) -> str:
    """One horizon of the health score in a line: red against green, lift, AUC."""
    row = backtest.metric(horizon)
    if row is None:
        return f"{horizon} days: not computed"
    if row["auc"] is None:
        return f"{horizon} days: {row['note']}"
    parts = [
        f"{horizon} days: red {_percent(row['red_churn_rate'])} churned, "
        f"green {_percent(row['green_churn_rate'])}"
    ]
    if row["lift_red_over_green"] is not None:
        parts[0] += f" (lift {row['lift_red_over_green']:.1f}x)"
    parts.append(f"AUC {row['auc']:.2f}")
    parts.append(f"{row['churned_accounts']} churned accounts")
    return "; ".join(parts)


def lead_line(backtest: Backtest) -> str | None:
    """How early churners turned red, once (it does not depend on the horizon)."""
    for horizon in backtest.horizons():
        row = backtest.metric(horizon)
        if row and row["churners_red_before_share"] is not None:
            line = f"{100 * row['churners_red_before_share']:.0f}% of churners were red first"
            if row["median_lead_time_days"] is not None:
                line += f", a median {row['median_lead_time_days']:.0f} days before they churned"
            return line
    return None


def summary_lines(backtest: Backtest) -> list[str]:
    """The run summary's lines: each horizon, then the lead time."""
    lines = [horizon_line(backtest, horizon) for horizon in backtest.horizons()]
    lead = lead_line(backtest)
    return lines + ([lead] if lead else [])


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]
    lines = ["  ".join(f"{cell:<{width}}" for cell, width in zip(header, widths, strict=True))]
    lines += [
        "  ".join(f"{cell:<{width}}" for cell, width in zip(row, widths, strict=True))
        for row in rows
    ]
    return [line.rstrip() for line in lines]


def render(backtest: Backtest) -> str:
    """Every figure of the backtest: per horizon, the churn rate by band, tier and score
    bucket, and how well the score and each component alone rank churners."""
    out = ["Does the health score predict churn? (docs/backtest.md)", ""]
    out += summary_lines(backtest)
    for horizon in backtest.horizons():
        out += ["", f"== Churn within {horizon} days of an as-of day =="]
        health = backtest.metric(horizon)
        if health and health["observations"] == 0:
            out.append(health["note"])
            continue
        for kind, title in (("band", "band"), ("tier", "tier"), ("score_decile", "score")):
            rows = [
                r
                for r in backtest.segments
                if r["horizon_days"] == horizon and r["segment_kind"] == kind
            ]
            if not rows:
                continue
            out.append("")
            out += _table(
                [title, "account-days", "churned", "accounts", "churn rate", "mean score"],
                [
                    [
                        r["segment"],
                        f"{r['account_days']:,}",
                        f"{r['churned_account_days']:,}",
                        str(r["churned_accounts"]),
                        _percent(r["churn_rate"]),
                        f"{r['mean_score']:.1f}" if r["mean_score"] is not None else "-",
                    ]
                    for r in rows
                ],
            )
            notes = {r["note"] for r in rows if r["note"]}
            out += sorted(notes)
        scores = [r for r in backtest.metrics if r["horizon_days"] == horizon]
        out.append("")
        out.append(
            "Each score alone (AUC 0.5 is chance; precision: churn rate of the lowest-scored k)"
        )
        out += _table(
            ["score", "observations", "AUC", "precision at k", "k", "base rate"],
            [
                [
                    r["score_name"],
                    f"{r['observations']:,}",
                    f"{r['auc']:.3f}" if r["auc"] is not None else "-",
                    _percent(r["precision_at_k"]),
                    f"{r['k']:,}" if r["k"] is not None else "-",
                    _percent(r["churn_rate"]),
                ]
                for r in scores
            ],
        )
        out += sorted({r["note"] for r in scores if r["note"]})
    return "\n".join(out) + "\n"
