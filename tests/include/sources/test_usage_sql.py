"""Usage events from PostgreSQL through PostgresHook, against the machine's server."""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid

import psycopg
import pytest
from pydantic import ValidationError

from touchline.schema import ENTITIES
from touchline.sources.base import SourceError, Window
from touchline.sources.filedrop import output_schema
from touchline.sources.usage_sql import UsageSqlConnector, UsageSqlOptions

USAGE = next(entity for entity in ENTITIES if entity.name == "usage_events")
SERVER = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
WINDOW = Window(
    run_date=dt.date(2026, 3, 1),
    since=None,
    until=dt.datetime(2026, 3, 2, 6, tzinfo=dt.UTC),
)
T0 = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def database(monkeypatch):
    """A database of this test's own with an events table, and the Connection to it."""
    name = f"touchline_usage_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(SERVER, autocommit=True) as admin:
        admin.execute(f'create database "{name}"')
    monkeypatch.setenv(
        "AIRFLOW_CONN_TOUCHLINE_USAGE_DB",
        json.dumps(
            {
                "conn_type": "postgres",
                "host": "127.0.0.1",
                "port": 5432,
                "login": "postgres",
                "schema": name,
            }
        ),
    )
    with psycopg.connect(f"{SERVER.replace('dbname=postgres', '')} dbname={name}") as db:
        db.execute(
            "create table app_events (id bigint primary key, org text, member text, "
            "action text, happened_at timestamptz, inserted_at timestamptz, plan text)"
        )
        db.commit()

        def insert(*events: tuple) -> None:
            with db.cursor() as cursor:
                cursor.executemany(
                    "insert into app_events (id, org, member, action, happened_at, inserted_at) "
                    "values (%s, %s, %s, %s, %s, %s)",
                    [(*event, event[4]) if len(event) == 5 else event for event in events],
                )
            db.commit()

        insert.db = db  # type: ignore[attr-defined]
        yield insert
    with psycopg.connect(SERVER, autocommit=True) as admin:
        admin.execute(f'drop database "{name}" with (force)')


MAPPING = {
    "table": "public.app_events",
    "columns": {
        "account_id": "org",
        "user_id": "member",
        "feature": "action",
        "occurred_at": "happened_at",
        "event_id": "id",
    },
}


def extract(state: dict | None = None, window: Window = WINDOW, **options):
    connector = UsageSqlConnector(UsageSqlOptions(**{**MAPPING, **options}))
    return connector.extract([USAGE], window, state or {})


def ids(result) -> list[str]:
    return result.tables["usage_events"].column("event_id").to_pylist()


def event(n: int, minutes: int = 0, account: str | None = "A1") -> tuple:
    return (n, account, f"user-{n}", "report", T0 + dt.timedelta(minutes=minutes))


def test_reads_all_rows_in_batches_with_the_contract_columns(database):
    database(*(event(n, minutes=n) for n in range(1, 6)))

    result = extract(batch_size=2)

    assert result.tables["usage_events"].schema == output_schema(USAGE, [])
    assert ids(result) == ["1", "2", "3", "4", "5"]
    assert result.tables["usage_events"].to_pylist()[0] == {
        "account_id": "A1",
        "user_id": "user-1",
        "feature": "report",
        "occurred_at": dt.datetime(2026, 3, 1, 9, 1),
        "event_id": "1",
    }
    assert result.state["mark"] == {"at": "2026-03-01T09:05:00+00:00", "id": 5}
    assert result.origin == "postgres touchline_usage_db: table public.app_events"


def test_second_run_reads_only_new_rows_including_ties_at_the_mark(database):
    database(event(1), event(2))
    first = extract()
    database(event(3), event(4, minutes=1))  # id 3 has the mark's own timestamp

    second = extract(first.state)
    third = extract(second.state)

    assert ids(first) == ["1", "2"]
    assert ids(second) == ["3", "4"]
    assert ids(third) == [] and third.state == second.state


def test_max_rows_per_run_pages_through_rows_sharing_one_timestamp(database):
    database(*(event(n) for n in range(1, 6)))

    runs, state = [], {}
    for _ in range(4):
        result = extract(state, max_rows_per_run=2, batch_size=1)
        runs.append(ids(result))
        state = result.state

    assert runs == [["1", "2"], ["3", "4"], ["5"], []]


def test_a_crash_mid_extract_loses_nothing(database):
    database(event(1), event(2, minutes=1), event(3, minutes=2))
    first = extract()
    database(event(4, minutes=3), (5, "A1", "user-5", None, T0 + dt.timedelta(minutes=4)))

    with pytest.raises(SourceError) as raised:
        extract(first.state)
    message = str(raised.value)
    assert "event 5" in message and "'action'" in message and "usage_events.feature" in message

    database.db.execute("update app_events set action = 'export' where id = 5")
    database.db.commit()
    assert ids(extract(first.state)) == ["4", "5"]


def test_rows_after_the_window_wait_for_a_later_run(database):
    database(event(1), event(2, minutes=60 * 48))

    today = extract()
    later = extract(
        today.state,
        window=Window(dt.date(2026, 3, 3), None, dt.datetime(2026, 3, 4, 6, tzinfo=dt.UTC)),
    )

    assert ids(today) == ["1"] and ids(later) == ["2"]


def test_an_unknown_column_is_named_once(database, caplog):
    database(event(1))
    with caplog.at_level(logging.WARNING, logger="touchline.sources.usage_sql"):
        first = extract()
        database.db.execute("alter table app_events add column browser text")
        database.db.commit()
        second = extract(first.state)
        extract(second.state)

    messages = [r.getMessage() for r in caplog.records if "not read by touchline" in r.getMessage()]
    assert len(messages) == 2, messages  # the first run's extras, then the new one, once
    assert "plan" in messages[0] and "inserted_at" in messages[0]
    assert messages[1].endswith(": browser")


def test_a_missing_mapped_column_names_it(database):
    database.db.execute("alter table app_events rename column action to action_name")
    database.db.commit()

    with pytest.raises(SourceError, match=r"no column 'action' \(read for usage_events.feature\)"):
        extract()


def test_rows_without_account_are_counted_and_not_loaded(database, caplog):
    database(event(1), event(2, account=None))

    with caplog.at_level(logging.WARNING, logger="touchline.sources.usage_sql"):
        result = extract()

    assert ids(result) == ["1"] and result.state["mark"]["id"] == 2
    assert "1 events have no account or no user" in caplog.text and "events 2" in caplog.text
    with pytest.raises(SourceError, match="event 2: no account or no user"):
        extract(missing_account="fail")


def test_a_query_with_an_insertion_time_cursor_reads_late_events(database):
    late = (7, "A2", "user-7", "search", T0 - dt.timedelta(days=2), T0 + dt.timedelta(hours=1))
    database(event(1), late)
    query = "select id, org, member, action, happened_at, inserted_at from app_events"
    options = {"table": None, "query": query, "cursor_column": "inserted_at"}
    first = extract(start=dt.datetime(2026, 3, 1), **options)
    database((8, "A2", "user-8", "search", T0 - dt.timedelta(days=3), T0 + dt.timedelta(hours=2)))

    second = extract(first.state, **options)

    assert ids(first) == ["1", "7"]
    assert ids(second) == ["8"]
    assert second.tables["usage_events"].column("occurred_at").to_pylist() == [
        dt.datetime(2026, 2, 26, 9)
    ]
    with pytest.raises(SourceError, match="mark is on the column 'inserted_at'"):
        extract(second.state)  # the table's default cursor is happened_at


def test_a_refused_connection_names_the_connection(monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_TOUCHLINE_USAGE_DB",
        json.dumps({"conn_type": "postgres", "host": "127.0.0.1", "port": 1, "login": "x"}),
    )

    with pytest.raises(
        SourceError, match="cannot connect with the Connection 'touchline_usage_db'"
    ):
        extract()


def test_options_refuse_a_misspelt_key_and_want_one_source():
    with pytest.raises(ValidationError, match="batchsize"):
        UsageSqlOptions(table="events", batchsize=10)
    with pytest.raises(ValidationError, match="either table or query"):
        UsageSqlOptions()


def test_uuid_event_ids_and_a_timestamp_without_zone(database):
    database.db.execute(
        "create table uuid_events (event_id uuid primary key, account_id text, "
        "user_id text, feature text, occurred_at timestamp)"
    )
    first_ids = [uuid.UUID(int=n) for n in (1, 2)]
    for event_id in first_ids:
        database.db.execute(
            "insert into uuid_events values (%s, 'A1', 'u1', 'search', '2026-03-01 09:00')",
            (event_id,),
        )
    database.db.commit()
    options = {"table": "uuid_events", "columns": {}}
    first = extract(**options)
    database.db.execute(
        "insert into uuid_events values (%s, 'A1', 'u1', 'search', '2026-03-01 09:00')",
        (uuid.UUID(int=3),),
    )
    database.db.commit()

    second = extract(first.state, **options)

    assert ids(first) == [str(event_id) for event_id in first_ids]
    assert ids(second) == [str(uuid.UUID(int=3))]
    assert first.state["mark"] == {"at": "2026-03-01T09:00:00", "id": str(first_ids[-1])}
    assert second.tables["usage_events"].column("occurred_at").to_pylist() == [
        dt.datetime(2026, 3, 1, 9)
    ]
