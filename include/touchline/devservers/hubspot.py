"""A local server shaped like HubSpot's CRM v3 API: tasks, owners and the CRM objects.

Imitated (paths, bodies and error shapes as HubSpot documents them):

* ``POST /crm/v3/objects/tasks/batch/upsert``: upsert by a unique property, at most 100
  inputs, duplicates within a batch rejected, ``hs_task_status`` / ``hs_task_priority``
  enumerations checked, ``hs_timestamp`` required on create. A batch is validated as a whole
  and applied all or nothing. An input's ``objectWriteTraceId`` is echoed on its result.
* ``POST /crm/v3/objects/tasks/batch/update``: at most 100 inputs by task id, with their
  ``objectWriteTraceId`` echoed; an id that does not exist (or was deleted) refuses the
  batch with 404 ``OBJECT_NOT_FOUND`` naming the ids.
* ``POST /crm/v3/objects/tasks/batch/read``: at most 100 ids; ids that do not exist (or
  were deleted) come back as errors with status 207, as HubSpot answers.
* ``POST /crm/v3/objects/tasks/batch/archive``: at most 100 ids, unknown ids ignored, 204.
* ``POST /crm/v3/objects/tasks/search``: filter groups (AND within a group, OR across groups)
  with ``EQ``, ``NEQ``, ``GT``, ``GTE``, ``LT``, ``LTE``, ``IN``, ``HAS_PROPERTY`` and
  ``NOT_HAS_PROPERTY``; ``limit`` up to 200; offset cursors in ``after``; the 10,000-result
  ceiling of the search API.
* ``GET /crm/v3/owners`` (``email``, ``limit`` up to 500, ``after``) and
  ``GET /crm/v3/owners/{id}``.
* ``GET /crm/v3/objects/{object}`` for companies, contacts, deals and line items
  (``limit`` up to 100, ``after``, ``properties``, ``archived=true`` for the archived ones
  with their ``archivedAt``), and ``POST /crm/v3/objects/{object}/search`` with the same
  filters as tasks, one sort (``propertyName``, ``ASCENDING`` / ``DESCENDING``), ``total``
  and the 10,000-result ceiling (paging past it is a 400, as HubSpot answers).
* ``POST /crm/v4/associations/{from}/{to}/batch/read``: at most 1,000 ids; ids without an
  association of that type come back as errors with status 207, as HubSpot answers.
* Bearer-token authentication with HubSpot's 401 body.

Objects are seeded and changed by the test helpers (:meth:`HubSpotServer.add`,
:meth:`HubSpotServer.update`, :meth:`HubSpotServer.archive`,
:meth:`HubSpotServer.associate`); tasks by the export itself, or by
:meth:`HubSpotServer.add_tasks` and :meth:`HubSpotServer.delete_task`. Their
``createdate`` and ``hs_lastmodifieddate`` (``lastmodifieddate`` for contacts) are answered
as ISO 8601 strings and compared as epoch milliseconds in search filters.

Not imitated: other object types, single-object endpoints, sorting of tasks (they are
always ordered by id), full-text ``query``, eventual consistency of the search index,
per-property type checks beyond the ones above, and the real rate limits (inject them with
:meth:`~touchline.devservers.base.FakeServer.fail_next`). ``hs_createdate`` and
``hs_lastmodifieddate`` are kept as epoch-millisecond strings; each change gets a strictly
later value than the one before, so "modified since" filters are exact.
"""

from __future__ import annotations

import bisect
import datetime as dt
import hashlib
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from touchline.devservers.base import FakeServer, Reply, Request

TASKS = "/crm/v3/objects/tasks"
OWNERS = "/crm/v3/owners"
BATCH_LIMIT = 100
SEARCH_LIMIT_MAX = 200
SEARCH_RESULTS_MAX = 10_000
OWNERS_LIMIT_MAX = 500
TASK_STATUSES = frozenset({"NOT_STARTED", "IN_PROGRESS", "WAITING", "COMPLETED", "DEFERRED"})
TASK_PRIORITIES = frozenset({"LOW", "MEDIUM", "HIGH", "NONE"})
DATE_PROPERTIES = frozenset(
    {"hs_createdate", "hs_lastmodifieddate", "createdate", "lastmodifieddate"}
)
CRM_OBJECTS = ("companies", "contacts", "deals", "line_items")
OBJECTS = "/crm/v3/objects"
ASSOCIATIONS = "/crm/v4/associations"
LIST_LIMIT_MAX = 100
ASSOCIATIONS_BATCH_MAX = 1000
FIRST_OBJECT_ID = 30001
# the association type HubSpot gives a record's primary company
PRIMARY_TYPE_IDS = {("contacts", "companies"): 1, ("deals", "companies"): 5}
UNLABELED_TYPE_IDS = {
    ("contacts", "companies"): 279,
    ("deals", "companies"): 341,
    ("line_items", "deals"): 20,
}


def modified_property(object_type: str) -> str:
    """The last-modified property HubSpot keeps on an object type."""
    return "lastmodifieddate" if object_type == "contacts" else "hs_lastmodifieddate"


ALWAYS_RETURNED = ("hs_object_id", "hs_createdate", "hs_lastmodifieddate")
FIRST_TASK_ID = 1001

DEFAULT_OWNERS: tuple[dict[str, str], ...] = (
    {"id": "501", "email": "ana@x.example", "firstName": "Ana", "lastName": "X"},
    {"id": "502", "email": "ben@x.example", "firstName": "Ben", "lastName": "Y"},
)

_CATEGORY = {
    400: "VALIDATION_ERROR",
    401: "INVALID_AUTHENTICATION",
    404: "OBJECT_NOT_FOUND",
    405: "VALIDATION_ERROR",
    413: "VALIDATION_ERROR",
    429: "RATE_LIMITS",
}


class HubSpotError(Exception):
    """A 400 VALIDATION_ERROR answer."""


def _iso(ms: int) -> str:
    moment = dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def _is_timestamp(value: str) -> bool:
    """True for epoch milliseconds (digits) or an ISO 8601 date or date-time."""
    if value.isdigit():
        return True
    try:
        dt.datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def _as_property(value: Any) -> str:
    """HubSpot stores every property value as a string."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _offset(raw: Any) -> int:
    if raw is None or raw == "":
        return 0
    text = str(raw)
    if not text.isdigit():
        raise HubSpotError(f"Invalid paging cursor: {text!r}")
    return int(text)


def owner_id_for(email: str) -> str:
    """A stable numeric owner id for an email address that is not configured."""
    digest = hashlib.sha1(email.strip().lower().encode()).hexdigest()
    return str(int(digest[:8], 16))


class HubSpotServer(FakeServer):
    """HubSpot-shaped tasks and owners API; see the module docstring.

    ``owners`` are dicts with ``id``, ``email``, ``firstName`` and ``lastName``. With
    ``accept_any_email`` an owner lookup for an unknown email answers a made-up owner whose
    id is derived from the email (see :func:`owner_id_for`). An owner may carry ``teams``
    (``[{"id", "name", "primary"}]``), answered as HubSpot does. ``clock`` returns epoch
    seconds. ``default_properties`` are answered on every CRM object whether asked for or
    not, as a property HubSpot starts returning by default would be.
    """

    name = "hubspot"

    def __init__(
        self,
        token: str = "test-token",
        *,
        owners: Iterable[dict[str, str]] | None = None,
        id_property: str = "touchline_task_key",
        accept_any_email: bool = False,
        clock: Callable[[], float] = time.time,
        default_properties: dict[str, str] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        verbose: bool = False,
    ) -> None:
        self.token = token
        self.id_property = id_property
        self.accept_any_email = accept_any_email
        self.clock = clock
        self.owners = [dict(o) for o in (owners if owners is not None else DEFAULT_OWNERS)]
        self.default_properties = dict(default_properties or {})
        super().__init__(host, port, verbose=verbose)

    # ------------------------------------------------------------------ state

    def _reset_state(self) -> None:
        self._tasks: dict[str, dict[str, Any]] = {}
        self._next_id = FIRST_TASK_ID
        self._last_ms = 0
        self._objects: dict[str, dict[str, dict[str, Any]]] = {t: {} for t in CRM_OBJECTS}
        # (from type, to type) -> from id -> {to id: association type id}
        self._links: dict[tuple[str, str], dict[str, dict[str, int]]] = {}
        self._next_object_id = FIRST_OBJECT_ID
        self._version = 0  # bumped by every change of a CRM object
        self._by_modified: dict[str, tuple[int, list[tuple[int, int]], list[dict[str, Any]]]] = {}

    def _snapshot_state(self) -> dict[str, Any]:
        return {
            "tasks": [t for t in self._ordered() if not t["archived"]],
            "archived_tasks": [t for t in self._ordered() if t["archived"]],
            "owners": self.owners,
            "objects": {
                object_type: {
                    "live": sum(1 for r in records.values() if not r["archived"]),
                    "archived": sum(1 for r in records.values() if r["archived"]),
                }
                for object_type, records in self._objects.items()
            },
        }

    def summary(self) -> str:
        with self.lock:
            live = [t for t in self._tasks.values() if not t["archived"]]
            done = sum(1 for t in live if t["properties"].get("hs_task_status") == "COMPLETED")
            return (
                f"{self.name}: {len(live)} tasks ({done} completed), {len(self.requests)} requests"
            )

    def _tick(self) -> int:
        """Epoch milliseconds, strictly increasing across calls."""
        self._last_ms = max(int(self.clock() * 1000), self._last_ms + 1)
        return self._last_ms

    def _ordered(self) -> list[dict[str, Any]]:
        return [self._tasks[k] for k in sorted(self._tasks, key=int)]

    def _live_by_key(self, key: str) -> dict[str, Any] | None:
        for task in self._tasks.values():
            if not task["archived"] and task["properties"].get(self.id_property) == key:
                return task
        return None

    # ------------------------------------------------------------------ test helpers

    def tasks(self) -> list[dict[str, Any]]:
        """Non-archived tasks, ordered by id (copies)."""
        with self.lock:
            return self.copy([t for t in self._ordered() if not t["archived"]])

    def archived_tasks(self) -> list[dict[str, Any]]:
        """Archived tasks, ordered by id (copies)."""
        with self.lock:
            return self.copy([t for t in self._ordered() if t["archived"]])

    def task_by_key(self, task_key: str) -> dict[str, Any] | None:
        """The non-archived task whose unique property equals ``task_key`` (a copy), or None."""
        with self.lock:
            return self.copy(self._live_by_key(task_key))

    def complete(self, task_key: str) -> dict[str, Any]:
        """Mark a task COMPLETED as a CSM would in the CRM; bumps ``hs_lastmodifieddate``."""
        with self.lock:
            task = self._live_by_key(task_key)
            if task is None:
                raise KeyError(task_key)
            self._touch(task, {"hs_task_status": "COMPLETED"})
            return self.copy(task)

    def delete_task(self, task_key: str) -> str:
        """Delete a task as a user would in the CRM (kept as archived); returns its id."""
        with self.lock:
            task = self._live_by_key(task_key)
            if task is None:
                raise KeyError(task_key)
            ms = self._tick()
            task["archived"] = True
            task["archivedAt"] = task["updatedAt"] = _iso(ms)
            return str(task["id"])

    def add_tasks(self, rows: Iterable[tuple[dict[str, Any], int]]) -> list[str]:
        """Create tasks as users would, each with its last-modified time in epoch ms."""
        ids = []
        with self.lock:
            for properties, modified_ms in rows:
                task = self._create({str(k): _as_property(v) for k, v in properties.items()})
                task["properties"]["hs_lastmodifieddate"] = str(modified_ms)
                task["updatedAt"] = _iso(modified_ms)
                ids.append(str(task["id"]))
        return ids

    def count_by_key(self) -> dict[str, int]:
        """``{task_key: number of non-archived tasks carrying it}``; any value above 1 is a bug."""
        with self.lock:
            return dict(
                Counter(
                    t["properties"].get(self.id_property)
                    for t in self._tasks.values()
                    if not t["archived"]
                )
            )

    # ------------------------------------------------------------------ CRM objects

    def add(
        self,
        object_type: str,
        properties: dict[str, Any],
        *,
        modified_ms: int | None = None,
        created_ms: int | None = None,
    ) -> str:
        """Create a record as a user would in HubSpot; returns its id.

        ``modified_ms`` and ``created_ms`` (epoch milliseconds) default to the clock.
        """
        with self.lock:
            records = self._records(object_type)
            self._version += 1
            record_id = str(self._next_object_id)
            self._next_object_id += 1
            ms = self._tick() if modified_ms is None else modified_ms
            created = ms if created_ms is None else created_ms
            records[record_id] = {
                "id": record_id,
                "properties": {
                    **{str(k): _as_property(v) for k, v in properties.items()},
                    "hs_object_id": record_id,
                    "createdate": str(created),
                    modified_property(object_type): str(ms),
                },
                "createdMs": created,
                "updatedMs": ms,
                "archived": False,
            }
            return record_id

    def add_many(self, object_type: str, rows: Iterable[tuple[dict[str, Any], int]]) -> list[str]:
        """Create many records at once: ``(properties, modified_ms)`` each; returns the ids."""
        with self.lock:
            return [self.add(object_type, props, modified_ms=ms) for props, ms in rows]

    def update(
        self, object_type: str, record_id: str, properties: dict[str, Any], *, modified_ms=None
    ) -> None:
        """Change a record's properties (None removes one) and bump its last-modified date."""
        with self.lock:
            record = self._records(object_type)[record_id]
            self._version += 1
            ms = self._tick() if modified_ms is None else modified_ms
            for name, value in properties.items():
                if value is None:
                    record["properties"].pop(str(name), None)
                else:
                    record["properties"][str(name)] = _as_property(value)
            record["properties"][modified_property(object_type)] = str(ms)
            record["updatedMs"] = ms

    def archive(self, object_type: str, record_id: str, *, archived_ms: int | None = None) -> None:
        """Delete a record as a user would (HubSpot keeps it as archived)."""
        with self.lock:
            record = self._records(object_type)[record_id]
            self._version += 1
            ms = self._tick() if archived_ms is None else archived_ms
            record["archived"] = True
            record["archivedMs"] = ms
            record["updatedMs"] = ms

    def associate(
        self, from_type: str, from_id: str, to_type: str, to_id: str, *, primary: bool = False
    ) -> None:
        """Associate two records, in both directions (the primary label when ``primary``)."""
        with self.lock:
            pair = (from_type, to_type)
            type_id = (PRIMARY_TYPE_IDS if primary else UNLABELED_TYPE_IDS).get(pair, 1)
            self._links.setdefault(pair, {}).setdefault(from_id, {})[to_id] = type_id
            back = self._links.setdefault((to_type, from_type), {}).setdefault(to_id, {})
            back.setdefault(from_id, UNLABELED_TYPE_IDS.get((to_type, from_type), 1))

    def _records(self, object_type: str) -> dict[str, dict[str, Any]]:
        if object_type not in self._objects:
            raise KeyError(f"not an imitated object type: {object_type}")
        return self._objects[object_type]

    def _object_json(
        self, object_type: str, record: dict[str, Any], requested: list[str]
    ) -> dict[str, Any]:
        modified = modified_property(object_type)
        names = dict.fromkeys(
            [*requested, "hs_object_id", "createdate", modified, *self.default_properties]
        )
        properties: dict[str, str | None] = {}
        for name in names:
            value = record["properties"].get(name, self.default_properties.get(name))
            if name in DATE_PROPERTIES and value:
                value = _iso(int(value))
            if value is not None or name in requested:
                properties[name] = value
        answer: dict[str, Any] = {
            "id": record["id"],
            "properties": properties,
            "createdAt": _iso(record["createdMs"]),
            "updatedAt": _iso(record["updatedMs"]),
            "archived": record["archived"],
        }
        if record["archived"]:
            answer["archivedAt"] = _iso(record["archivedMs"])
        return answer

    def _list_objects(self, request: Request, object_type: str) -> Reply:
        raw_limit = request.arg("limit") or "10"
        if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= LIST_LIMIT_MAX:
            raise HubSpotError(f"limit must be between 1 and {LIST_LIMIT_MAX}")
        limit = int(raw_limit)
        offset = _offset(request.arg("after"))
        archived = (request.arg("archived") or "false").lower() == "true"
        requested = [
            name for value in request.query.get("properties", []) for name in value.split(",")
        ]
        records = self._records(object_type)
        matches = [
            records[k] for k in sorted(records, key=int) if records[k]["archived"] == archived
        ]
        page = matches[offset : offset + limit]
        payload: dict[str, Any] = {
            "results": [self._object_json(object_type, r, requested) for r in page]
        }
        if offset + limit < len(matches):
            after = str(offset + limit)
            payload["paging"] = {
                "next": {"after": after, "link": f"{OBJECTS}/{object_type}?after={after}"}
            }
        return Reply(200, payload)

    def _search_objects(self, request: Request, object_type: str) -> Reply:
        body, limit, offset, groups, requested = self._search_body(request)
        sorts = body.get("sorts") or []
        if not isinstance(sorts, list) or len(sorts) > 1:
            raise HubSpotError("sorts must be a list of at most one sort")
        modified = modified_property(object_type)
        candidates = self._modified_between(object_type, groups)
        if self._only_modified_range(object_type, groups):
            matches = candidates  # the index applied every filter exactly
        else:
            matches = [
                record
                for record in candidates
                if not groups or any(self._matches(record, g.get("filters", [])) for g in groups)
            ]
        if sorts and sorts[0] != {"propertyName": modified, "direction": "ASCENDING"}:
            matches = self._sorted(matches, sorts[0])
        elif not sorts:
            matches.sort(key=lambda record: int(record["id"]))
        page = matches[offset : offset + limit]
        payload: dict[str, Any] = {
            "total": len(matches),
            "results": [self._object_json(object_type, r, list(map(str, requested))) for r in page],
        }
        if offset + limit < len(matches):
            payload["paging"] = {"next": {"after": str(offset + limit)}}
        return Reply(200, payload)

    @staticmethod
    def _only_modified_range(object_type: str, groups: list[Any]) -> bool:
        modified = modified_property(object_type)
        return len(groups) == 1 and all(
            flt.get("propertyName") == modified
            and flt.get("operator") in ("GT", "GTE", "LT", "LTE")
            for flt in groups[0].get("filters", [])
        )

    def _modified_between(self, object_type: str, groups: list[Any]) -> list[dict[str, Any]]:
        """Live records by last-modified date, narrowed to a single group's date range.

        Only an index: the filters are still applied to every record it returns.
        """
        modified = modified_property(object_type)
        cached = self._by_modified.get(object_type)
        if cached is None or cached[0] != self._version:
            live = [r for r in self._records(object_type).values() if not r["archived"]]
            live.sort(key=lambda r: (int(r["properties"][modified]), int(r["id"])))
            keys = [(int(r["properties"][modified]), int(r["id"])) for r in live]
            cached = (self._version, keys, live)
            self._by_modified[object_type] = cached
        _, keys, live = cached
        low, high = 0, len(live)
        if len(groups) == 1:
            for flt in groups[0].get("filters", []):
                if flt.get("propertyName") != modified:
                    continue
                value = int(_as_property(flt.get("value")))
                operator = flt.get("operator")
                if operator == "GT":
                    low = max(low, bisect.bisect_right(keys, (value, sys.maxsize)))
                elif operator == "GTE":
                    low = max(low, bisect.bisect_left(keys, (value, -1)))
                elif operator == "LT":
                    high = min(high, bisect.bisect_left(keys, (value, -1)))
                elif operator == "LTE":
                    high = min(high, bisect.bisect_right(keys, (value, sys.maxsize)))
        return live[low:high]

    @staticmethod
    def _sorted(records: list[dict[str, Any]], sort: Any) -> list[dict[str, Any]]:
        if not isinstance(sort, dict) or not sort.get("propertyName"):
            raise HubSpotError("Each sort needs a 'propertyName'")
        name = sort["propertyName"]
        direction = sort.get("direction", "ASCENDING")
        if direction not in ("ASCENDING", "DESCENDING"):
            raise HubSpotError(f"Unsupported sort direction: {direction!r}")

        def key(record: dict[str, Any]) -> tuple[int, Any, int]:
            value = record["properties"].get(name)
            if value in (None, ""):
                return (1, "", int(record["id"]))
            if name in DATE_PROPERTIES or value.lstrip("-").isdigit():
                return (0, int(value), int(record["id"]))
            return (0, value, int(record["id"]))

        return sorted(records, key=key, reverse=direction == "DESCENDING")

    def _read_associations(self, request: Request, from_type: str, to_type: str) -> Reply:
        body = request.json
        if not isinstance(body, dict) or not isinstance(body.get("inputs"), list):
            raise HubSpotError("Invalid input JSON: 'inputs' must be an array")
        inputs = body["inputs"]
        if len(inputs) > ASSOCIATIONS_BATCH_MAX:
            raise HubSpotError(f"Batch size limit is {ASSOCIATIONS_BATCH_MAX}")
        links = self._links.get((from_type, to_type), {})
        started = _iso(int(self.clock() * 1000))
        results, errors = [], []
        for item in inputs:
            if not isinstance(item, dict) or "id" not in item:
                raise HubSpotError("Each input needs an 'id'")
            from_id = str(item["id"])
            found = links.get(from_id)
            if not found:
                errors.append(
                    {
                        "status": "error",
                        "category": "OBJECT_NOT_FOUND",
                        "subCategory": "crm.associations.NO_ASSOCIATIONS_FOUND",
                        "message": f"No {to_type} is associated with {from_type} {from_id}.",
                        "context": {"fromObjectId": [from_id]},
                        "errors": [],
                        "links": {},
                    }
                )
                continue
            results.append(
                {
                    "from": {"id": from_id},
                    "to": [
                        {
                            "toObjectId": int(to_id),
                            "associationTypes": [
                                {
                                    "category": "HUBSPOT_DEFINED",
                                    "typeId": type_id,
                                    "label": "Primary"
                                    if type_id == PRIMARY_TYPE_IDS.get((from_type, to_type))
                                    else None,
                                }
                            ],
                        }
                        for to_id, type_id in sorted(found.items(), key=lambda kv: int(kv[0]))
                    ],
                }
            )
        payload: dict[str, Any] = {
            "status": "COMPLETE",
            "results": results,
            "startedAt": started,
            "completedAt": _iso(int(self.clock() * 1000)),
        }
        if errors:
            payload["errors"] = errors
            payload["numErrors"] = len(errors)
            return Reply(207, payload)
        return Reply(200, payload)

    # ------------------------------------------------------------------ HTTP

    def error_payload(self, status: int, message: str) -> Any:
        if status == 401:
            message = "Authentication credentials not found."
        elif status == 429:
            message = "You have reached your ten_secondly_rolling limit."
        payload = {
            "status": "error",
            "message": message,
            "category": _CATEGORY.get(status, "INTERNAL_ERROR"),
        }
        if status == 429:
            payload["errorType"] = "RATE_LIMIT"
        return payload

    def handle(self, request: Request) -> Reply:
        if request.headers.get("authorization", "") != f"Bearer {self.token}":
            return self.error(401)
        path = request.path.rstrip("/")
        routes: dict[str, tuple[str, Callable[[Request], Reply]]] = {
            f"{TASKS}/batch/upsert": ("POST", self._upsert),
            f"{TASKS}/batch/archive": ("POST", self._archive),
            f"{TASKS}/batch/update": ("POST", self._update),
            f"{TASKS}/batch/read": ("POST", self._read),
            f"{TASKS}/search": ("POST", self._search),
            OWNERS: ("GET", self._owners),
        }
        parts = path.split("/")
        if path in routes:
            method, endpoint = routes[path]
        elif path.startswith(f"{OWNERS}/") and path.count("/") == 4:
            method, endpoint = "GET", self._owner
        elif path.startswith(f"{OBJECTS}/") and len(parts) == 5 and parts[4] in CRM_OBJECTS:
            method, endpoint = "GET", lambda r: self._list_objects(r, parts[4])
        elif path.startswith(f"{OBJECTS}/") and len(parts) == 6 and parts[5] == "search":
            if parts[4] not in CRM_OBJECTS:
                return self.not_found()
            method, endpoint = "POST", lambda r: self._search_objects(r, parts[4])
        elif (
            path.startswith(f"{ASSOCIATIONS}/")
            and len(parts) == 8
            and parts[6:] == ["batch", "read"]
            and parts[4] in CRM_OBJECTS
            and parts[5] in CRM_OBJECTS
        ):
            method, endpoint = "POST", lambda r: self._read_associations(r, parts[4], parts[5])
        else:
            return self.not_found()
        if request.method != method:
            return self.method_not_allowed()
        if not request.json_valid:
            return self.error(400, "Invalid input JSON on line 1")
        try:
            return endpoint(request)
        except HubSpotError as exc:
            return self.error(400, str(exc))

    def _inputs(self, request: Request) -> list[Any]:
        body = request.json
        if not isinstance(body, dict) or not isinstance(body.get("inputs"), list):
            raise HubSpotError("Invalid input JSON: 'inputs' must be an array")
        inputs = body["inputs"]
        if len(inputs) > BATCH_LIMIT:
            raise HubSpotError(f"Batch size limit is {BATCH_LIMIT}")
        return inputs

    def _check_properties(self, properties: dict[str, str], creating: bool) -> None:
        status = properties.get("hs_task_status")
        if status is not None and status not in TASK_STATUSES:
            raise HubSpotError(
                f'Property values were not valid: "{status}" was not one of the allowed '
                "options for hs_task_status"
            )
        priority = properties.get("hs_task_priority")
        if priority is not None and priority not in TASK_PRIORITIES:
            raise HubSpotError(
                f'Property values were not valid: "{priority}" was not one of the allowed '
                "options for hs_task_priority"
            )
        stamp = properties.get("hs_timestamp")
        if stamp is not None and not _is_timestamp(stamp):
            raise HubSpotError(f'Property values were not valid: "{stamp}" is not a valid date')
        if creating and not stamp:
            raise HubSpotError("Property values were not valid: hs_timestamp is required")

    def _upsert(self, request: Request) -> Reply:
        started = _iso(int(self.clock() * 1000))
        plan: list[tuple[str, dict[str, str], dict[str, Any] | None]] = []
        seen: set[str] = set()
        for item in self._inputs(request):
            if not isinstance(item, dict):
                raise HubSpotError("Each input must be an object")
            if item.get("idProperty") != self.id_property:
                raise HubSpotError(
                    f"idProperty must be the unique property {self.id_property!r}, "
                    f"got {item.get('idProperty')!r}"
                )
            key = item.get("id")
            if not isinstance(key, str | int) or isinstance(key, bool) or str(key) == "":
                raise HubSpotError("Each input needs a non-empty 'id'")
            key = str(key)
            if key in seen:
                raise HubSpotError(f"Duplicate IDs found in batch input: [{key}]")
            seen.add(key)
            raw = item.get("properties", {})
            if not isinstance(raw, dict):
                raise HubSpotError("'properties' must be an object")
            properties = {str(k): _as_property(v) for k, v in raw.items()}
            existing = self._live_by_key(key)
            self._check_properties(properties, creating=existing is None)
            properties[self.id_property] = key
            plan.append((item.get("objectWriteTraceId"), properties, existing))

        results = []
        for trace, properties, existing in plan:
            if existing is None:
                task = self._create(properties)
            else:
                task = self._touch(existing, properties)
            result = self.copy(task)
            result["new"] = existing is None
            if trace is not None:
                result["objectWriteTraceId"] = str(trace)
            results.append(result)
        return Reply(
            200,
            {
                "status": "COMPLETE",
                "results": results,
                "startedAt": started,
                "completedAt": _iso(int(self.clock() * 1000)),
            },
            applied=True,
        )

    def _create(self, properties: dict[str, str]) -> dict[str, Any]:
        task_id = str(self._next_id)
        self._next_id += 1
        ms = self._tick()
        task = {
            "id": task_id,
            "properties": {
                **properties,
                "hs_object_id": task_id,
                "hs_createdate": str(ms),
                "hs_lastmodifieddate": str(ms),
            },
            "createdAt": _iso(ms),
            "updatedAt": _iso(ms),
            "archived": False,
        }
        self._tasks[task_id] = task
        return task

    def _touch(self, task: dict[str, Any], properties: dict[str, str]) -> dict[str, Any]:
        ms = self._tick()
        protected = {"hs_object_id", "hs_createdate", "hs_lastmodifieddate"}
        task["properties"].update({k: v for k, v in properties.items() if k not in protected})
        task["properties"]["hs_lastmodifieddate"] = str(ms)
        task["updatedAt"] = _iso(ms)
        return task

    def _live_task(self, task_id: str) -> dict[str, Any] | None:
        task = self._tasks.get(task_id)
        return task if task is not None and not task["archived"] else None

    def _not_found(self, ids: list[str]) -> dict[str, Any]:
        return {
            "status": "error",
            "category": "OBJECT_NOT_FOUND",
            "message": "Could not get some TASK objects, they may be deleted or not exist. "
            "Check that ids are valid.",
            "context": {"ids": ids},
        }

    def _update(self, request: Request) -> Reply:
        started = _iso(int(self.clock() * 1000))
        plan: list[tuple[Any, dict[str, str], str]] = []
        for item in self._inputs(request):
            if not isinstance(item, dict) or not str(item.get("id") or ""):
                raise HubSpotError("Each input needs an 'id'")
            raw = item.get("properties", {})
            if not isinstance(raw, dict):
                raise HubSpotError("'properties' must be an object")
            properties = {str(k): _as_property(v) for k, v in raw.items()}
            self._check_properties(properties, creating=False)
            plan.append((item.get("objectWriteTraceId"), properties, str(item["id"])))
        missing = [task_id for _, _, task_id in plan if self._live_task(task_id) is None]
        if missing:
            return Reply(404, self._not_found(missing))
        results = []
        for trace, properties, task_id in plan:
            result = self.copy(self._touch(self._tasks[task_id], properties))
            if trace is not None:
                result["objectWriteTraceId"] = str(trace)
            results.append(result)
        return Reply(
            200,
            {
                "status": "COMPLETE",
                "results": results,
                "startedAt": started,
                "completedAt": _iso(int(self.clock() * 1000)),
            },
            applied=True,
        )

    def _read(self, request: Request) -> Reply:
        started = _iso(int(self.clock() * 1000))
        ids = []
        for item in self._inputs(request):
            if not isinstance(item, dict) or "id" not in item:
                raise HubSpotError("Each input needs an 'id'")
            ids.append(str(item["id"]))
        requested = (request.json or {}).get("properties") or []
        names = list(dict.fromkeys([*map(str, requested), *ALWAYS_RETURNED]))
        results, missing = [], []
        for task_id in dict.fromkeys(ids):
            task = self._live_task(task_id)
            if task is None:
                missing.append(task_id)
                continue
            results.append(
                {
                    "id": task["id"],
                    "properties": {n: task["properties"].get(n) for n in names},
                    "createdAt": task["createdAt"],
                    "updatedAt": task["updatedAt"],
                    "archived": False,
                }
            )
        payload: dict[str, Any] = {
            "status": "COMPLETE",
            "results": results,
            "startedAt": started,
            "completedAt": _iso(int(self.clock() * 1000)),
        }
        if missing:
            payload["numErrors"] = 1
            payload["errors"] = [self._not_found(missing)]
        return Reply(207 if missing else 200, payload)

    def _archive(self, request: Request) -> Reply:
        ids = []
        for item in self._inputs(request):
            if not isinstance(item, dict) or "id" not in item:
                raise HubSpotError("Each input needs an 'id'")
            ids.append(str(item["id"]))
        for task_id in ids:
            task = self._tasks.get(task_id)
            if task is not None and not task["archived"]:
                ms = self._tick()
                task["archived"] = True
                task["archivedAt"] = _iso(ms)
                task["updatedAt"] = _iso(ms)
        return Reply(204, applied=True)

    def _search(self, request: Request) -> Reply:
        _, limit, offset, groups, requested = self._search_body(request)

        matches = [
            t
            for t in self._ordered()
            if not t["archived"]
            and (not groups or any(self._matches(t, g.get("filters", [])) for g in groups))
        ]
        page = matches[offset : offset + limit]
        results = []
        for task in page:
            names = list(dict.fromkeys([*map(str, requested), *ALWAYS_RETURNED]))
            results.append(
                {
                    "id": task["id"],
                    "properties": {n: task["properties"].get(n) for n in names},
                    "createdAt": task["createdAt"],
                    "updatedAt": task["updatedAt"],
                    "archived": False,
                }
            )
        payload: dict[str, Any] = {"total": len(matches), "results": results}
        if offset + limit < len(matches):
            payload["paging"] = {"next": {"after": str(offset + limit)}}
        return Reply(200, payload)

    def _search_body(self, request: Request) -> tuple[dict, int, int, list, list]:
        """A search request's body, checked as HubSpot checks it: the body, the page size,
        the offset (``after``), the filter groups and the properties asked for."""
        body = request.json if request.json is not None else {}
        if not isinstance(body, dict):
            raise HubSpotError("Invalid input JSON: expected an object")
        limit = body.get("limit", 10)
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit:
            raise HubSpotError("limit must be a positive integer")
        if limit > SEARCH_LIMIT_MAX:
            raise HubSpotError(f"limit must be at most {SEARCH_LIMIT_MAX}")
        offset = _offset(body.get("after"))
        if offset + limit > SEARCH_RESULTS_MAX:
            raise HubSpotError(
                f"The search API returns at most {SEARCH_RESULTS_MAX} results; "
                "narrow the filters instead of paging further"
            )
        groups = body.get("filterGroups") or []
        if not isinstance(groups, list) or len(groups) > 5:
            raise HubSpotError("filterGroups must be a list of at most 5 groups")
        for group in groups:
            if not isinstance(group, dict) or not isinstance(group.get("filters", []), list):
                raise HubSpotError("Each filter group needs a 'filters' list")
            for flt in group.get("filters", []):
                self._check_filter(flt)
        requested = body.get("properties") or []
        if not isinstance(requested, list):
            raise HubSpotError("properties must be a list")
        return body, limit, offset, groups, requested

    _OPERATORS = frozenset(
        {"EQ", "NEQ", "GT", "GTE", "LT", "LTE", "IN", "HAS_PROPERTY", "NOT_HAS_PROPERTY"}
    )

    def _check_filter(self, flt: Any) -> None:
        if not isinstance(flt, dict) or not flt.get("propertyName"):
            raise HubSpotError("Each filter needs a 'propertyName'")
        operator = flt.get("operator")
        if operator not in self._OPERATORS:
            raise HubSpotError(f"Unsupported filter operator: {operator!r}")
        if operator == "IN" and not isinstance(flt.get("values"), list):
            raise HubSpotError("Operator IN needs 'values'")
        if operator not in ("IN", "HAS_PROPERTY", "NOT_HAS_PROPERTY") and "value" not in flt:
            raise HubSpotError(f"Operator {operator} needs a 'value'")
        if flt["propertyName"] in DATE_PROPERTIES and operator in ("GT", "GTE", "LT", "LTE"):
            if not _as_property(flt.get("value")).lstrip("-").isdigit():
                raise HubSpotError(f"{flt['propertyName']} is compared as epoch milliseconds")

    def _matches(self, task: dict[str, Any], filters: list[dict[str, Any]]) -> bool:
        return all(self._match(task, flt) for flt in filters)

    def _match(self, task: dict[str, Any], flt: dict[str, Any]) -> bool:
        name = flt["propertyName"]
        operator = flt["operator"]
        actual = task["properties"].get(name)
        present = actual not in (None, "")
        if operator == "HAS_PROPERTY":
            return present
        if operator == "NOT_HAS_PROPERTY":
            return not present
        if operator == "IN":
            return actual in {_as_property(v) for v in flt["values"]}
        wanted = _as_property(flt.get("value"))
        if operator == "NEQ":
            return actual != wanted
        if not present:
            return False
        left: int | str = actual
        right: int | str = wanted
        if name in DATE_PROPERTIES:
            try:
                left, right = int(actual), int(wanted)
            except ValueError:
                return False
        if operator == "EQ":
            return left == right
        if operator == "GT":
            return left > right
        if operator == "GTE":
            return left >= right
        if operator == "LT":
            return left < right
        return left <= right

    def _owner_record(self, owner: dict[str, Any]) -> dict[str, Any]:
        record = {
            "id": owner["id"],
            "email": owner.get("email"),
            "firstName": owner.get("firstName", ""),
            "lastName": owner.get("lastName", ""),
            "userId": int(owner["id"]) if owner["id"].isdigit() else None,
            "createdAt": "2024-01-01T00:00:00.000Z",
            "updatedAt": "2024-01-01T00:00:00.000Z",
            "archived": False,
        }
        if owner.get("teams"):
            record["teams"] = [dict(team) for team in owner["teams"]]
        return record

    def _owners(self, request: Request) -> Reply:
        raw_limit = request.arg("limit") or "100"
        if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= OWNERS_LIMIT_MAX:
            raise HubSpotError(f"limit must be between 1 and {OWNERS_LIMIT_MAX}")
        limit = int(raw_limit)
        offset = _offset(request.arg("after"))
        email = request.arg("email")
        owners = self.owners
        if email:
            wanted = email.strip().lower()
            owners = [o for o in owners if o.get("email", "").lower() == wanted]
            if not owners and self.accept_any_email:
                local = wanted.split("@")[0]
                owners = [
                    {
                        "id": owner_id_for(wanted),
                        "email": wanted,
                        "firstName": local.split(".")[0].capitalize(),
                        "lastName": "",
                    }
                ]
        page = owners[offset : offset + limit]
        payload: dict[str, Any] = {"results": [self._owner_record(o) for o in page]}
        if offset + limit < len(owners):
            payload["paging"] = {"next": {"after": str(offset + limit)}}
        return Reply(200, payload)

    def _owner(self, request: Request) -> Reply:
        owner_id = request.path.rstrip("/").rsplit("/", 1)[1]
        for owner in self.owners:
            if owner["id"] == owner_id:
                return Reply(200, self._owner_record(owner))
        return self.error(404, f"Owner {owner_id} not found")
