"""``touchline doctor``: checks a deployment before its first night, and after a bad one.

It looks at what a run needs, in the order a run needs it: the settings, the folders, the
disk, the warehouse, Airflow's metadata database and pool, and the Connections. Each
finding says what is wrong in words and how to fix it; nothing is changed. The exit status
is 1 when any check fails, so a deployment script can stop on it.

Run it where the scheduler runs (the same environment variables and ``AIRFLOW_HOME``).
Without ``AIRFLOW_HOME`` it checks the embedded Airflow home of ``touchline run``.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from touchline import config
from touchline.config import ALERTS_CONN_ID, WAREHOUSE_POOL, Settings

OK, WARN, FAIL = "ok", "warn", "FAIL"
MIN_FREE_BYTES = 2 * 1024**3
# a build copies the warehouse, and the candidate waits beside the published file
COPIES_A_BUILD_NEEDS = 3


@dataclass(frozen=True)
class Finding:
    level: str
    check: str
    message: str
    fix: str = ""

    def line(self) -> str:
        text = f"{self.level:>4}  {self.check}: {self.message}"
        return text + (f"\n      fix: {self.fix}" if self.fix else "")


def _ok(check: str, message: str) -> Finding:
    return Finding(OK, check, message)


# -- settings ---------------------------------------------------------------------------------


def _known_variables() -> set[str]:
    import inspect

    from touchline.exports import destinations

    text = inspect.getsource(config) + inspect.getsource(destinations)
    return set(re.findall(r"TOUCHLINE_[A-Z0-9_]*[A-Z0-9]", text))


def check_settings(paths: Settings) -> Iterator[Finding]:
    known = _known_variables()
    families = {f"TOUCHLINE_SOURCE_ENCODING_{f.upper()}" for f in _families()}
    for name in sorted(v for v in os.environ if v.startswith("TOUCHLINE_")):
        if name in known or name in families:
            continue
        close = difflib.get_close_matches(name, sorted(known | families), n=1)
        hint = f"did you mean {close[0]}?" if close else "see docs/operations.md for the settings"
        yield Finding(WARN, "settings", f"{name} is not a touchline setting: it is ignored", hint)
    readers: dict[str, Callable[[], object]] = {
        config.DBT_THREADS: config.dbt_threads,
        config.HISTORY_BATCH: config.history_batch_account_days,
        config.DROP_WAIT: config.drop_wait_minutes,
        config.DROP_POLL: config.drop_poll_seconds,
        config.LISTS_DEADLINE: config.lists_deadline_minutes,
    }
    bad = 0
    for variable, read in readers.items():
        try:
            read()
        except ValueError as exc:
            bad += 1
            yield Finding(FAIL, "settings", str(exc), f"set {variable} to a whole number")
    for family in [None, *_families()]:
        try:
            config.source_encoding(family)
        except config.SourceEncodingError as exc:
            bad += 1
            yield Finding(FAIL, "settings", str(exc), "use utf-8, cp1252 or latin-1")
    try:
        from touchline.sources.config import load

        load(paths.sources_file)
    except Exception as exc:  # ConfigError names the file and the key
        bad += 1
        yield Finding(FAIL, "sources", str(exc), f"correct {paths.sources_file}")
    if not bad:
        yield _ok("settings", "every touchline setting reads")


def _families() -> list[str]:
    from touchline.schema import FAMILIES

    return list(FAMILIES)


# -- folders and disk -------------------------------------------------------------------------


def _writable_place(path: Path) -> Path | None:
    """The nearest existing folder at or above ``path``, if this user can write in it."""
    for candidate in [path, *path.parents]:
        if candidate.exists():
            return candidate if os.access(candidate, os.W_OK | os.X_OK) else None
    return None


def check_paths(paths: Settings) -> Iterator[Finding]:
    from touchline.sources.config import FILEDROP, load

    try:
        fed_by_drop = FILEDROP in load(paths.sources_file).by_entity.values()
    except Exception:
        fed_by_drop = True
    if fed_by_drop:
        if not paths.source_dir.is_dir():
            yield Finding(
                FAIL,
                "drop",
                f"the file drop {paths.source_dir} does not exist",
                "create it, or point TOUCHLINE_SOURCE_DIR at the folder the files land in",
            )
        else:
            days = sorted(p.name for p in paths.source_dir.iterdir() if _is_day(p.name))
            newest = days[-1] if days else "none yet"
            yield _ok("drop", f"{paths.source_dir}: {len(days)} day folders, newest {newest}")
    built = paths.warehouse.exists()
    if not paths.landing_dir.is_dir():
        if built:
            yield Finding(
                FAIL,
                "landing",
                f"the landing folder {paths.landing_dir} is missing, yet the warehouse "
                f"{paths.warehouse} was built from one: every landed day is out of reach",
                "point TOUCHLINE_LANDING_DIR at the landing the warehouse was built from "
                "(restore it from backup if it was lost)",
            )
        elif _writable_place(paths.landing_dir) is None:
            yield Finding(
                FAIL,
                "landing",
                f"the landing folder {paths.landing_dir} does not exist and cannot be created",
                "create it writable for the user the tasks run as, or set TOUCHLINE_LANDING_DIR",
            )
        else:
            yield _ok("landing", f"{paths.landing_dir} will be created by the first run")
    elif not os.access(paths.landing_dir, os.W_OK):
        yield Finding(
            FAIL,
            "landing",
            f"{paths.landing_dir} is not writable",
            "let the user the tasks run as write there",
        )
    else:
        yield _ok("landing", str(paths.landing_dir))
    for what, path in (("warehouse", paths.warehouse.parent), ("output", paths.output_dir)):
        if _writable_place(path) is None:
            yield Finding(
                FAIL,
                what,
                f"{path} cannot be written",
                "let the user the tasks run as write there, or move it (TOUCHLINE_*)",
            )
    if not (paths.dbt_project_dir / "dbt_project.yml").is_file():
        yield Finding(
            FAIL,
            "dbt project",
            f"{paths.dbt_project_dir} holds no dbt_project.yml",
            "point TOUCHLINE_DBT_PROJECT_DIR at touchline's dbt_project folder",
        )
    if not paths.expectations_dir.is_dir():
        yield Finding(
            FAIL,
            "expectations",
            f"{paths.expectations_dir} does not exist",
            "point TOUCHLINE_EXPECTATIONS_DIR at touchline's expectations folder",
        )


def _is_day(name: str) -> bool:
    return re.fullmatch(r"\d{4}-\d{2}-\d{2}", name) is not None


def check_disk(paths: Settings) -> Iterator[Finding]:
    place = _writable_place(paths.warehouse.parent) or paths.warehouse.parent
    while not place.exists():
        place = place.parent
    free = shutil.disk_usage(place).free
    size = paths.warehouse.stat().st_size if paths.warehouse.exists() else 0
    needed = max(MIN_FREE_BYTES, COPIES_A_BUILD_NEEDS * size)
    gib = 1024**3
    if free < needed:
        yield Finding(
            FAIL,
            "disk",
            f"{free / gib:.1f} GiB free on {place}; a build needs about {needed / gib:.1f} GiB "
            f"(the warehouse is {size / gib:.1f} GiB and a build writes two copies beside it)",
            "free space there, or move TOUCHLINE_WAREHOUSE to a larger disk",
        )
    else:
        yield _ok("disk", f"{free / gib:.1f} GiB free on {place}")


# -- the warehouse ----------------------------------------------------------------------------


def check_warehouse(paths: Settings) -> Iterator[Finding]:
    if not paths.warehouse.exists():
        yield _ok("warehouse", f"{paths.warehouse} is not built yet: the first run builds it")
        return
    import duckdb

    from touchline.warehouse import published_date

    try:
        day = published_date(paths.warehouse)
    except duckdb.IOException as exc:
        yield Finding(
            WARN,
            "warehouse",
            f"{paths.warehouse} is open in another process: {exc}",
            "a BI tool or notebook holding the file blocks publishing: point it at the "
            "published marts instead (docs/bi.md)",
        )
        return
    except duckdb.Error as exc:
        yield Finding(
            FAIL,
            "warehouse",
            f"{paths.warehouse} cannot be read: {exc}",
            "restore it from backup or rebuild it: move it aside and run the pipeline again "
            "(the landing keeps every day)",
        )
        return
    yield _ok("warehouse", f"{paths.warehouse} holds {day or 'no day yet'}")


# -- Airflow: the metadata database, the pool, the Connections --------------------------------


def _hide_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def check_metadata_db() -> Iterator[Finding]:
    import sqlalchemy as sa
    from airflow.configuration import conf

    url = conf.get("database", "sql_alchemy_conn")
    shown = _hide_password(url)
    args = {"connect_timeout": 5} if url.startswith("postgresql") else {}
    try:
        engine = sa.create_engine(url, connect_args=args)
        with engine.connect() as connection:
            tables = set(sa.inspect(connection).get_table_names())
            if "alembic_version" not in tables or "slot_pool" not in tables:
                yield Finding(
                    FAIL,
                    "metadata db",
                    f"{shown} is reachable but Airflow's tables are not there",
                    "run `airflow db migrate` once",
                )
                return
            slots = connection.execute(
                sa.text("select slots from slot_pool where pool = :pool"), {"pool": WAREHOUSE_POOL}
            ).scalar()
    except Exception as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        yield Finding(
            FAIL,
            "metadata db",
            f"cannot reach Airflow's metadata database at {shown}: {reason}",
            "start the database, or correct AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
        )
        return
    yield _ok("metadata db", f"{shown} is reachable and migrated")
    if slots is None:
        yield Finding(
            FAIL,
            "pool",
            f"the pool {WAREHOUSE_POOL} does not exist: the build task would never be scheduled",
            f'airflow pools set {WAREHOUSE_POOL} 1 "the one writer of the DuckDB warehouse"',
        )
    elif slots != 1:
        yield Finding(
            FAIL,
            "pool",
            f"the pool {WAREHOUSE_POOL} has {slots} slots: two builds would write one file",
            f'airflow pools set {WAREHOUSE_POOL} 1 "the one writer of the DuckDB warehouse"',
        )
    else:
        yield _ok("pool", f"{WAREHOUSE_POOL} has 1 slot")


def _wanted_connections(paths: Settings) -> dict[str, tuple[str, tuple[str, ...], bool]]:
    """conn_id -> (what it is for, the fields it must have, whether it is optional)."""
    from touchline.exports.destinations import DESTINATIONS

    names = {"url": "host", "login": "login", "secret": "password"}
    wanted = {ALERTS_CONN_ID: ("failure notices and deadline alerts", ("password",), True)}
    for name, kind in DESTINATIONS.items():
        if kind.connection:
            fields = tuple(names[f] for f in kind.needs if not (f == "url" and kind.default_url))
            wanted[kind.connection] = (f"the {name} destination", fields, True)
    try:
        from touchline.sources.config import load

        for source in load(paths.sources_file).sources.values():
            conn_id = getattr(source.options, "conn_id", None)
            if conn_id:
                wanted[conn_id] = (f"the source {source.name}", (), False)
    except Exception:
        pass  # reported by the settings check
    return wanted


def _from_environment(conn_id: str) -> tuple[object | None, str | None]:
    """The Connection given by ``AIRFLOW_CONN_<ID>``, or why it cannot be read."""
    from airflow.models.connection import Connection

    value = os.environ.get(f"AIRFLOW_CONN_{conn_id.upper()}")
    if value is None:
        return None, None
    value = value.strip()
    try:
        if value.startswith("{"):
            return Connection.from_json(value, conn_id=conn_id), None
        if "://" not in value:
            return None, "is neither a URI (type://login:password@host) nor JSON"
        return Connection(conn_id=conn_id, uri=value), None
    except (ValueError, json.JSONDecodeError) as exc:
        return None, f"cannot be read: {exc}"


def check_connections(paths: Settings, metadata_ok: bool) -> Iterator[Finding]:
    for conn_id, (purpose, fields, optional) in _wanted_connections(paths).items():
        connection, problem = _from_environment(conn_id)
        where = f"AIRFLOW_CONN_{conn_id.upper()}"
        if problem:
            yield Finding(
                FAIL,
                "connection",
                f"{conn_id} ({purpose}): {where} {problem}",
                f"set {where} to a valid URI or JSON, or define {conn_id} in the Airflow UI",
            )
            continue
        if connection is None and metadata_ok:
            connection = _from_metadata_db(conn_id)
            where = "the metadata database"
        if connection is None:
            if not optional:
                yield Finding(
                    FAIL,
                    "connection",
                    f"{conn_id} ({purpose}) is not defined",
                    f"create the Connection {conn_id} (docs/sources/)",
                )
            elif conn_id == ALERTS_CONN_ID:
                yield Finding(
                    WARN,
                    "connection",
                    f"{conn_id} is not defined: failures and late lists are not announced",
                    f"create the Connection {conn_id} of type slack with the bot token as "
                    f"password (docs/operations.md)",
                )
            continue
        absent = [f for f in fields if not getattr(connection, f, None)]
        if conn_id == ALERTS_CONN_ID and connection.conn_type != "slack":
            yield Finding(
                FAIL,
                "connection",
                f"{conn_id} (from {where}) has type {connection.conn_type!r}, not slack",
                "give it the type slack (the Slack provider's), the bot token as password",
            )
        elif absent:
            yield Finding(
                FAIL,
                "connection",
                f"{conn_id} ({purpose}, from {where}) has no {', '.join(absent)}",
                f"fill in {', '.join(absent)} of {conn_id}",
            )
        else:
            yield _ok("connection", f"{conn_id} ({purpose}), from {where}")


def _from_metadata_db(conn_id: str):
    import sqlalchemy as sa
    from airflow.configuration import conf
    from airflow.models.connection import Connection
    from sqlalchemy.orm import Session

    engine = sa.create_engine(conf.get("database", "sql_alchemy_conn"))
    with Session(engine) as session:
        found = session.scalars(sa.select(Connection).where(Connection.conn_id == conn_id)).first()
        if found is not None:
            session.expunge(found)
        return found


# -- the command ------------------------------------------------------------------------------


def diagnose(paths: Settings, embedded: bool = False) -> list[Finding]:
    """Every check's findings, in order (``embedded``: the home of ``touchline run``)."""
    findings = [
        *check_settings(paths),
        *check_paths(paths),
        *check_disk(paths),
        *check_warehouse(paths),
    ]
    home = Path(os.environ.get("AIRFLOW_HOME", ""))
    if embedded and not (home / "airflow.db").exists():
        metadata = [_ok("metadata db", f"{home} is set up by the first `touchline run`")]
    else:
        metadata = list(check_metadata_db())
    findings += metadata
    reachable = any(f.check == "metadata db" and f.level == OK for f in metadata)
    findings += check_connections(paths, reachable)
    return findings


def use_embedded_airflow_home(paths: Settings) -> bool:
    """Without AIRFLOW_HOME, check the Airflow home ``touchline run`` uses (returns True)."""
    if os.environ.get("AIRFLOW_HOME"):
        return False
    from touchline.airflow_local import airflow_env

    for key in ("AIRFLOW_HOME", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"):
        os.environ.setdefault(key, airflow_env(paths)[key])
    return True


def main(paths: Settings) -> int:
    embedded = use_embedded_airflow_home(paths)
    findings = diagnose(paths, embedded)
    for finding in findings:
        print(finding.line())
    failed = [f for f in findings if f.level == FAIL]
    warned = [f for f in findings if f.level == WARN]
    print(f"\n{len(failed)} problems, {len(warned)} warnings, {len(findings)} findings")
    return 1 if failed else 0
