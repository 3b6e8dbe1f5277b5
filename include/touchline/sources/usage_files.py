"""Product-usage events from export files under an object-store prefix or a folder.

Reads the files that Segment, Amplitude or Mixpanel exports write (or plain files with the
contract's column names) under an fsspec URL: ``s3://bucket/prefix/``, ``file:///data/``
or a plain folder. JSON lines, CSV (optionally gzipped) and Parquet are read by DuckDB over
fsspec; every record becomes one ``usage_events`` row through the format's field mapping,
which ``sources.yml`` can override field by field.

The state is the manifest of the files already loaded (path, size, ETag or modification
time, rows), so each file is loaded once. A file modified after the run window's end is left
for a later run. A loaded file that changed since (another size or ETag) is not read again:
the run stops naming it (``changed_files: fail``), or it is named in the log and skipped
(``changed_files: skip``). Events with no account or no user are counted, named by record
in the log and not loaded (``missing_account: skip``), or stop the run (``fail``). An event
without an id gets one made of its file's hash and its record number.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import duckdb
import fsspec
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field

from touchline.schema import Entity
from touchline.sources.base import Extract, SourceError, Window
from touchline.sources.filedrop import output_schema

log = logging.getLogger(__name__)

ENTITY = "usage_events"
COLUMNS = ("account_id", "user_id", "feature", "occurred_at", "event_id")

FieldPath = str | list[str]  # a dotted path into the record, or paths tried in order


class UsageFieldMap(BaseModel):
    """Where each usage_events column is read from: a dotted path (``context.groupId``),
    or a list of paths of which the first present one wins. Unset: the format's default."""

    model_config = ConfigDict(extra="forbid")

    account_id: FieldPath | None = None
    user_id: FieldPath | None = None
    feature: FieldPath | None = None
    occurred_at: FieldPath | None = None
    event_id: FieldPath | None = None


# Each export's own field names (Segment track calls, Amplitude export, Mixpanel raw export).
FORMAT_FIELDS: dict[str, dict[str, list[str]]] = {
    "segment": {
        "account_id": ["context.groupId", "properties.account_id"],
        "user_id": ["userId"],
        "feature": ["event"],
        "occurred_at": ["timestamp"],
        "event_id": ["messageId"],
    },
    "amplitude": {
        "account_id": ["groups.company", "user_properties.account_id"],
        "user_id": ["user_id"],
        "feature": ["event_type"],
        "occurred_at": ["event_time"],
        "event_id": ["$insert_id", "uuid"],
    },
    "mixpanel": {
        "account_id": ["properties.account_id"],
        "user_id": ["properties.distinct_id"],
        "feature": ["event"],
        "occurred_at": ["properties.time"],
        "event_id": ["properties.$insert_id"],
    },
    "plain": {name: [name] for name in COLUMNS},
}
FORMAT_TIME: dict[str, str] = {
    "segment": "iso",
    "amplitude": "iso",
    "mixpanel": "epoch_seconds",
    "plain": "iso",
}
# Segment exports every call type; only track calls are product usage.
FORMAT_TYPE_FILTER: dict[str, tuple[str, str] | None] = {
    "segment": ("type", "track"),
    "amplitude": None,
    "mixpanel": None,
    "plain": None,
}
FILE_TYPES = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".csv": "csv",
    ".json": "json",
    ".jsonl": "json",
    ".ndjson": "json",
}


class UsageFilesOptions(BaseModel):
    """The ``usage_files`` entry of ``sources.yml``."""

    model_config = ConfigDict(extra="forbid")

    url: str  # s3://bucket/prefix/, file:///data/usage/, or a folder
    format: Literal["segment", "amplitude", "mixpanel", "plain"] = "plain"
    fields: UsageFieldMap = Field(default_factory=UsageFieldMap)
    time_format: Literal["iso", "epoch_seconds", "epoch_milliseconds"] | None = None
    file_type: Literal["auto", "json", "csv", "parquet"] = "auto"
    include: str = "**"  # glob of the files to read, relative to url
    max_files_per_run: int | None = Field(default=None, ge=1)
    changed_files: Literal["fail", "skip"] = "fail"
    # a file modified after the run window's end waits for a later run, unless this is set
    # (to load files written today into the history of past dates)
    read_files_after_window: bool = False
    missing_account: Literal["skip", "fail"] = "skip"
    conn_id: str = "touchline_usage_store"
    storage_options: dict[str, Any] = Field(default_factory=dict)  # fsspec's own settings
    retries: int = Field(default=5, ge=0)  # S3 calls: 429/5xx/timeouts, with backoff
    timeout_seconds: float = Field(default=120, gt=0)


def _aws_connection(conn_id: str) -> dict[str, Any]:
    """s3fs settings from an Airflow Connection of type aws; {} when it is not defined."""
    if not os.environ.get("AIRFLOW_HOME") and not os.environ.get(f"AIRFLOW_CONN_{conn_id.upper()}"):
        return {}
    from airflow.sdk import Connection
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        connection = Connection.get(conn_id)
    except AirflowNotFoundException:
        return {}
    extra = connection.extra_dejson or {}
    found: dict[str, Any] = {}
    if connection.login:
        found["key"] = connection.login
    if connection.password:
        found["secret"] = connection.password
        _mask(connection.password)
    if extra.get("aws_session_token"):
        found["token"] = extra["aws_session_token"]
        _mask(extra["aws_session_token"])
    client_kwargs = {}
    endpoint = extra.get("endpoint_url") or (extra.get("service_config", {}).get("s3", {})).get(
        "endpoint_url"
    )
    if endpoint:
        client_kwargs["endpoint_url"] = endpoint
    if extra.get("region_name"):
        client_kwargs["region_name"] = extra["region_name"]
    if client_kwargs:
        found["client_kwargs"] = client_kwargs
    return found


def _mask(secret: str) -> None:
    try:
        from airflow.sdk.log import mask_secret

        mask_secret(secret)
    except Exception:  # outside Airflow there is no task log to mask
        pass


def _quote_path(parts: Sequence[str]) -> str:
    return "$" + "".join('."' + part.replace('"', '\\"') + '"' for part in parts)


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _value_sql(path: str) -> str:
    """The text at a dotted path of the record (an array gives its first element)."""
    candidates = [[path]] + ([path.split(".")] if "." in path else [])
    exprs = []
    for parts in candidates:
        value = f"json_extract(json, {_literal(_quote_path(parts))})"
        exprs.append(
            f"(case when json_type({value}) = 'ARRAY' then {value} ->> '$[0]'"
            f" else {value} ->> '$' end)"
        )
    return f"nullif(trim(coalesce({', '.join(exprs)})), '')"


def _time_sql(text: str, time_format: str) -> str:
    if time_format == "iso":
        return f"(try_cast({text} as timestamptz) at time zone 'UTC')"
    divisor = 1 if time_format == "epoch_seconds" else 1000
    return f"(to_timestamp(try_cast({text} as double) / {divisor}) at time zone 'UTC')"


class UsageFilesConnector:
    """Usage events from export files: each file loaded once, tracked in a manifest."""

    entities = ("usage_events",)

    def __init__(self, options: UsageFilesOptions) -> None:
        self.options = options
        fmt = options.format
        overrides = options.fields.model_dump(exclude_none=True)
        self.fields: dict[str, list[str]] = {
            column: ([value] if isinstance(value, str) else list(value))
            for column, value in {**FORMAT_FIELDS[fmt], **overrides}.items()
        }
        self.time_format = options.time_format or FORMAT_TIME[fmt]
        self.type_filter = FORMAT_TYPE_FILTER[fmt]

    # -- files ---------------------------------------------------------------------------

    def filesystem(self) -> tuple[fsspec.AbstractFileSystem, str]:
        """The filesystem and root path of ``url``, with credentials from the Connection."""
        protocol = fsspec.utils.get_protocol(self.options.url)
        storage: dict[str, Any] = {}
        if protocol in ("s3", "s3a"):
            storage = _aws_connection(self.options.conn_id)
            storage["config_kwargs"] = {
                "retries": {"max_attempts": self.options.retries + 1, "mode": "standard"},
                "connect_timeout": self.options.timeout_seconds,
                "read_timeout": self.options.timeout_seconds,
            }
        storage.update(self.options.storage_options)
        # a fresh instance: a cached one would list the folder as an earlier run saw it
        fs, root = fsspec.core.url_to_fs(self.options.url, skip_instance_cache=True, **storage)
        return fs, root.rstrip("/")

    def _file_type(self, path: str) -> str | None:
        if self.options.file_type != "auto":
            return self.options.file_type
        name = path.rsplit("/", 1)[-1].lower()
        if name.endswith(".gz"):
            name = name[:-3]
        suffix = "." + name.rsplit(".", 1)[-1] if "." in name else ""
        found = FILE_TYPES.get(suffix)
        if found is None and self.options.format != "plain" and suffix in ("", ".txt", ".log"):
            return "json"  # vendor exports name gzipped JSON lines without a type suffix
        return found

    def _listing(self, fs: fsspec.AbstractFileSystem, root: str) -> dict[str, dict[str, Any]]:
        # the folder, or the bucket of an object-store prefix (an empty prefix is no error:
        # the export may not have written yet), must exist: a misspelt url loads nothing
        local = fsspec.utils.get_protocol(self.options.url) == "file"
        place = root if local else root.split("/", 1)[0]
        try:
            if not fs.exists(place):
                kind = "folder" if local else "bucket"
                raise SourceError(f"usage files: the {kind} of {self.options.url} does not exist")
            found = fs.glob(f"{root}/{self.options.include}", detail=True)
        except FileNotFoundError:
            found = {}
        except SourceError:
            raise
        except Exception as error:
            raise SourceError(f"usage files: cannot list {self.options.url}: {error}") from error
        return {path: info for path, info in found.items() if info.get("type") == "file"}

    @staticmethod
    def _signature(info: Mapping[str, Any]) -> dict[str, Any]:
        etag = info.get("ETag") or info.get("etag")
        modified = info.get("LastModified") or info.get("mtime") or info.get("last_modified")
        if isinstance(modified, (int, float)):
            modified = dt.datetime.fromtimestamp(modified, tz=dt.UTC)
        if isinstance(modified, dt.datetime):
            if modified.tzinfo is None:
                modified = modified.replace(tzinfo=dt.UTC)
            modified = modified.astimezone(dt.UTC).isoformat()
        return {
            "size": int(info.get("size") or 0),
            "etag": str(etag).strip('"') if etag else None,
            "modified": modified,
        }

    @staticmethod
    def _changed(loaded: Mapping[str, Any], now: Mapping[str, Any]) -> bool:
        if loaded.get("size") != now["size"]:
            return True
        if loaded.get("etag") and now["etag"]:
            return loaded["etag"] != now["etag"]
        return loaded.get("modified") != now["modified"]

    # -- extract -------------------------------------------------------------------------

    def extract(
        self, entities: Sequence[Entity], window: Window, state: Mapping[str, Any]
    ) -> Extract:
        """Read the files not in the manifest (oldest first), up to ``max_files_per_run``."""
        unknown = [entity.name for entity in entities if entity.name != ENTITY]
        if unknown:
            raise SourceError(
                f"usage files ({self.options.url}) hold only {ENTITY}, not {', '.join(unknown)}"
            )
        manifest: dict[str, dict[str, Any]] = dict(state.get("files", {}))
        seen_fields = set(state.get("fields_seen", []))
        fs, root = self.filesystem()
        protocol = fsspec.utils.get_protocol(self.options.url)
        until = window.until if window.until.tzinfo else window.until.replace(tzinfo=dt.UTC)

        pending: list[tuple[str, str, dict[str, Any]]] = []
        for path, info in sorted(self._listing(fs, root).items()):
            url = fs.unstrip_protocol(path) if protocol != "file" else path
            signature = self._signature(info)
            if url in manifest:
                if self._changed(manifest[url], signature):
                    self._report_changed(url, manifest[url], signature)
                continue
            if self._file_type(path) is None:
                log.info("usage files: %s is not a JSON, CSV or Parquet file; not read", url)
                continue
            modified = signature["modified"]
            after = modified and dt.datetime.fromisoformat(modified) > until
            if after and not self.options.read_files_after_window:
                continue  # written after this run's window: a later run reads it
            pending.append((path, url, signature))
        pending.sort(key=lambda item: (item[2]["modified"] or "", item[1]))
        if self.options.max_files_per_run is not None:
            left = pending[self.options.max_files_per_run :]
            pending = pending[: self.options.max_files_per_run]
            if left:
                log.info("usage files: %d more new files are left for the next run", len(left))

        schema = output_schema(_usage_entity(entities), [])
        tables = [schema.empty_table()]
        con = duckdb.connect()
        try:
            con.execute("set TimeZone = 'UTC'")
            if protocol != "file":
                con.register_filesystem(fs)
            for path, url, signature in pending:
                table, entry = self._read_file(con, path, url, seen_fields)
                tables.append(table.cast(schema))
                manifest[url] = {**signature, **entry}
        finally:
            con.close()
        new_state = {"files": manifest, "fields_seen": sorted(seen_fields)}
        return Extract(
            tables={ENTITY: pa.concat_tables(tables)},
            state=new_state,
            origin=self.options.url,
        )

    def _report_changed(self, url: str, loaded: Mapping[str, Any], now: Mapping[str, Any]) -> None:
        message = (
            f"usage file {url} changed after it was loaded (size {loaded.get('size')} -> "
            f"{now['size']}, etag {loaded.get('etag')} -> {now['etag']}); its events were "
            "loaded once and are not read again"
        )
        if self.options.changed_files == "fail":
            raise SourceError(
                message + ": put the original back, or write new events to a new file "
                "(set changed_files: skip in sources.yml to go on without it)"
            )
        log.warning(message)

    def _relation_sql(self, path: str, url: str) -> str:
        kind = self._file_type(path)
        source = _literal(path if fsspec.utils.get_protocol(url) == "file" else url)
        if kind == "json":
            return (
                "select row_number() over () as record, json "
                f"from read_ndjson_objects({source}, compression = 'auto_detect')"
            )
        if kind == "csv":
            reader = f"read_csv({source}, all_varchar = true, header = true, compression = 'auto')"
        else:
            reader = f"read_parquet({source})"
        return f"select row_number() over () as record, to_json(t) as json from {reader} as t"

    def _read_file(
        self, con: duckdb.DuckDBPyConnection, path: str, url: str, seen_fields: set[str]
    ) -> tuple[pa.Table, dict[str, Any]]:
        try:
            con.execute(f"create or replace temp table src as {self._relation_sql(path, url)}")
        except duckdb.Error as error:
            raise SourceError(f"usage file {url} cannot be read: {error}") from error
        total = con.execute("select count(*) from src").fetchone()[0]
        self._report_new_fields(con, url, seen_fields)

        where = "true"
        skipped_type = 0
        if self.type_filter is not None:
            field, wanted = self.type_filter
            where = f"coalesce({_value_sql(field)}, {_literal(wanted)}) = {_literal(wanted)}"
            skipped_type = con.execute(f"select count(*) from src where not ({where})").fetchone()[
                0
            ]

        values = {
            column: f"coalesce({', '.join(_value_sql(p) for p in paths)})"
            for column, paths in self.fields.items()
        }
        con.execute(
            "create or replace temp table mapped as select record, "
            + ", ".join(f"{sql} as {column}" for column, sql in values.items())
            + f" from src where {where}"
        )
        kept = con.execute("select count(*) from mapped").fetchone()[0]
        if kept:
            self._check_present(con, url)
        self._check_required(con, url, ("feature", "occurred_at"))

        time_sql = _time_sql("occurred_at", self.time_format)
        bad = con.execute(
            f"select record, event_id, occurred_at from mapped "
            f"where occurred_at is not null and {time_sql} is null order by record limit 1"
        ).fetchone()
        if bad:
            raise SourceError(
                f"usage file {url}, record {bad[0]} (event {bad[1]}): occurred_at read from "
                f"{' or '.join(self.fields['occurred_at'])} is {bad[2]!r}, expected "
                + {
                    "iso": "an ISO 8601 timestamp",
                    "epoch_seconds": "seconds since 1970-01-01 UTC",
                    "epoch_milliseconds": "milliseconds since 1970-01-01 UTC",
                }[self.time_format]
            )

        anonymous = con.execute(
            "select record from mapped where account_id is null or user_id is null order by record"
        ).fetchall()
        if anonymous:
            records = [row[0] for row in anonymous]
            shown = ", ".join(str(r) for r in records[:10]) + (" ..." if len(records) > 10 else "")
            if self.options.missing_account == "fail":
                raise SourceError(
                    f"usage file {url}: {len(records)} events have no account or no user "
                    f"(records {shown}); account_id is read from "
                    f"{' or '.join(self.fields['account_id'])}, user_id from "
                    f"{' or '.join(self.fields['user_id'])}"
                )
            log.warning(
                "usage file %s: %d of %d events have no account or no user and are not "
                "loaded (records %s)",
                url,
                len(records),
                total,
                shown,
            )
        # an event without an id gets one fixed by its file and record (each file is loaded
        # once), so the landed key is never empty
        derived = f"substr(md5({_literal(url)}), 1, 12) || '-' || record"
        table = con.execute(
            f"select account_id, user_id, feature, {time_sql} as occurred_at, "
            f"coalesce(event_id, {derived}) as event_id "
            "from mapped where account_id is not null and user_id is not null order by record"
        ).fetch_arrow_table()
        if skipped_type:
            log.info(
                "usage file %s: %d records that are not %s calls are not usage events",
                url,
                skipped_type,
                self.type_filter[1] if self.type_filter else "",
            )
        return table, {
            "rows": table.num_rows,
            "without_account": len(anonymous),
        }

    def _report_new_fields(
        self, con: duckdb.DuckDBPyConnection, url: str, seen_fields: set[str]
    ) -> None:
        found = {
            row[0]
            for row in con.execute(
                "select distinct unnest(json_keys(json)) from src where json_type(json) = 'OBJECT'"
            ).fetchall()
        }
        read = {path.split(".")[0] for paths in self.fields.values() for path in paths}
        read |= {path for paths in self.fields.values() for path in paths}
        if self.type_filter is not None:
            read.add(self.type_filter[0])
        new = sorted(found - read - seen_fields)
        if new:
            log.warning(
                "usage file %s: fields not read by touchline are ignored: %s",
                url,
                ", ".join(new),
            )
        seen_fields.update(found - read)

    def _check_present(self, con: duckdb.DuckDBPyConnection, url: str) -> None:
        """A field no record of the file has: the export's layout or the mapping is wrong."""
        counts = con.execute(
            "select " + ", ".join(f"count({column})" for column in self.fields) + " from mapped"
        ).fetchone()
        for column, count in zip(self.fields, counts, strict=True):
            if count == 0 and column != "event_id":
                raise SourceError(
                    f"usage file {url}: no record has the field "
                    f"{' or '.join(self.fields[column])} (read for {ENTITY}.{column}); "
                    f"the export's layout changed or fields.{column} in sources.yml names "
                    "another field"
                )

    def _check_required(
        self, con: duckdb.DuckDBPyConnection, url: str, columns: Sequence[str]
    ) -> None:
        for column in columns:
            missing = con.execute(
                f"select record, event_id from mapped where {column} is null "
                "order by record limit 1"
            ).fetchone()
            if missing:
                raise SourceError(
                    f"usage file {url}, record {missing[0]} (event {missing[1]}): the required "
                    f"field {' or '.join(self.fields[column])} ({ENTITY}.{column}) is missing"
                )


def _usage_entity(entities: Sequence[Entity]) -> Entity:
    from touchline.schema import ENTITIES

    for entity in [*entities, *ENTITIES]:
        if entity.name == ENTITY:
            return entity
    raise AssertionError(ENTITY)  # pragma: no cover - the schema defines usage_events
