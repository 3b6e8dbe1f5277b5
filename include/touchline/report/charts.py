"""The run report's charts: matplotlib figures saved as SVG, for inlining in the page.

Each chart is drawn on its own ``matplotlib.figure.Figure`` (no pyplot, so no global state
and no display backend) and saved as SVG with its text as paths: the page needs no font and
shows the same glyphs on every machine. The SVG is made fit to sit inline beside others in
one HTML page: its ids get the chart's own prefix (matplotlib names glyphs and clip paths
the same way in every file), and it carries ``role="img"`` and a ``<title>``. The output is
the same for the same figures (a fixed hash salt, no date in it).

A value of ``None`` is a figure withheld (too few data): no bar or point is drawn for it, a
"withheld" mark is, and the page's text alternative says why.
"""

from __future__ import annotations

import datetime as dt
import html
import io
import re
from collections.abc import Sequence
from typing import Any

COLOURS = {
    "red": "#cf222e",
    "yellow": "#d4a72c",
    "green": "#2da44e",
    "unscored": "#8c959f",
    "high": "#0a3069",
    "medium": "#0969da",
    "low": "#80ccff",
    "tech": "#afb8c1",
}
SERIES = ("#0969da", "#bf8700", "#8250df", "#1a7f37", "#cf222e", "#57606a")
NEEDED, OVERLOADED, CAPACITY = "#0969da", "#cf222e", "#d0d7de"
WITHHELD = "withheld"
_STYLE = {
    "svg.fonttype": "path",
    "svg.hashsalt": "touchline-run-report",
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "legend.frameon": False,
}
WIDTH = 8.0  # inches; the page scales the SVG down to its column


def colour(code: str, n: int = 0) -> str:
    return COLOURS.get(code, SERIES[n % len(SERIES)])


def _figure(height: float, columns: int = 1, sharey: bool = False):
    from matplotlib.figure import Figure

    figure = Figure(figsize=(WIDTH, height), layout="constrained")
    axes = figure.subplots(1, columns, sharey=sharey, squeeze=False)[0]
    return figure, list(axes)


def to_svg(figure, chart_id: str, title: str) -> str:
    """The figure as an SVG element for inlining: ids prefixed, titled, labelled an image."""
    import matplotlib

    with matplotlib.rc_context(_STYLE):
        out = io.StringIO()
        figure.savefig(out, format="svg", metadata={"Date": None})
    text = out.getvalue()
    text = text[text.index("<svg") :]
    text = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{chart_id}-{m[1]}"', text)
    text = re.sub(r'(href=")#([^"]+)"', lambda m: f'{m[1]}#{chart_id}-{m[2]}"', text)
    text = text.replace("url(#", f"url(#{chart_id}-")
    opening = text.index(">") + 1
    head = text[:opening].replace(
        "<svg ", f'<svg role="img" aria-labelledby="{chart_id}-title" class="chart" ', 1
    )
    label = f'<title id="{chart_id}-title">{html.escape(title)}</title>'
    return head + label + text[opening:]


def _chart(draw, chart_id: str, title: str, height: float, **layout: Any) -> str:
    """Draw with matplotlib's settings for the report, and return the SVG."""
    import matplotlib

    with matplotlib.rc_context(_STYLE):
        figure, axes = _figure(height, **layout)
        draw(figure, axes)
        return to_svg(figure, chart_id, title)


def stacked_shares(
    chart_id: str,
    title: str,
    days: Sequence[dt.date],
    shares: dict[str, list[float]],
) -> str:
    """Each segment's share of the accounts per day, stacked to 100%: an area, or bars for
    a history of a single day."""

    def draw(figure, axes):
        from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
        from matplotlib.ticker import PercentFormatter

        (ax,) = axes
        names = list(shares)
        colours = [colour(name, n) for n, name in enumerate(names)]
        if len(days) > 1:
            ax.stackplot(days, *[shares[n] for n in names], labels=names, colors=colours)
            ax.set_xlim(days[0], days[-1])
            locator = AutoDateLocator()
            ax.xaxis.set_major_locator(locator)
            ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
        else:
            bottom = [0.0] * len(days)
            labels = [day.isoformat() for day in days]
            for name, fill in zip(names, colours, strict=True):
                ax.bar(labels, shares[name], bottom=bottom, color=fill, label=name, width=0.4)
                bottom = [b + s for b, s in zip(bottom, shares[name], strict=True)]
        ax.set_ylim(0, 1)
        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        ax.set_ylabel("share of accounts")
        ax.set_title(title)
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))

    return _chart(draw, chart_id, title, height=3.0)


def capacity(chart_id: str, title: str, rows: Sequence[dict[str, Any]]) -> str:
    """Per CSM: weekly cadence hours against their week, today's task hours against a day.

    ``rows``: ``label``, ``weekly_needed``, ``weekly_capacity``, ``today_needed``,
    ``day_capacity``, ``overloaded``; drawn top to bottom in their order.
    """

    def draw(figure, axes):
        labels = [row["label"] for row in rows][::-1]
        positions = list(range(len(rows)))
        ordered_rows = list(rows)[::-1]
        panels = (
            ("weekly_needed", "weekly_capacity", "Weekly cadence hours"),
            ("today_needed", "day_capacity", "Today's task hours"),
        )
        for ax, (needed, available, panel) in zip(axes, panels, strict=True):
            ax.barh(
                positions,
                [row[available] or 0 for row in ordered_rows],
                height=0.8,
                color=CAPACITY,
                label="capacity",
            )
            ax.barh(
                positions,
                [row[needed] or 0 for row in ordered_rows],
                height=0.42,
                color=[OVERLOADED if row["overloaded"] else NEEDED for row in ordered_rows],
                label="needed",
            )
            ax.set_title(panel)
            ax.set_xlabel("hours")
            ax.set_yticks(positions, labels)
            ax.margins(y=0.01)
        for tick, row in zip(axes[0].get_yticklabels(), ordered_rows, strict=True):
            if row["overloaded"]:
                tick.set_color(OVERLOADED)
                tick.set_fontweight("bold")
        from matplotlib.patches import Patch

        figure.legend(
            handles=[
                Patch(color=CAPACITY, label="capacity"),
                Patch(color=NEEDED, label="needed"),
                Patch(color=OVERLOADED, label="needed, CSM overloaded"),
            ],
            loc="outside lower center",
            ncols=3,
        )

    height = 1.4 + 0.28 * max(1, len(rows))
    return _chart(draw, chart_id, title, height=height, columns=2, sharey=True)


def _legend(ax, names: Sequence[str]) -> None:
    """A swatch per series, drawn or not (a series withheld everywhere has no bar)."""
    from matplotlib.patches import Patch

    handles = [Patch(color=colour(name, n), label=name) for n, name in enumerate(names)]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0))


def grouped_bars(
    chart_id: str,
    title: str,
    groups: Sequence[str],
    series: dict[str, list[float | None]],
    ylabel: str,
    *,
    percent: bool = True,
) -> str:
    """Bars per group (x) and series (one colour each); a ``None`` is marked withheld."""

    def draw(figure, axes):
        from matplotlib.ticker import PercentFormatter

        (ax,) = axes
        names = list(series)
        width = 0.8 / max(1, len(names))
        top = max([v for values in series.values() for v in values if v is not None] or [0])
        for n, name in enumerate(names):
            xs = [g + (n - (len(names) - 1) / 2) * width for g in range(len(groups))]
            values = series[name]
            ax.bar(
                [x for x, v in zip(xs, values, strict=True) if v is not None],
                [v for v in values if v is not None],
                width=width * 0.92,
                color=colour(name, n),
                label=name,
            )
            for x, value in zip(xs, values, strict=True):
                if value is None:
                    ax.text(
                        x, (top or 1) * 0.02, WITHHELD, rotation=90, ha="center", va="bottom",
                        fontsize=7, color="#57606a",
                    )  # fmt: skip
        ax.set_xticks(range(len(groups)), groups)
        ax.set_xlim(-0.5, len(groups) - 0.5)  # a withheld mark at the edge stays inside
        ax.set_ylabel(ylabel)
        if percent:
            ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        ax.set_ylim(0, (top or 1) * 1.15)
        ax.set_title(title)
        _legend(ax, names)

    return _chart(draw, chart_id, title, height=3.0)


def lines(
    chart_id: str,
    title: str,
    xs: Sequence[str],
    series: dict[str, list[float | None]],
    ylabel: str,
    xlabel: str,
    *,
    percent: bool = True,
) -> str:
    """One line per series over categories ``xs``; a ``None`` leaves a gap."""

    def draw(figure, axes):
        from matplotlib.ticker import PercentFormatter

        (ax,) = axes
        for n, (name, values) in enumerate(series.items()):
            ax.plot(
                range(len(xs)),
                [float("nan") if v is None else v for v in values],
                marker="o",
                color=SERIES[n % len(SERIES)],
                label=name,
            )
        ax.set_xticks(range(len(xs)), xs)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        if percent:
            ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        ax.set_ylim(bottom=0)
        ax.set_title(title)
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))

    return _chart(draw, chart_id, title, height=3.0)


def paired_hbars(
    chart_id: str,
    title: str,
    labels: Sequence[str],
    series: dict[str, list[float | None]],
    xlabel: str,
) -> str:
    """Horizontal bars per label (top to bottom in order), one per series, around zero."""

    def draw(figure, axes):
        (ax,) = axes
        names = list(series)
        height = 0.8 / max(1, len(names))
        count = len(labels)
        for n, name in enumerate(names):
            ys = [count - 1 - i + ((len(names) - 1) / 2 - n) * height for i in range(count)]
            values = series[name]
            ax.barh(
                [y for y, v in zip(ys, values, strict=True) if v is not None],
                [v for v in values if v is not None],
                height=height * 0.92,
                color=SERIES[n % len(SERIES)],
                label=name,
            )
            for y, value in zip(ys, values, strict=True):
                if value is None:
                    ax.text(0, y, f" {WITHHELD}", va="center", fontsize=7, color="#57606a")
        ax.axvline(0, color="#57606a", linewidth=0.8)
        ax.set_yticks([count - 1 - i for i in range(count)], labels)
        ax.set_xlabel(xlabel)
        ax.set_title(title)
        from matplotlib.patches import Patch

        handles = [Patch(color=SERIES[n % len(SERIES)], label=name) for n, name in enumerate(names)]
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0))

    return _chart(draw, chart_id, title, height=1.3 + 0.45 * max(1, len(labels)))


def intervals(
    chart_id: str,
    title: str,
    panels: Sequence[dict[str, Any]],
) -> str:
    """Panels side by side; in each, one point per label with its interval.

    A panel: ``title``, ``labels``, ``values``, ``lows``, ``highs`` (``None``: withheld, or
    no interval), ``percent``.
    """

    def draw(figure, axes):
        from matplotlib.ticker import PercentFormatter

        for ax, panel in zip(axes, panels, strict=True):
            labels = panel["labels"]
            ys = list(range(len(labels)))[::-1]
            for n, (y, value, low, high) in enumerate(
                zip(ys, panel["values"], panel["lows"], panel["highs"], strict=True)
            ):
                if value is None:
                    ax.text(0.5, y, WITHHELD, transform=ax.get_yaxis_transform(), ha="center",
                            va="center", fontsize=7, color="#57606a")  # fmt: skip
                    continue
                if low is not None and high is not None:
                    ax.errorbar(
                        [value],
                        [y],
                        xerr=[[value - low], [high - value]],
                        fmt="o",
                        color=SERIES[n % len(SERIES)],
                        capsize=4,
                    )
                else:
                    ax.plot([value], [y], "o", color=SERIES[n % len(SERIES)])
            ax.set_yticks(ys, labels)
            ax.set_ylim(-0.7, len(labels) - 0.3)
            ax.set_title(panel["title"])
            if panel.get("percent"):
                ax.xaxis.set_major_formatter(PercentFormatter(1.0))

    height = 1.2 + 0.4 * max(1, max(len(p["labels"]) for p in panels))
    return _chart(draw, chart_id, title, height=height, columns=len(panels), sharey=True)
