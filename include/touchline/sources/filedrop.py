"""Read and type one entity file of a file drop (CONTRACT.md section 1).

A file is read in batches (bounded memory) and every value is cast to its column's type.
What stops a file here is what makes it unreadable: a missing file or required column, a
ragged row, a value that does not parse as its type (date, number, timestamp, boolean). The
first such value raises an :class:`InputError` naming the file, line, column, value and what
was expected. Rules on parsed values (required values present, enums, ranges, unique keys)
are the quality gate's (``touchline.quality`` and the suites in ``expectations/``), which
reports the same file, line, column and value.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from touchline.schema import Column, Entity, Type

BATCH_BYTES = 16 << 20  # CSV read block: ~16 MiB of text per batch

ARROW_TYPES: dict[Type, pa.DataType] = {
    Type.STRING: pa.string(),
    Type.ENUM: pa.string(),
    Type.BOOLEAN: pa.bool_(),
    Type.INTEGER: pa.int64(),
    Type.DECIMAL: pa.float64(),
    Type.DATE: pa.date32(),
    Type.TIMESTAMP: pa.timestamp("us"),  # UTC, without zone
}


class InputError(ValueError):
    """A file of the drop breaks the contract; the message says where and how."""

    def __init__(
        self,
        path: Path,
        message: str,
        *,
        line: int | None = None,
        column: str | None = None,
        value: str | None = None,
        expected: str | None = None,
    ) -> None:
        self.path = Path(path)
        self.message = message
        self.line = line
        self.column = column
        self.value = value
        self.expected = expected
        place = str(self.path)
        if line is not None:
            place += f", line {line}"
        if column is not None:
            place += f", column {column!r}"
        text = f"{place}: {message}"
        if value is not None:
            text += f"; found {value!r}"
        if expected is not None:
            text += f", expected {expected}"
        super().__init__(text)

    def __reduce__(self):
        # rebuilt from its parts when it crosses a process boundary (parallel landing)
        return (
            _input_error,
            (self.path, self.message, self.line, self.column, self.value, self.expected),
        )


def _input_error(path, message, line, column, value, expected) -> InputError:
    return InputError(path, message, line=line, column=column, value=value, expected=expected)


@dataclass(frozen=True)
class SourceFile:
    """One entity file found in a drop folder."""

    entity: Entity
    path: Path

    @property
    def is_parquet(self) -> bool:
        return self.path.suffix == ".parquet"


def find_file(drop_dir: Path, entity: Entity) -> SourceFile | None:
    """The entity's file in a date folder (``.csv``, ``.csv.gz`` or, if allowed, ``.parquet``)."""
    suffixes = [".csv", ".csv.gz"] + ([".parquet"] if entity.parquet_allowed else [])
    found = [
        drop_dir / f"{entity.name}{s}"
        for s in suffixes
        if (drop_dir / f"{entity.name}{s}").exists()
    ]
    if len(found) > 1:
        names = ", ".join(p.name for p in found)
        raise InputError(drop_dir, f"{entity.name} is present more than once ({names}); keep one")
    return SourceFile(entity, found[0]) if found else None


def open_text(path: Path) -> io.TextIOBase:
    if path.name.endswith(".gz"):
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


def read_header(path: Path) -> list[str]:
    try:
        with open_text(path) as handle:
            header = next(csv.reader(handle), None)
    except UnicodeDecodeError as exc:
        raise InputError(
            path, f"is not UTF-8 text ({exc.reason} at byte {exc.start})", line=1
        ) from None
    except (OSError, EOFError) as exc:
        raise InputError(path, f"cannot be read ({exc})") from None
    if not header:
        raise InputError(path, "is empty; a header row is required", line=1)
    header[0] = header[0].removeprefix("\ufeff")
    return [name.strip() for name in header]


def records_with_lines(path: Path) -> Iterator[tuple[int, list[str]]]:
    """Each data record of a CSV file with the line it starts on (the header is line 1).

    Quoted fields may span lines, so the record number alone is not the line number. Used
    on the error path only, to name the line of a bad record.
    """
    with open_text(path) as handle:
        reader = csv.reader(handle)
        next(reader, None)
        previous_end = reader.line_num
        for record in reader:
            yield previous_end + 1, record
            previous_end = reader.line_num


def physical_line(path: Path, record_index: int) -> int:
    """The line on which data record ``record_index`` (0-based) starts."""
    for index, (line, _) in enumerate(records_with_lines(path)):
        if index == record_index:
            return line
    return record_index + 2


def _first_ragged_line(path: Path, fields: int) -> int | None:
    """The line of the first record whose field count differs from the header's."""
    return next((line for line, record in records_with_lines(path) if len(record) != fields), None)


def _check_header(source: SourceFile, header: list[str]) -> None:
    seen: set[str] = set()
    for name in header:
        if name in seen:
            raise InputError(source.path, "column appears twice in the header", line=1, column=name)
        seen.add(name)
    for name in source.entity.required_columns:
        if name not in seen:
            raise InputError(
                source.path,
                "required column is missing from the header",
                line=1,
                column=name,
                expected="the columns " + ", ".join(source.entity.required_columns),
            )


def _raw_batches(source: SourceFile, header: list[str]) -> Iterator[pa.RecordBatch]:
    """Batches of the file with every column as text (empty text kept as '')."""
    if source.is_parquet:
        parquet = pq.ParquetFile(source.path)
        for batch in parquet.iter_batches(batch_size=256_000):
            yield pa.RecordBatch.from_arrays(
                [
                    col if pa.types.is_string(col.type) else col.cast(pa.string())
                    for col in batch.columns
                ],
                names=[name.strip() for name in batch.schema.names],
            )
        return
    read_options = pacsv.ReadOptions(
        column_names=header, skip_rows=1, block_size=BATCH_BYTES, encoding="utf8"
    )
    bad_rows: list[pacsv.InvalidRow] = []

    def on_invalid_row(row: pacsv.InvalidRow) -> str:
        bad_rows.append(row)
        return "error"

    parse_options = pacsv.ParseOptions(
        delimiter=",",
        quote_char='"',
        newlines_in_values=True,
        invalid_row_handler=on_invalid_row,
    )
    convert_options = pacsv.ConvertOptions(
        column_types={name: pa.string() for name in header},
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
    )
    try:
        reader = pacsv.open_csv(
            source.path,
            read_options=read_options,
            parse_options=parse_options,
            convert_options=convert_options,
        )
        yield from reader
    except pa.ArrowInvalid as exc:
        if bad_rows:
            row = bad_rows[0]
            raise InputError(
                source.path,
                f"row has {row.actual_columns} fields",
                line=row.number or _first_ragged_line(source.path, row.expected_columns),
                value=row.text[:200],
                expected=f"{row.expected_columns} fields as in the header",
            ) from None
        raise InputError(source.path, f"is not valid CSV ({exc})") from None


def _typed_sql(column: Column, raw: str) -> tuple[str, str]:
    """SQL for the typed value and for 'this value does not parse' of one column."""
    text = f"nullif(trim({raw}), '')"
    if column.type in (Type.STRING, Type.ENUM):
        return text, "false"
    if column.type is Type.BOOLEAN:
        typed = f"case lower({text}) when 'true' then true when 'false' then false end"
        valid = f"{typed} is not null"
    elif column.type in (Type.INTEGER, Type.DECIMAL):
        number = f"try_cast({text} as double)"
        valid = f"isfinite({number})"
        if column.type is Type.INTEGER:
            valid += f" and {number} = trunc({number})"
        typed = f"cast({number} as bigint)" if column.type is Type.INTEGER else number
    elif column.type is Type.DATE:
        typed = f"try_cast({text} as date)"
        valid = f"{typed} is not null"
    elif column.type is Type.TIMESTAMP:
        typed = f"(try_cast({text} as timestamptz) at time zone 'UTC')"
        valid = f"{typed} is not null"
    else:  # pragma: no cover - every Type is handled above
        raise AssertionError(column.type)
    return typed, f"({text} is not null and not coalesce({valid}, false))"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def output_schema(entity: Entity, extra_columns: list[str]) -> pa.Schema:
    fields = [pa.field(c.name, ARROW_TYPES[c.type]) for c in entity.columns]
    fields += [pa.field(name, pa.string()) for name in extra_columns]
    return pa.schema(fields)


def extra_columns(entity: Entity, header: list[str]) -> list[str]:
    """Unknown columns: kept (as text) and ignored downstream."""
    return [name for name in header if name not in entity.by_name]


def source_header(source: SourceFile) -> list[str]:
    if source.is_parquet:
        return [name.strip() for name in pq.ParquetFile(source.path).schema_arrow.names]
    return read_header(source.path)


def typed_schema(source: SourceFile) -> pa.Schema:
    """The schema of the typed batches ``read_typed`` yields for this file."""
    header = source_header(source)
    _check_header(source, header)
    return output_schema(source.entity, extra_columns(source.entity, header))


def read_typed(source: SourceFile) -> Iterator[pa.RecordBatch]:
    """Yield the file's records as typed batches; raise InputError at the first bad value."""
    entity = source.entity
    header = source_header(source)
    schema = typed_schema(source)
    extras = extra_columns(entity, header)

    selects, checks = [], []
    for column in entity.columns:
        raw = _quote(column.name) if column.name in header else "cast(null as varchar)"
        typed, bad = _typed_sql(column, raw)
        selects.append(f"{typed} as {_quote(column.name)}")
        checks.append(f"{bad} as {_quote('__bad__' + column.name)}")
    selects += [_quote(name) for name in extras]
    sql = f"select {', '.join(selects + checks)} from batch"

    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    offset = 0
    try:
        for batch in _raw_batches(source, header):
            if batch.num_rows == 0:
                continue
            con.register("batch", batch)
            result = con.sql(sql).fetch_arrow_table()
            con.unregister("batch")
            for column in entity.columns:
                flags = result.column("__bad__" + column.name)
                if pc.any(flags).as_py():
                    index = pc.index(flags, True).as_py()
                    _raise_bad_value(source, column, header, batch, index, offset + index)
            yield pa.RecordBatch.from_arrays(
                [result.column(name).combine_chunks() for name in schema.names], schema=schema
            )
            offset += batch.num_rows
    finally:
        con.close()


def _raise_bad_value(
    source: SourceFile,
    column: Column,
    header: list[str],
    batch: pa.RecordBatch,
    index: int,
    record_index: int,
) -> None:
    value = batch.column(header.index(column.name))[index].as_py() if column.name in header else ""
    value = value if value is not None else ""
    if source.is_parquet:
        raise InputError(
            source.path,
            f"bad value in row {record_index + 1}",
            column=column.name,
            value=value,
            expected=column.expected,
        )
    raise InputError(
        source.path,
        "value does not parse",
        line=physical_line(source.path, record_index),
        column=column.name,
        value=value,
        expected=column.expected,
    )
