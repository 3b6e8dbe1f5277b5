"""The export ledger: what each destination has been sent, per item, so a run sends each once.

One SQLite table (``$TOUCHLINE_HOME/export_ledger.sqlite`` by default): per destination and
item key (a ``task_key``, or a digest's key), the hash of the payload last sent, the remote
id the destination gave it, the status, attempts and timestamps. A run compares the day's
items with it and sends only what is new, changed or gone; every batch is recorded the
moment the destination accepted it, so a run that dies halfway resumes where it stopped.

A second table, ``export_sends``, keeps one row per send (created, updated or closed) with
its run date, so what a day sent can still be told once later days changed the same
items. Ledgers written before it existed get the table when opened (their earlier days are
told from each item's last change, which is all they kept).

SQLite because the per-destination export tasks may run at the same time: it serialises
their writes (WAL, a busy timeout), and it keeps working while the DuckDB warehouse is
held by its one writer.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
create table if not exists export_ledger (
    destination     text not null,
    item_key        text not null,
    payload_hash    text,              -- of the payload the destination last accepted
    remote_id       text,              -- the destination's id for the item, when it has one
    status          text not null,     -- pending | sent | closed | failed
    attempts        integer not null default 0,
    run_date        text,              -- the run date of the last change
    first_sent_at   text,
    last_sent_at    text,
    last_attempt_at text,
    closed_reason   text,              -- completed | cancelled, for a closed item
    item_meta       text,              -- JSON: what the item is about (account, touchpoint)
    last_error      text,
    primary key (destination, item_key)
)
"""

# one row per accepted send; added after the first release: opening an older ledger creates it
SENDS_SCHEMA = """
create table if not exists export_sends (
    destination     text not null,
    item_key        text not null,
    run_date        text not null,     -- the run date the send belonged to
    action          text not null,     -- created | updated | closed
    closed_reason   text,              -- completed | cancelled, for a close
    sent_at         text not null
);
create index if not exists export_sends_by_run_date on export_sends (run_date, destination);
"""

PENDING, SENT, CLOSED, FAILED = "pending", "sent", "closed", "failed"
CREATED, UPDATED = "created", "updated"


@dataclass(frozen=True)
class LedgerRow:
    destination: str
    item_key: str
    payload_hash: str | None
    remote_id: str | None
    status: str
    attempts: int
    run_date: str | None
    first_sent_at: str | None
    last_sent_at: str | None
    closed_reason: str | None
    item_meta: str | None = None

    @property
    def meta(self) -> dict | None:
        return json.loads(self.item_meta) if self.item_meta else None

    @property
    def is_open(self) -> bool:
        """Sent and not closed: the destination holds it as live."""
        return self.status == SENT


@dataclass(frozen=True)
class Send:
    """One item a destination accepted on a run date: created, updated or closed."""

    destination: str
    item_key: str
    action: str
    closed_reason: str | None
    sent_at: str | None


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


class Ledger:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        self._db.execute("pragma journal_mode = wal")
        self._db.execute("pragma busy_timeout = 60000")
        self._db.execute(SCHEMA)
        self._db.executescript(SENDS_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("begin immediate")
        try:
            yield self._db
        except BaseException:
            self._db.execute("rollback")
            raise
        self._db.execute("commit")

    def rows(self, destination: str) -> dict[str, LedgerRow]:
        cursor = self._db.execute(
            "select destination, item_key, payload_hash, remote_id, status, attempts, run_date,"
            " first_sent_at, last_sent_at, closed_reason, item_meta"
            " from export_ledger where destination = ?",
            (destination,),
        )
        return {row[1]: LedgerRow(*row) for row in cursor.fetchall()}

    def attempt(self, destination: str, keys: Iterable[str], run_date: dt.date) -> None:
        """Count an attempt before sending; a new item is recorded as pending."""
        now = _now()
        with self._transaction() as db:
            db.executemany(
                """
                insert into export_ledger (destination, item_key, status, attempts, run_date,
                                           last_attempt_at)
                values (?, ?, 'pending', 1, ?, ?)
                on conflict (destination, item_key) do update set
                    attempts = attempts + 1, last_attempt_at = excluded.last_attempt_at
                """,
                [(destination, key, run_date.isoformat(), now) for key in keys],
            )

    def sent(
        self,
        destination: str,
        accepted: Iterable[tuple[str, str, str | None, dict | None]],
        run_date: dt.date,
    ) -> None:
        """Record items the destination accepted: (key, payload hash, remote id, meta)."""
        now = _now()
        accepted = list(accepted)
        with self._transaction() as db:
            # before the upsert: an item the destination holds live is updated, else created
            db.executemany(
                """
                insert into export_sends (destination, item_key, run_date, action, sent_at)
                values (?, ?, ?, coalesce((
                    select 'updated' from export_ledger
                    where destination = ? and item_key = ? and status = 'sent'
                      and payload_hash is not null
                ), 'created'), ?)
                """,
                [
                    (destination, key, run_date.isoformat(), destination, key, now)
                    for key, *_ in accepted
                ],
            )
            db.executemany(
                """
                insert into export_ledger (destination, item_key, payload_hash, remote_id,
                    status, attempts, run_date, first_sent_at, last_sent_at, last_attempt_at,
                    item_meta)
                values (?, ?, ?, ?, 'sent', 1, ?, ?, ?, ?, ?)
                on conflict (destination, item_key) do update set
                    payload_hash = excluded.payload_hash,
                    remote_id = coalesce(excluded.remote_id, remote_id),
                    item_meta = coalesce(excluded.item_meta, item_meta),
                    status = 'sent',
                    run_date = excluded.run_date,
                    first_sent_at = coalesce(first_sent_at, excluded.first_sent_at),
                    last_sent_at = excluded.last_sent_at,
                    closed_reason = null,
                    last_error = null
                """,
                [
                    (
                        destination,
                        key,
                        digest,
                        remote,
                        run_date.isoformat(),
                        now,
                        now,
                        now,
                        json.dumps(meta, sort_keys=True, default=str) if meta else None,
                    )
                    for key, digest, remote, meta in accepted
                ],
            )

    def closed(
        self, destination: str, closed: Iterable[tuple[str, str]], run_date: dt.date
    ) -> None:
        """Record items closed at the destination: (key, reason)."""
        now = _now()
        closed = list(closed)
        with self._transaction() as db:
            db.executemany(
                """
                insert into export_sends (destination, item_key, run_date, action,
                                          closed_reason, sent_at)
                values (?, ?, ?, 'closed', ?, ?)
                """,
                [(destination, key, run_date.isoformat(), reason, now) for key, reason in closed],
            )
            db.executemany(
                """
                update export_ledger set status = 'closed', closed_reason = ?, run_date = ?,
                    last_sent_at = ?
                where destination = ? and item_key = ?
                """,
                [(reason, run_date.isoformat(), now, destination, key) for key, reason in closed],
            )

    def failed(self, destination: str, keys: Iterable[str], error: str) -> None:
        with self._transaction() as db:
            db.executemany(
                """
                update export_ledger set last_error = ?,
                    status = case when status = 'pending' then 'failed' else status end
                where destination = ? and item_key = ?
                """,
                [(error[:1000], destination, key) for key in keys],
            )

    def summary(self) -> dict[str, dict[str, int]]:
        """Items per status, per destination."""
        found: dict[str, dict[str, int]] = {}
        for destination, status, count in self._db.execute(
            "select destination, status, count(*) from export_ledger group by 1, 2 order by 1, 2"
        ):
            found.setdefault(destination, {})[status] = count
        return found

    def sends_on(self, run_date: dt.date) -> list[Send]:
        """What each destination accepted for ``run_date``: created, updated, closed items.

        Sends recorded before ``export_sends`` existed are told from the item's last change
        (its run date and status): created when it was first sent that day, else updated.
        """
        day = run_date.isoformat()
        cursor = self._db.execute(
            """
            select destination, item_key, action, closed_reason, sent_at from (
            select destination, item_key, action, closed_reason, sent_at
            from export_sends
            where run_date = ?
            union all
            select destination, item_key,
                case
                    when status = 'closed' then 'closed'
                    when first_sent_at = last_sent_at then 'created'
                    else 'updated'
                end,
                closed_reason, last_sent_at
            from export_ledger as ledger
            where run_date = ? and status in ('sent', 'closed')
              and not exists (
                select 1 from export_sends as sends
                where sends.destination = ledger.destination
                  and sends.item_key = ledger.item_key
                  and sends.run_date = ledger.run_date
              )
            )
            order by destination,
                case action when 'created' then 0 when 'updated' then 1 else 2 end,
                item_key
            """,
            (day, day),
        )
        return [Send(*row) for row in cursor.fetchall()]
