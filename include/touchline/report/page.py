"""The run report's HTML: one self-contained page, readable with JavaScript off.

Sections, each with an id the table of contents and docs/report.md link to:

- ``summary``: the run date, the accounts by tier and band, the day's tasks, the links;
- ``bands``, ``tiers``: the share of accounts per health band and per tier, each day;
- ``capacity``: each CSM's hours needed against their capacity, the overloaded marked;
- ``metrics``: the touch model's metrics per tier against their targets;
- ``backtest``: churn by band, tier and ten-point score bucket per horizon, AUC, lift, lead time
  (``health_backtest_by_segment``, ``health_backtest_metrics``);
- ``plays``: touchpoints completed against due and not done, and the A/B results
  (``touchpoint_outcomes``, ``experiment_results``).

A section whose mart the warehouse lacks says so in words. A figure the mart withholds (a
null, for too few data) is never printed as a number: its cell says "withheld" and the row's
note says why. Every chart is followed by a text alternative with its key figures.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from touchline.report import charts
from touchline.report.figures import (
    BAND_ORDER,
    TIER_ORDER,
    UNSCORED,
    Figures,
    ordered,
    shares,
)

e = html.escape

SHOWN, EMPTY, NOT_AVAILABLE = "shown", "empty", "not available"
CAPACITY_CHART_ROWS = 40  # CSMs drawn; the table lists every one
COMPARE_DAYS_BACK = 30  # the text alternatives compare the run date with 30 days before
WORK_DAYS_PER_WEEK = 5  # a day of capacity is a fifth of the week (docs/touch-model.md)

_STYLE = """
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto;
       max-width: 62em; padding: 0 1em; color: #1f2328 }
h1 { font-size: 1.6em; margin-bottom: .2em } h2 { font-size: 1.25em; margin-top: 2.2em;
     border-bottom: 1px solid #d0d7de; padding-bottom: .2em } h3 { font-size: 1.05em }
table { border-collapse: collapse; margin: .5em 0 1em; font-size: .92em }
th, td { border-bottom: 1px solid #d0d7de; padding: .25em .6em; text-align: left;
         vertical-align: top }
th { background: #f6f8fa } td.num, th.num { text-align: right;
     font-variant-numeric: tabular-nums }
figure { margin: 1em 0 .5em } figcaption { color: #57606a; font-size: .9em }
svg.chart { display: block; max-width: 100%; height: auto }
.muted { color: #57606a } .withheld { color: #57606a; font-style: italic }
.missing { background: #f6f8fa; border-left: 4px solid #afb8c1; padding: .6em 1em }
.over { color: #cf222e; font-weight: 600 } .figures { display: flex; flex-wrap: wrap;
        gap: .5em 2.5em } .figures div b { display: block; font-size: 1.4em }
nav ol { columns: 2; padding-left: 1.2em } code { font-size: .9em }
.wide { overflow-x: auto; max-width: 100% } td { min-width: 3em }
.withheld-rows { color: #57606a } td.note { min-width: 18em }
"""


@dataclass(frozen=True)
class Link:
    label: str
    href: str | None  # relative to the report; None: the file is not beside it


@dataclass
class Page:
    html: str
    sections: dict[str, str]  # section id -> shown, empty or not available
    headline: dict[str, Any]  # the key figures, for report.json


# -- formatting ----------------------------------------------------------------------------


def pct(value: float | None, digits: int = 1) -> str | None:
    return None if value is None else f"{value * 100:.{digits}f}%"


def number(value: float | None, digits: int = 1) -> str | None:
    return None if value is None else f"{value:,.{digits}f}"


def count(value: float | None) -> str | None:
    return None if value is None else f"{int(value):,}"


def signed(value: float | None, digits: int = 1) -> str | None:
    return None if value is None else f"{value:+,.{digits}f}"


def times(value: float | None) -> str | None:
    return None if value is None else f"{value:,.2f}x"


def days(value: float | None) -> str | None:
    return None if value is None else f"{value:,.0f} days"


def _cell(text: str | None, *, numeric: bool = True, withheld: str = "withheld") -> str:
    if text is None:
        return f'<td class="withheld{" num" if numeric else ""}">{e(withheld)}</td>'
    return f"<td{' class=num' if numeric else ''}>{e(text)}</td>"


def _table(header: Sequence[str], rows: Sequence[str], numeric_from: int = 1) -> str:
    """A table in a box of the page's width that scrolls sideways when the table is wider."""
    cells = "".join(
        f"<th{' class=num' if n >= numeric_from else ''}>{e(h)}</th>" for n, h in enumerate(header)
    )
    return f'<div class="wide"><table><tr>{cells}</tr>{"".join(rows)}</table></div>'


def _missing(mart: str, what: str) -> str:
    return (
        f'<p class="missing">Not available yet: the warehouse has no <code>{e(mart)}</code> '
        f"mart, which holds {e(what)}. This part of the report appears on the first night "
        "whose build has it.</p>"
    )


def _empty(mart: str) -> str:
    return (
        f'<p class="missing">The <code>{e(mart)}</code> mart is built but holds no rows yet: '
        "the history has no day it can judge.</p>"
    )


def _figure(svg: str, caption: str, alternative: str) -> str:
    return (
        f"<figure>{svg}<figcaption>{e(caption)}</figcaption></figure>"
        f'<div class="alt">{alternative}</div>'
    )


# -- sections ------------------------------------------------------------------------------


def _summary(figures: Figures, links: Sequence[Link]) -> tuple[str, dict[str, Any]]:
    tiers = ordered(figures.per_tier, TIER_ORDER)
    bands = ordered(figures.per_band, (*BAND_ORDER, UNSCORED))
    overloaded = [row for row in figures.capacity if row.get("is_overloaded")]
    boxes = [
        ("accounts", f"{figures.accounts:,}"),
        ("human tasks today", f"{figures.human_tasks:,}"),
        ("automation items", f"{figures.automation_items:,}"),
        ("CSMs overloaded", f"{len(overloaded)} of {len(figures.capacity)}"),
    ]
    out = ['<section id="summary">', '<div class="figures">']
    out += [f"<div><b>{e(value)}</b>{e(label)}</div>" for label, value in boxes]
    out.append("</div>")
    out.append(
        _table(
            ["", *tiers],
            [
                "<tr><th>accounts per tier</th>"
                + "".join(_cell(count(figures.per_tier[t])) for t in tiers)
                + "</tr>"
            ],
        )
    )
    out.append(
        _table(
            ["", *bands],
            [
                "<tr><th>accounts per health band</th>"
                + "".join(_cell(count(figures.per_band[b])) for b in bands)
                + "</tr>"
            ],
        )
    )
    listed = []
    for link in links:
        if link.href is None:
            listed.append(f"<li>{e(link.label)}: <span class=muted>not found</span></li>")
        else:
            listed.append(f'<li><a href="{e(link.href)}">{e(link.label)}</a></li>')
    out.append(f"<p>This run's other outputs:</p><ul>{''.join(listed)}</ul></section>")
    headline = {
        "accounts": figures.accounts,
        "accounts_per_tier": {t: figures.per_tier[t] for t in tiers},
        "accounts_per_band": {b: figures.per_band[b] for b in bands},
        "human_tasks": figures.human_tasks,
        "automation_items": figures.automation_items,
        "csms": len(figures.capacity),
        "csms_overloaded": [row.get("csm_name") or row["csm_email"] for row in overloaded],
    }
    return "\n".join(out), headline


def compare_days(days_: Sequence[dt.date], run_date: dt.date) -> list[dt.date]:
    """The days the text alternatives compare: the first of the history, the day
    ``COMPARE_DAYS_BACK`` before the run date when the history has it, and the last."""
    if not days_:
        return []
    wanted = [days_[0], run_date - dt.timedelta(days=COMPARE_DAYS_BACK), days_[-1]]
    return sorted({day for day in wanted if day in set(days_)})


def _mix(
    section: str,
    title: str,
    intro: str,
    rows: list[dict[str, Any]],
    order: tuple[str, ...],
    figures: Figures,
    what: str,
) -> tuple[str, dict[str, Any]]:
    exclude = (UNSCORED,) if section == "bands" else ()
    days_, segment_shares, totals = shares(rows, order, exclude)
    out = [f'<section id="{section}"><h2>{e(title)}</h2><p>{intro}</p>']
    if not days_:
        out.append(f"<p class=missing>The history holds no day yet, so there is no {what}.</p>")
        return "\n".join(out + ["</section>"]), {}
    svg = charts.stacked_shares(f"chart-{section}", title, days_, segment_shares)
    compared = compare_days(days_, figures.run_date)
    at = {day: n for n, day in enumerate(days_)}
    last = at[days_[-1]]
    sentence = ", ".join(
        f"{pct(segment_shares[s][last], 0)} {s}" for s in segment_shares if totals[last]
    )
    text = [f"<p>On {days_[-1]}: {e(sentence)} of {totals[last]:,} accounts."]
    if section == "bands":
        unscored = sum(
            r["accounts"]
            for r in rows
            if r["segment"] == UNSCORED and r["history_date"] == days_[-1]
        )
        if unscored:
            text.append(f" {unscored:,} more had no health score (no component had data).")
    text.append("</p>")
    header = [what, *(day.isoformat() for day in compared)]
    if len(compared) > 1:
        header.append(f"change since {compared[0]}")
    table_rows = []
    for segment, values in segment_shares.items():
        cells = [_cell(pct(values[at[day]])) for day in compared]
        if len(compared) > 1:
            change = (values[at[compared[-1]]] - values[at[compared[0]]]) * 100
            cells.append(_cell(f"{change:+.1f} points"))
        table_rows.append(f"<tr><th>{e(segment)}</th>{''.join(cells)}</tr>")
    table_rows.append(
        "<tr><th>accounts</th>"
        + "".join(_cell(count(totals[at[day]])) for day in compared)
        + ("<td></td>" if len(compared) > 1 else "")
        + "</tr>"
    )
    caption = (
        f"Share of accounts per {what} each day, {days_[0]} to {days_[-1]} "
        f"({len(days_)} day{'s' if len(days_) != 1 else ''})."
    )
    out.append(_figure(svg, caption, "".join(text) + _table(header, table_rows)))
    out.append("</section>")
    headline = {
        "days": len(days_),
        "first_day": days_[0].isoformat(),
        "last_day": days_[-1].isoformat(),
        "shares": {
            day.isoformat(): {s: round(v[at[day]], 4) for s, v in segment_shares.items()}
            for day in compared
        },
        "accounts": {day.isoformat(): totals[at[day]] for day in compared},
    }
    return "\n".join(out), headline


def _bands(figures: Figures) -> tuple[str, dict[str, Any]]:
    ranges = (
        ", ".join(f"{band} {low}-{high}" for band, (low, high) in figures.band_ranges.items())
        or "the health_bands seed"
    )
    intro = (
        "Each day's accounts by health band, as a share of the accounts scored that day "
        f"({e(ranges)}). A red area that grows means more of the book is at risk; the "
        "history is point in time, so a past day shows the band it had on that night."
    )
    return _mix("bands", "Health bands over time", intro, figures.band_mix, BAND_ORDER,
                figures, "band")  # fmt: skip


def _tiers(figures: Figures) -> tuple[str, dict[str, Any]]:
    intro = (
        "Each day's accounts by the tier they are served in (after the 30-day hysteresis), "
        "as a share of the book. The touch model aims at roughly 15-20% high touch and "
        "30-40% medium touch; a tier that drifts shifts CSM hours with it."
    )
    return _mix("tiers", "Touch tiers over time", intro, figures.tier_mix, TIER_ORDER,
                figures, "tier")  # fmt: skip


def overload_reasons(row: dict[str, Any]) -> list[str]:
    """Which of the overload lines a CSM crosses, in words (docs/touch-model.md, capacity)."""
    reasons = []
    capacity = row.get("capacity_hours_per_week") or 0
    if (row.get("book_load") or 0) > 1:
        reasons.append(f"book at {pct(row['book_load'], 0)} of the coverage ratios")
    if capacity and (row.get("weekly_cadence_hours") or 0) > capacity:
        reasons.append(
            f"cadence needs {number(row['weekly_cadence_hours'])} h of a {number(capacity)} h week"
        )
    day = capacity / WORK_DAYS_PER_WEEK
    if capacity and (row.get("task_hours_today") or 0) > day:
        reasons.append(
            f"today's tasks need {number(row['task_hours_today'])} h of a {day:.1f} h day"
        )
    return reasons


def _capacity(figures: Figures) -> tuple[str, dict[str, Any]]:
    rows = figures.capacity
    out = [
        '<section id="capacity"><h2>CSM capacity and overload</h2>',
        "<p>For each CSM, the hours the playbook's recurring touchpoints need each week "
        "against their weekly capacity, and the hours of today's tasks against a day of it "
        "(a fifth of the week). A CSM is <span class=over>overloaded</span> when their book "
        "is over the coverage ratios, the weekly cadence needs more than their capacity, or "
        "today's tasks need more than a day.</p>",
    ]
    if not rows:
        out.append("<p class=missing>No CSM is listed in the CRM, so there is no capacity.</p>")
        return "\n".join(out + ["</section>"]), {"csms": 0}
    overloaded = [row for row in rows if row.get("is_overloaded")]

    def load(row: dict[str, Any]) -> float:
        capacity = row.get("capacity_hours_per_week") or 0
        if not capacity:
            return float("inf")
        return max(
            (row.get("weekly_cadence_hours") or 0) / capacity,
            (row.get("task_hours_today") or 0) / (capacity / WORK_DAYS_PER_WEEK),
            row.get("book_load") or 0,
        )

    drawn = sorted(rows, key=lambda r: (-load(r), r.get("csm_name") or ""))[:CAPACITY_CHART_ROWS]
    chart_rows = [
        {
            "label": f"{row.get('csm_name') or row['csm_email']} ({row.get('pod') or 'no pod'})",
            "weekly_needed": row.get("weekly_cadence_hours"),
            "weekly_capacity": row.get("capacity_hours_per_week"),
            "today_needed": row.get("task_hours_today"),
            "day_capacity": (row.get("capacity_hours_per_week") or 0) / WORK_DAYS_PER_WEEK,
            "overloaded": bool(row.get("is_overloaded")),
        }
        for row in drawn
    ]
    title = "CSM capacity: hours needed against hours available"
    svg = charts.capacity("chart-capacity", title, chart_rows)
    names = ", ".join(row.get("csm_name") or row["csm_email"] for row in overloaded)
    sentence = f"<p>{len(overloaded)} of {len(rows)} CSMs are overloaded"
    sentence += f": {e(names)}.</p>" if overloaded else ".</p>"
    caption = "CSMs from the most loaded down"
    if len(rows) > len(drawn):
        caption += f"; the {len(drawn)} most loaded of {len(rows)} are drawn, the table lists all"
    header = [
        "CSM", "pod", "hours a week", "weekly cadence hours", "cadence use", "book load",
        "tasks today", "overdue", "p1", "task hours today", "overloaded",
    ]  # fmt: skip
    table_rows = []
    for row in rows:
        reasons = overload_reasons(row)
        if row.get("is_overloaded"):
            verdict = "yes: " + "; ".join(reasons) if reasons else "yes"
            flag = f'<td class="over">{e(verdict)}</td>'
        else:
            flag = "<td>no</td>"
        table_rows.append(
            f"<tr><th>{e(row.get('csm_name') or row['csm_email'])}</th>"
            + _cell(row.get("pod") or "", numeric=False)
            + _cell(number(row.get("capacity_hours_per_week"), 0))
            + _cell(number(row.get("weekly_cadence_hours")))
            + _cell(pct(row.get("cadence_utilization"), 0))
            + _cell(pct(row.get("book_load"), 0))
            + _cell(count(row.get("tasks_today")))
            + _cell(count(row.get("overdue_tasks")))
            + _cell(count(row.get("p1_tasks")))
            + _cell(number(row.get("task_hours_today")))
            + flag
            + "</tr>"
        )
    out.append(_figure(svg, caption + ".", sentence + _table(header, table_rows, numeric_from=2)))
    out.append("</section>")
    headline = {
        "csms": len(rows),
        "overloaded": [
            {
                "csm": row.get("csm_name") or row["csm_email"],
                "pod": row.get("pod"),
                "reasons": overload_reasons(row),
            }
            for row in overloaded
        ],
    }
    return "\n".join(out), headline


METRIC_FORMATS: dict[str, Callable[[float | None], str | None]] = {
    "nps": lambda v: number(v, 0),
    "csat": lambda v: number(v, 2),
    "customer_lifetime_value_usd": lambda v: None if v is None else f"${v:,.0f}",
    "retention_rate_30d": lambda v: None if v is None else f"{v:.1f}%",
    "retention_rate_90d": lambda v: None if v is None else f"{v:.1f}%",
}


def _metric_value(metric: str, value: float | None) -> str | None:
    return METRIC_FORMATS.get(metric, pct)(value)


def _metrics(figures: Figures) -> str:
    rows = figures.metrics
    out = [
        '<section id="metrics"><h2>Touch model metrics</h2>',
        "<p>The touch model's metrics on the run date, per tier, against their targets "
        "(docs/touch-model.md, metrics). A cell without data says so; a value below its "
        "target is marked.</p>",
    ]
    if not rows:
        out.append("<p class=missing>The metrics mart holds no rows.</p></section>")
        return "\n".join(out)
    tiers = ordered({row["tier"] for row in rows} - {"all"}, TIER_ORDER)
    columns = ["all", *tiers]
    by_metric: dict[str, dict[str, dict[str, Any]]] = {}
    for row in rows:
        by_metric.setdefault(row["metric"], {})[row["tier"]] = row
    table_rows = []
    for metric, per_tier in by_metric.items():
        cells = []
        targets = {row.get("target") for row in per_tier.values()} - {None}
        for tier in columns:
            row = per_tier.get(tier)
            value = None if row is None else _metric_value(metric, row.get("metric_value"))
            if value is None:
                cells.append(_cell(None, withheld="no data"))
            elif row.get("meets_target") is False:
                cells.append(f'<td class="num over">{e(value)} (below)</td>')
            else:
                cells.append(_cell(value))
        if len(targets) > 1:  # a target per tier: name each
            target = ", ".join(
                f"{tier} {_metric_value(metric, per_tier[tier]['target'])}"
                for tier in columns
                if tier in per_tier and per_tier[tier].get("target") is not None
            )
        else:
            target = "".join(_metric_value(metric, t) or "" for t in targets)
        label = f"<th>{e(metric.replace('_', ' '))}</th>"
        table_rows.append(f"<tr>{label}{''.join(cells)}{_cell(target)}</tr>")
    out.append(_table(["metric", *columns, "target"], table_rows))
    out.append("</section>")
    return "\n".join(out)


# -- the sections to come: the backtest, the plays and experiments ----------------------------


@dataclass(frozen=True)
class Column:
    name: str
    header: str
    format: Callable[[Any], str | None]
    numeric: bool = True
    role: str = "figure"  # key: names the row; count: never withheld; figure: may be null


def key(name: str, header: str, format: Callable[[Any], str | None], numeric=False) -> Column:
    return Column(name, header, format, numeric=numeric, role="key")


def tally(name: str, header: str) -> Column:
    return Column(name, header, count, role="count")


def _evidence_table(
    rows: Sequence[dict[str, Any]], columns: Sequence[Column], present: Sequence[str]
) -> str:
    """The rows under the columns the mart has; a null figure is 'withheld', the row's note
    says why (a null in a row without a note does not apply to it, and shows a dash).

    Rows whose every figure is withheld are not tabled: a sentence per note names them.
    """
    shown = [c for c in columns if c.name in present]
    keys = [c for c in shown if c.role == "key"]
    figures = [c for c in shown if c.role == "figure"]
    has_note = "note" in present
    header = [c.header for c in shown] + (["note"] if has_note else [])
    body = []
    withheld: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        if figures and row.get("note") and all(row.get(c.name) is None for c in figures):
            withheld.setdefault(row["note"], []).append(row)
            continue
        why = "withheld" if row.get("note") else "–"
        cells = []
        for column in shown:
            value = row.get(column.name)
            text = None if value is None else column.format(value)
            cells.append(_cell(text, numeric=column.numeric, withheld=why))
        if has_note:
            cells.append(f'<td class="note">{e(row.get("note") or "")}</td>')
        body.append(f"<tr>{''.join(cells)}</tr>")
    out = [_table(header, body, numeric_from=len(header))] if body else []
    for note, held in withheld.items():
        named = []
        for column in keys:
            values = list(dict.fromkeys(column.format(row.get(column.name)) for row in held))
            named.append(", ".join(str(v) for v in values))
        where = "; ".join(n for n in named if n)
        out.append(
            f'<p class="withheld-rows">Every figure withheld for {len(held)} row'
            f"{'s' if len(held) != 1 else ''} ({e(where)}): {e(_sentence(note))}</p>"
        )
    return "".join(out)


def _sentence(text: str) -> str:
    text = text.strip()
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def _text(value: Any) -> str:
    return str(value)


def _horizon(value: Any) -> str:
    return f"{value} days"


def _needs(present: Sequence[str], *columns: str) -> list[str]:
    return [c for c in columns if c not in present]


def _cannot_draw(mart: str, missing: list[str]) -> str:
    return (
        f"<p class=missing>No chart: <code>{e(mart)}</code> has no column "
        f"{', '.join(f'<code>{e(c)}</code>' for c in missing)}; the table shows what it has."
        "</p>"
    )


def _segment_chart(
    rows: list[dict[str, Any]], kind: str, order: tuple[str, ...], chart_id: str, title: str
) -> str | None:
    mine = [row for row in rows if row.get("segment_kind") == kind]
    if not mine:
        return None
    horizons = sorted({row["horizon_days"] for row in mine})
    position = {}
    for row in mine:
        position.setdefault(row["segment"], row.get("segment_order"))
    segments = sorted(
        position,
        key=lambda s: (
            position[s] if position[s] is not None else len(order),
            order.index(s) if s in order else len(order),
            s,
        ),
    )
    rates = {(row["horizon_days"], row["segment"]): row.get("churn_rate") for row in mine}
    series = {s: [rates.get((h, s)) for h in horizons] for s in segments}
    groups = [f"{h} days" for h in horizons]
    if kind == "score_decile":
        by_horizon = {f"{h} days": [rates.get((h, s)) for s in segments] for h in horizons}
        return charts.lines(
            chart_id, title, [str(s) for s in segments], by_horizon, "churn rate",
            "health score bucket (lowest scores first)",
        )  # fmt: skip
    return charts.grouped_bars(chart_id, title, groups, series, "churn rate")


SEGMENT_COLUMNS = [
    key("horizon_days", "horizon", _horizon, numeric=True),
    key("segment", "segment", _text),
    tally("account_days", "account-days"),
    tally("accounts", "accounts"),
    tally("churned_account_days", "churned account-days"),
    tally("churned_accounts", "churned accounts"),
    Column("churn_rate", "churn rate", pct),
    Column("mean_score", "mean score", lambda v: number(v, 1)),
]
METRIC_COLUMNS = [
    key("horizon_days", "horizon", _horizon, numeric=True),
    key("score_name", "score", _text),
    tally("observations", "account-days"),
    tally("churned_account_days", "churned account-days"),
    tally("churned_accounts", "churned accounts"),
    tally("churn_count", "churns"),
    Column("churn_rate", "churn rate", pct),
    Column("auc", "AUC", lambda v: number(v, 2)),
    Column("k", "k lowest", count),
    Column("precision_at_k", "churn rate of the k lowest", pct),
    Column("red_churn_rate", "red churn rate", pct),
    Column("green_churn_rate", "green churn rate", pct),
    Column("lift_red_over_green", "lift red over green", times),
    Column("churners_red_before_share", "churners red before", pct),
    Column("median_lead_time_days", "median lead time", days),
]


LEAD_FIGURES = ("churners_red_before_share", "median_lead_time_days")


def _lead_sentence(row: dict[str, Any]) -> str | None:
    """How early churned accounts turned red, in words (None: no such figure)."""
    share, lead = (row.get(name) for name in LEAD_FIGURES)
    bits = []
    if share is not None:
        bits.append(f"{pct(share, 0)} of churned accounts were red before they churned")
    if lead is not None:
        bits.append(f"a median {days(lead)} before")
    return "; ".join(bits) if bits else None


def _headline_sentence(row: dict[str, Any], *, with_lead: bool = True) -> str:
    """The health score's figures for one horizon in words; a withheld one, its note."""
    horizon = row.get("horizon_days")
    bits = []
    red, green, lift = (
        row.get("red_churn_rate"),
        row.get("green_churn_rate"),
        row.get("lift_red_over_green"),
    )
    if red is not None and green is not None:
        bits.append(f"red accounts churned at {pct(red)} against {pct(green)} for green")
    if lift is not None:
        bits.append(f"a lift of {times(lift)}")
    if row.get("auc") is not None:
        bits.append(f"an AUC of {number(row['auc'], 2)}")
    lead = _lead_sentence(row) if with_lead else None
    if lead:
        bits.append(lead)
    text = f"Within {horizon} days: " + ("; ".join(bits) if bits else "no figure is shown")
    text = _sentence(text)
    if row.get("note"):
        text += f" {_sentence(row['note'])}"
    return f"<li>{e(text)}</li>"


def _headline(health: list[dict[str, Any]]) -> list[str]:
    """A sentence per horizon; how early churners turned red once when every horizon has
    the same figures (they are counted over the whole history)."""
    leads = {tuple(row.get(name) for name in LEAD_FIGURES) for row in health}
    shared = len(leads) == 1 and len(health) > 1
    out = [_headline_sentence(row, with_lead=not shared) for row in health]
    lead = _lead_sentence(health[0]) if shared else None
    if lead:
        out.append(f"<li>{e(_sentence('Over the whole history: ' + lead))}</li>")
    return out


def _backtest(figures: Figures) -> tuple[str, str]:
    segments = figures.evidence.get("health_backtest_by_segment")
    metrics = figures.evidence.get("health_backtest_metrics")
    out = [
        '<section id="backtest"><h2>Does the health score predict churn? The backtest</h2>',
        "<p>Each past day's scores are set against what happened next: the share of "
        "account-days followed by a churn within each horizon, by the band, tier and score "
        "bucket the account had that day. A score that works shows red churning far more "
        "than green (the lift), ranks churners first (AUC: 0.5 is chance, 1 perfect) and "
        "turns red well before the churn (the lead time). A figure withheld for too few "
        "churns says so instead of showing a number.</p>",
    ]
    if figures.evidence_as_of is not None:
        out.append(
            f'<p class="note">Computed through {e(str(figures.evidence_as_of))}, with the plays\' '
            "outcomes: the nightly build computes the evidence again every "
            "<code>TOUCHLINE_EVIDENCE_EVERY_DAYS</code> days (7 unless set).</p>"
        )
    status = SHOWN
    if metrics is None:
        out.append(_missing("health_backtest_metrics", "the AUC, lift and lead time per horizon"))
    elif not metrics:
        out.append(_empty("health_backtest_metrics"))
    else:
        present = figures.evidence_columns["health_backtest_metrics"]
        metrics = sorted(
            metrics,
            key=lambda r: (
                r.get("horizon_days") or 0,
                r.get("score_name") != "health",
                str(r.get("score_name")),
            ),
        )
        health = [row for row in metrics if row.get("score_name", "health") == "health"]
        if health:
            out.append("<h3>The health score in brief</h3><ul>")
            out += _headline(health)
            out.append("</ul>")
        out.append("<h3>Every score and horizon</h3>")
        out.append(_evidence_table(metrics, METRIC_COLUMNS, present))
    if segments is None:
        out.append(
            _missing("health_backtest_by_segment", "the churn rate per band, tier and score bucket")
        )
    elif not segments:
        out.append(_empty("health_backtest_by_segment"))
    else:
        present = figures.evidence_columns["health_backtest_by_segment"]
        segments = sorted(
            segments,
            key=lambda r: (
                r.get("horizon_days") or 0,
                str(r.get("segment_kind")),
                r.get("segment_order") if r.get("segment_order") is not None else 0,
                str(r.get("segment")),
            ),
        )
        missing = _needs(present, "horizon_days", "segment_kind", "segment", "churn_rate")
        kinds = [
            ("band", BAND_ORDER, "Churn rate by health band"),
            ("tier", TIER_ORDER, "Churn rate by tier"),
            ("score_decile", (), "Churn rate by health score, in ten-point buckets"),
        ]
        known = {kind for kind, _, _ in kinds}
        for kind, order, title in kinds:
            mine = [row for row in segments if row.get("segment_kind") == kind]
            if not mine and not missing:
                continue
            out.append(f"<h3>{e(title)}</h3>")
            if missing:
                out.append(_cannot_draw("health_backtest_by_segment", missing))
                out.append(_evidence_table(segments, SEGMENT_COLUMNS, present))
                break
            svg = _segment_chart(mine, kind, order, f"chart-backtest-{kind}", title)
            caption = f"{title}, per horizon; 'withheld' marks a rate with too few churns."
            out.append(_figure(svg, caption, _evidence_table(mine, SEGMENT_COLUMNS, present)))
        others = [row for row in segments if row.get("segment_kind") not in known]
        if others and not missing:
            out.append("<h3>Other segments</h3>")
            out.append(_evidence_table(others, SEGMENT_COLUMNS, present))
    if metrics is None and segments is None:
        status = NOT_AVAILABLE
    elif not metrics and not segments:
        status = EMPTY
    out.append("</section>")
    return "\n".join(out), status


OUTCOME_COLUMNS = [
    key("touchpoint", "touchpoint", _text),
    key("outcome_group", "outcome", lambda v: str(v).replace("_", " ")),
    tally("occurrences", "occurrences"),
    tally("accounts", "accounts"),
    Column("health_change_30d_mean", "health change in 30 days", signed),
    Column("health_change_90d_mean", "health change in 90 days", signed),
    Column("churn_rate_90d", "churn within 90 days", pct),
]


def _with_interval(value: Any, low: Any, high: Any, format: Callable) -> str | None:
    if value is None:
        return None
    text = format(value)
    if low is not None and high is not None:
        text += f" ({format(low)} to {format(high)})"
    return text


def _plays(figures: Figures) -> tuple[str, str]:
    outcomes = figures.evidence.get("touchpoint_outcomes")
    experiments = figures.evidence.get("experiment_results")
    out = [
        '<section id="plays"><h2>Plays and experiments</h2>',
        "<p>What followed each touchpoint when it was done, against the times it fell due "
        "and was not done: the mean change in health over the next 30 and 90 days and the "
        "share of accounts churning within 90. That comparison is observational (accounts "
        "whose touch got done may differ in other ways); the A/B results below, with their "
        "95% intervals, are the causal evidence.</p>",
    ]
    if outcomes is None:
        out.append(_missing("touchpoint_outcomes", "each touchpoint's outcomes"))
    elif not outcomes:
        out.append(_empty("touchpoint_outcomes"))
    else:
        present = figures.evidence_columns["touchpoint_outcomes"]
        out.append("<h3>Touchpoints done against due and not done</h3>")
        missing = _needs(present, "touchpoint", "outcome_group", "health_change_90d_mean")
        table = _evidence_table(outcomes, OUTCOME_COLUMNS, present)
        if missing:
            out.append(_cannot_draw("touchpoint_outcomes", missing) + table)
        else:
            touchpoints = list(dict.fromkeys(row["touchpoint"] for row in outcomes))
            groups = list(dict.fromkeys(row["outcome_group"] for row in outcomes))
            change = {
                (row["touchpoint"], row["outcome_group"]): row.get("health_change_90d_mean")
                for row in outcomes
            }
            title = "Mean health change in the 90 days after a touchpoint fell due"
            svg = charts.paired_hbars(
                "chart-plays-outcomes",
                title,
                touchpoints,
                {g.replace("_", " "): [change.get((t, g)) for t in touchpoints] for g in groups},
                "health points",
            )
            out.append(_figure(svg, title + ", done against not done.", table))
    if experiments is None:
        out.append(_missing("experiment_results", "the A/B tests' results per arm"))
    elif not experiments:
        out.append(_empty("experiment_results"))
    else:
        present = figures.evidence_columns["experiment_results"]
        for name in dict.fromkeys(row.get("experiment") for row in experiments):
            arms = [row for row in experiments if row.get("experiment") == name]
            out.append(f"<h3>Experiment {e(str(name))}</h3>")
            out.append(_experiment(str(name), arms, present))
    status = SHOWN
    if outcomes is None and experiments is None:
        status = NOT_AVAILABLE
    elif not outcomes and not experiments:
        status = EMPTY
    out.append("</section>")
    return "\n".join(out), status


# column, the prefix of its interval's columns (<prefix>_ci_low, _ci_high), header, format
EXPERIMENT_FIGURES = (
    ("churn_rate", "churn_rate", "churn rate", pct, True),
    ("health_change_90d_mean", "health_change_90d", "health change in 90 days", signed, False),
    ("renewal_rate", "renewal_rate", "renewal rate", pct, True),
)


def _experiment(name: str, arms: list[dict[str, Any]], present: Sequence[str]) -> str:
    out = []
    verdicts = {row.get("verdict") for row in arms} - {None, ""}
    if verdicts:
        out.append("<p><b>Verdict:</b> " + e(" ".join(sorted(verdicts))) + "</p>")
    else:
        out.append("<p><b>No verdict yet</b>: the arms are too small or too close to call.</p>")
    labels = [str(row.get("arm")) for row in arms]
    panels = [
        {
            "title": header,
            "labels": labels,
            "values": [row.get(column) for row in arms],
            "lows": [row.get(f"{interval}_ci_low") for row in arms],
            "highs": [row.get(f"{interval}_ci_high") for row in arms],
            "percent": percent,
        }
        for column, interval, header, _, percent in EXPERIMENT_FIGURES
        if column in present
    ]
    header = ["arm"] + (["accounts"] if "accounts" in present else [])
    header += ["completion"] if "completion_rate" in present else []
    header += [h for c, _, h, _, _ in EXPERIMENT_FIGURES if c in present]
    body = []
    for row in arms:
        why = "withheld" if row.get("note") else "no data"
        cells = [_cell(str(row.get("arm")), numeric=False)]
        if "accounts" in present:
            cells.append(_cell(count(row.get("accounts")), withheld=why))
        if "completion_rate" in present:
            cells.append(_cell(pct(row.get("completion_rate")), withheld=why))
        for column, interval, _, format, _ in EXPERIMENT_FIGURES:
            if column in present:
                text = _with_interval(
                    row.get(column),
                    row.get(f"{interval}_ci_low"),
                    row.get(f"{interval}_ci_high"),
                    format,
                )
                cells.append(_cell(text, withheld=why))
        body.append(f"<tr>{''.join(cells)}</tr>")
    table = _table(header, body)
    notes = [row.get("note") for row in arms if row.get("note")]
    if notes:
        table += "<p>" + e(" ".join(dict.fromkeys(notes))) + "</p>"
    if not panels:
        return "".join(out) + _cannot_draw("experiment_results", ["churn_rate"]) + table
    title = f"Experiment {name}: each arm with its 95% interval"
    svg = charts.intervals(f"chart-experiment-{_slug(name)}", title, panels)
    return "".join(out) + _figure(svg, title + ".", table)


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower())[:40]


# -- the page ------------------------------------------------------------------------------

CONTENTS = (
    ("summary", "The run in figures"),
    ("bands", "Health bands over time"),
    ("tiers", "Touch tiers over time"),
    ("capacity", "CSM capacity and overload"),
    ("metrics", "Touch model metrics"),
    ("backtest", "The health score's backtest"),
    ("plays", "Plays and experiments"),
)


def render(figures: Figures, links: Sequence[Link], rendered_at: dt.datetime) -> Page:
    """The page of ``figures``; ``links``: the run's other outputs, relative to the page."""
    summary, headline = _summary(figures, links)
    bands, bands_headline = _bands(figures)
    tiers, tiers_headline = _tiers(figures)
    capacity, capacity_headline = _capacity(figures)
    metrics = _metrics(figures)
    backtest, backtest_status = _backtest(figures)
    plays, plays_status = _plays(figures)
    sections = {
        "summary": SHOWN,
        "bands": SHOWN if bands_headline else EMPTY,
        "tiers": SHOWN if tiers_headline else EMPTY,
        "capacity": SHOWN if figures.capacity else EMPTY,
        "metrics": SHOWN if figures.metrics else EMPTY,
        "backtest": backtest_status,
        "plays": plays_status,
    }
    contents = "".join(
        f'<li><a href="#{anchor}">{e(title)}</a>'
        + (f" <span class=muted>({sections[anchor]})</span>" if sections[anchor] != SHOWN else "")
        + "</li>"
        for anchor, title in CONTENTS
    )
    day = figures.run_date.isoformat()
    page = "\n".join(
        [
            "<!doctype html>",
            '<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>touchline run report {e(day)}</title>",
            f"<style>{_STYLE}</style></head><body>",
            f"<header><h1>Run report for {e(day)}</h1>",
            f'<p class="muted">The book as the nightly run of {e(day)} published it, from '
            f"<code>{e(str(figures.warehouse))}</code>; rendered "
            f"{e(rendered_at.isoformat(timespec='seconds'))}. The file holds everything it "
            "shows: it opens offline, and reads without scripts or images.</p>",
            f"<nav><ol>{contents}</ol></nav></header>",
            "<main>",
            summary,
            bands,
            tiers,
            capacity,
            metrics,
            backtest,
            plays,
            "</main></body></html>",
            "",
        ]
    )
    headline.update(
        {
            "bands": bands_headline,
            "tiers": tiers_headline,
            "capacity": capacity_headline,
        }
    )
    return Page(page, sections, headline)
