"""A local server shaped like HubSpot's CRM v3 API for tasks and owners.

Imitated (paths, bodies and error shapes as HubSpot documents them):

* ``POST /crm/v3/objects/tasks/batch/upsert``: upsert by a unique property, at most 100
  inputs, duplicates within a batch rejected, ``hs_task_status`` / ``hs_task_priority``
  enumerations checked, ``hs_timestamp`` required on create. A batch is validated as a whole
  and applied all or nothing.
* ``POST /crm/v3/objects/tasks/batch/archive``: at most 100 ids, unknown ids ignored, 204.
* ``POST /crm/v3/objects/tasks/search``: filter groups (AND within a group, OR across groups)
  with ``EQ``, ``NEQ``, ``GT``, ``GTE``, ``LT``, ``LTE``, ``IN``, ``HAS_PROPERTY`` and
  ``NOT_HAS_PROPERTY``; ``limit`` up to 200; offset cursors in ``after``; the 10,000-result
  ceiling of the search API.
* ``GET /crm/v3/owners`` (``email``, ``limit`` up to 500, ``after``) and
  ``GET /crm/v3/owners/{id}``.
* Bearer-token authentication with HubSpot's 401 body.

Not imitated: other object types, associations, single-object endpoints, sorting (results
are always ordered by id), full-text ``query``, eventual consistency of the search index,
per-property type checks beyond the ones above, and the real rate limits (inject them with
:meth:`~touchline.devservers.base.FakeServer.fail_next`). ``hs_createdate`` and
``hs_lastmodifieddate`` are kept as epoch-millisecond strings; each change gets a strictly
later value than the one before, so "modified since" filters are exact.
"""

from __future__ import annotations

import datetime as dt
import hashlib
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
DATE_PROPERTIES = frozenset({"hs_createdate", "hs_lastmodifieddate"})
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
    id is derived from the email (see :func:`owner_id_for`). ``clock`` returns epoch seconds.
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
        host: str = "127.0.0.1",
        port: int = 0,
        verbose: bool = False,
    ) -> None:
        self.token = token
        self.id_property = id_property
        self.accept_any_email = accept_any_email
        self.clock = clock
        self.owners = [dict(o) for o in (owners if owners is not None else DEFAULT_OWNERS)]
        super().__init__(host, port, verbose=verbose)

    # ------------------------------------------------------------------ state

    def _reset_state(self) -> None:
        self._tasks: dict[str, dict[str, Any]] = {}
        self._next_id = FIRST_TASK_ID
        self._last_ms = 0

    def _snapshot_state(self) -> dict[str, Any]:
        return {
            "tasks": [t for t in self._ordered() if not t["archived"]],
            "archived_tasks": [t for t in self._ordered() if t["archived"]],
            "owners": self.owners,
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
            f"{TASKS}/search": ("POST", self._search),
            OWNERS: ("GET", self._owners),
        }
        if path in routes:
            method, endpoint = routes[path]
        elif path.startswith(f"{OWNERS}/") and path.count("/") == 4:
            method, endpoint = "GET", self._owner
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
            plan.append((key, properties, existing))

        results = []
        for _key, properties, existing in plan:
            if existing is None:
                task = self._create(properties)
            else:
                task = self._touch(existing, properties)
            result = self.copy(task)
            result["new"] = existing is None
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

    def _owner_record(self, owner: dict[str, str]) -> dict[str, Any]:
        return {
            "id": owner["id"],
            "email": owner.get("email"),
            "firstName": owner.get("firstName", ""),
            "lastName": owner.get("lastName", ""),
            "userId": int(owner["id"]) if owner["id"].isdigit() else None,
            "createdAt": "2024-01-01T00:00:00.000Z",
            "updatedAt": "2024-01-01T00:00:00.000Z",
            "archived": False,
        }

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
