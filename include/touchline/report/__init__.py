"""The run report: ``<output-dir>/report/<D>/report.html`` (and ``report.json``).

One HTML file per run date for CS leaders and CS Ops, beside the data-quality report of the
same date (``<output-dir>/quality/<D>/``): the book's health bands and tiers over time, each
CSM's hours needed against their capacity, the touch model's metrics, and, once the dbt
project builds them, the health score's backtest and the plays' outcomes (docs/report.md).

Every asset is in the one file: the charts are matplotlib's SVG, inline, with their text as
paths, and the page has no script, no external font or stylesheet, so it opens offline and
reads with JavaScript off. Each chart is followed by its text alternative (a table or a
sentence with the key figures), so the page reads without images too.

The figures come from the published warehouse, opened read-only as the exports open it
(``figures.read``); ``write`` renders them and links the report from the run's
``run_summary.json`` and from the quality report. The nightly DAG writes it after the work
lists (``pipeline.write_report``); ``touchline report --date D`` writes it again.

Airflow imports ``touchline.pipeline`` when it parses the DAG, never this package: DuckDB
and matplotlib are imported by the functions that use them.
"""

from __future__ import annotations

from touchline.report.write import (
    ReportError,
    Written,
    record_failure,
    report_dir,
    report_html,
    report_json,
    write,
)

__all__ = [
    "ReportError",
    "Written",
    "record_failure",
    "report_dir",
    "report_html",
    "report_json",
    "write",
]
