"""CRM tasks in a HubSpot-shaped CRM (the CRM v3 objects API for tasks).

Every human task of the day is upserted as a CRM task whose unique property
``touchline_task_key`` holds the ``task_key`` (``POST /crm/v3/objects/tasks/batch/upsert``,
100 per call): a re-sent task updates the same CRM task, never a second one. A task gone
from the day is completed (its touchpoint was satisfied) or archived (snoozed, or no longer
due) in batches. The CSM becomes the task's owner when the CRM has an owner with their
email (``GET /crm/v3/owners``).

:func:`completed_since` reads back the tasks CSMs completed in the CRM (``POST
/crm/v3/objects/tasks/search``, paged), so the next run lands them as activities and does
not raise them again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from touchline.exports.base import Closing, Destination, Item
from touchline.exports.day import Day, task_meta
from touchline.exports.http import ApiClient, ExportError, RetryPolicy

KEY_PROPERTY = "touchline_task_key"
PRIORITIES = {"p1": "HIGH", "p2": "MEDIUM", "p3": "LOW", "p4": "LOW"}
TASK_TYPES = {"phone": "CALL", "video": "CALL", "in_person": "CALL", "email": "EMAIL"}
SEARCH_PAGE = 100
READ_PROPERTIES = [KEY_PROPERTY, "hs_task_status", "hs_task_subject", "hs_lastmodifieddate"]


def _due_morning_ms(day: dt.date) -> str:
    moment = dt.datetime.combine(day, dt.time(9), tzinfo=dt.UTC)  # due in the working morning
    return str(int(moment.timestamp() * 1000))


class HubSpotTasks(Destination):
    name = "crm"
    batch_size = 100
    closes = True

    def __init__(self, base_url: str, token: str, policy: RetryPolicy | None = None) -> None:
        self.client = ApiClient(
            self.name,
            base_url,
            headers={"Authorization": f"Bearer {token}"},
            policy=policy,
        )
        self._owners: dict[str, str | None] = {}

    def shut(self) -> None:
        self.client.close()

    def items(self, day: Day) -> list[Item]:
        items = []
        for task in day.worklist:
            properties = {
                "hs_task_subject": f"{day.label(task['touchpoint'])}: {task['account_name']}",
                "hs_task_body": task["reason"],
                "hs_timestamp": _due_morning_ms(task["due_date"]),
                "hs_task_priority": PRIORITIES.get(task["priority"], "NONE"),
                "hs_task_status": "NOT_STARTED",
                "hs_task_type": TASK_TYPES.get(task["channel"], "TODO"),
            }
            payload = {"properties": properties, "owner_email": task["assignee_email"]}
            meta = task_meta(task)
            items.append(Item(task["task_key"], payload, meta))
        return items

    def _owner_id(self, email: str | None) -> str | None:
        if not email:
            return None
        if email not in self._owners:
            found = self.client.request(
                "GET", "/crm/v3/owners", params={"email": email, "limit": 1}
            ).json()
            results = found.get("results") or []
            self._owners[email] = str(results[0]["id"]) if results else None
        return self._owners[email]

    def create(self, items: Sequence[Item], day: Day) -> dict[str, str | None]:
        inputs = []
        for item in items:
            properties = dict(item.payload["properties"])
            owner = self._owner_id(item.payload.get("owner_email"))
            if owner:
                properties["hubspot_owner_id"] = owner
            inputs.append({"idProperty": KEY_PROPERTY, "id": item.key, "properties": properties})
        answer = self.client.request(
            "POST", "/crm/v3/objects/tasks/batch/upsert", json={"inputs": inputs}
        ).json()
        if answer.get("errors"):
            raise ExportError(f"crm: the upsert reported errors: {answer['errors']!s:.500}")
        remote = {}
        for result in answer.get("results", []):
            key = (result.get("properties") or {}).get(KEY_PROPERTY)
            if key:
                remote[key] = str(result["id"])
        missing = [item.key for item in items if item.key not in remote]
        if missing:
            raise ExportError(f"crm: the upsert did not return {len(missing)} task(s)")
        return remote

    def close(self, closings: Sequence[Closing], day: Day) -> None:
        completed = [c for c in closings if c.reason == "completed"]
        cancelled = [c for c in closings if c.reason != "completed" and c.row.remote_id]
        if completed:
            inputs = [
                {
                    "idProperty": KEY_PROPERTY,
                    "id": c.row.item_key,
                    "properties": {"hs_task_status": "COMPLETED"},
                }
                for c in completed
            ]
            self.client.request(
                "POST", "/crm/v3/objects/tasks/batch/upsert", json={"inputs": inputs}
            )
        if cancelled:
            inputs = [{"id": c.row.remote_id} for c in cancelled]
            self.client.request(
                "POST", "/crm/v3/objects/tasks/batch/archive", json={"inputs": inputs}
            )


def completed_since(
    base_url: str,
    token: str,
    since: dt.datetime,
    until: dt.datetime | None = None,
    policy: RetryPolicy | None = None,
) -> list[dict[str, Any]]:
    """Tasks with a touchline key completed in the CRM from ``since`` to ``until`` (all pages)."""
    client = ApiClient("crm", base_url, headers={"Authorization": f"Bearer {token}"}, policy=policy)
    filters = [
        {"propertyName": "hs_task_status", "operator": "EQ", "value": "COMPLETED"},
        {"propertyName": KEY_PROPERTY, "operator": "HAS_PROPERTY"},
        {
            "propertyName": "hs_lastmodifieddate",
            "operator": "GTE",
            "value": str(int(since.timestamp() * 1000)),
        },
    ]
    if until is not None:
        filters.append(
            {
                "propertyName": "hs_lastmodifieddate",
                "operator": "LTE",
                "value": str(int(until.timestamp() * 1000)),
            }
        )
    found: list[dict[str, Any]] = []
    after: str | None = None
    try:
        while True:
            body: dict[str, Any] = {
                "filterGroups": [{"filters": filters}],
                "properties": READ_PROPERTIES,
                "limit": SEARCH_PAGE,
            }
            if after:
                body["after"] = after
            page = client.request("POST", "/crm/v3/objects/tasks/search", json=body).json()
            found += page.get("results", [])
            after = ((page.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                return found
    finally:
        client.close()
