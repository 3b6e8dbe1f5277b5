"""Immutable landing of a drop date as Parquet: ``landing/<entity>/ds=<date>/part-0.parquet``.

Every entity of a source family is first validated into a hidden temporary file in the entity's
folder; only when all of them are good are the temporaries renamed into place (a rename
within one folder is atomic). Re-landing a date replaces exactly that date's partitions and
touches nothing else. A bad file raises :class:`InputError` and leaves the landing as it was.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from touchline.schema import ENTITY_BY_NAME, Entity
from touchline.sources.filedrop import (
    InputError,
    SourceFile,
    find_file,
    output_schema,
    read_header,
    read_typed,
    records_with_lines,
    typed_schema,
)

log = logging.getLogger(__name__)

PART_NAME = "part-0.parquet"
PARQUET_OPTIONS = {"compression": "zstd", "use_dictionary": True, "write_statistics": True}


@dataclass(frozen=True)
class LandedPartition:
    entity: str
    ds: dt.date
    path: Path
    rows: int
    source: Path | None  # None: the drop had no file for this entity that day


def partition_dir(landing_dir: Path, entity: str, ds: dt.date) -> Path:
    return Path(landing_dir) / entity / f"ds={ds.isoformat()}"


def drop_dir(source_dir: Path, ds: dt.date) -> Path:
    return Path(source_dir) / ds.isoformat()


def _stage(source: SourceFile | None, entity: Entity, target: Path) -> tuple[Path, int]:
    """Validate ``source`` into a temporary file beside ``target``; return it and its rows."""
    entity_dir = target.parent.parent  # staged beside the partitions, never inside one
    entity_dir.mkdir(parents=True, exist_ok=True)
    temporary = entity_dir / f".{target.parent.name}.{uuid.uuid4().hex}.partial"
    rows = 0
    try:
        if source is None:
            schema = output_schema(entity, [])
            pq.write_table(schema.empty_table(), temporary, **PARQUET_OPTIONS)
        else:
            with pq.ParquetWriter(temporary, typed_schema(source), **PARQUET_OPTIONS) as writer:
                for batch in read_typed(source):
                    writer.write_batch(batch)
                    rows += batch.num_rows
            _check_unique_key(source, temporary)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return temporary, rows


def _check_unique_key(source: SourceFile, staged: Path) -> None:
    """A key appearing twice in one file stops the entity (CONTRACT.md section 1)."""
    key = source.entity.key
    columns = ", ".join(f'"{name}"' for name in key)
    not_null = " and ".join(f'"{name}" is not null' for name in key)
    with duckdb.connect() as con:
        duplicate = con.execute(
            f"""
            select {columns}, count(*) as copies
            from read_parquet(?)
            where {not_null}
            group by all
            having count(*) > 1
            limit 1
            """,
            [str(staged)],
        ).fetchone()
    if duplicate is None:
        return
    value = "/".join(str(v) for v in duplicate[:-1])
    line = _first_line_of(source, key, duplicate[:-1], occurrence=2)
    raise InputError(
        source.path,
        f"duplicate id: the key appears {duplicate[-1]} times",
        line=line,
        column="+".join(key),
        value=value,
        expected="each id once per file",
    )


def _first_line_of(
    source: SourceFile, key: tuple[str, ...], values: tuple, occurrence: int
) -> int | None:
    """The line of the n-th record holding ``values`` in the ``key`` columns (CSV only)."""
    if source.is_parquet:
        return None
    wanted = [str(v) for v in values]
    header = read_header(source.path)
    positions = [header.index(name) for name in key]
    matches = (
        line
        for line, record in records_with_lines(source.path)
        if [record[p].strip() for p in positions] == wanted
    )
    return next(islice(matches, occurrence - 1, None), None)


def land_entities(
    entities: Iterable[str],
    source_dir: Path,
    landing_dir: Path,
    ds: dt.date,
) -> list[LandedPartition]:
    """Land the given entities of the drop for ``ds``: all of them, or none."""
    folder = drop_dir(source_dir, ds)
    if not folder.is_dir():
        raise InputError(folder, f"no drop for {ds.isoformat()}: the folder does not exist")
    staged: list[tuple[Path, Path, LandedPartition]] = []
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
            target = partition_dir(landing_dir, entity.name, ds) / PART_NAME
            temporary, rows = _stage(source, entity, target)
            landed = LandedPartition(entity.name, ds, target, rows, source.path if source else None)
            staged.append((temporary, target, landed))
            log.info(
                "validated %s for %s: %d rows from %s",
                entity.name,
                ds,
                rows,
                source.path.name if source else "(no file: empty partition)",
            )
    except BaseException:
        for temporary, _, _ in staged:
            temporary.unlink(missing_ok=True)
        raise
    for temporary, target, _ in staged:
        target.parent.mkdir(exist_ok=True)
        os.replace(temporary, target)
    _fsync_dirs({target.parent for _, target, _ in staged})
    return [landed for _, _, landed in staged]


def _fsync_dirs(folders: Iterable[Path]) -> None:
    for folder in folders:
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
