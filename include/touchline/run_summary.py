"""A nightly run as the ``touchline`` command shows it: its tasks as they finish, then what
it wrote (``run_summary.json`` of the run date's output folder)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from touchline.config import Settings


def run_nightly(paths: Settings, run_date: dt.date, send: bool = True):
    """The nightly DAG through Airflow, its tasks shown as they finish; its outcome."""
    from touchline.airflow_local import run_dag
    from touchline.progress import step

    with step(f"running the nightly DAG for {run_date}", unit="tasks done") as progress:

        def on_task(event: str, task_id: str) -> None:
            if event == "starting":
                progress.note(task_id)
            else:
                progress.advance()

        return run_dag(paths, run_date, on_task=on_task, send=send)


def print_summary(run_dir: Path, warehouse: Path | None = None) -> None:
    """The run's tiers, tasks and work lists, its data quality and where its outputs are."""
    summary_file = run_dir / "run_summary.json"
    if not summary_file.exists():
        return
    summary = json.loads(summary_file.read_text())
    print()
    print(f"Run date {summary['run_date']}")
    print("Accounts per tier:")
    for tier, count in summary["accounts_per_tier"].items():
        print(f"  {tier:<8} {count:>7}")
    print(f"Human tasks: {summary['human_tasks']}; automation items: {summary['automation_items']}")
    print("Tasks per work list:")
    for name, count in summary["tasks_per_worklist"].items():
        print(f"  {name:<48} {count:>5}")
    print(f"Work lists:      {run_dir}")
    quality = summary.get("quality")
    if quality:
        report = (run_dir / quality["report"]).resolve()
        print(f"Data quality:    {quality['status']} ({report})")
        _print_warnings(run_dir / quality.get("report_json", ""))
    run_report = summary.get("run_report")
    if run_report:
        written = (run_dir / run_report["report"]).resolve()
        print(f"Run report:      {run_report['status']} ({written})")
        if run_report.get("error"):
            print(f"  {run_report['error']}")
    if warehouse is not None:
        _print_backtest(warehouse)
        print(f"Warehouse:       {warehouse}")
    print_past_date(run_dir)


def _print_backtest(warehouse: Path) -> None:
    """The health score's backtest, a line per horizon (touchline backtest prints it all)."""
    import duckdb

    from touchline.backtest import read, summary_lines

    try:
        backtest = read(warehouse)
    except (duckdb.Error, OSError) as exc:
        print(f"Health backtest: not read from {warehouse}: {exc}")
        return
    if backtest is None:
        return
    print("Health backtest (touchline backtest for every figure):")
    for line in summary_lines(backtest):
        print(f"  {line}")


def _print_warnings(report_json: Path) -> None:
    """Each warning of the run's report (a missing file, quarantined rows), one line each."""
    from touchline.quality.report import warnings

    if not report_json.is_file():
        return
    for line in warnings(json.loads(report_json.read_text(encoding="utf-8"))):
        print(f"  warn  {line}")


def print_past_date(run_dir: Path) -> None:
    """Say so when the run's date was older than the published one (nothing was sent)."""
    summary_file = run_dir / "run_summary.json"
    if not summary_file.exists():
        return
    past = json.loads(summary_file.read_text()).get("past_date")
    if past:
        print(f"Past date:       {past['note']}")
