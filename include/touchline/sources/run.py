"""Stage a family's entities from the systems ``sources.yml`` names, as the file drop does.

For each source feeding the family: load the state the last published date before the run
date left, ask the connector for the run's window, merge a snapshot that arrived as changes
into the previous landed snapshot (deleted records leave it), and stage every table beside
the file drop's batches. The connector's new state is staged too and published with the
batches by the gate before load (``touchline.landing.publish_staged``): a run that stops
anywhere before that leaves the old state, so the next attempt reads the same window again.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import yaml

from touchline.config import Settings
from touchline.landing import (
    StagedBatch,
    previous_partition,
    published_state,
    stage_state,
    stage_table,
)
from touchline.schema import ENTITY_BY_NAME, Entity, Kind
from touchline.sources.base import SourceError, Window
from touchline.sources.config import Source
from touchline.sources.filedrop import output_schema

log = logging.getLogger(__name__)

DEFAULT_FUTURE_TOLERANCE_HOURS = 6


def window(paths: Settings, run_date: dt.date, state: dict[str, Any]) -> Window:
    """From where the last published run stopped to the end of the run date (+ tolerance).

    The tolerance is the gate's: a record stamped a little after midnight is still this
    run's, as the gate before load would accept it.
    """
    hours = DEFAULT_FUTURE_TOLERANCE_HOURS
    thresholds = paths.expectations_dir / "thresholds.yml"
    if thresholds.exists():
        loaded = yaml.safe_load(thresholds.read_text(encoding="utf-8")) or {}
        hours = loaded.get("before_load", {}).get("future_tolerance_hours", hours)
    until = dt.datetime.combine(run_date + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    since = state.get("until")
    return Window(
        run_date,
        dt.datetime.fromisoformat(since) if since else None,
        until + dt.timedelta(hours=hours),
    )


def stage_from_source(
    source: Source, entity_names: Sequence[str], run_date: dt.date, paths: Settings
) -> list[StagedBatch]:
    """Read ``entity_names`` from ``source`` for ``run_date`` and stage them: all or none."""
    entities = [ENTITY_BY_NAME[name] for name in entity_names]
    saved = published_state(paths.landing_dir, source.name, run_date) or {}
    span = window(paths, run_date, saved)
    log.info(
        "reading %s from %s (%s) for %s: changes after %s",
        ", ".join(entity_names),
        source.name,
        source.type,
        run_date,
        span.since.isoformat() if span.since else "the beginning",
    )
    extract = source.connector().extract(entities, span, saved.get("connector", {}))
    tables = {}
    for entity in entities:
        if entity.name not in extract.tables:
            raise SourceError(f"{source.name} ({source.type}) returned no {entity.name} table")
        table = _typed(entity, extract.tables[entity.name])
        if entity.name in extract.changes_only:
            table = merge_changes(
                paths.landing_dir,
                entity,
                run_date,
                table,
                extract.deleted.get(entity.name, []),
                source.name,
            )
        tables[entity.name] = table
    origin = extract.origin or f"{source.name} ({source.type})"
    staged = [
        stage_table(name, table, paths.landing_dir, run_date, source=origin)
        for name, table in tables.items()
    ]
    stage_state(
        paths.landing_dir,
        run_date,
        source.name,
        {
            "run_date": run_date.isoformat(),
            "until": span.until.isoformat(),
            "entities": list(entity_names),
            "connector": extract.state,
        },
    )
    log.info(
        "staged from %s for %s: %s",
        source.name,
        run_date,
        json.dumps({batch.entity: batch.rows for batch in staged}),
    )
    return staged


def _typed(entity: Entity, table: pa.Table) -> pa.Table:
    schema = output_schema(entity, [])
    missing = [name for name in schema.names if name not in table.column_names]
    if missing:
        raise SourceError(f"{entity.name}: the connector gave no column {', '.join(missing)}")
    return table.select(schema.names).cast(schema)


def merge_changes(
    landing_dir: Path,
    entity: Entity,
    run_date: dt.date,
    changes: pa.Table,
    deleted: list[str],
    source_name: str,
) -> pa.Table:
    """The previous landed snapshot with ``changes`` applied and ``deleted`` ids removed."""
    if entity.kind is not Kind.SNAPSHOT:
        raise SourceError(f"{entity.name} is an event entity: changes are its rows, not a merge")
    if len(entity.key) != 1:
        raise SourceError(f"{entity.name}: merging changes needs a one-column key")
    previous = previous_partition(landing_dir, entity.name, run_date, days_back=1)
    if previous is None:
        raise SourceError(
            f"{source_name} sent only the changes to {entity.name} for {run_date}, but no "
            f"{entity.name} snapshot is landed before that date to apply them to; remove "
            f"{source_name}'s saved state (landing/_state/{source_name}/) to read it whole"
        )
    (key,) = entity.key
    base = pq.read_table(previous[1]).select(changes.column_names).cast(changes.schema)
    replaced = pa.array(
        changes.column(key).cast(pa.string()).to_pylist() + [str(i) for i in deleted],
        type=pa.string(),
    )
    kept = base.filter(pc.invert(pc.is_in(base.column(key).cast(pa.string()), replaced)))
    merged = pa.concat_tables([kept, changes])
    log.info(
        "%s: %d changed and %d deleted records applied to the snapshot of %s (%d -> %d rows)",
        entity.name,
        changes.num_rows,
        len(deleted),
        previous[0],
        base.num_rows,
        merged.num_rows,
    )
    return merged
