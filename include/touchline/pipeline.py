"""The nightly pipeline's steps as plain functions, called by the DAG's tasks.

Each step takes the run date and the paths, so it runs the same under the scheduler,
under ``airflow dags test`` and in unit tests. Errors caused by the data (a bad drop, a
failing data test) are final: retrying cannot fix them, so the task fails at once.

Airflow imports this module each time it parses the DAG, so it imports only the settings
and the error classes; each step imports the modules that do its work (Great Expectations,
pandas, DuckDB, Arrow, dbt's runner) when it runs.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterable
from functools import wraps
from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowFailException

from touchline.config import SEND_PARAM, Settings
from touchline.errors import (
    BuildError,
    ConfigError,
    GateFailed,
    InputError,
    SourceError,
    SuiteError,
)

if TYPE_CHECKING:
    from touchline.quality.gates import Verdict

log = logging.getLogger(__name__)

FINAL_ERRORS: tuple[type[Exception], ...] = (
    InputError,
    BuildError,
    GateFailed,
    SuiteError,
    ConfigError,
    SourceError,
)


def _final_on_bad_data(step: Callable[..., Any]) -> Callable[..., Any]:
    """Turn data errors into AirflowFailException: the task fails at once, without retries."""

    @wraps(step)
    def wrapper(*args, **kwargs):
        try:
            return step(*args, **kwargs)
        except FINAL_ERRORS as exc:
            raise AirflowFailException(str(exc)) from exc

    return wrapper


def run_context() -> tuple[dt.date, Settings]:
    """The logical date (UTC) and the paths of the current Airflow task."""
    from airflow.sdk import get_current_context

    context = get_current_context()
    logical = context["logical_date"]
    return logical.date(), Settings.from_params(dict(context["params"]))


def sends() -> bool:
    """Whether the current DAG run sends to the destinations (its ``send`` param)."""
    from airflow.sdk import get_current_context

    return bool(get_current_context()["params"].get(SEND_PARAM, True))


@_final_on_bad_data
def extract_family(family: str) -> dict:
    """Parse the family's files into the staging folder (the contract check)."""
    from touchline import extract
    from touchline.quality import gates

    run_date, paths = run_context()
    gates.start_run(paths, run_date)
    started = time.monotonic()
    try:
        summary = extract.stage_family(family, run_date, paths)
    except InputError as exc:
        gates.record_extract(paths, run_date, family, error=exc, seconds=time.monotonic() - started)
        raise
    gates.record_extract(
        paths, run_date, family, rows=summary["rows"], seconds=time.monotonic() - started
    )
    return summary


def read_crm_completions() -> dict:
    """Stage the tasks completed in the CRM as activities (an empty batch without a CRM)."""
    from touchline.sources.crm_completions import read_crm_completions as read

    run_date, paths = run_context()
    return read(paths, run_date)


def land_if_passed(
    paths: Settings, run_date: dt.date, entities: Iterable[str] | None = None
) -> dict:
    """The gate before load; on a pass the staged batches are published into the landing.

    A failed gate raises :class:`GateFailed` and publishes nothing. ``entities``: the
    entities that must be staged (default: every entity of the contract).
    """
    from touchline.landing import publish_staged
    from touchline.quality import gates

    verdict = gates.gate_before_load(paths, run_date, entities)
    if not verdict.passed:
        raise verdict.error()
    published = publish_staged(paths.landing_dir, run_date, verdict.datasets)
    return _passed(verdict, [partition.entity for partition in published])


def publish_if_passed(paths: Settings, run_date: dt.date) -> dict:
    """The gate before export; on a pass the candidate warehouse is published.

    A failed gate raises :class:`GateFailed` and keeps the candidate for inspection.
    """
    from touchline import warehouse
    from touchline.quality import gates

    verdict = gates.gate_before_export(paths, run_date)
    if not verdict.passed:
        raise verdict.error()
    return _passed(verdict, str(warehouse.publish_candidate(paths)))


def _passed(verdict: Verdict, published: list[str] | str) -> dict:
    summary = {**verdict.summary(), "published": published}
    log.info("%s passed for %s: %s", verdict.title, verdict.run_date, summary)
    return summary


@_final_on_bad_data
def gate_before_load() -> dict:
    """Validate the staged batches; publish them into the landing when they pass."""
    run_date, paths = run_context()
    return land_if_passed(paths, run_date)


@_final_on_bad_data
def build_warehouse() -> dict:
    """dbt build on a copy of the warehouse, kept as the candidate for the next gate."""
    from touchline import warehouse
    from touchline.quality import gates

    run_date, paths = run_context()
    started = time.monotonic()
    try:
        result = warehouse.build(paths, run_date, publish=False)
    except BuildError as exc:
        gates.record_build(paths, run_date, exc, seconds=time.monotonic() - started)
        raise
    gates.record_build(paths, run_date, seconds=result.seconds, nodes=result.nodes)
    return result.as_dict()


@_final_on_bad_data
def gate_before_export() -> dict:
    """Validate the candidate's marts; publish the warehouse when they pass."""
    run_date, paths = run_context()
    return publish_if_passed(paths, run_date)


@_final_on_bad_data
def export_worklists() -> dict:
    """Write the day's files: from the published warehouse, or a past date's own build."""
    run_date, paths = run_context()
    return write_worklists(paths, run_date)


def write_worklists(paths: Settings, run_date: dt.date) -> dict:
    """The day's files in ``paths.output_dir``: from the published warehouse, or a past
    date's own build (``touchline preview`` writes a copy's the same way)."""
    from touchline import warehouse
    from touchline.exports import worklist_files

    past_build = warehouse.past_build_path(paths, run_date)
    if not past_build.exists():
        return worklist_files.export_files(
            paths.warehouse, paths.output_dir, run_date, dbt_project_dir=paths.dbt_project_dir
        )
    published = warehouse.published_date(paths.warehouse)
    note = (
        f"{run_date} is older than the published day {published}: its history rows were "
        f"recomputed and its files written, but the published warehouse still holds "
        f"{published} and nothing of {run_date} is sent to any destination"
    )
    log.warning(note)
    summary = worklist_files.export_files(
        past_build,
        paths.output_dir,
        run_date,
        extra={"past_date": {"published_date": published.isoformat(), "note": note}},
        dbt_project_dir=paths.dbt_project_dir,
    )
    past_build.unlink(missing_ok=True)
    return summary


def send_to(destination: str) -> dict:
    """Send the day's difference to one destination; skip when it is not configured."""
    from airflow.sdk.exceptions import AirflowSkipException

    from touchline.exports.run import NotConfigured, NotPublished, export_to

    run_date, paths = run_context()
    if not sends():
        raise AirflowSkipException(
            f"this run of {run_date} does not send (a backfill sends only its last date)"
        )
    try:
        plan = export_to(destination, paths, run_date)
    except (NotConfigured, NotPublished) as exc:
        raise AirflowSkipException(str(exc)) from None
    return plan.as_dict()


def publish_marts() -> dict:
    """Publish the marts BI tools read from the published warehouse (docs/bi.md).

    A new version of Parquet files in ``TOUCHLINE_BI_DIR`` (``$TOUCHLINE_HOME/bi``), then
    ``current`` points at it; the warehouse is only read. A past date's run publishes the
    warehouse as it is, newest day and all (its merged history rows included).
    """
    from touchline import bi_publish
    from touchline.config import bi_dir

    run_date, paths = run_context()
    try:
        result = bi_publish.publish(paths.warehouse, bi_dir(paths.home))
    except bi_publish.PublishError as exc:  # no warehouse, or not a built one: no retry helps
        raise AirflowFailException(str(exc)) from exc
    summary = {**result.as_dict(), "run": run_date.isoformat()}
    log.info("published the marts for BI: %s", summary)
    return summary


def write_report() -> dict:
    """Write the run report from the published warehouse (docs/report.md).

    After the work lists, beside the sends: nothing waits for it, so a failed report never
    holds back a list or a send, while its task fails and the failure notice names it. A
    report that cannot be written from the warehouse fails at once (no retry helps); the
    run summary says why, and ``touchline report --date D`` writes it again. A past date's
    run skips it: the published warehouse holds a newer day, whose report stays as it is.
    """
    from airflow.sdk.exceptions import AirflowSkipException

    from touchline import report, warehouse

    run_date, paths = run_context()
    if warehouse.is_past_date(paths, run_date):
        published = warehouse.published_date(paths.warehouse)
        raise AirflowSkipException(
            f"{run_date} is older than the published day {published}: the report of "
            f"{run_date} stays as its own night wrote it"
        )
    try:
        written = report.write(paths.warehouse, paths.output_dir, run_date)
    except report.ReportError as exc:
        report.record_failure(paths.output_dir, run_date, exc)
        raise AirflowFailException(str(exc)) from exc
    except Exception as exc:
        report.record_failure(paths.output_dir, run_date, exc)
        raise
    return written.as_dict()
