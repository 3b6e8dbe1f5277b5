"""Writing the file drop exactly as docs/input-layout.md describes it.

UTF-8, a header row in schema order, commas, RFC 4180 quoting (only where a value needs it),
"\\n" line ends. Timestamps are ISO 8601 UTC with a `Z`, dates YYYY-MM-DD, booleans
true/false, and missing optional values are empty strings.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from touchline import schema

LINE_END = "\n"
USAGE_FORMATS = ("csv", "csv.gz", "parquet")
GZIP_LEVEL = 3  # twice as fast as 6 for ~10% larger files


def columns(entity_name: str) -> list[str]:
    return schema.entity(entity_name).column_names


def check_columns(entity_name: str, expected: Sequence[str]) -> None:
    """Fail loudly if schema.py and the generator disagree on an entity's columns."""
    actual = columns(entity_name)
    if list(expected) != actual:
        raise RuntimeError(
            f"demo generator writes {entity_name} columns {list(expected)}, "
            f"but schema.py declares {actual}; update touchline/demo to match"
        )


class RowRenderer:
    """Renders one row to one CSV line with the csv module's minimal RFC 4180 quoting."""

    def __init__(self) -> None:
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer, lineterminator=LINE_END)

    def __call__(self, values: Sequence[str]) -> str:
        self._buffer.seek(0)
        self._buffer.truncate()
        self._writer.writerow(values)
        return self._buffer.getvalue()


def header_line(entity_name: str) -> str:
    return RowRenderer()(columns(entity_name))


def write_lines(path: Path, entity_name: str, lines: Iterable[str]) -> None:
    """Write a header and pre-rendered lines; gzipped when the path ends in .gz."""
    with open_drop_file(path) as handle:
        handle.write(header_line(entity_name))
        handle.writelines(lines)


def write_rows(path: Path, entity_name: str, rows: Sequence[Sequence[str]]) -> int:
    """Write a header and rows of strings (already in schema column order); gzipped when the
    path ends in .gz."""
    with open_drop_file(path) as handle:
        writer = csv.writer(handle, lineterminator=LINE_END)
        writer.writerow(columns(entity_name))
        writer.writerows(rows)
    return len(rows)


def drop_file(folder: Path, entity_name: str, compress: bool) -> Path:
    """The entity's CSV path in a date folder (removing the other variant, which would make
    the entity present twice)."""
    plain = folder / f"{entity_name}.csv"
    zipped = folder / f"{entity_name}.csv.gz"
    path, other = (zipped, plain) if compress else (plain, zipped)
    other.unlink(missing_ok=True)
    return path


@contextmanager
def open_drop_file(path: Path) -> Iterator[io.TextIOBase]:
    """A text handle for a drop file, gzipped when the name ends in .gz (the same rows give
    the same bytes: no time stamp or name in the gzip header)."""
    if not path.name.endswith(".gz"):
        with open(path, "w", encoding="utf-8", newline="") as handle:
            yield handle
        return
    with (
        open(path, "wb") as raw,
        gzip.GzipFile(
            filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=GZIP_LEVEL
        ) as zipped,
        io.TextIOWrapper(zipped, encoding="utf-8", newline="") as handle,
    ):
        yield handle


class SnapshotFiles:
    """Writes the daily snapshot files, plain or gzipped.

    The caller hands each file over as blocks of rows cut at fixed positions of the entity's
    own row order, so a changed or new row changes only its block. A gzipped file is a
    sequence of gzip members, one per block (any gzip reader reads them as one stream), and a
    block is compressed again only when its bytes changed since the file was last written:
    a year of daily snapshots of a large book costs little more than its changed rows.
    """

    BLOCK_ROWS = 4096

    def __init__(self, compress: bool) -> None:
        self.compress = compress
        self._members: dict[tuple[str, int], tuple[int, int, bytes]] = {}

    def write(self, folder: Path, entity_name: str, blocks: Iterable[bytes]) -> Path:
        path = drop_file(folder, entity_name, self.compress)
        header = header_line(entity_name).encode("utf-8")
        with open(path, "wb") as handle:
            handle.write(self._member(entity_name, -1, header) if self.compress else header)
            for number, block in enumerate(blocks):
                if self.compress:
                    block = self._member(entity_name, number, block)
                handle.write(block)
        return path

    def _member(self, entity_name: str, number: int, data: bytes) -> bytes:
        key = (entity_name, number)
        cached = self._members.get(key)
        if cached is not None and cached[0] == len(data) and cached[1] == hash(data):
            return cached[2]
        member = gzip.compress(data, compresslevel=GZIP_LEVEL, mtime=0)
        self._members[key] = (len(data), hash(data), member)
        return member


def boolean(value: bool) -> str:
    return "true" if value else "false"


def amount(value: float) -> str:
    return f"{value:.2f}"


def rate(value: float) -> str:
    text = f"{value:.8f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


class Clock:
    """Day indices and seconds (counted from midnight UTC of day 0) to ISO 8601 text."""

    def __init__(self, start: date) -> None:
        self.start = start
        self._dates: dict[int, str] = {}
        self._epoch = int(datetime(start.year, start.month, start.day, tzinfo=UTC).timestamp())

    def date(self, day: int) -> str:
        text = self._dates.get(day)
        if text is None:
            text = (self.start + timedelta(days=day)).isoformat()
            self._dates[day] = text
        return text

    def timestamp(self, second: int) -> str:
        """An absolute second (may be negative, before the window) as 2026-10-30T14:03:22Z."""
        day, rest = divmod(int(second), 86400)
        hours, rest = divmod(rest, 3600)
        minutes, seconds = divmod(rest, 60)
        return f"{self.date(day)}T{hours:02d}:{minutes:02d}:{seconds:02d}Z"

    def epoch(self, second: np.ndarray) -> np.ndarray:
        """Absolute seconds as Unix epoch seconds."""
        return second + self._epoch


USAGE_COLUMNS = ("account_id", "user_id", "feature", "occurred_at", "event_id")


def usage_path(folder: Path, usage_format: str) -> Path:
    return folder / f"usage_events.{usage_format}"


_TIME_OF_DAY = pa.array(
    [f"T{h:02d}:{m:02d}:{s:02d}Z" for h in range(24) for m in range(60) for s in range(60)]
)


def timestamps_of_day(day_text: str, second_of_day: np.ndarray) -> pa.Array:
    """ISO 8601 text for many seconds of one day (pyarrow's strftime is ~100x slower)."""
    times = pc.take(_TIME_OF_DAY, pa.array(second_of_day, type=pa.int64()))
    return pc.binary_join_element_wise(day_text, times, "")


def write_usage(folder: Path, table: pa.Table, usage_format: str, stamps: pa.Array) -> Path:
    """Write one day of usage events.

    `table` has occurred_at as a UTC timestamp column (kept as such in Parquet); `stamps`
    holds the same instants as ISO 8601 text for the CSV formats.
    """
    path = usage_path(folder, usage_format)
    for other in USAGE_FORMATS:  # a stale file in another format would be read twice
        stale = usage_path(folder, other)
        if other != usage_format and stale.exists():
            stale.unlink()
    if usage_format == "parquet":
        pq.write_table(table, path, compression="zstd")
        return path
    text_table = table.set_column(table.column_names.index("occurred_at"), "occurred_at", stamps)
    options = pa_csv.WriteOptions(quoting_style="none", quoting_header="none")
    if usage_format == "csv":
        pa_csv.write_csv(text_table, str(path), write_options=options)
        return path
    with open(path, "wb") as raw:
        # mtime=0 and no file name in the header: the same rows give the same bytes
        with gzip.GzipFile(
            filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=GZIP_LEVEL
        ) as zipped:
            sink = io.BytesIO()
            pa_csv.write_csv(text_table, sink, write_options=options)
            zipped.write(sink.getbuffer())
    return path
