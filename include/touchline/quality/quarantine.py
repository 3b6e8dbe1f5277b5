"""Rows held back from the landing: ``<output-dir>/quality/<D>/quarantine/<entity>.csv``.

A row that fails a row-level expectation of severity ``warn`` (an unknown account, an
activity's malformed CSM address) is taken out of its staged batch before the batch is
published, so the other rows land and the night goes on. Each quarantined row is written
with the file and line it came from and why it was held back, followed by its values, so
it can be corrected and dropped again.
"""

from __future__ import annotations

import csv
import datetime as dt
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from touchline.landing import StagedBatch, remove_staged_rows
from touchline.quality.report import report_dir
from touchline.sources.filedrop import records_with_lines

FOLDER = "quarantine"
LEADING_COLUMNS = ("file", "line", "reason")


@dataclass(frozen=True)
class Quarantined:
    """The rows of one entity held back from the landing."""

    entity: str
    rows: int
    path: Path

    def as_dict(self) -> dict[str, Any]:
        return {"entity": self.entity, "rows": self.rows, "file": str(self.path)}


def quarantine_dir(output_dir: Path, run_date: dt.date) -> Path:
    return report_dir(output_dir, run_date) / FOLDER


def forget(output_dir: Path, run_date: dt.date) -> None:
    """An earlier run's quarantine of the date no longer applies."""
    shutil.rmtree(quarantine_dir(output_dir, run_date), ignore_errors=True)


def source_lines(source: Path | None, row_numbers: list[int]) -> dict[int, str]:
    """Where each record starts in its drop file: a CSV line, or a Parquet row."""
    if source is None:
        return {}
    if source.suffix == ".parquet":
        return {row: f"row {row + 1}" for row in row_numbers}
    wanted = set(row_numbers)
    found: dict[int, str] = {}
    for index, (line, _) in enumerate(records_with_lines(source)):
        if index in wanted:
            found[index] = str(line)
            if len(found) == len(wanted):
                break
    return found


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):  # staged times are UTC
        return value.replace(tzinfo=None).isoformat() + "Z"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _write(path: Path, batch: StagedBatch, removed: pa.Table, reasons: Mapping[int, list[str]]):
    columns = [name for name in removed.column_names if name != "_row"]
    records = removed.to_pylist()
    lines = source_lines(batch.source, [record["_row"] for record in records])
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.partial")
    with open(temporary, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow([*LEADING_COLUMNS, *columns])
        for record in sorted(records, key=lambda r: r["_row"]):
            row = record["_row"]
            writer.writerow(
                [
                    str(batch.source) if batch.source else f"(staged {batch.entity})",
                    lines.get(row, ""),
                    "; ".join(reasons[row]),
                    *(_text(record[name]) for name in columns),
                ]
            )
    temporary.replace(path)


def quarantine(
    batch: StagedBatch, reasons: Mapping[int, list[str]], output_dir: Path, run_date: dt.date
) -> tuple[StagedBatch, Quarantined]:
    """Take the rows of ``reasons`` (record number: why) out of ``batch`` into its CSV."""
    changed, removed = remove_staged_rows(batch, reasons)
    path = quarantine_dir(output_dir, run_date) / f"{batch.entity}.csv"
    _write(path, batch, removed, reasons)
    return changed, Quarantined(batch.entity, removed.num_rows, path)
