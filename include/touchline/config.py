"""touchline's settings, read from its environment variables (and nowhere else) with defaults.

Each setting is read when it is asked for, never when a module is imported, so a changed
variable applies to the next run and importing touchline reads nothing.

| variable                  | default                      | what                              |
|---------------------------|------------------------------|-----------------------------------|
| TOUCHLINE_HOME            | ./.touchline                 | local state: landing, warehouse   |
| TOUCHLINE_SOURCE_DIR      | $TOUCHLINE_HOME/drop         | the file drop (docs/input-layout) |
| TOUCHLINE_LANDING_DIR     | $TOUCHLINE_HOME/landing      | immutable Parquet per entity/date |
| TOUCHLINE_WAREHOUSE       | $TOUCHLINE_HOME/warehouse.duckdb | the published DuckDB file     |
| TOUCHLINE_OUTPUT_DIR      | ./output                     | work lists (docs/outputs.md)     |
| TOUCHLINE_DBT_PROJECT_DIR | the repository's dbt_project | the dbt project                   |
| TOUCHLINE_EXPECTATIONS_DIR| the repository's expectations| quality-gate suites and thresholds|
| TOUCHLINE_SOURCES         | $TOUCHLINE_HOME/sources.yml  | which system feeds which family   |
| TOUCHLINE_SOURCE_ENCODING | utf-8                        | text encoding of the drop's CSVs  |
| TOUCHLINE_SOURCE_ENCODING_<FAMILY> | TOUCHLINE_SOURCE_ENCODING | one family's (CRM, ...) |
| TOUCHLINE_LEDGER          | $TOUCHLINE_HOME/export_ledger.sqlite | the export ledger         |
| TOUCHLINE_OUTBOX          | unset (files not sent)       | the files destination's folder/URL|
| TOUCHLINE_OUTBOX_PUBLIC_URL | unset                      | where readers reach the outbox    |
| TOUCHLINE_DBT_THREADS     | 2                            | dbt threads                       |
| TOUCHLINE_DUCKDB_MEMORY_LIMIT | 6 GB, or 60% of a smaller machine | DuckDB's limit for the build |
| TOUCHLINE_HISTORY_BATCH_ACCOUNT_DAYS | 4000000           | account-days of one history run   |
| TOUCHLINE_DROP_WAIT_MINUTES | 240                        | how long a run waits for its drop |
| TOUCHLINE_DROP_POLL_SECONDS | 60                         | how often the wait looks again    |
| TOUCHLINE_DROP_MARKER     | unset                        | a file the drop writes last       |
| TOUCHLINE_LISTS_DEADLINE_MINUTES | 300 (0: none)         | lists due this long after queueing|
| TOUCHLINE_ALERT_CHANNEL   | #touchline-alerts            | Slack channel of failure notices  |
| TOUCHLINE_BI_DIR          | $TOUCHLINE_HOME/bi           | marts published for BI (docs/bi.md)|
| TOUCHLINE_BI_RETENTION_MINUTES | 15                      | how long a superseded BI version stays|
| TOUCHLINE_PG_HOST / _PORT | 127.0.0.1 / 5432             | the PostgreSQL warehouse's server |
| TOUCHLINE_PG_USER / _PASSWORD | postgres / empty         | its login                         |
| TOUCHLINE_PG_DATABASE     | touchline                    | its database                      |
| TOUCHLINE_PG_SCHEMA       | touchline                    | the schema dbt builds models in   |
| TOUCHLINE_PG_LANDING_SCHEMA | landing                    | the schema the landing is loaded in |

The other destinations' URLs and secrets are theirs: ``touchline.exports.destinations``.
"""

from __future__ import annotations

import codecs
import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DAG_ID = "touchline_nightly"
WAREHOUSE_POOL = "warehouse_writer"
SEND_PARAM = "send"  # the DAG run's switch for the send tasks (off for a backfill's first days)


def _path(variable: str, default: Path) -> Path:
    value = os.environ.get(variable)
    return Path(value).expanduser().absolute() if value else default.absolute()


@dataclass(frozen=True)
class Settings:
    home: Path
    source_dir: Path
    landing_dir: Path
    warehouse: Path
    output_dir: Path
    dbt_project_dir: Path
    expectations_dir: Path
    sources_file: Path  # sources.yml: which system feeds which family (absent: the drop)

    @property
    def state_dir(self) -> Path:
        """Scratch space beside the warehouse: dbt target, build copies."""
        return self.warehouse.parent / f".{self.warehouse.stem}-state"

    def with_overrides(self, **paths: str | Path | None) -> Settings:
        given = {k: Path(v).expanduser().absolute() for k, v in paths.items() if v}
        return replace(self, **given)

    def as_params(self) -> dict[str, str]:
        """The paths as DAG-run parameters (strings), as the DAG expects them."""
        return {k: str(v) for k, v in asdict(self).items() if k != "home"}

    @classmethod
    def from_params(cls, params: dict) -> Settings:
        base = settings()
        return base.with_overrides(**{k: params.get(k) for k in base.as_params()})


def settings() -> Settings:
    home = _path("TOUCHLINE_HOME", Path(".touchline"))
    return Settings(
        home=home,
        source_dir=_path("TOUCHLINE_SOURCE_DIR", home / "drop"),
        landing_dir=_path("TOUCHLINE_LANDING_DIR", home / "landing"),
        warehouse=_path("TOUCHLINE_WAREHOUSE", home / "warehouse.duckdb"),
        output_dir=_path("TOUCHLINE_OUTPUT_DIR", Path("output")),
        dbt_project_dir=_path("TOUCHLINE_DBT_PROJECT_DIR", REPO_ROOT / "dbt_project"),
        expectations_dir=_path("TOUCHLINE_EXPECTATIONS_DIR", REPO_ROOT / "expectations"),
        sources_file=_path("TOUCHLINE_SOURCES", home / "sources.yml"),
    )


SOURCE_ENCODING = "TOUCHLINE_SOURCE_ENCODING"
DEFAULT_SOURCE_ENCODING = "utf-8"
# A CSV's delimiter, quotes and line ends must stay single ASCII bytes for the reader.
_CSV_ASCII = ',"\r\n'


class SourceEncodingError(ValueError):
    """An encoding variable names no text encoding a CSV file can be read in."""


def source_encoding_variable(family: str) -> str:
    """The variable declaring one source family's encoding (``TOUCHLINE_SOURCE_ENCODING_CRM``)."""
    return f"{SOURCE_ENCODING}_{family.upper()}"


def source_encoding(family: str | None) -> str:
    """The declared text encoding of a source family's files, as Python names its codec.

    ``TOUCHLINE_SOURCE_ENCODING_<FAMILY>`` wins over ``TOUCHLINE_SOURCE_ENCODING``; neither
    set means UTF-8. Read when a file is read, so a changed variable applies to the next run.
    """
    variables = [source_encoding_variable(family)] if family else []
    for variable in [*variables, SOURCE_ENCODING]:
        value = os.environ.get(variable, "").strip()
        if value:
            return _checked_encoding(variable, value)
    return DEFAULT_SOURCE_ENCODING


def _checked_encoding(variable: str, value: str) -> str:
    hint = "a text encoding such as utf-8, cp1252 or latin-1"
    try:
        name = codecs.lookup(value).name
        if name == "utf-8-sig":  # a UTF-8 byte-order mark is honoured in every file anyway
            name = DEFAULT_SOURCE_ENCODING
        ascii_compatible = _CSV_ASCII.encode(name) == _CSV_ASCII.encode("ascii")
    except LookupError:
        raise SourceEncodingError(
            f"{variable}={value!r} is not a known text encoding; use {hint}"
        ) from None
    if not ascii_compatible:
        raise SourceEncodingError(
            f"{variable}={value!r} does not keep commas, quotes and line ends as single ASCII "
            f"bytes, so a CSV in it cannot be read; convert such files to UTF-8, or use {hint}"
        )
    return name


# -- where the work lists go and what was sent ----------------------------------------------

LEDGER = "TOUCHLINE_LEDGER"
OUTBOX = "TOUCHLINE_OUTBOX"


def is_set(variable: str) -> bool:
    """Whether the deployment sets one of touchline's variables (to a non-empty value)."""
    return bool(os.environ.get(variable))


def ledger_path(home: Path) -> Path:
    """The export ledger: ``TOUCHLINE_LEDGER``, else ``export_ledger.sqlite`` in ``home``."""
    value = os.environ.get(LEDGER)
    return Path(value).expanduser().absolute() if value else home / "export_ledger.sqlite"


def outbox() -> str | None:
    """The files destination's folder or fsspec URL (``TOUCHLINE_OUTBOX``; None: unset)."""
    return os.environ.get(OUTBOX)


def outbox_public_url() -> str | None:
    """Where readers reach the outbox, for links to it (``TOUCHLINE_OUTBOX_PUBLIC_URL``)."""
    return os.environ.get("TOUCHLINE_OUTBOX_PUBLIC_URL")


# -- the build --------------------------------------------------------------------------------

DBT_THREADS = "TOUCHLINE_DBT_THREADS"
DEFAULT_DBT_THREADS = 2
MEMORY_LIMIT = "TOUCHLINE_DUCKDB_MEMORY_LIMIT"
MEMORY_LIMIT_CAP = 6 * 1024**3  # the most the build takes by default (it spills beyond)
MEMORY_LIMIT_SHARE = 0.6  # and at most this share of the machine's memory
HISTORY_BATCH = "TOUCHLINE_HISTORY_BATCH_ACCOUNT_DAYS"
HISTORY_BATCH_ACCOUNT_DAYS = 4_000_000  # account-days one history run adds at most
EVIDENCE_EVERY = "TOUCHLINE_EVIDENCE_EVERY_DAYS"
EVIDENCE_EVERY_DAYS = 7  # the backtest and the plays' outcomes are computed again weekly


def _integer(variable: str, default: int) -> int:
    value = os.environ.get(variable, "").strip()
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{variable}={value!r} is not a whole number") from None


def dbt_threads() -> int:
    """dbt's threads for the build (``TOUCHLINE_DBT_THREADS``, default 2)."""
    return _integer(DBT_THREADS, DEFAULT_DBT_THREADS)


def default_memory_limit() -> str:
    """DuckDB's memory limit for the build: 6 GB, or 60% of a smaller machine's memory.

    DuckDB's own default (80% of the memory) is a target it fills on a large rebuild; below
    the limit, joins, sorts and aggregates spill to disk (a medium-scale rebuild: 6.7 GB
    instead of 16.7 GB peak, 15% slower).
    """
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        total = MEMORY_LIMIT_CAP
    return f"{min(MEMORY_LIMIT_CAP, int(total * MEMORY_LIMIT_SHARE)) // 1024**2}MB"


def duckdb_memory_limit() -> str:
    """The build's memory limit: ``TOUCHLINE_DUCKDB_MEMORY_LIMIT``, else the default."""
    return os.environ.get(MEMORY_LIMIT, "").strip() or default_memory_limit()


def history_batch_account_days() -> int:
    """The account-days one history run adds at most (``TOUCHLINE_HISTORY_BATCH_ACCOUNT_DAYS``).

    4 million by default: a medium-scale history, 20,000 accounts over 180 days, in one run;
    200,000 accounts in 20-day batches.
    """
    return _integer(HISTORY_BATCH, HISTORY_BATCH_ACCOUNT_DAYS)


def evidence_every_days() -> int:
    """How often the nightly build computes the evidence marts again, in days
    (``TOUCHLINE_EVIDENCE_EVERY_DAYS``, default 7; 1: every night).

    The backtest and the plays' outcomes read the whole stored history: on the nights
    between, they stay as the last evidence build left them (``evidence_as_of`` says when).
    """
    days = _integer(EVIDENCE_EVERY, EVIDENCE_EVERY_DAYS)
    if days < 1:
        raise ValueError(f"{EVIDENCE_EVERY}={days} must be 1 (every night) or more days")
    return days


# -- waiting for the drop, deadlines and alerts -----------------------------------------------

DROP_WAIT = "TOUCHLINE_DROP_WAIT_MINUTES"
DROP_WAIT_MINUTES = 240  # a scheduled run waits this long after its logical date for the drop
DROP_POLL = "TOUCHLINE_DROP_POLL_SECONDS"
DROP_POLL_SECONDS = 60
DROP_MARKER = "TOUCHLINE_DROP_MARKER"
LISTS_DEADLINE = "TOUCHLINE_LISTS_DEADLINE_MINUTES"
LISTS_DEADLINE_MINUTES = 300  # queued at 02:00, the morning lists are due by 07:00
ALERT_CHANNEL = "TOUCHLINE_ALERT_CHANNEL"
DEFAULT_ALERT_CHANNEL = "#touchline-alerts"
ALERTS_CONN_ID = "touchline_alerts"  # a Slack Connection (the Slack provider's type)


def drop_wait_minutes() -> int:
    """Minutes after its logical date a run waits for its drop (``TOUCHLINE_DROP_WAIT_MINUTES``)."""
    return _integer(DROP_WAIT, DROP_WAIT_MINUTES)


def drop_poll_seconds() -> int:
    """Seconds between looks at the day's folder (``TOUCHLINE_DROP_POLL_SECONDS``)."""
    return max(1, _integer(DROP_POLL, DROP_POLL_SECONDS))


def drop_marker() -> str | None:
    """A file the drop's writer puts in the day's folder last (``TOUCHLINE_DROP_MARKER``).

    None (unset): a day's drop has arrived once every required file is there.
    """
    return os.environ.get(DROP_MARKER, "").strip() or None


def lists_deadline_minutes() -> int:
    """Minutes after a run is queued its lists are due (``TOUCHLINE_LISTS_DEADLINE_MINUTES``).

    0 declares no deadline alert.
    """
    return max(0, _integer(LISTS_DEADLINE, LISTS_DEADLINE_MINUTES))


def alert_channel() -> str:
    """The Slack channel failure notices and deadline alerts go to (``TOUCHLINE_ALERT_CHANNEL``)."""
    return os.environ.get(ALERT_CHANNEL, "").strip() or DEFAULT_ALERT_CHANNEL


# -- a PostgreSQL warehouse (docs/warehouses.md) ----------------------------------------------


@dataclass(frozen=True)
class PostgresWarehouse:
    """Where the postgres target builds: the same variables dbt_project/profiles.yml reads."""

    host: str
    port: int
    user: str
    password: str
    database: str
    schema: str  # the models
    landing_schema: str  # the landing's tables, the sources of the models

    def libpq(self, database: str | None = None) -> str:
        """A libpq connection string (``database`` instead of the warehouse's, if given)."""
        parts = {
            "host": self.host,
            "port": str(self.port),
            "user": self.user,
            "dbname": database or self.database,
        }
        if self.password:
            parts["password"] = self.password
        return " ".join(f"{key}={_libpq_quoted(value)}" for key, value in parts.items())


def _libpq_quoted(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("'", "\\'")
    return f"'{escaped}'"


def postgres_warehouse() -> PostgresWarehouse:
    """The PostgreSQL warehouse from ``TOUCHLINE_PG_*`` (defaults: a local server, trust)."""
    return PostgresWarehouse(
        host=os.environ.get("TOUCHLINE_PG_HOST") or "127.0.0.1",
        port=_integer("TOUCHLINE_PG_PORT", 5432),
        user=os.environ.get("TOUCHLINE_PG_USER") or "postgres",
        password=os.environ.get("TOUCHLINE_PG_PASSWORD", ""),
        database=os.environ.get("TOUCHLINE_PG_DATABASE") or "touchline",
        schema=os.environ.get("TOUCHLINE_PG_SCHEMA") or "touchline",
        landing_schema=os.environ.get("TOUCHLINE_PG_LANDING_SCHEMA") or "landing",
    )


# -- the marts published for BI tools -------------------------------------------------------

BI_DIR = "TOUCHLINE_BI_DIR"


def bi_dir(home: Path) -> Path:
    """Where the marts are published for BI tools: ``TOUCHLINE_BI_DIR``, else ``home``/bi.

    Its ``marts.duckdb`` and ``versions/`` are what dashboards read (docs/bi.md).
    """
    return _path(BI_DIR, home / "bi")


BI_RETENTION = "TOUCHLINE_BI_RETENTION_MINUTES"
BI_RETENTION_MINUTES = 15


def bi_retention_minutes() -> int:
    """Minutes a published BI version is kept after a newer one is published
    (``TOUCHLINE_BI_RETENTION_MINUTES``): longer than any BI query may run. The newest two
    versions are kept whatever their age."""
    return max(0, _integer(BI_RETENTION, BI_RETENTION_MINUTES))
