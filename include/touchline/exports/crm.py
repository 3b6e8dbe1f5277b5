"""CRM tasks in HubSpot (the CRM v3 objects API for tasks, through ``hubspot-api-client``).

Every human task of the day is upserted as a CRM task whose unique property
``touchline_task_key`` holds the ``task_key`` (batch upsert, 100 per call): a re-sent task
updates the same CRM task, never a second one. Each input carries the ``task_key`` as its
``objectWriteTraceId`` and each result is matched to its input by it. The CSM becomes the
task's owner when the CRM has an owner with their email.

A changed task is updated, and a task gone from the day completed (its touchpoint was
satisfied), by the CRM id the ledger holds (batch update), so neither can create a task.
One that was deleted in the CRM (the update refused with 404 ``OBJECT_NOT_FOUND``, then
missing from a batch read) is recorded as closed with the reason ``deleted_in_crm``: it is
not created again and not retried every night. Snoozed or no longer due tasks are archived.

:func:`completed_since` reads back the tasks CSMs completed in the CRM (the search API,
paged, its window halved until each part is under the 10,000 results the API pages to).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable, Sequence
from typing import Any

from urllib3.util.retry import Retry

from touchline import hubspot_client
from touchline.exports.base import Closing, Destination, Item
from touchline.exports.day import Day, task_meta
from touchline.exports.http import ExportError
from touchline.exports.ledger import LedgerRow

log = logging.getLogger(__name__)

KEY_PROPERTY = "touchline_task_key"
DELETED_IN_CRM = "deleted_in_crm"
PRIORITIES = {"p1": "HIGH", "p2": "MEDIUM", "p3": "LOW", "p4": "LOW"}
TASK_TYPES = {"phone": "CALL", "video": "CALL", "in_person": "CALL", "email": "EMAIL"}
SEARCH_PAGE = 200  # the search API's largest page
READ_PROPERTIES = [KEY_PROPERTY, "hs_task_status", "hs_task_subject", "hs_lastmodifieddate"]
TIMEOUT_SECONDS = 60.0


def _due_morning_ms(day: dt.date) -> str:
    moment = dt.datetime.combine(day, dt.time(9), tzinfo=dt.UTC)  # due in the working morning
    return str(int(moment.timestamp() * 1000))


def _ms(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1000)


class _Calls:
    """Calls through the official client; a refusal becomes an :class:`ExportError`."""

    def __init__(
        self, base_url: str | None, token: str, retries: Retry | None, timeout_seconds: float
    ) -> None:
        self.client = hubspot_client.client(base_url, token, retries)
        self.timeout_seconds = timeout_seconds

    def __call__(
        self, what: str, method: Callable[..., Any], /, *, missing_ok: bool = False, **kw: Any
    ) -> dict[str, Any]:
        """HubSpot's JSON answer; ``missing_ok`` returns a 404's body instead of raising."""
        try:
            answer = method(**kw, _request_timeout=self.timeout_seconds, _preload_content=False)
        except Exception as exc:
            status = getattr(exc, "status", None)
            if status is None and not type(exc).__module__.startswith(("urllib3", "hubspot")):
                raise
            body = _error_body(exc)
            if status == 404 and missing_ok and isinstance(body, dict):
                return body
            message = _error_message(body, exc)
            if status and 400 <= status < 500 and status != 429:
                raise ExportError(f"crm: {what} was refused with {status}: {message}") from exc
            raise ExportError(
                f"crm: {what} failed after the retries"
                + (f" with {status}" if status else "")
                + f": {message}"
            ) from exc
        # the request line and status only: the token and the payload stay out of the log
        log.info("crm %s -> %d", what, answer.status)
        return json.loads(answer.data) if answer.data else {}


def _error_body(exc: Exception) -> Any:
    raw = getattr(exc, "body", None)
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)


def _error_message(body: Any, exc: Exception) -> str:
    if isinstance(body, dict):
        return str(body.get("message") or body)[:300]
    if body:
        return str(body)[:300]
    return str(getattr(exc, "reason", None) or type(exc).__name__)[:300]


def _not_found_ids(errors: Sequence[dict[str, Any]]) -> set[str]:
    found: set[str] = set()
    for error in errors:
        if error.get("category") == "OBJECT_NOT_FOUND":
            found.update(str(i) for i in (error.get("context") or {}).get("ids") or [])
    return found


class HubSpotTasks(Destination):
    name = "crm"
    batch_size = 100
    closes = True
    gone_reason = DELETED_IN_CRM

    def __init__(
        self,
        base_url: str | None,
        token: str,
        retries: Retry | None = None,
        timeout_seconds: float = TIMEOUT_SECONDS,
    ) -> None:
        self.call = _Calls(base_url, token, retries, timeout_seconds)
        self._batch = self.call.client.crm.objects.tasks.batch_api  # one connection pool
        self._owners_api = self.call.client.crm.owners.owners_api
        self._owners: dict[str, str | None] = {}

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
            found = self.call(
                "GET /crm/v3/owners",
                self._owners_api.get_page,
                email=email,
                limit=1,
            )
            results = found.get("results") or []
            self._owners[email] = str(results[0]["id"]) if results else None
        return self._owners[email]

    def _properties(self, item: Item) -> dict[str, str]:
        properties = dict(item.payload["properties"])
        owner = self._owner_id(item.payload.get("owner_email"))
        if owner:
            properties["hubspot_owner_id"] = owner
        return properties

    @staticmethod
    def _by_trace(answer: dict[str, Any], what: str) -> dict[str, str | None]:
        if answer.get("errors"):
            raise ExportError(f"crm: the {what} reported errors: {answer['errors']!s:.500}")
        return {
            str(result["objectWriteTraceId"]): str(result["id"])
            for result in answer.get("results") or []
            if result.get("objectWriteTraceId") is not None
        }

    def create(self, items: Sequence[Item], day: Day) -> dict[str, str | None]:
        inputs = [
            {
                "idProperty": KEY_PROPERTY,
                "id": item.key,
                "objectWriteTraceId": item.key,
                "properties": self._properties(item),
            }
            for item in items
        ]
        answer = self.call(
            "POST /crm/v3/objects/tasks/batch/upsert",
            self._batch.upsert,
            batch_input_simple_public_object_batch_input_upsert={"inputs": inputs},
        )
        remote = self._by_trace(answer, "upsert")
        missing = [item.key for item in items if item.key not in remote]
        if missing:
            raise ExportError(f"crm: the upsert did not return {len(missing)} task(s)")
        return remote

    def update(self, items: Sequence[tuple[Item, LedgerRow]], day: Day) -> dict[str, str | None]:
        without_id = [item for item, row in items if not row.remote_id]
        remote = self.create(without_id, day) if without_id else {}
        changes = [
            (item.key, str(row.remote_id), self._properties(item))
            for item, row in items
            if row.remote_id
        ]
        remote.update(self._update_by_id(changes))
        return remote

    def close(self, closings: Sequence[Closing], day: Day) -> None:
        completed = [
            (c.row.item_key, str(c.row.remote_id), {"hs_task_status": "COMPLETED"})
            for c in closings
            if c.reason == "completed" and c.row.remote_id
        ]
        cancelled = [c for c in closings if c.reason != "completed" and c.row.remote_id]
        if completed:
            self._update_by_id(completed)
        if cancelled:
            self.call(
                "POST /crm/v3/objects/tasks/batch/archive",
                self._batch.archive,
                batch_input_simple_public_object_id={
                    "inputs": [{"id": c.row.remote_id} for c in cancelled]
                },
            )

    def _update_by_id(self, changes: list[tuple[str, str, dict[str, str]]]) -> dict[str, str]:
        """Update tasks by CRM id: ``(key, id, properties)``; return ``{key: id}`` updated.

        When the CRM no longer holds some of the ids (a 404 ``OBJECT_NOT_FOUND``), a batch
        read tells which; those are recorded as deleted in the CRM and the rest updated.
        """
        if not changes:
            return {}
        answer = self.call(
            "POST /crm/v3/objects/tasks/batch/update",
            self._batch.update,
            missing_ok=True,
            batch_input_simple_public_object_batch_input={
                "inputs": [
                    {"id": task_id, "objectWriteTraceId": key, "properties": properties}
                    for key, task_id, properties in changes
                ]
            },
        )
        if answer.get("category") == "OBJECT_NOT_FOUND" or (
            answer.get("status") == "error" and "results" not in answer
        ):
            gone = self._deleted([task_id for _, task_id, _ in changes])
            if not gone:
                raise ExportError(f"crm: the batch update was refused: {answer!s:.300}")
            keys = [key for key, task_id, _ in changes if task_id in gone]
            log.warning("crm: %d task(s) were deleted in the CRM; not sent again", len(keys))
            self.report_gone(keys)
            return self._update_by_id([c for c in changes if c[1] not in gone])
        updated = self._by_trace(answer, "update")
        missing = [key for key, _, _ in changes if key not in updated]
        if missing:
            raise ExportError(f"crm: the update did not return {len(missing)} task(s)")
        return updated

    def _deleted(self, task_ids: list[str]) -> set[str]:
        """The ids among ``task_ids`` that the CRM no longer holds (deleted, or never were)."""
        answer = self.call(
            "POST /crm/v3/objects/tasks/batch/read",
            self._batch.read,
            batch_read_input_simple_public_object_id={
                "inputs": [{"id": task_id} for task_id in task_ids],
                "properties": [KEY_PROPERTY],
            },
            archived=False,
        )
        present = {str(result["id"]) for result in answer.get("results") or []}
        gone = {task_id for task_id in task_ids if task_id not in present}
        return gone | (_not_found_ids(answer.get("errors") or []) & set(task_ids))


def completed_since(
    base_url: str | None,
    token: str,
    since: dt.datetime,
    until: dt.datetime,
    retries: Retry | None = None,
    timeout_seconds: float = TIMEOUT_SECONDS,
) -> list[dict[str, Any]]:
    """Tasks with a touchline key completed in the CRM from ``since`` to ``until``: all of them.

    The window is read in slices of under 10,000 results, each page by page; a task is
    returned once even when it moved between slices while they were read.
    """
    call = _Calls(base_url, token, retries, timeout_seconds)
    api = call.client.crm.objects.tasks.search_api

    def search(lo: int, hi: int, after: str | None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "filterGroups": [
                {
                    "filters": [
                        {"propertyName": "hs_task_status", "operator": "EQ", "value": "COMPLETED"},
                        {"propertyName": KEY_PROPERTY, "operator": "HAS_PROPERTY"},
                        {"propertyName": "hs_lastmodifieddate", "operator": "GT", "value": str(lo)},
                        {
                            "propertyName": "hs_lastmodifieddate",
                            "operator": "LTE",
                            "value": str(hi),
                        },
                    ]
                }
            ],
            "sorts": [{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}],
            "properties": READ_PROPERTIES,
            "limit": SEARCH_PAGE,
        }
        if after:
            body["after"] = after
        return call(
            "POST /crm/v3/objects/tasks/search", api.do_search, public_object_search_request=body
        )

    found: dict[str, dict[str, Any]] = {}
    for task in hubspot_client.search_in_slices(
        search, _ms(since) - 1, _ms(until), what="completed tasks", error=ExportError
    ):
        found[str(task["id"])] = task
    return list(found.values())
