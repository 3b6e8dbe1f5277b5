"""Immutable landing of a drop date as Parquet: ``landing/<entity>/ds=<date>/part-0.parquet``.

Landing is two steps. *Staging* parses every entity of a source family against the contract
into ``landing/.staged/<date>/<entity>.parquet`` (all of the family or none of it; a bad
file raises :class:`InputError`). *Publishing* renames staged batches into their partitions,
one atomic rename each, and happens only after the quality gate passed them
(``touchline.quality``). Re-landing a date replaces exactly that date's partitions and
touches nothing else; a batch that fails either step leaves the partitions as they were.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from touchline.schema import ALL_ENTITIES, ENTITY_BY_NAME, Entity
from touchline.sources.filedrop import (
    InputError,
    SourceFile,
    find_file,
    output_schema,
    read_typed,
    typed_schema,
)

log = logging.getLogger(__name__)

PART_NAME = "part-0.parquet"
STAGING = ".staged"
PARQUET_OPTIONS = {"compression": "zstd", "use_dictionary": True, "write_statistics": True}


@dataclass(frozen=True)
class LandedPartition:
    entity: str
    ds: dt.date
    path: Path
    rows: int
    source: Path | None  # None: the drop had no file for this entity that day


@dataclass(frozen=True)
class StagedBatch:
    """One entity of a drop date, parsed and typed, waiting for the quality gate."""

    entity: str
    ds: dt.date
    path: Path
    rows: int
    source: Path | None
    origin: str | None = None  # a system the rows were read from, when not a drop file

    @property
    def manifest(self) -> Path:
        return self.path.with_suffix(".json")

    def as_dict(self) -> dict:
        return {
            "entity": self.entity,
            "ds": self.ds.isoformat(),
            "path": str(self.path),
            "rows": self.rows,
            "source": str(self.source) if self.source else None,
            "origin": self.origin,
        }

    @classmethod
    def from_dict(cls, data: dict) -> StagedBatch:
        return cls(
            data["entity"],
            dt.date.fromisoformat(data["ds"]),
            Path(data["path"]),
            int(data["rows"]),
            Path(data["source"]) if data["source"] else None,
            data.get("origin"),
        )


def partition_dir(landing_dir: Path, entity: str, ds: dt.date) -> Path:
    return Path(landing_dir) / entity / f"ds={ds.isoformat()}"


def drop_dir(source_dir: Path, ds: dt.date) -> Path:
    return Path(source_dir) / ds.isoformat()


def staging_dir(landing_dir: Path, ds: dt.date) -> Path:
    """Where a run's validated batches wait for the quality gate (outside every entity glob)."""
    return Path(landing_dir) / STAGING / ds.isoformat()


def _write_typed(source: SourceFile | None, entity: Entity, temporary: Path) -> int:
    """Validate ``source`` against the contract into ``temporary``; return its rows."""
    if source is None:
        pq.write_table(output_schema(entity, []).empty_table(), temporary, **PARQUET_OPTIONS)
        return 0
    rows = 0
    with pq.ParquetWriter(temporary, typed_schema(source), **PARQUET_OPTIONS) as writer:
        for batch in read_typed(source):
            writer.write_batch(batch)
            rows += batch.num_rows
    return rows


def stage_entities(
    entities: Iterable[str],
    source_dir: Path,
    landing_dir: Path,
    ds: dt.date,
) -> list[StagedBatch]:
    """Parse the given entities of the drop for ``ds`` into the staging folder: all or none.

    Each entity becomes ``<staging>/<entity>.parquet`` with a small manifest naming its
    source file. Nothing under the published partitions changes.
    """
    folder = drop_dir(source_dir, ds)
    if not folder.is_dir():
        raise InputError(folder, f"no drop for {ds.isoformat()}: the folder does not exist")
    target_dir = staging_dir(landing_dir, ds)
    target_dir.mkdir(parents=True, exist_ok=True)
    written: list[tuple[Path, StagedBatch]] = []
    try:
        for name in entities:
            entity = ENTITY_BY_NAME[name]
            source = find_file(folder, entity)
            if source is None and entity.required_file:
                raise InputError(
                    folder / f"{entity.name}.csv",
                    "required file is missing from the drop",
                    expected=f"a full {entity.name} snapshot in every date folder",
                )
            temporary = target_dir / f".{entity.name}.{uuid.uuid4().hex}.partial"
            try:
                rows = _write_typed(source, entity, temporary)
            except BaseException:
                temporary.unlink(missing_ok=True)
                raise
            staged = StagedBatch(
                entity.name,
                ds,
                target_dir / f"{entity.name}.parquet",
                rows,
                source.path if source else None,
            )
            written.append((temporary, staged))
            log.info(
                "parsed %s for %s: %d rows from %s",
                entity.name,
                ds,
                rows,
                source.path.name if source else "(no file: empty partition)",
            )
    except BaseException:
        for temporary, _ in written:
            temporary.unlink(missing_ok=True)
        raise
    for temporary, staged in written:
        os.replace(temporary, staged.path)
        staged.manifest.write_text(json.dumps(staged.as_dict(), indent=2) + "\n")
    return [staged for _, staged in written]


def stage_table(
    entity_name: str, table: pa.Table | None, landing_dir: Path, ds: dt.date, source: str
) -> StagedBatch:
    """Stage rows that did not come from the drop (an API read-back); None stages no rows."""
    entity = ENTITY_BY_NAME[entity_name]
    schema = output_schema(entity, [])
    table = schema.empty_table() if table is None else table.select(schema.names).cast(schema)
    target_dir = staging_dir(landing_dir, ds)
    target_dir.mkdir(parents=True, exist_ok=True)
    temporary = target_dir / f".{entity.name}.{uuid.uuid4().hex}.partial"
    pq.write_table(table, temporary, **PARQUET_OPTIONS)
    staged = StagedBatch(
        entity.name, ds, target_dir / f"{entity.name}.parquet", table.num_rows, None, source
    )
    os.replace(temporary, staged.path)
    staged.manifest.write_text(json.dumps(staged.as_dict(), indent=2) + "\n")
    return staged


# -- source state: cursors and high-water marks, published with the batches they read ------

STATE = "_state"


def stage_state(landing_dir: Path, ds: dt.date, source: str, state: dict) -> Path:
    """Keep a source's new state beside the day's staged batches until they are published."""
    folder = staging_dir(landing_dir, ds) / STATE
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{source}.json"
    temporary = folder / f".{source}.{uuid.uuid4().hex}.partial"
    temporary.write_text(json.dumps(state, indent=2, default=str) + "\n")
    os.replace(temporary, target)
    return target


def published_state(landing_dir: Path, source: str, ds: dt.date) -> dict | None:
    """The state the newest published date before ``ds`` left for ``source`` (None: none).

    A re-run of a date starts where the run before it stopped, so it reads the same window.
    """
    folder = Path(landing_dir) / STATE / source
    if not folder.is_dir():
        return None
    earlier = sorted(
        day
        for day in (_state_day(path) for path in folder.glob("ds=*.json"))
        if day is not None and day < ds
    )
    if not earlier:
        return None
    return json.loads((folder / f"ds={earlier[-1].isoformat()}.json").read_text())


def _state_day(path: Path) -> dt.date | None:
    try:
        return dt.date.fromisoformat(path.stem[3:])
    except ValueError:
        return None


def _publish_states(landing_dir: Path, ds: dt.date) -> None:
    folder = staging_dir(landing_dir, ds) / STATE
    if not folder.is_dir():
        return
    for staged in folder.glob("*.json"):
        target = Path(landing_dir) / STATE / staged.stem / f"ds={ds.isoformat()}.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged, target)
    folder.rmdir()


def staged_batches(landing_dir: Path, ds: dt.date) -> list[StagedBatch]:
    """The batches waiting in the staging folder for ``ds``, in schema order."""
    folder = staging_dir(landing_dir, ds)
    found = []
    for entity in ALL_ENTITIES:
        manifest = folder / f"{entity.name}.json"
        if manifest.exists() and (folder / f"{entity.name}.parquet").exists():
            found.append(StagedBatch.from_dict(json.loads(manifest.read_text())))
    return found


def remove_staged_rows(
    batch: StagedBatch, row_numbers: Iterable[int]
) -> tuple[StagedBatch, pa.Table]:
    """Take the rows ``row_numbers`` (0-based record numbers) out of a staged batch.

    The batch is rewritten without them (same schema, one atomic rename) and its manifest
    counts the rows left; returns the batch as it now is and the removed rows, each with its
    record number in ``_row``.
    """
    wanted = pa.array(sorted(set(row_numbers)), pa.int64())
    if not len(wanted):
        return batch, pa.table({})
    source = pq.ParquetFile(batch.path)
    temporary = batch.path.with_name(f".{batch.entity}.{uuid.uuid4().hex}.partial")
    removed: list[pa.Table] = []
    offset = kept = 0
    try:
        with pq.ParquetWriter(temporary, source.schema_arrow, **PARQUET_OPTIONS) as writer:
            for record_batch in source.iter_batches():
                numbers = pa.array(range(offset, offset + record_batch.num_rows), pa.int64())
                offset += record_batch.num_rows
                out = pc.is_in(numbers, value_set=wanted)
                table = pa.Table.from_batches([record_batch])
                if out.true_count:
                    taken = table.append_column("_row", numbers).filter(out)
                    removed.append(taken)
                keep = table.filter(pc.invert(out))
                kept += keep.num_rows
                writer.write_table(keep)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    os.replace(temporary, batch.path)
    changed = StagedBatch(batch.entity, batch.ds, batch.path, kept, batch.source)
    manifest = json.loads(batch.manifest.read_text()) | changed.as_dict()
    batch.manifest.write_text(json.dumps(manifest, indent=2) + "\n")
    schema = source.schema_arrow.append(pa.field("_row", pa.int64()))
    return changed, pa.concat_tables(removed) if removed else schema.empty_table()


def publish_staged(
    landing_dir: Path, ds: dt.date, entities: Iterable[str] | None = None
) -> list[LandedPartition]:
    """Move staged batches into their partitions (one atomic rename each)."""
    wanted = set(entities) if entities is not None else None
    published = []
    for staged in staged_batches(landing_dir, ds):
        if wanted is not None and staged.entity not in wanted:
            continue
        target = partition_dir(landing_dir, staged.entity, ds) / PART_NAME
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged.path, target)
        staged.manifest.unlink(missing_ok=True)
        published.append(LandedPartition(staged.entity, ds, target, staged.rows, staged.source))
    _fsync_dirs({p.path.parent for p in published})
    # the sources' states after their batches: a crash in between re-reads the same window
    _publish_states(landing_dir, ds)
    folder = staging_dir(landing_dir, ds)
    if folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
    return published


def land_entities(
    entities: Iterable[str],
    source_dir: Path,
    landing_dir: Path,
    ds: dt.date,
) -> list[LandedPartition]:
    """Parse and publish the given entities for ``ds`` without the quality gate.

    For history known to be good (the demo's earlier days, test fixtures); the nightly DAG
    stages, runs the gate, and publishes only what passed.
    """
    names = list(entities)
    stage_entities(names, source_dir, landing_dir, ds)
    return publish_staged(landing_dir, ds, names)


def published_partitions(landing_dir: Path, entity: str) -> dict[dt.date, Path]:
    """Every published partition of ``entity``: its date and Parquet file."""
    found: dict[dt.date, Path] = {}
    folder = Path(landing_dir) / entity
    if not folder.is_dir():
        return found
    for child in folder.iterdir():
        if not child.name.startswith("ds="):
            continue
        try:
            day = dt.date.fromisoformat(child.name[3:])
        except ValueError:
            continue
        part = child / PART_NAME
        if part.exists():
            found[day] = part
    return found


def previous_partition(landing_dir: Path, entity: str, ds: dt.date, days_back: int = 1):
    """The newest published partition of ``entity`` at least ``days_back`` days before ``ds``."""
    limit = ds - dt.timedelta(days=days_back)
    earlier = [
        (day, part)
        for day, part in published_partitions(landing_dir, entity).items()
        if day <= limit
    ]
    return max(earlier) if earlier else None


def _fsync_dirs(folders: Iterable[Path]) -> None:
    for folder in folders:
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
