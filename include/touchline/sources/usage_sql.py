"""Product-usage events already in PostgreSQL, read through Airflow's PostgresHook.

Reads a configured table or query, maps its columns to ``usage_events`` and reads
incrementally by a timestamp column (the cursor column: an insertion time is best, see
below). The state is a keyset ``(cursor value, event id)`` of the last row returned: each
run reads the rows after it in ``(cursor, id)`` order, so rows sharing the mark's timestamp
are neither lost nor read twice, whatever the batch or run size. Rows are fetched in batches
through a server-side cursor, and at most ``max_rows_per_run`` per run (the rest next run).

A row whose cursor value is after the run window's end (or newer than ``settle_seconds``
before the database's clock, for writers whose transactions commit late) is left for a later
run. Rows with no account or no user are counted, named by event id in the log and not
loaded (``missing_account: skip``), or stop the run (``fail``).
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, model_validator

from touchline.schema import ENTITIES, Entity
from touchline.sources.base import Extract, SourceError, Window
from touchline.sources.filedrop import output_schema

log = logging.getLogger(__name__)

ENTITY = "usage_events"
USAGE = next(entity for entity in ENTITIES if entity.name == ENTITY)


class UsageSqlColumns(BaseModel):
    """Which column of the table or query each usage_events column is read from."""

    model_config = ConfigDict(extra="forbid")

    account_id: str = "account_id"
    user_id: str = "user_id"
    feature: str = "feature"
    occurred_at: str = "occurred_at"
    event_id: str = "event_id"  # unique per row: the tie-breaker of the incremental read


class UsageSqlOptions(BaseModel):
    """The ``usage_sql`` entry of ``sources.yml``."""

    model_config = ConfigDict(extra="forbid")

    conn_id: str = "touchline_usage_db"
    table: str | None = None  # "schema.table" or "table"
    query: str | None = None  # a select, read as a subquery
    columns: UsageSqlColumns = Field(default_factory=UsageSqlColumns)
    cursor_column: str | None = None  # default: the occurred_at column
    start: dt.datetime | None = None  # first run: rows from this time (default: all)
    batch_size: int = Field(default=10_000, ge=1)  # rows per fetch from the server cursor
    max_rows_per_run: int | None = Field(default=None, ge=1)
    settle_seconds: int = Field(default=0, ge=0)
    missing_account: Literal["skip", "fail"] = "skip"

    @model_validator(mode="after")
    def _one_source(self) -> UsageSqlOptions:
        if (self.table is None) == (self.query is None):
            raise ValueError("usage_sql: give either table or query (exactly one)")
        return self


def _ident(name: str) -> str:
    """A column or table name as a quoted SQL identifier (``schema.table`` kept apart)."""
    return ".".join('"' + part.replace('"', '""') + '"' for part in name.split("."))


def _utc(value: dt.datetime) -> dt.datetime:
    """Naive UTC, as the contract's timestamps are."""
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def _state_value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        return value
    return str(value)


class UsageSqlConnector:
    """Usage events from a PostgreSQL table or query, by a ``(timestamp, id)`` keyset."""

    entities = ("usage_events",)

    def __init__(self, options: UsageSqlOptions) -> None:
        self.options = options
        self.cursor_column = options.cursor_column or options.columns.occurred_at

    @property
    def origin(self) -> str:
        what = f"table {self.options.table}" if self.options.table else "query"
        return f"postgres {self.options.conn_id}: {what}"

    def _source_sql(self) -> str:
        if self.options.table:
            return f"select * from {_ident(self.options.table)}"
        return self.options.query.strip().rstrip(";")  # type: ignore[union-attr]

    def _connection(self):
        from airflow.providers.postgres.hooks.postgres import PostgresHook

        try:
            return PostgresHook(postgres_conn_id=self.options.conn_id).get_conn()
        except Exception as error:  # the driver's message names host and port, not secrets
            raise SourceError(
                f"{self.origin}: cannot connect with the Connection {self.options.conn_id!r}: "
                f"{error}"
            ) from error

    def extract(
        self, entities: Sequence[Entity], window: Window, state: Mapping[str, Any]
    ) -> Extract:
        """Read the rows after the state's mark, up to the window's end."""
        unknown = [entity.name for entity in entities if entity.name != ENTITY]
        if unknown:
            raise SourceError(f"{self.origin} holds only {ENTITY}, not {', '.join(unknown)}")
        marked_on = state.get("cursor_column", self.cursor_column)
        if state.get("mark") and marked_on != self.cursor_column:
            raise SourceError(
                f"{self.origin}: the saved mark is on the column {marked_on!r}, the options "
                f"now read by {self.cursor_column!r}; set cursor_column back, or clear this "
                "source's state to read from start again"
            )
        connection = self._connection()
        try:
            with connection.cursor() as cursor:
                cursor.execute("set time zone 'UTC'")
                columns = self._check_columns(cursor)
            seen = set(state.get("columns_seen", []))
            self._report_new_columns(columns, seen)
            table, mark, skipped = self._read(connection, window, state)
        finally:
            connection.rollback()
            connection.close()
        new_state: dict[str, Any] = {
            "cursor_column": self.cursor_column,
            "columns_seen": sorted(seen | (set(columns) - self._mapped())),
        }
        new_mark = mark or state.get("mark")
        if new_mark:
            new_state["mark"] = new_mark
        if skipped:
            log.warning(
                "%s: %d events have no account or no user and are not loaded (events %s)",
                self.origin,
                len(skipped),
                ", ".join(skipped[:10]) + (" ..." if len(skipped) > 10 else ""),
            )
        return Extract(tables={ENTITY: table}, state=new_state, origin=self.origin)

    def _mapped(self) -> set[str]:
        return {*self.options.columns.model_dump().values(), self.cursor_column}

    def _check_columns(self, cursor) -> list[str]:
        try:
            cursor.execute(f"select * from ({self._source_sql()}) as src limit 0")
        except Exception as error:
            raise SourceError(f"{self.origin} cannot be read: {error}") from error
        columns = [description[0] for description in cursor.description]
        for target, source in [
            *self.options.columns.model_dump().items(),
            ("cursor", self.cursor_column),
        ]:
            if source not in columns:
                raise SourceError(
                    f"{self.origin} has no column {source!r} (read for "
                    + (f"{ENTITY}.{target}" if target != "cursor" else "the incremental cursor")
                    + f"); its columns are {', '.join(columns)}"
                )
        return columns

    def _report_new_columns(self, columns: Sequence[str], seen: set[str]) -> None:
        new = [name for name in columns if name not in self._mapped() and name not in seen]
        if new:
            log.warning(
                "%s: columns not read by touchline are ignored: %s", self.origin, ", ".join(new)
            )

    def _read(
        self, connection, window: Window, state: Mapping[str, Any]
    ) -> tuple[pa.Table, dict[str, Any] | None, list[str]]:
        names = self.options.columns
        cursor_col, id_col = _ident(self.cursor_column), _ident(names.event_id)
        params: dict[str, Any] = {
            "until": window.until if window.until.tzinfo else window.until.replace(tzinfo=dt.UTC),
            "settle": self.options.settle_seconds,
        }
        where = [
            f"{cursor_col} is not null",
            f"{cursor_col} <= %(until)s",
            f"{cursor_col} <= now() - make_interval(secs => %(settle)s)",
        ]
        mark = state.get("mark")
        if mark:
            where.append(f"({cursor_col}, {id_col}) > (%(mark_at)s::timestamptz, %(mark_id)s)")
            params.update(mark_at=mark["at"], mark_id=mark["id"])
        elif self.options.start is not None:
            where.append(f"{cursor_col} >= %(start)s")
            start = self.options.start
            params["start"] = start if start.tzinfo else start.replace(tzinfo=dt.UTC)
        sql = (
            f"select {_ident(names.account_id)}, {_ident(names.user_id)}, "
            f"{_ident(names.feature)}, {_ident(names.occurred_at)}, {id_col}, {cursor_col} "
            f"from ({self._source_sql()}) as src where {' and '.join(where)} "
            f"order by {cursor_col}, {id_col}"
        )
        if self.options.max_rows_per_run is not None:
            sql += f" limit {int(self.options.max_rows_per_run)}"

        columns: dict[str, list[Any]] = {name: [] for name in USAGE.column_names}
        skipped: list[str] = []
        last: tuple[Any, Any] | None = None
        name = f"touchline_usage_{uuid.uuid4().hex[:12]}"
        try:
            with connection.cursor(name=name) as cursor:  # server-side: batches, not all rows
                cursor.execute(sql, params)
                while batch := cursor.fetchmany(self.options.batch_size):
                    for account, user, feature, occurred, event_id, at in batch:
                        last = (at, event_id)
                        self._add(columns, skipped, account, user, feature, occurred, event_id)
        except SourceError:
            raise
        except Exception as error:
            raise SourceError(f"{self.origin} cannot be read: {error}") from error
        table = pa.Table.from_pydict(columns, schema=output_schema(USAGE, []))
        new_mark = None
        if last is not None:
            if last[1] is None:
                raise SourceError(
                    f"{self.origin}: an event has no {names.event_id!r} (read for "
                    f"{ENTITY}.event_id), needed to read the table incrementally"
                )
            new_mark = {"at": _state_value(last[0]), "id": _state_value(last[1])}
        return table, new_mark, skipped

    def _add(
        self,
        columns: dict[str, list[Any]],
        skipped: list[str],
        account: Any,
        user: Any,
        feature: Any,
        occurred: Any,
        event_id: Any,
    ) -> None:
        names = self.options.columns
        event = "" if event_id is None else str(event_id)
        for target, value in (("feature", feature), ("occurred_at", occurred)):
            if value is None or str(value).strip() == "":
                raise SourceError(
                    f"{self.origin}, event {event or '(no id)'}: the required column "
                    f"{getattr(names, target)!r} ({ENTITY}.{target}) is empty"
                )
        if event_id is None:
            raise SourceError(
                f"{self.origin}: an event has no {names.event_id!r} (read for "
                f"{ENTITY}.event_id), needed to read the table incrementally"
            )
        if not isinstance(occurred, dt.datetime):
            raise SourceError(
                f"{self.origin}, event {event}: {names.occurred_at!r} is {occurred!r}, "
                "expected a timestamp column"
            )
        if account is None or user is None or str(account) == "" or str(user) == "":
            if self.options.missing_account == "fail":
                raise SourceError(
                    f"{self.origin}, event {event}: no account or no user (columns "
                    f"{names.account_id!r}, {names.user_id!r})"
                )
            skipped.append(event)
            return
        columns["account_id"].append(str(account))
        columns["user_id"].append(str(user))
        columns["feature"].append(str(feature))
        columns["occurred_at"].append(_utc(occurred))
        columns["event_id"].append(event)
