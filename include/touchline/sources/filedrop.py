"""Read and type one entity file of a file drop (docs/input-layout.md).

A file is read in batches (bounded memory) and every value is cast to its column's type.
What stops a file here is what makes it unreadable: a missing file or required column, a
ragged row, a value that does not parse as its type (date, number, timestamp, boolean). The
first such value raises an :class:`InputError` naming the file, line, column, value and what
was expected. Rules on parsed values (required values present, enums, ranges, unique keys)
are the quality gate's (``touchline.quality`` and the suites in ``expectations/``), which
reports the same file, line, column and value.

Text is read in the encoding declared for the file's source family (UTF-8 unless
``TOUCHLINE_SOURCE_ENCODING`` or ``TOUCHLINE_SOURCE_ENCODING_<FAMILY>`` says otherwise; a file
that starts with a UTF-8 byte-order mark is UTF-8 whatever is declared). A record larger than
the read block is read with a larger block, up to ``MAX_RECORD_BYTES``. Locating an undecodable
byte or an oversized record rescans the file, and happens only once the fast read failed.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from touchline.config import (
    DEFAULT_SOURCE_ENCODING,
    SourceEncodingError,
    source_encoding,
    source_encoding_variable,
)
from touchline.errors import InputError
from touchline.schema import ENTITY_BY_NAME, Column, Entity, Type

log = logging.getLogger(__name__)

BATCH_BYTES = 16 << 20  # CSV read block: ~16 MiB of text per batch
# The largest record (as UTF-8) read by growing the block; a larger one is an error. Long
# text fields of CRMs and help desks hold kilobytes (HubSpot 65,536 characters, Salesforce
# 131,072), a pasted log or e-mail body megabytes; tens of megabytes in one record is an
# unclosed quote or a binary dump, and would multiply the memory every read block takes.
MAX_RECORD_BYTES = 64 << 20
_UNDECODED = re.compile("[\udc80-\udcff]+")  # bytes kept by the surrogateescape handler

ARROW_TYPES: dict[Type, pa.DataType] = {
    Type.STRING: pa.string(),
    Type.ENUM: pa.string(),
    Type.BOOLEAN: pa.bool_(),
    Type.INTEGER: pa.int64(),
    Type.DECIMAL: pa.float64(),
    Type.DATE: pa.date32(),
    Type.TIMESTAMP: pa.timestamp("us"),  # UTC, without zone
}


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


def _family_of(path: Path) -> str | None:
    entity = ENTITY_BY_NAME.get(Path(path).name.split(".")[0])
    return entity.family if entity is not None else None


def _open_binary(path: Path) -> io.BufferedIOBase:
    return gzip.open(path, "rb") if path.name.endswith(".gz") else open(path, "rb")


def file_encoding(path: Path) -> str:
    """The encoding ``path`` is read in: UTF-8 after a byte-order mark, else its family's.

    Drop files are named after their entity (``accounts.csv``), which names the family whose
    ``TOUCHLINE_SOURCE_ENCODING_<FAMILY>`` applies; an invalid variable is an InputError.
    """
    path = Path(path)
    try:
        with _open_binary(path) as handle:
            if handle.read(len(codecs.BOM_UTF8)) == codecs.BOM_UTF8:
                return DEFAULT_SOURCE_ENCODING
    except (OSError, EOFError) as exc:
        raise InputError(path, f"cannot be read ({exc})") from None
    family = _family_of(path)
    try:
        return source_encoding(family)
    except SourceEncodingError as exc:
        raise InputError(path, f"cannot be read: {exc}") from None


def open_text(path: Path, encoding: str | None = None) -> io.TextIOBase:
    """The file as text; bytes that do not decode are kept as surrogates (``\\udc80``...)."""
    return io.TextIOWrapper(
        _open_binary(Path(path)),
        encoding=encoding or file_encoding(path),
        errors="surrogateescape",
        newline="",
    )


def read_header(path: Path, encoding: str | None = None) -> list[str]:
    encoding = encoding or file_encoding(path)
    try:
        with open_text(path, encoding) as handle:
            header = next(csv.reader(handle), None)
    except (OSError, EOFError) as exc:
        raise InputError(path, f"cannot be read ({exc})") from None
    if not header:
        raise InputError(path, "is empty; a header row is required", line=1)
    header[0] = header[0].removeprefix("\ufeff")
    for index, name in enumerate(header):
        if _UNDECODED.search(name):
            raise _undecodable(path, encoding, 1, f"header field #{index + 1}", name)
    return [name.strip() for name in header]


def records_with_lines(path: Path, encoding: str | None = None) -> Iterator[tuple[int, list[str]]]:
    """Each data record of a CSV file with the line it starts on (the header is line 1).

    Quoted fields may span lines, so the record number alone is not the line number. Used
    on the error path only, to name the line of a bad record. A field longer than four
    times ``MAX_RECORD_BYTES`` stops the scan with an InputError (bounded memory).
    """
    limit = 4 * MAX_RECORD_BYTES
    csv.field_size_limit(max(csv.field_size_limit(), limit))
    with open_text(path, encoding) as handle:
        reader = csv.reader(handle)
        next(reader, None)
        previous_end = reader.line_num
        while True:
            try:
                record = next(reader, None)
            except csv.Error as exc:
                if "field limit" not in str(exc):
                    message = f"is not valid CSV ({exc})"
                    raise InputError(path, message, line=reader.line_num) from None
                raise InputError(
                    path,
                    f"a field of the record starting here is larger than {_size(limit)}",
                    line=previous_end + 1,
                    expected=f"records under {_size(MAX_RECORD_BYTES)}; " + _RUN_ON_HINT,
                ) from None
            if record is None:
                return
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


_RUN_ON_HINT = (
    "a field this large is usually a quote left open, which runs on to the end of the file"
)


def _size(size: int) -> str:
    """A byte count as people read it: ``64 MiB``, ``19.5 KiB``."""
    unit, name = (1 << 20, "MiB") if size >= 1 << 20 else (1 << 10, "KiB")
    return f"{size // unit} {name}" if size % unit == 0 else f"{size / unit:.1f} {name}"


def _column_name(header: list[str], index: int) -> str:
    return header[index] if index < len(header) else f"field #{index + 1} (beyond the header)"


def _undecodable(path: Path, encoding: str, line: int, column: str, text: str) -> InputError:
    """The error for a field holding bytes that are not ``encoding`` text."""
    run = _UNDECODED.search(text)
    raw = bytes(ord(char) - 0xDC00 for char in run.group()) if run else b""
    escaped = "".join(f"\\x{byte:02x}" for byte in raw)
    family = _family_of(path)
    variable = source_encoding_variable(family) if family else "TOUCHLINE_SOURCE_ENCODING"
    if encoding == DEFAULT_SOURCE_ENCODING:
        advice = (
            f"declare the file's encoding with {variable}=cp1252 (exports from Excel and "
            "older CRMs) or latin-1, or save it as UTF-8"
        )
    else:
        advice = f"declare the file's actual encoding with {variable} (utf-8, cp1252, latin-1)"
    shown = text.encode(encoding, "surrogateescape").decode(encoding, "replace")
    return InputError(
        path,
        f"bytes {escaped} are not {encoding} text",
        line=line,
        column=column,
        value=shown[:200],
        expected=f"{encoding} text; {advice}",
    )


def _first_undecodable(path: Path, header: list[str], encoding: str) -> InputError | None:
    """The error for the first field with bytes that do not decode, if there is one."""
    for line, record in records_with_lines(path, encoding):
        for index, field in enumerate(record):
            run = _UNDECODED.search(field)
            if run is None:
                continue
            before = sum(text.count("\n") for text in record[:index])
            at = line + before + field[: run.start()].count("\n")
            return _undecodable(path, encoding, at, _column_name(header, index), field)
    return None


def _utf8_size(text: str) -> int:
    return len(text.encode("utf-8", "surrogateescape"))


def _oversized_record(path: Path, header: list[str], encoding: str) -> InputError | None:
    """The error for the first record larger than MAX_RECORD_BYTES, naming its largest field."""
    for line, record in records_with_lines(path, encoding):
        if 4 * (sum(map(len, record)) + len(record)) <= MAX_RECORD_BYTES:
            continue  # even at four bytes a character it fits
        sizes = [_utf8_size(field) for field in record]
        if sum(sizes) + len(record) <= MAX_RECORD_BYTES:
            continue
        index = max(range(len(record)), key=sizes.__getitem__)
        return InputError(
            path,
            f"field of {_size(sizes[index])} makes its record larger than "
            f"{_size(MAX_RECORD_BYTES)}",
            line=line + sum(text.count("\n") for text in record[:index]),
            column=_column_name(header, index),
            value=record[index][:80],
            expected=f"records under {_size(MAX_RECORD_BYTES)}; " + _RUN_ON_HINT,
        )
    return None


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
    yield from _csv_batches(source, header)


def _csv_batches(source: SourceFile, header: list[str]) -> Iterator[pa.RecordBatch]:
    """Batches of a CSV file as text; a record larger than the block grows the block.

    A grown block rereads the file and drops the records already yielded, so the batches
    continue where they stopped.
    """
    encoding = file_encoding(source.path)
    block = BATCH_BYTES
    done = 0  # records yielded so far
    while True:
        bad_rows: list[pacsv.InvalidRow] = []
        skip = done
        try:
            for batch in _open_csv(source.path, header, encoding, block, bad_rows):
                if skip >= batch.num_rows:
                    skip -= batch.num_rows
                    continue
                batch, skip = batch.slice(skip), 0
                if block > BATCH_BYTES and _largest_record(batch) > MAX_RECORD_BYTES:
                    # Arrow reads records somewhat larger than its block; the limit is ours
                    raise _oversized_record(source.path, header, encoding) or InputError(
                        source.path, f"has a record larger than {_size(MAX_RECORD_BYTES)}"
                    )
                done += batch.num_rows
                yield batch
            return
        except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
            straddles = isinstance(exc, pa.ArrowInvalid) and "straddl" in str(exc)
            if straddles and block < MAX_RECORD_BYTES:
                block = min(4 * block, MAX_RECORD_BYTES)
                log.info(
                    "%s: a record is larger than the read block; rereading with %s blocks",
                    source.path,
                    _size(block),
                )
                continue
            raise _read_error(source.path, header, encoding, exc, bad_rows, straddles) from None


def _largest_record(batch: pa.RecordBatch) -> int:
    """The size of the batch's largest record: its fields as UTF-8 and their separators."""
    sizes = [pc.binary_length(column) for column in batch.columns]
    total = sizes[0]
    for size in sizes[1:]:
        total = pc.add(total, size)
    return (pc.max(total).as_py() or 0) + batch.num_columns


def _open_csv(
    path: Path, header: list[str], encoding: str, block: int, bad_rows: list
) -> pacsv.CSVStreamingReader:
    read_options = pacsv.ReadOptions(
        column_names=header,
        skip_rows=1,
        block_size=block,
        # Arrow reads UTF-8 natively and transcodes any other name through Python's codec
        encoding="utf8" if encoding == DEFAULT_SOURCE_ENCODING else encoding,
    )

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
    return pacsv.open_csv(
        path,
        read_options=read_options,
        parse_options=parse_options,
        convert_options=convert_options,
    )


def _read_error(
    path: Path,
    header: list[str],
    encoding: str,
    exc: Exception,
    bad_rows: list[pacsv.InvalidRow],
    straddles: bool,
) -> InputError:
    """Why the fast read failed, located by rescanning the file."""
    if straddles:
        located = _oversized_record(path, header, encoding)
        if located is not None:
            return located
    if bad_rows:
        row = bad_rows[0]
        return InputError(
            path,
            f"row has {row.actual_columns} fields",
            line=row.number or _first_ragged_line(path, row.expected_columns),
            value=row.text[:200],
            expected=f"{row.expected_columns} fields as in the header",
        )
    located = _first_undecodable(path, header, encoding)
    if located is not None:
        return located
    return InputError(path, f"is not valid CSV ({exc})")


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
