"""The two quality gates of the nightly run, and the contract results of the extract tasks.

*Before load*: every staged batch of the day's drop is validated with its suite from
``expectations/landed.py``. *Before export*: the candidate warehouse of the night's build is
validated with ``expectations/marts.py``. Each gate writes its part of the run's report
(``touchline.quality.report``) and returns a :class:`Verdict`: passed, or failed with the
dataset, the expectation, what was observed and a few offending rows by id. A gate changes
neither the landing nor the warehouse: the pipeline (``touchline.pipeline``) publishes the
batches or the candidate on a pass, and raises the verdict's :class:`GateFailed` on a
failure, so neither the landing nor the warehouse changes on bad data.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from touchline import warehouse
from touchline.config import Settings
from touchline.errors import BuildError, GateFailed
from touchline.landing import (
    StagedBatch,
    drop_dir,
    previous_partition,
    staged_batches,
)
from touchline.quality import quarantine, report
from touchline.quality.engine import (
    CHUNK_ROWS,
    FAIL,
    ROW_COLUMN,
    WARN,
    Outcome,
    Validator,
    frames,
    start_great_expectations,
)
from touchline.quality.suites import (
    Baseline,
    ExportContext,
    LoadContext,
    SuiteError,
    Suites,
    load,
)
from touchline.schema import ALL_ENTITIES, API_ENTITIES, ENTITY_BY_NAME, Entity, Kind
from touchline.sources.filedrop import physical_line

log = logging.getLogger(__name__)

SHOWN_FAILURES = 8
VALUE_EXPECTATIONS = {
    "expect_column_values_to_be_in_set",
    "expect_column_values_to_match_regex",
    "expect_column_values_to_be_between",
    "expect_column_pair_values_a_to_be_greater_than_b",
}


@dataclass(frozen=True)
class Verdict:
    """What a gate found, as recorded in the run's report.

    ``failures``: the expectations of severity ``fail`` not met (none: passed, perhaps with
    ``warnings``); ``datasets``: the names validated (the staged entities before load).
    """

    step: str
    title: str
    run_date: dt.date
    status: str  # report.PASSED, WARNED or FAILED
    expectations: int
    failures: list[Outcome]
    warnings: list[Outcome]
    message: str | None  # the failure in words, None on a pass
    report: Path  # the run's HTML report
    seconds: float
    datasets: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. the rows quarantined

    @property
    def passed(self) -> bool:
        return not self.failures

    def error(self) -> GateFailed:
        """The failure as the exception that stops the run, naming the report."""
        return GateFailed(f"{self.message}\nreport: {self.report}")

    def summary(self) -> dict[str, Any]:
        """The passed gate's result, as its task returns it."""
        return {
            "step": self.step,
            "status": self.status,
            "expectations": self.expectations,
            "warnings": len(self.warnings),
            "seconds": round(self.seconds, 2),
            "report": str(self.report),
            **self.extra,
        }


# -- the extract tasks' part of the report --------------------------------------------------


def record_extract(
    paths: Settings,
    run_date: dt.date,
    family: str,
    *,
    rows: dict[str, int] | None = None,
    error: Exception | None = None,
    seconds: float = 0.0,
) -> None:
    """The contract check of one family (parsing the drop) as a step of the report."""
    report.record(
        paths.output_dir,
        run_date,
        {
            "step": f"extract_{family}",
            "title": f"Contract check: {family} files",
            "status": report.FAILED if error else report.PASSED,
            "seconds": round(seconds, 3),
            "message": str(error) if error else None,
            "datasets": [{"name": name, "rows": count} for name, count in (rows or {}).items()],
        },
    )


def record_build(
    paths: Settings,
    run_date: dt.date,
    error: BuildError | None = None,
    seconds: float = 0.0,
    nodes: dict[str, int] | None = None,
) -> None:
    """The build as a step of the report: dbt's nodes by status, or its failed data tests
    and their rows."""
    counts = ", ".join(f"{n} {status}" for status, n in sorted((nodes or {}).items()))
    report.record(
        paths.output_dir,
        run_date,
        {
            "step": report.BUILD,
            "title": "Warehouse build (dbt tests)",
            "status": report.FAILED if error else report.PASSED,
            "seconds": round(seconds, 3),
            "message": str(error) if error else f"dbt nodes: {counts}" if counts else None,
            "datasets": [],
            "failed_tests": error.tests if error else [],
        },
    )


def start_run(paths: Settings, run_date: dt.date) -> None:
    """A new run of the date: the gates' parts of an earlier run no longer apply."""
    report.forget(paths.output_dir, run_date, (*report.GATES, report.BUILD))


# -- before load ----------------------------------------------------------------------------


def _baseline(landing_dir: Path, entity: Entity, run_date: dt.date) -> Baseline | None:
    """Snapshots compare with the previous day, events with the same weekday a week before."""
    days_back = 1 if entity.kind is Kind.SNAPSHOT else 7
    found = previous_partition(landing_dir, entity.name, run_date, days_back)
    if found is None:
        return None
    day, part = found
    return Baseline(day, pq.ParquetFile(part).metadata.num_rows)


def _known_accounts(con, landing_dir: Path, run_date: dt.date, staged: list[StagedBatch]):
    """Accounts a row may name: today's staged snapshot and the previous published one."""
    files = [str(b.path) for b in staged if b.entity == "accounts"]
    previous = previous_partition(landing_dir, "accounts", run_date, 1)
    if previous is not None:
        files.append(str(previous[1]))
    if files:
        con.execute(
            "create or replace temp table known_accounts as "
            "select distinct account_id from read_parquet(?, union_by_name = true)",
            [files],
        )
    else:
        con.execute("create or replace temp table known_accounts (account_id varchar)")


def _rated_currencies(
    con, landing_dir: Path, run_date: dt.date, staged: list[StagedBatch]
) -> tuple[str, ...] | None:
    """Currencies the build can convert to USD on the run date; None without any rates.

    The rule of ``int_account_arr_daily``: the fx_rates snapshot of the run date (today's
    staged file, else the newest landed one on or before it), its rows on or before that
    day, currencies compared upper-cased.
    """
    files = [str(b.path) for b in staged if b.entity == "fx_rates"]
    if not files:
        landed = previous_partition(landing_dir, "fx_rates", run_date, 0)
        if landed is None:
            return None
        files = [str(landed[1])]
    try:
        found = con.execute(
            "select distinct upper(currency) from read_parquet(?) "
            "where as_of_date <= ? and currency is not null and rate_to_usd is not null "
            "order by 1",
            [files, run_date],
        ).fetchall()
    except duckdb.Error:
        return None  # the fx_rates batch's own suite names its missing columns
    return tuple(row[0] for row in found)


def _active_contract_currency(path: Path, run_date: dt.date) -> str | None:
    """SQL for the currency of a contract counting towards ARR on the run date, else null.

    The contracts ``int_account_arr_daily`` converts: active (or no status) and started.
    """
    names = set(pq.ParquetFile(path).schema_arrow.names)
    if not {"currency", "start_date"} <= names:
        return None  # the suite names the missing column
    status = "coalesce(batch.status, 'active')" if "status" in names else "'active'"
    return (
        f"case when {status} = 'active' and batch.start_date <= date '{run_date.isoformat()}' "
        "then upper(batch.currency) end as active_contract_currency"
    )


def _missing_file(
    batch: StagedBatch, paths: Settings, run_date: dt.date, thresholds: dict[str, Any]
) -> Outcome | None:
    """A drop file that was not there, told apart from one with a header and no rows.

    Event files carry only new records, so a missing one loses that day's records for good
    unless it is dropped again; an optional snapshot (snoozes) read as empty lifts every
    row of it. Severity per entity from ``missing_file`` in thresholds.yml.
    """
    entity = ENTITY_BY_NAME[batch.entity]
    if batch.source or batch.origin or entity in API_ENTITIES or entity.required_file:
        return None
    rules = thresholds.get("missing_file") or {}
    severity = rules.get(entity.name, rules.get("default", WARN))
    if severity not in (FAIL, WARN):
        raise SuiteError(
            f"thresholds.yml, before_load.missing_file.{entity.name}: {severity!r}; "
            "expected warn or fail"
        )
    expected = drop_dir(paths.source_dir, run_date) / f"{entity.name}.csv"
    if entity.kind is Kind.EVENT:
        effect = (
            "read as no new records: that day's records are lost unless the file is dropped "
            "again (a file with only the header row says there were none)"
        )
    else:
        effect = f"read as an empty snapshot: no {entity.name} hold from this date"
    return Outcome(
        entity.name,
        "file",
        "expect_file_in_drop",
        {"file": str(expected)},
        severity,
        success=False,
        aggregate=True,
        location=str(expected),
        message=f"no {entity.name} file in the drop ({expected} missing); {effect}",
    )


def _reason(outcome: Outcome) -> str:
    """Why a row was quarantined, in a few words."""
    if outcome.column == "known_account_id":
        return "account_id is in neither today's accounts snapshot nor the previous one"
    expected = report.expected_text(outcome.as_dict())
    return f"{outcome.column}: {outcome.expectation}" + (
        f", expected {expected}" if expected else ""
    )


def _read(
    con, sql: str, parameters: list[Any] | None = None, unique_by: Iterable[str] = ()
) -> Iterator:
    """The rows of ``sql`` as frames of at most CHUNK_ROWS rows.

    ``unique_by``: key columns whose uniqueness the suite judges. The rows then come ordered
    by the key in chunks of whole ranges of keys, so two rows with the same key are always in
    one chunk (rows whose key is all null, which no uniqueness counts, fill chunks in order).
    """
    keys = [f'"{name}"' for name in unique_by]
    if not keys:
        reader = con.execute(sql, parameters or []).fetch_record_batch(CHUNK_ROWS)
        batches = iter(reader)
        schema = reader.schema
    else:
        order = ", ".join(keys)
        all_null = " and ".join(f"{key} is null" for key in keys)
        con.execute(
            "create or replace temp table keyed_rows as "
            f"select *, (case when {all_null} then row_number() over (order by {order}) "
            f"else dense_rank() over (order by {order}) end - 1) // {CHUNK_ROWS} as _chunk "
            # stored in chunk order, so each chunk's read skips the others' row groups
            f"from ({sql}) order by _chunk",
            parameters or [],
        )
        chunks = [
            row[0]
            for row in con.execute(
                "select distinct _chunk from keyed_rows order by _chunk"
            ).fetchall()
        ]
        schema = (
            con.execute("select * exclude (_chunk) from keyed_rows limit 0")
            .fetch_arrow_table()
            .schema
        )
        batches = (
            batch
            for number in chunks
            for batch in con.execute(
                f"select * exclude (_chunk) from keyed_rows where _chunk = {number} "
                f"order by {order}"
            )
            .fetch_arrow_table()
            .combine_chunks()
            .to_batches(max_chunksize=None)
        )
    produced = False
    for chunk in frames(batches):
        produced = True
        yield chunk
    if not produced:
        yield from frames([pa.RecordBatch.from_pylist([], schema=schema)])


def _suite(expectations: list):
    return start_great_expectations().ExpectationSuite(name="suite", expectations=expectations)


def _locate(outcomes: list[Outcome], batch: StagedBatch) -> None:
    """Name the file and line of each failing expectation's first offending row."""
    if batch.source is None:
        return
    for outcome in outcomes:
        if outcome.success or not outcome.row_numbers:
            continue
        row = min(outcome.row_numbers)
        if batch.source.suffix == ".parquet":
            outcome.location = f"{batch.source}, row {row + 1}"
        else:
            outcome.location = f"{batch.source}, line {physical_line(batch.source, row)}"


def _validate_batch(
    validator: Validator,
    suites: Suites,
    con,
    batch: StagedBatch,
    paths: Settings,
    run_date: dt.date,
    rated_currencies: tuple[str, ...] | None = None,
) -> dict[str, Any]:
    entity = ENTITY_BY_NAME[batch.entity]
    checks_accounts = entity.name != "accounts" and "account_id" in entity.by_name
    thresholds = suites.thresholds["before_load"]
    currency = (
        _active_contract_currency(batch.path, run_date) if entity.name == "contracts" else None
    )
    context = LoadContext(
        entity=entity,
        run_date=run_date,
        thresholds=thresholds,
        baseline=_baseline(paths.landing_dir, entity, run_date),
        checks_accounts=checks_accounts,
        rated_currencies=rated_currencies if currency else None,
    )
    join = ""
    extra = ""
    if checks_accounts:
        join = "left join known_accounts as known on batch.account_id = known.account_id"
        extra += ", known.account_id as known_account_id"
    if currency and rated_currencies is not None:
        extra += f", {currency}"
    rows_sql = (
        f"select batch.* exclude (file_row_number), batch.file_row_number as {ROW_COLUMN}{extra} "
        f"from read_parquet(?, file_row_number = true) as batch {join}"
    )
    key_columns = ", ".join(f'"{name}"' for name in entity.key)
    keys_sql = (
        f"select {key_columns}, file_row_number as {ROW_COLUMN} "
        "from read_parquet(?, file_row_number = true)"
    )
    by_frame = {
        "rows": (suites.landed.rows_suite(context), rows_sql),
        "keys": (suites.landed.keys_suite(context), keys_sql),
    }
    # offending rows are named by their key and, where the entity has one, their account
    row_ids = entity.key + (("account_id",) if "account_id" in entity.by_name else ())
    row_ids = tuple(dict.fromkeys(row_ids))
    outcomes: list[Outcome] = []
    rows, seconds = 0, 0.0
    for frame, (expectations, sql) in by_frame.items():
        chunks = _read(con, sql, [str(batch.path)], entity.key if frame == "keys" else ())
        found, counted, took = validator.validate(
            entity.name,
            frame,
            _suite(expectations),
            chunks,
            entity.key if frame == "keys" else row_ids,
        )
        outcomes += found
        rows = max(rows, counted)
        seconds += took
    _locate(outcomes, batch)
    missing = _missing_file(batch, paths, run_date, thresholds)
    if missing is not None:
        outcomes.append(missing)
    held_back: dict[int, list[str]] = {}
    started = time.monotonic()
    for outcome in outcomes:
        if outcome.quarantines and outcome.counted and outcome.unexpected_count:
            for row in validator.unexpected_rows(outcome, _read(con, rows_sql, [str(batch.path)])):
                held_back.setdefault(row, []).append(_reason(outcome))
    seconds += time.monotonic() - started
    return {
        "held_back": held_back,
        "name": entity.name,
        "rows": rows,
        "seconds": round(seconds, 3),
        "source": str(batch.source) if batch.source else None,
        "baseline": (
            {"ds": context.baseline.ds.isoformat(), "rows": context.baseline.rows}
            if context.baseline
            else None
        ),
        "outcomes": outcomes,
    }


def gate_before_load(
    paths: Settings, run_date: dt.date, entities: Iterable[str] | None = None
) -> Verdict:
    """Validate the staged drop of ``run_date``; whether it may be published into the landing.

    ``entities``: the entities that must be staged (default: every entity of the contract);
    :class:`GateFailed` at once when one is not.
    """
    started = time.monotonic()
    suites = load(paths.expectations_dir)
    wanted = set(entities) if entities is not None else {e.name for e in ALL_ENTITIES}
    staged = [b for b in staged_batches(paths.landing_dir, run_date) if b.entity in wanted]
    missing = sorted(wanted - {b.entity for b in staged})
    if missing:
        raise GateFailed(
            f"gate before load for {run_date}: no staged batch for {', '.join(missing)}; "
            "the extract tasks must run first"
        )
    quarantine.forget(paths.output_dir, run_date)
    validator = Validator()
    datasets = []
    with duckdb.connect() as con:
        con.execute("set TimeZone = 'UTC'")
        _known_accounts(con, paths.landing_dir, run_date, staged)
        rated = _rated_currencies(con, paths.landing_dir, run_date, staged)
        for batch in staged:
            datasets.append(_validate_batch(validator, suites, con, batch, paths, run_date, rated))
            log.info(
                "validated %s: %d rows in %.2fs",
                batch.entity,
                datasets[-1]["rows"],
                datasets[-1]["seconds"],
            )
    held = _hold_back(paths, run_date, staged, datasets)
    return _conclude(
        paths,
        run_date,
        step="before_load",
        title="Gate before load (landed batches)",
        datasets=datasets,
        seconds=time.monotonic() - started,
        kept="the staged batches were not published; the landing and the warehouse are unchanged",
        extra=held,
    )


def _hold_back(
    paths: Settings, run_date: dt.date, staged: list[StagedBatch], datasets: list[dict[str, Any]]
) -> dict[str, Any]:
    """Quarantine the rows that failed a quarantining expectation, when the batch lands.

    Nothing is taken out when an expectation of severity fail failed: nothing lands then.
    """
    pending = [(b, d, d.pop("held_back")) for b, d in zip(staged, datasets, strict=True)]
    if any(o.failed for d in datasets for o in d["outcomes"]):
        return {}
    held = []
    for batch, dataset, reasons in pending:
        if not reasons:
            continue
        _, rows = quarantine.quarantine(batch, reasons, paths.output_dir, run_date)
        dataset["quarantined"] = rows.rows
        held.append(rows.as_dict())
        log.warning(
            "quarantined %d row(s) of %s (not landed): %s", rows.rows, batch.entity, rows.path
        )
    if not held:
        return {}
    return {
        "quarantined_rows": sum(h["rows"] for h in held),
        "quarantine": held,
    }


# -- before export --------------------------------------------------------------------------


def gate_before_export(paths: Settings, run_date: dt.date) -> Verdict:
    """Validate the candidate warehouse's marts; whether it may be published.

    :class:`GateFailed` at once when there is no candidate.
    """
    started = time.monotonic()
    suites = load(paths.expectations_dir)
    candidate = warehouse.candidate_path(paths)
    if not candidate.exists():
        raise GateFailed(
            f"gate before export for {run_date}: no built warehouse at {candidate}; "
            "the build must run first"
        )
    validator = Validator()
    datasets = []
    with duckdb.connect(str(candidate), read_only=True) as con:
        codes = tuple(
            r[0] for r in con.execute("select touchpoint from main.touchpoints").fetchall()
        )
        context = ExportContext(run_date, suites.thresholds["before_export"], codes)
        expectations = suites.marts.suites(context)
        for name, batch in suites.marts.BATCHES.items():
            outcomes, rows, seconds = validator.validate(
                name,
                "mart",
                _suite(expectations[name]),
                _read(con, batch["sql"], unique_by=batch.get("unique", ())),
                batch.get("ids", ()),
            )
            datasets.append(
                {"name": name, "rows": rows, "seconds": round(seconds, 3), "outcomes": outcomes}
            )
    return _conclude(
        paths,
        run_date,
        step="before_export",
        title="Gate before export (marts)",
        datasets=datasets,
        seconds=time.monotonic() - started,
        kept=(
            "the build was not published and no work list was written; the candidate is kept "
            f"for inspection at {candidate}"
        ),
    )


# -- shared ---------------------------------------------------------------------------------


def _conclude(
    paths: Settings,
    run_date: dt.date,
    *,
    step: str,
    title: str,
    datasets: list[dict[str, Any]],
    seconds: float,
    kept: str,
    extra: dict[str, Any] | None = None,
) -> Verdict:
    """Record the gate's part of the report and say what it found."""
    outcomes: list[Outcome] = [o for d in datasets for o in d["outcomes"]]
    failed = [o for o in outcomes if o.failed]
    warned = [o for o in outcomes if not o.success and not o.failed]
    status = report.FAILED if failed else report.WARNED if warned else report.PASSED
    message = _failure_message(title, run_date, failed, kept) if failed else None
    part = {
        "step": step,
        "title": title,
        "status": status,
        "seconds": round(seconds, 3),
        "message": message,
        "datasets": [{**d, "outcomes": [o.as_dict() for o in d["outcomes"]]} for d in datasets],
        **(extra or {}),
    }
    html_report = report.record(paths.output_dir, run_date, part)
    for outcome in warned:
        log.warning("%s: %s", title, describe(outcome))
    return Verdict(
        step=step,
        title=title,
        run_date=run_date,
        status=status,
        expectations=len(outcomes),
        failures=failed,
        warnings=warned,
        message=message,
        report=html_report,
        seconds=seconds,
        datasets=tuple(d["name"] for d in datasets),
        extra=dict(extra or {}),
    )


def describe(outcome: Outcome) -> str:
    """One line: the dataset, the expectation, what was observed and the offending ids."""
    if outcome.message:
        return f"{outcome.dataset}: {outcome.message}"
    what = outcome.expectation
    if outcome.column:
        what += f" on {outcome.column!r}"
    parts = [f"{outcome.dataset}: {what}"]
    if outcome.error:
        parts.append(f"could not be evaluated ({outcome.error})")
    elif outcome.aggregate:
        parts.append(f"observed {outcome.observed_value}")
    elif not outcome.counted:
        parts.append("met" if outcome.success else "not met")
    else:
        share = outcome.unexpected_share
        observed = f"{outcome.unexpected_count} of {outcome.element_count} rows unexpected"
        if share is not None:
            observed += f" ({share:.2%})"
        parts.append(observed)
        if what.split(" ")[0] in VALUE_EXPECTATIONS and outcome.sample_values:
            shown = ", ".join(repr(v) for v in outcome.as_dict()["sample_values"][:3])
            parts.append(f"found {shown}")
    expected = report.expected_text(outcome.as_dict())
    if expected:
        parts.append(f"expected {expected}")
    if outcome.location:
        parts.append(f"first at {outcome.location}")
    ids = outcome.sample_ids
    if ids and any(ids):
        shown = "; ".join(", ".join(f"{k}={v}" for k, v in row.items()) for row in ids)
        parts.append(f"offending rows: {shown}")
    return "; ".join(parts)


def _failure_message(title: str, run_date: dt.date, failed: list[Outcome], kept: str) -> str:
    lines = [
        f"{title} failed for {run_date}: {len(failed)} expectation(s) of severity fail not met"
    ]
    lines += [f"- {describe(o)}" for o in failed[:SHOWN_FAILURES]]
    if len(failed) > SHOWN_FAILURES:
        lines.append(f"- ... and {len(failed) - SHOWN_FAILURES} more (see the report)")
    lines.append(kept)
    return "\n".join(lines)
