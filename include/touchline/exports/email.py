"""Email automation: tech-touch and automated items enrol contacts in campaigns.

A Customer.io-style Track API: the contact is identified (``PUT /api/v1/customers/{id}``
with their attributes), then the campaign's triggering event is sent (``POST
/api/v1/customers/{id}/events``). The event carries an id derived from the ``task_key``, so
the automation tool drops a repeat even if a send is retried after a crash; the ledger stops
a re-run from sending it at all. An enrolment is never re-sent because a reason changed: a
campaign starts once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from urllib.parse import quote

from touchline.exports.base import Destination, Item
from touchline.exports.day import Day, task_meta
from touchline.exports.http import ApiClient, RetryPolicy

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def event_id(task_key: str, due: dt.date) -> str:
    """A ULID-shaped id fixed by the task: its due day as the time part, the key as the rest."""
    millis = int(dt.datetime.combine(due, dt.time(), tzinfo=dt.UTC).timestamp() * 1000)
    number = (millis << 80) | int.from_bytes(hashlib.sha256(task_key.encode()).digest()[:10])
    return "".join(CROCKFORD[(number >> shift) & 31] for shift in range(125, -1, -5))


class CustomerIOCampaigns(Destination):
    name = "email"
    batch_size = 25
    updates = False

    def __init__(
        self, base_url: str, site_id: str, api_key: str, policy: RetryPolicy | None = None
    ) -> None:
        self.client = ApiClient(self.name, base_url, auth=(site_id, api_key), policy=policy)

    def shut(self) -> None:
        self.client.close()

    def items(self, day: Day) -> list[Item]:
        due = {task["task_key"]: task["due_date"] for task in day.tasks}
        items = []
        for entry in day.automation:
            if not entry["contact_email"]:
                continue
            payload = {
                "identifier": entry["contact_email"],
                "attributes": {
                    "email": entry["contact_email"],
                    "account_id": entry["account_id"],
                    "account_name": entry.get("account_name"),
                },
                "event": {
                    "name": entry["campaign"],
                    "id": event_id(entry["task_key"], due.get(entry["task_key"], day.run_date)),
                    "data": {
                        "task_key": entry["task_key"],
                        "touchpoint": entry["touchpoint"],
                        "channel": entry["channel"],
                        "reason": entry["reason"],
                        "run_date": day.run_date.isoformat(),
                    },
                },
            }
            meta = task_meta(entry, due.get(entry["task_key"], day.run_date))
            items.append(Item(entry["task_key"], payload, meta))
        return items

    def create(self, items: Sequence[Item], day: Day) -> dict[str, str | None]:
        sent = {}
        for item in items:
            path = f"/api/v1/customers/{quote(item.payload['identifier'], safe='')}"
            self.client.request("PUT", path, json=item.payload["attributes"])
            self.client.request("POST", f"{path}/events", json=item.payload["event"])
            sent[item.key] = item.payload["event"]["id"]
        return sent
