"""A generic webhook: the day's tasks as signed JSON POSTs.

New and changed tasks go out as ``tasks.upserted`` (up to 200 per POST), tasks gone from
the day as ``tasks.closed`` with their reason (completed or cancelled). Each POST is signed:
``X-Touchline-Signature: sha256=<HMAC-SHA256 of "<timestamp>." + body>`` with the shared
secret, and ``X-Touchline-Timestamp`` so a receiver can refuse replays; ``Idempotency-Key``
is a hash of the content, the same on a retry of the same POST. Every task carries its
``task_key`` and ``version`` (the payload hash) for receivers that deduplicate per task.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import time
from collections.abc import Sequence
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from touchline.exports.base import Closing, Destination, Item
from touchline.exports.day import Day, task_meta
from touchline.exports.http import ApiClient, RetryPolicy

FIELDS = (
    "task_key",
    "run_date",
    "account_id",
    "account_name",
    "touchpoint",
    "trigger",
    "due_date",
    "status",
    "priority",
    "channel",
    "owner_role",
    "assignee_email",
    "reason",
)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def _plain(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


class Webhook(Destination):
    name = "webhook"
    batch_size = 200
    closes = True

    def __init__(self, url: str, secret: str, policy: RetryPolicy | None = None) -> None:
        parts = urlsplit(url)
        self.path = urlunsplit(("", "", parts.path or "/", parts.query, ""))
        self.secret = secret
        self.client = ApiClient(self.name, f"{parts.scheme}://{parts.netloc}", policy=policy)

    def shut(self) -> None:
        self.client.close()

    def items(self, day: Day) -> list[Item]:
        items = []
        for task in day.tasks:
            payload = {field: _plain(task.get(field)) for field in FIELDS}
            meta = task_meta(task)
            items.append(Item(task["task_key"], payload, meta))
        return items

    def _post(self, event: str, tasks: list[dict], day: Day) -> None:
        content = {"event": event, "run_date": day.run_date.isoformat(), "tasks": tasks}
        body = json.dumps(content, sort_keys=True, separators=(",", ":")).encode()
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "X-Touchline-Timestamp": str(timestamp),
            "X-Touchline-Signature": signature(self.secret, timestamp, body),
            "Idempotency-Key": hashlib.sha256(body).hexdigest(),
        }
        self.client.request("POST", self.path, content=body, headers=headers)

    def create(self, items: Sequence[Item], day: Day) -> dict[str, str | None]:
        tasks = [{**item.payload, "version": item.hash[:16]} for item in items]
        self._post("tasks.upserted", tasks, day)
        return {item.key: None for item in items}

    def close(self, closings: Sequence[Closing], day: Day) -> None:
        tasks = [{"task_key": c.row.item_key, "reason": c.reason} for c in closings]
        self._post("tasks.closed", tasks, day)
