"""Run a Great Expectations suite over a batch delivered in chunks, and say what it found.

Great Expectations validates pandas frames here (its SQL datasource does not work on DuckDB):
a batch is read from Parquet or DuckDB in chunks of bounded size, each chunk is validated
with the suite, and the per-chunk results are merged into one outcome per expectation
(counts summed, the first offending rows kept, success recomputed over the whole batch,
``mostly`` included; row counts summed and column maxima taken over the chunks, then judged
again). Uniqueness is judged within each chunk, so the caller delivers those suites' rows
in chunks that never split a key between them (``touchline.quality.gates``: ordered by the
key, a chunk a range of keys); their suites run on a narrow frame (the key columns only).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa

if TYPE_CHECKING:
    import great_expectations as gx

CHUNK_ROWS = 250_000
SAMPLE_ROWS = 5
ROW_COLUMN = "_row"  # a batch's record number (0-based), when the batch has one

FAIL = "fail"
WARN = "warn"
_SEVERITY = {"critical": FAIL, "warning": WARN, "info": WARN}


def start_great_expectations() -> ModuleType:
    """Great Expectations, imported with its usage analytics off.

    GX reads ``GX_ANALYTICS_ENABLED`` when it starts, so the variable is set (unless the
    deployment set it) by the gate about to use GX, never by importing touchline.
    """
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import great_expectations

    return great_expectations


# Nullable pandas types, so a column with nulls keeps its type (an integer stays an integer).
_TYPES = {
    pa.int64(): pd.Int64Dtype(),
    pa.bool_(): pd.BooleanDtype(),
    pa.string(): pd.StringDtype(),
    pa.large_string(): pd.StringDtype(),
}


def frames(batches: Iterable[pa.RecordBatch]) -> Iterator[pd.DataFrame]:
    """Arrow batches as pandas frames with nullable integers and booleans and datetime dates."""
    for batch in batches:
        yield batch.to_pandas(types_mapper=_TYPES.get, date_as_object=False)


@dataclass
class Outcome:
    """One expectation's verdict over a whole batch."""

    dataset: str
    frame: str
    expectation: str
    kwargs: dict[str, Any]
    severity: str  # fail | warn
    success: bool = True
    element_count: int = 0
    unexpected_count: int = 0
    missing_count: int = 0
    observed_value: Any = None
    sample_values: list[Any] = field(default_factory=list)
    sample_rows: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    location: str | None = None  # file and line of the first offending row, when known
    aggregate: bool = False  # judged on a whole-batch value (a count, a type), not per row
    counted: bool = False  # judged row by row: counts merged over chunks
    id_columns: tuple[str, ...] = ()
    notes: str | None = None
    # judged as failed only from this many unexpected rows on (the expectation's
    # ``meta["min_unexpected_rows"]``): a share of a small batch is no pattern
    min_unexpected_rows: int | None = None
    message: str | None = None  # the verdict in words, for checks that are not GX's own
    quarantines: bool = False  # rows failing it are held back from the landing
    expectation_object: Any = field(default=None, repr=False, compare=False)

    @property
    def failed(self) -> bool:
        return not self.success and self.severity == FAIL

    @property
    def sample_ids(self) -> list[dict[str, Any]]:
        """The offending rows' ids (never their other values: those may be personal)."""
        return [
            {c: _plain(row.get(c)) for c in self.id_columns if c in row} for row in self.sample_rows
        ]

    @property
    def row_numbers(self) -> list[int]:
        return [int(row[ROW_COLUMN]) for row in self.sample_rows if row.get(ROW_COLUMN) is not None]

    @property
    def column(self) -> str | None:
        return (
            self.kwargs.get("column")
            or ("+".join(self.kwargs["column_list"]) if "column_list" in self.kwargs else None)
            or (
                f"{self.kwargs['column_A']}>={self.kwargs['column_B']}"
                if "column_A" in self.kwargs
                else None
            )
        )

    @property
    def unexpected_share(self) -> float | None:
        denominator = self._denominator()
        if self.counted and denominator:
            return self.unexpected_count / denominator
        return None

    def _denominator(self) -> int:
        if self.expectation == "expect_column_values_to_not_be_null":
            return self.element_count
        return self.element_count - self.missing_count

    def as_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "frame": self.frame,
            "expectation": self.expectation,
            "column": self.column,
            "kwargs": _plain(self.kwargs),
            "severity": self.severity,
            "success": self.success,
            "element_count": self.element_count,
            "unexpected_count": self.unexpected_count,
            "unexpected_share": self.unexpected_share,
            "aggregate": self.aggregate,
            "counted": self.counted,
            "observed_value": _plain(self.observed_value),
            "sample_values": _plain(self.sample_values),
            "sample_ids": self.sample_ids,
            "notes": self.notes,
            "min_unexpected_rows": self.min_unexpected_rows,
            "message": self.message,
            "quarantines": self.quarantines,
            "location": self.location,
            "error": self.error,
        }


def _plain(value: Any) -> Any:
    """JSON-ready copies of numpy, pandas and datetime values."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if value is pd.NaT:
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):
        return _plain(value.item())
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return str(value)


class Validator:
    """One ephemeral Great Expectations context for a gate's whole run."""

    def __init__(self) -> None:
        gx = start_great_expectations()
        from great_expectations.data_context.types.base import ProgressBarsConfig

        self._gx = gx
        self.context = gx.get_context(mode="ephemeral")
        self.context.variables.progress_bars = ProgressBarsConfig(globally=False)
        self._source = self.context.data_sources.add_pandas("touchline")
        self._definitions: dict[str, Any] = {}

    def _definition(self, name: str):
        if name not in self._definitions:
            asset = self._source.add_dataframe_asset(name)
            self._definitions[name] = asset.add_batch_definition_whole_dataframe("batch")
        return self._definitions[name]

    def validate(
        self,
        dataset: str,
        frame_name: str,
        suite: gx.ExpectationSuite,
        chunks: Iterable[pd.DataFrame],
        id_columns: Iterable[str] = (),
    ) -> tuple[list[Outcome], int, float]:
        """Validate every chunk with ``suite``; return merged outcomes, rows and seconds."""
        started = time.monotonic()
        expectations = list(suite.expectations)
        id_columns = tuple(id_columns)
        suite_name = f"{dataset}.{frame_name}"
        registered = self.context.suites.add_or_update(
            self._gx.ExpectationSuite(
                name=suite_name, expectations=[e.copy() for e in expectations]
            )
        )
        # results come back in an order of their own: match them by expectation id
        outcomes = {
            e.id: Outcome(
                dataset,
                frame_name,
                e.expectation_type,
                _kwargs(e),
                _SEVERITY.get(str(getattr(e.severity, "value", e.severity)), FAIL),
                id_columns=id_columns,
                notes=e.notes if isinstance(e.notes, str) else None,
                min_unexpected_rows=(e.meta or {}).get("min_unexpected_rows"),
                quarantines=bool((e.meta or {}).get("quarantine")),
                expectation_object=e,
            )
            for e in registered.expectations
        }
        definition = self._definition(suite_name)
        rows = 0
        seen_any = False
        for chunk in chunks:
            seen_any = True
            rows += len(chunk)
            index_columns = [c for c in (*id_columns, ROW_COLUMN) if c in chunk.columns]
            result_format: dict[str, Any] = {
                "result_format": "SUMMARY",
                "partial_unexpected_count": SAMPLE_ROWS,
            }
            if index_columns:
                result_format["unexpected_index_column_names"] = index_columns
            batch = definition.get_batch(batch_parameters={"dataframe": chunk})
            result = batch.validate(registered, result_format=result_format)
            for single in result.results:
                _merge(outcomes[single.expectation_config.id], single)
        if not seen_any:
            raise ValueError(f"{suite_name}: no frame to validate")
        for outcome in outcomes.values():
            _settle(outcome)
        return list(outcomes.values()), rows, time.monotonic() - started

    def unexpected_rows(self, outcome: Outcome, chunks: Iterable[pd.DataFrame]) -> list[int]:
        """Every row number (``_row``) the row-level expectation of ``outcome`` did not meet.

        A second pass over the batch with the one expectation, asking for all of its
        unexpected rows (the first pass keeps a few, to name them).
        """
        expectation = outcome.expectation_object.copy()
        expectation.id = None
        suite = self.context.suites.add_or_update(
            self._gx.ExpectationSuite(
                name=f"{outcome.dataset}.{outcome.frame}.unexpected", expectations=[expectation]
            )
        )
        definition = self._definition(suite.name)
        result_format = {"result_format": "COMPLETE", "unexpected_index_column_names": [ROW_COLUMN]}
        found: list[int] = []
        for chunk in chunks:
            batch = definition.get_batch(batch_parameters={"dataframe": chunk})
            result = batch.validate(suite, result_format=result_format)
            for single in result.results:
                rows = (single.to_json_dict().get("result") or {}).get("unexpected_index_list")
                found += [int(row[ROW_COLUMN]) for row in rows or []]
        return sorted(found)


def _kwargs(expectation) -> dict[str, Any]:
    config = expectation.configuration.to_json_dict()
    kwargs = dict(config.get("kwargs", {}))
    kwargs.pop("batch_id", None)
    return kwargs


def _merge(outcome: Outcome, single) -> None:
    data = single.to_json_dict()
    if not data.get("success"):
        outcome.success = False
    info = data.get("exception_info") or {}
    # a single dict, or one dict per metric that could not be computed
    for problem in [info] if "raised_exception" in info else list(info.values()):
        if isinstance(problem, dict) and problem.get("raised_exception"):
            outcome.error = str(problem.get("exception_message"))[:500]
    result = data.get("result") or {}
    if "observed_value" in result:
        observed = result["observed_value"]
        if outcome.expectation in _SUMMED and outcome.observed_value is not None:
            observed += outcome.observed_value
        elif outcome.expectation in _MAXED and outcome.observed_value is not None:
            observed = _max(observed, outcome.observed_value)
        outcome.observed_value = observed
        outcome.aggregate = True
        return
    if "element_count" not in result:
        return
    outcome.counted = True
    outcome.element_count += int(result.get("element_count") or 0)
    outcome.unexpected_count += int(result.get("unexpected_count") or 0)
    outcome.missing_count += int(result.get("missing_count") or 0)
    room = SAMPLE_ROWS - len(outcome.sample_rows)
    if room > 0:
        outcome.sample_rows += list(result.get("partial_unexpected_index_list") or [])[:room]
    room = SAMPLE_ROWS - len(outcome.sample_values)
    if room > 0:
        outcome.sample_values += list(result.get("partial_unexpected_list") or [])[:room]


# Whole-batch values that are the sum or the maximum of the chunks' values: judged again on
# the merged value (a row count of 300,000 is not three counts of 100,000 in range each).
# The other whole-batch verdicts (a column exists, its type) hold for every chunk alike.
_SUMMED = {"expect_table_row_count_to_be_between", "expect_table_row_count_to_equal"}
_MAXED = {"expect_column_max_to_be_between"}


def _max(first: Any, second: Any) -> Any:
    if first is None or second is None:
        return second if first is None else first
    return max(first, second)


def _within(value: Any, kwargs: dict[str, Any]) -> bool:
    if "value" in kwargs:
        return value == kwargs["value"]
    low, high = kwargs.get("min_value"), kwargs.get("max_value")
    if value is None:
        return False
    if low is not None and (value <= low if kwargs.get("strict_min") else value < low):
        return False
    return high is None or not (value >= high if kwargs.get("strict_max") else value > high)


def _settle(outcome: Outcome) -> None:
    """Success over the whole batch: chunks each within ``mostly`` may not be in total."""
    if outcome.error is not None:
        outcome.success = False
        return
    if outcome.aggregate and outcome.expectation in _SUMMED | _MAXED:
        outcome.success = _within(outcome.observed_value, outcome.kwargs)
        return
    if not outcome.counted:
        return  # GX's own verdict, already folded over the chunks
    if outcome.min_unexpected_rows and outcome.unexpected_count < outcome.min_unexpected_rows:
        outcome.success = True
        return
    denominator = outcome._denominator()
    mostly = outcome.kwargs.get("mostly")
    if mostly is None or mostly >= 1:
        outcome.success = outcome.unexpected_count == 0
    elif denominator:
        outcome.success = outcome.unexpected_count / denominator <= 1 - float(mostly)
    else:
        outcome.success = True
