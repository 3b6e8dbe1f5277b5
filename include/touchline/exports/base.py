"""The destination interface and the run that sends a day's items exactly once in effect.

A destination says what it should hold today (:meth:`Destination.items`: one
:class:`Item` per task, digest or file, keyed and with a payload), and how to create,
update and close items at its end. :func:`export` compares the items with the ledger and
sends only the difference:

- *create*: an item the ledger has never seen sent (or whose send never completed);
- *update*: a sent item whose payload hash changed (due date, priority, reason...);
- *close*: a sent item that is no longer in the day's items (its touchpoint was satisfied
  or suppressed), for destinations that hold live items (a CRM task list, a webhook
  consumer);
- everything else is *unchanged* and not sent.

An item the destination reports as deleted at its end (:meth:`Destination.report_gone`,
e.g. a CRM task a user deleted) is recorded as closed with the destination's
``gone_reason`` and is not sent again while it stays in the day.

Each batch is counted as an attempt before it is sent and recorded as sent the moment the
destination accepts it. A run that dies halfway leaves the rest pending and the next run
sends only that; the destinations' own idempotency (a CRM upsert by external id, an event
id, an idempotency key) covers the instant between an accepted send and its record.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar

from touchline.exports.day import Day
from touchline.exports.ledger import Ledger, LedgerRow

log = logging.getLogger(__name__)


def payload_hash(payload: Any) -> str:
    text = json.dumps(payload, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Item:
    """One thing a destination holds: a task, a digest, a file. The payload is hashed."""

    key: str
    payload: dict[str, Any]
    meta: dict[str, Any] | None = field(default=None, compare=False)  # kept, not hashed
    hash: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if not self.hash:
            object.__setattr__(self, "hash", payload_hash(self.payload))


@dataclass(frozen=True)
class Closing:
    row: LedgerRow
    reason: str  # completed | cancelled | the destination's gone_reason


@dataclass
class Plan:
    destination: str
    create: list[Item] = field(default_factory=list)
    update: list[tuple[Item, LedgerRow]] = field(default_factory=list)
    close: list[Closing] = field(default_factory=list)
    unchanged: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "destination": self.destination,
            "create": len(self.create),
            "update": len(self.update),
            "close": len(self.close),
            "unchanged": self.unchanged,
        }

    def describe(self, limit: int = 10) -> str:
        lines = [
            f"{self.destination}: {len(self.create)} to create, {len(self.update)} to update, "
            f"{len(self.close)} to close, {self.unchanged} unchanged"
        ]
        lines += [f"  create {item.key}" for item in self.create[:limit]]
        lines += [f"  update {item.key}" for item, _ in self.update[:limit]]
        lines += [f"  close  {c.row.item_key} ({c.reason})" for c in self.close[:limit]]
        return "\n".join(lines)


class Destination:
    """One place work lists go. Subclasses set ``name`` and implement the hooks."""

    name: ClassVar[str] = ""
    batch_size: ClassVar[int] = 100
    updates: ClassVar[bool] = True  # a changed payload is sent again
    closes: ClassVar[bool] = False  # items gone from the day are closed at the destination
    gone_reason: ClassVar[str] = "deleted_at_destination"  # closed reason of a deleted item

    def report_gone(self, keys: Iterable[str]) -> None:
        """Items the destination no longer holds (deleted there): closed, never re-sent."""
        self.__dict__.setdefault("_gone", []).extend(keys)

    def take_gone(self) -> set[str]:
        """The items reported gone since the last call."""
        return set(self.__dict__.pop("_gone", []))

    def items(self, day: Day) -> list[Item]:
        raise NotImplementedError

    def create(self, items: Sequence[Item], day: Day) -> dict[str, str | None]:
        """Send new items; return the remote id (or None) of each item it accepted.

        An item left out of the answer was not accepted: it stays pending for the next run.
        """
        raise NotImplementedError

    def update(self, items: Sequence[tuple[Item, LedgerRow]], day: Day) -> dict[str, str | None]:
        return self.create([item for item, _ in items], day)

    def close(self, closings: Sequence[Closing], day: Day) -> None:
        raise NotImplementedError

    def closing_reason(self, row: LedgerRow, day: Day) -> str:
        return day.closing_reason(row.meta)

    def shut(self) -> None:
        """Release connections."""


def plan(destination: Destination, day: Day, ledger: Ledger) -> Plan:
    items = destination.items(day)
    keys = [item.key for item in items]
    if len(keys) != len(set(keys)):
        raise ValueError(f"{destination.name}: two items share a key")
    rows = ledger.rows(destination.name)
    result = Plan(destination.name)
    for item in items:
        row = rows.get(item.key)
        if row is None or row.status in ("pending", "failed") or row.payload_hash is None:
            result.create.append(item)
        elif row.status == "closed" and row.closed_reason == destination.gone_reason:
            result.unchanged += 1  # deleted at the destination by a user: left deleted
        elif row.status == "closed":
            result.create.append(item)  # due again: the destination gets it back
        elif row.payload_hash != item.hash and destination.updates:
            result.update.append((item, row))
        else:
            result.unchanged += 1
    if destination.closes:
        wanted = set(keys)
        for key, row in sorted(rows.items()):
            if key not in wanted and row.is_open:
                result.close.append(Closing(row, destination.closing_reason(row, day)))
    return result


def _batches(values: Sequence, size: int) -> Iterable[Sequence]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def export(destination: Destination, day: Day, ledger: Ledger, *, dry_run: bool = False) -> Plan:
    """Send the day's difference to ``destination``; return what was (or would be) sent."""
    todo = plan(destination, day, ledger)
    log.info("%s", todo.describe(limit=0))
    if dry_run:
        return todo
    name = destination.name
    try:
        for batch in _batches(todo.create, destination.batch_size):
            _send(ledger, destination, day, [(item, None) for item in batch])
        for batch in _batches(todo.update, destination.batch_size):
            _send(ledger, destination, day, list(batch))
        for batch in _batches(todo.close, destination.batch_size):
            keys = [c.row.item_key for c in batch]
            with _recorded_failure(ledger, name, keys):
                destination.close(batch, day)
            gone = destination.take_gone()
            reasons = [
                (c.row.item_key, destination.gone_reason if c.row.item_key in gone else c.reason)
                for c in batch
            ]
            ledger.closed(name, reasons, day.run_date)
    finally:
        destination.shut()
    return todo


def _send(
    ledger: Ledger,
    destination: Destination,
    day: Day,
    batch: list[tuple[Item, LedgerRow | None]],
) -> None:
    """Send one batch (creates, or updates with their ledger rows) and record the outcome."""
    name = destination.name
    keys = [item.key for item, _ in batch]
    ledger.attempt(name, keys, day.run_date)
    with _recorded_failure(ledger, name, keys):
        if all(row is None for _, row in batch):
            remote = destination.create([item for item, _ in batch], day)
        else:
            remote = destination.update([(item, row) for item, row in batch if row], day)
    gone = destination.take_gone() & set(keys)
    if gone:
        ledger.closed(name, [(key, destination.gone_reason) for key in sorted(gone)], day.run_date)
    accepted = [(item, row) for item, row in batch if item.key in remote]
    ledger.sent(
        name,
        [
            (item.key, item.hash, remote[item.key] or (row.remote_id if row else None), item.meta)
            for item, row in accepted
        ],
        day.run_date,
    )
    refused = [item.key for item, _ in batch if item.key not in remote and item.key not in gone]
    if refused:
        ledger.failed(name, refused, "not accepted by the destination (see the task log)")
        log.warning("%s: %d item(s) not accepted; they stay pending", name, len(refused))


@contextmanager
def _recorded_failure(ledger: Ledger, destination: str, keys: list[str]):
    try:
        yield
    except Exception as exc:
        ledger.failed(destination, keys, str(exc))
        raise
