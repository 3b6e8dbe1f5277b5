"""Extract: land one source family's files of the drop for a run date."""

from __future__ import annotations

import datetime as dt
import logging

from touchline.config import Settings
from touchline.landing import land_entities
from touchline.schema import FAMILIES

log = logging.getLogger(__name__)


def land_family(family: str, run_date: dt.date, paths: Settings) -> dict:
    """Validate and land every entity of ``family`` for ``run_date``; all or nothing.

    Returns a small summary (rows per entity) for the task log and XCom.
    """
    if family not in FAMILIES:
        raise KeyError(f"unknown source family {family!r}; known: {', '.join(FAMILIES)}")
    landed = land_entities(FAMILIES[family], paths.source_dir, paths.landing_dir, run_date)
    summary = {p.entity: p.rows for p in landed}
    log.info("landed %s for %s: %s", family, run_date, summary)
    return {"family": family, "run_date": run_date.isoformat(), "rows": summary}


def land_history(paths: Settings, dates: list[dt.date]) -> None:
    """Land every family for each of ``dates`` (the history before a first scheduled run)."""
    for day in dates:
        for family in FAMILIES:
            land_family(family, day, paths)
