"""Extract: parse one source family's files of the drop for a run date."""

from __future__ import annotations

import datetime as dt
import logging
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed

from touchline.config import Settings
from touchline.landing import land_entities, publish_staged, stage_entities, stage_table
from touchline.schema import API_ENTITIES, FAMILIES

log = logging.getLogger(__name__)


def _entities(family: str) -> tuple[str, ...]:
    if family not in FAMILIES:
        raise KeyError(f"unknown source family {family!r}; known: {', '.join(FAMILIES)}")
    return FAMILIES[family]


def stage_family(family: str, run_date: dt.date, paths: Settings) -> dict:
    """Parse every entity of ``family`` for ``run_date`` into the staging folder; all or none.

    The staged batches are published into the landing partitions once they passed the
    quality gate before load (``touchline.pipeline.land_if_passed``). Returns rows per
    entity for the task log and XCom.
    """
    from touchline.sources.config import FILEDROP, load
    from touchline.sources.run import stage_from_source

    config = load(paths.sources_file)
    plan = config.plan(family) if family in FAMILIES else {FILEDROP: list(_entities(family))}
    staged = []
    for source, entities in plan.items():
        if source == FILEDROP:
            staged += stage_entities(entities, paths.source_dir, paths.landing_dir, run_date)
        else:
            staged += stage_from_source(config.sources[source], entities, run_date, paths)
    summary = {batch.entity: batch.rows for batch in staged}
    log.info("staged %s for %s: %s", family, run_date, summary)
    return {"family": family, "run_date": run_date.isoformat(), "rows": summary}


def land_family(family: str, run_date: dt.date, paths: Settings) -> dict:
    """Parse and publish ``family`` for ``run_date`` at once, without the quality gate."""
    landed = land_entities(_entities(family), paths.source_dir, paths.landing_dir, run_date)
    return {
        "family": family,
        "run_date": run_date.isoformat(),
        "rows": {p.entity: p.rows for p in landed},
    }


def land_history(
    paths: Settings,
    dates: list[dt.date],
    workers: int | None = None,
    on_day: Callable[[dt.date], object] | None = None,
) -> None:
    """Land every family for each of ``dates``: the trusted history before a first nightly run.

    History goes straight to the partitions; every nightly run after it passes the gate. Days
    are independent (each has its own partitions and staging folder), so they land in
    ``workers`` processes at once (default: one per core). ``on_day`` is called with each
    day as it is landed.
    """
    workers = min(workers or os.cpu_count() or 1, len(dates))
    if workers <= 1:
        for day in dates:
            land_day(paths, day)
            if on_day is not None:
                on_day(day)
        return
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        pending = {pool.submit(land_day, paths, day): day for day in dates}
        try:
            for landed in as_completed(pending):
                landed.result()  # the first failure raises here
                if on_day is not None:
                    on_day(pending[landed])
        except BaseException:
            for future in pending:
                future.cancel()  # the days not started yet
            raise


def land_day(paths: Settings, day: dt.date) -> None:
    """Land every family of one day's drop, and the empty read-back of that day."""
    for family in FAMILIES:
        land_family(family, day, paths)
    for entity in API_ENTITIES:  # nothing was read back before the first run
        stage_table(entity.name, None, paths.landing_dir, day, source="history")
        publish_staged(paths.landing_dir, day, [entity.name])
