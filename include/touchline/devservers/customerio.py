"""A local server shaped like a small part of the Customer.io Track API (v1).

Imitated:

* ``PUT /api/v1/customers/{identifier}``: create a person or merge attributes into it.
* ``POST /api/v1/customers/{identifier}/events``: record an event (``name`` required,
  optional ``id``, ``data``, ``timestamp``). An event whose ``id`` was seen before is
  answered 200 and not stored again, as Customer.io deduplicates on it. An event for an
  unknown person creates that person with no attributes.
* HTTP Basic authentication with ``site_id:api_key``; errors as ``{"meta": {"error": ...}}``.

The identifier is percent-decoded from its path segment, so ``ana%40x.example`` is the person
``ana@x.example``.

Not imitated: deleting people, devices, anonymous events, the App API, ``cio_`` and
``email:`` identifier prefixes, attribute size limits, the 32 KB request limit, ULID checks on
event ids, and the real rate limit (inject it with
:meth:`~touchline.devservers.base.FakeServer.fail_next`).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from touchline.devservers.base import FakeServer, Reply, Request

CUSTOMERS_PREFIX = "/api/v1/customers/"


class CustomerIOServer(FakeServer):
    """Customer.io Track API subset; see the module docstring. ``clock`` gives epoch seconds."""

    name = "customerio"

    def __init__(
        self,
        site_id: str = "site",
        api_key: str = "key",
        *,
        clock: Callable[[], float] = time.time,
        host: str = "127.0.0.1",
        port: int = 0,
        verbose: bool = False,
    ) -> None:
        self.site_id = site_id
        self.api_key = api_key
        self.clock = clock
        super().__init__(host, port, verbose=verbose)

    # ------------------------------------------------------------------ state

    def _reset_state(self) -> None:
        self._people: dict[str, dict[str, Any]] = {}
        self._events: list[dict[str, Any]] = []
        self._event_ids: set[str] = set()

    def _snapshot_state(self) -> dict[str, Any]:
        return {"people": self._people, "events": self._events}

    def summary(self) -> str:
        with self.lock:
            return (
                f"{self.name}: {len(self._people)} people, {len(self._events)} events, "
                f"{len(self.requests)} requests"
            )

    # ------------------------------------------------------------------ test helpers

    def people(self) -> dict[str, dict[str, Any]]:
        """``{identifier: attributes}`` (a copy)."""
        with self.lock:
            return self.copy(self._people)

    def events(self) -> list[dict[str, Any]]:
        """Stored events ``{"identifier", "name", "id", "data", "timestamp"}``, deduplicated."""
        with self.lock:
            return self.copy(self._events)

    def events_by_id(self) -> dict[str, dict[str, Any]]:
        """Stored events that carry an ``id``, keyed by it."""
        with self.lock:
            return self.copy({e["id"]: e for e in self._events if e["id"] is not None})

    # ------------------------------------------------------------------ HTTP

    def error_payload(self, status: int, message: str) -> Any:
        return {"meta": {"error": message}}

    def _authorised(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return False
        expected = f"{self.site_id}:{self.api_key}"
        return hmac.compare_digest(decoded.encode(), expected.encode())

    def handle(self, request: Request) -> Reply:
        if not self._authorised(request):
            return self.error(401, "unauthorized")
        if not request.path.startswith(CUSTOMERS_PREFIX):
            return self.not_found()
        segments = request.path[len(CUSTOMERS_PREFIX) :].split("/")
        if segments and segments[-1] == "" and len(segments) > 1:
            segments.pop()
        identifier = unquote(segments[0])
        if not identifier:
            return self.not_found()
        if len(segments) == 1:
            if request.method != "PUT":
                return self.method_not_allowed()
            return self._identify(identifier, request)
        if len(segments) == 2 and segments[1] == "events":
            if request.method != "POST":
                return self.method_not_allowed()
            return self._event(identifier, request)
        return self.not_found()

    def _object_body(self, request: Request) -> dict[str, Any] | Reply:
        if not request.json_valid:
            return self.error(400, "invalid json")
        body = request.json if request.json is not None else {}
        if not isinstance(body, dict):
            return self.error(400, "request body must be a JSON object")
        return body

    def _identify(self, identifier: str, request: Request) -> Reply:
        body = self._object_body(request)
        if isinstance(body, Reply):
            return body
        self._people.setdefault(identifier, {}).update(self.copy(body))
        return Reply(200, {}, applied=True)

    def _event(self, identifier: str, request: Request) -> Reply:
        body = self._object_body(request)
        if isinstance(body, Reply):
            return body
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            return self.error(400, "missing event name")
        data = body.get("data", {})
        if data is None:
            data = {}
        if not isinstance(data, dict):
            return self.error(400, "event data must be a JSON object")
        timestamp = body.get("timestamp")
        if timestamp is not None and (
            not isinstance(timestamp, int | float) or isinstance(timestamp, bool)
        ):
            return self.error(400, "timestamp must be a number of seconds since the epoch")
        event_id = body.get("id")
        if event_id is not None:
            event_id = str(event_id)
            if event_id in self._event_ids:
                return Reply(200, {})
        self._people.setdefault(identifier, {})
        self._events.append(
            {
                "identifier": identifier,
                "name": name,
                "id": event_id,
                "data": self.copy(data),
                "timestamp": int(timestamp) if timestamp is not None else int(self.clock()),
            }
        )
        if event_id is not None:
            self._event_ids.add(event_id)
        return Reply(200, {}, applied=True)
