"""Send a run date's work to the configured destinations, through the export ledger."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

from touchline import config
from touchline.config import Settings
from touchline.exports import destinations
from touchline.exports.base import Plan, export
from touchline.exports.day import Day
from touchline.exports.ledger import Ledger

log = logging.getLogger(__name__)


class NotConfigured(LookupError):
    """The destination has no settings in this deployment."""


class NotPublished(LookupError):
    """The date is not the one the published warehouse holds: nothing of it may be sent."""


def check_published(paths: Settings, run_date: dt.date) -> None:
    """Raise :class:`NotPublished` unless the published warehouse holds ``run_date``.

    Destinations only ever get the newest day: a past date's lists would put tasks back to
    an older state and archive current ones.
    """
    from touchline.warehouse import published_date

    held = published_date(paths.warehouse)
    if held is None:
        raise NotPublished(
            f"nothing is published at {paths.warehouse}; run the nightly pipeline for "
            f"{run_date} first"
        )
    if run_date < held:
        raise NotPublished(
            f"{run_date} is older than the published day {held}: destinations only get the "
            f"newest day, so nothing of {run_date} is sent (its files are in its output "
            f"folder; `touchline export --date {run_date} --dry-run` shows what was sent "
            "that day)"
        )
    if run_date > held:
        raise NotPublished(
            f"{run_date} has not been built: the published warehouse holds {held}; run "
            f"`touchline run --date {run_date}` first"
        )


def ledger_path(paths: Settings) -> Path:
    return config.ledger_path(paths.home)


def export_to(
    name: str, paths: Settings, run_date: dt.date, *, dry_run: bool = False, day: Day | None = None
) -> Plan:
    """Send (or, with ``dry_run``, plan) the day's difference to one destination."""
    target = destinations.destination(name)
    if target is None:
        raise NotConfigured(f"the {name} destination is not configured in this deployment")
    if day is None:
        check_published(paths, run_date)
        day = Day.load(paths.warehouse, run_date, dbt_project_dir=paths.dbt_project_dir)
    with Ledger(ledger_path(paths)) as ledger:
        return export(target, day, ledger, dry_run=dry_run)


def export_all(
    paths: Settings, run_date: dt.date, *, names: list[str] | None = None, dry_run: bool = False
) -> list[Plan]:
    """Every configured destination (or those named), one after the other."""
    chosen = names or destinations.enabled()
    if not chosen:
        return []
    check_published(paths, run_date)
    day = Day.load(paths.warehouse, run_date, dbt_project_dir=paths.dbt_project_dir)
    return [export_to(name, paths, run_date, dry_run=dry_run, day=day) for name in chosen]
