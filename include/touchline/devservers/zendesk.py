"""A local Zendesk Support API: the endpoints the touchline Zendesk connector reads.

Served over HTTPS with a certificate from a local CA (``trustme``), because the Zendesk
client only speaks https: point ``REQUESTS_CA_BUNDLE`` at :attr:`ZendeskServer.ca_bundle`
and the Connection's host at :attr:`ZendeskServer.host_port` (``127.0.0.1:<port>``).

Imitated, with Zendesk's paths and JSON shapes:

* ``GET /api/v2/incremental/tickets/cursor.json``: the cursor-based incremental ticket
  export. The first request gives ``start_time`` (Unix seconds), the next ones ``cursor``;
  ``per_page`` (at most 1000) bounds a page; each page has ``tickets``, ``after_cursor``,
  ``after_url``, ``before_cursor``, ``before_url`` and ``end_of_stream``. Tickets are in
  the order of their last change (``generated_timestamp``, then id) and a changed ticket
  moves to the end of the stream; a deleted ticket stays in it with status ``deleted``.
  ``include=metric_sets,organizations`` side-loads the page's ticket metrics and
  organizations.
* ``GET /api/v2/ticket_metrics.json``, ``GET /api/v2/tickets/{id}/metrics.json``.
* ``GET /api/v2/satisfaction_ratings.json`` (``start_time`` filters by ``updated_at``).
* ``GET /api/v2/organizations.json``, ``GET /api/v2/organizations/{id}.json``.

Authentication is an API token (basic auth ``<email>/token:<token>``); anything else is
answered 401. Faults on demand come from :class:`~touchline.devservers.base.FakeServer`
(``fail_next(429, retry_after=0)``, ``fail_next(503)``).

Not imitated: the one-minute delay before a change shows in the export, time-based
exports, other side-loads, search, writes, and the real rate-limit counters.
"""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any
from urllib.parse import urlencode

from touchline.devservers.base import HttpsFakeServer, Reply, Request

API = "/api/v2"
MAX_PER_PAGE = 1000
EPOCH = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _encode_cursor(position: tuple[int, int]) -> str:
    return base64.urlsafe_b64encode(f"{position[0]}.0||{position[1]}|".encode()).decode()


def _decode_cursor(cursor: str) -> tuple[int, int] | None:
    try:
        stamp, _, ticket_id, _ = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        return int(float(stamp)), int(ticket_id)
    except ValueError:
        return None


class ZendeskServer(HttpsFakeServer):
    """Zendesk Support API subset over local HTTPS; see the module docstring.

    Build the data with :meth:`add_organization`, :meth:`add_ticket`,
    :meth:`update_ticket`, :meth:`delete_ticket` and :meth:`rate`. Every change moves the
    server's clock on by a minute from 2026-10-01T00:00Z (or to ``at`` when given), so the
    export order follows the order of the calls.
    """

    name = "zendesk"

    def __init__(
        self,
        email: str = "integration@touchline.example",
        token: str = "zd-test-token",
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        verbose: bool = False,
    ) -> None:
        self.email = email
        self.token = token
        super().__init__(host, port, verbose=verbose)

    @property
    def host_port(self) -> str:
        """What goes in the Airflow Connection's host field to reach this server."""
        return f"{self.host}:{self.port}"

    def connection_json(self) -> str:
        """An ``AIRFLOW_CONN_<ID>`` value (JSON form) with this server's credentials."""
        import json

        return json.dumps(
            {
                "conn_type": "zendesk",
                "host": self.host_port,
                "login": self.email,
                "password": self.token,
                "extra": {"use_token": True},
            }
        )

    # ------------------------------------------------------------------ state

    def _reset_state(self) -> None:
        self._clock = EPOCH
        self._organizations: dict[int, dict[str, Any]] = {}
        self._tickets: dict[int, dict[str, Any]] = {}
        self._metrics: dict[int, dict[str, Any]] = {}
        self._ratings: dict[int, dict[str, Any]] = {}

    def _snapshot_state(self) -> dict[str, Any]:
        return {
            "organizations": list(self._organizations.values()),
            "tickets": list(self._tickets.values()),
            "metric_sets": list(self._metrics.values()),
            "satisfaction_ratings": list(self._ratings.values()),
        }

    def _tick(self, at: dt.datetime | None) -> dt.datetime:
        self._clock = at if at is not None else self._clock + dt.timedelta(minutes=1)
        return self._clock

    # ------------------------------------------------------------------ test helpers

    def add_organization(
        self, org_id: int, name: str, external_id: str | None = None, **fields: Any
    ) -> dict[str, Any]:
        """Create an organization; ``fields`` become its ``organization_fields``."""
        with self.lock:
            moment = _iso(self._tick(None))
            org = {
                "id": org_id,
                "url": f"{self.url}{API}/organizations/{org_id}.json",
                "name": name,
                "external_id": external_id,
                "domain_names": [],
                "tags": [],
                "organization_fields": dict(fields),
                "created_at": moment,
                "updated_at": moment,
            }
            self._organizations[org_id] = org
            return self.copy(org)

    def add_ticket(
        self,
        ticket_id: int,
        organization_id: int | None,
        *,
        status: str = "new",
        priority: str | None = "normal",
        tags: list[str] | None = None,
        at: dt.datetime | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """Create a ticket (and its metric set) as Zendesk stores it."""
        with self.lock:
            moment = self._tick(at)
            ticket = {
                "id": ticket_id,
                "url": f"{self.url}{API}/tickets/{ticket_id}.json",
                "external_id": None,
                "type": "question",
                "subject": f"Ticket {ticket_id}",
                "priority": priority,
                "status": status,
                "requester_id": 9000 + ticket_id,
                "assignee_id": None,
                "organization_id": organization_id,
                "group_id": None,
                "tags": list(tags or []),
                "custom_fields": [],
                "satisfaction_rating": {"score": "unoffered"},
                "created_at": _iso(moment),
                "updated_at": _iso(moment),
                "generated_timestamp": int(moment.timestamp()),
            }
            ticket.update(fields)
            self._tickets[ticket_id] = ticket
            self._metrics[ticket_id] = {
                "id": 50_000 + ticket_id,
                "ticket_id": ticket_id,
                "url": f"{self.url}{API}/ticket_metrics/{50_000 + ticket_id}.json",
                "replies": 0,
                "reopens": 0,
                "solved_at": None,
                "reply_time_in_minutes": {"calendar": None, "business": None},
                "full_resolution_time_in_minutes": {"calendar": None, "business": None},
                "created_at": _iso(moment),
                "updated_at": _iso(moment),
            }
            return self.copy(ticket)

    def update_ticket(
        self,
        ticket_id: int,
        *,
        at: dt.datetime | None = None,
        remove: tuple[str, ...] = (),
        **changes: Any,
    ) -> dict[str, Any]:
        """Change a ticket's fields (``remove`` drops fields); it moves to the stream's end.

        ``status="solved"`` also stamps the metric set's ``solved_at`` and resolution time.
        """
        with self.lock:
            moment = self._tick(at)
            ticket = self._tickets[ticket_id]
            ticket.update(changes)
            for name in remove:
                ticket.pop(name, None)
            ticket["updated_at"] = _iso(moment)
            ticket["generated_timestamp"] = int(moment.timestamp())
            metric = self._metrics[ticket_id]
            metric["updated_at"] = _iso(moment)
            if changes.get("status") == "solved":
                created = dt.datetime.fromisoformat(metric["created_at"])
                minutes = int((moment - created).total_seconds() // 60)
                metric["solved_at"] = _iso(moment)
                metric["full_resolution_time_in_minutes"] = {
                    "calendar": minutes,
                    "business": minutes,
                }
            return self.copy(ticket)

    def reply(self, ticket_id: int, after_minutes: int, *, at: dt.datetime | None = None) -> None:
        """An agent's first public reply, ``after_minutes`` after the ticket was created."""
        with self.lock:
            metric = self._metrics[ticket_id]
            metric["replies"] += 1
            metric["reply_time_in_minutes"] = {
                "calendar": after_minutes,
                "business": after_minutes,
            }
        self.update_ticket(ticket_id, at=at, status="open")

    def delete_ticket(self, ticket_id: int, *, at: dt.datetime | None = None) -> None:
        """Soft-delete: the export keeps the ticket with status ``deleted``."""
        self.update_ticket(ticket_id, at=at, status="deleted")

    def rate(self, ticket_id: int, score: str, *, at: dt.datetime | None = None) -> None:
        """The requester's satisfaction rating (``good`` or ``bad``) of a ticket."""
        with self.lock:
            ticket = self._tickets[ticket_id]
            rating_id = 70_000 + ticket_id
            moment = self._tick(at)
            self._ratings[ticket_id] = {
                "id": rating_id,
                "url": f"{self.url}{API}/satisfaction_ratings/{rating_id}.json",
                "assignee_id": ticket["assignee_id"],
                "group_id": ticket["group_id"],
                "requester_id": ticket["requester_id"],
                "ticket_id": ticket_id,
                "score": score,
                "comment": None,
                "created_at": _iso(moment),
                "updated_at": _iso(moment),
            }
        self.update_ticket(ticket_id, at=at, satisfaction_rating={"id": rating_id, "score": score})

    # ------------------------------------------------------------------ HTTP

    def error_payload(self, status: int, message: str) -> Any:
        if status == 401:
            return {"error": "Couldn't authenticate you"}
        if status == 404:
            return {"error": "RecordNotFound", "description": "Not found"}
        return {"error": message, "description": message}

    def _authorized(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        if not header.startswith("Basic "):
            return False
        try:
            user, _, secret = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return user == f"{self.email}/token" and secret == self.token

    def handle(self, request: Request) -> Reply:
        if not request.path.startswith(API + "/"):
            return self.not_found()
        if request.method != "GET":
            return self.method_not_allowed()
        if not self._authorized(request):
            return self.error(401)
        path = request.path[len(API) :]
        if path == "/incremental/tickets/cursor.json":
            return self._ticket_export(request)
        if path == "/ticket_metrics.json":
            return Reply(200, {"ticket_metrics": self.copy(list(self._metrics.values()))})
        if path.startswith("/tickets/") and path.endswith("/metrics.json"):
            metric = self._metrics.get(_int(path.split("/")[2]))
            if metric is None:
                return self.not_found()
            return Reply(200, {"ticket_metric": self.copy(metric)})
        if path == "/satisfaction_ratings.json":
            since = _int(request.arg("start_time") or "0") or 0
            ratings = [
                r
                for r in self._ratings.values()
                if dt.datetime.fromisoformat(r["updated_at"]).timestamp() >= since
            ]
            return Reply(200, {"satisfaction_ratings": self.copy(ratings), "next_page": None})
        if path == "/organizations.json":
            orgs = list(self._organizations.values())
            return Reply(200, {"organizations": self.copy(orgs), "next_page": None})
        if path.startswith("/organizations/") and path.endswith(".json"):
            org = self._organizations.get(_int(path[len("/organizations/") : -5]))
            if org is None:
                return self.not_found()
            return Reply(200, {"organization": self.copy(org)})
        return self.not_found()

    def _ticket_export(self, request: Request) -> Reply:
        cursor, start_time = request.arg("cursor"), request.arg("start_time")
        if (cursor is None) == (start_time is None):
            return self.error(400, "Give either start_time or cursor")
        per_page = _int(request.arg("per_page") or str(MAX_PER_PAGE))
        if per_page is None or not 1 <= per_page <= MAX_PER_PAGE:
            return self.error(400, f"per_page must be from 1 to {MAX_PER_PAGE}")
        if cursor is not None:
            after = _decode_cursor(cursor)
            if after is None:
                return self.error(400, "Invalid cursor")
        else:
            stamp = _int(start_time or "")
            if stamp is None or stamp < 0:
                return self.error(400, "start_time must be a Unix time in seconds")
            after = (stamp, -1)
        ordered = sorted(self._tickets.values(), key=lambda t: (t["generated_timestamp"], t["id"]))
        remaining = [t for t in ordered if (t["generated_timestamp"], t["id"]) > after]
        page = remaining[:per_page]
        last = (page[-1]["generated_timestamp"], page[-1]["id"]) if page else after
        after_cursor = _encode_cursor(last)
        before_cursor = _encode_cursor(after)
        include = {
            name.strip() for name in (request.arg("include") or "").split(",") if name.strip()
        }
        base = f"{self.url}{request.path}"
        kept = {"per_page": per_page, **({"include": ",".join(sorted(include))} if include else {})}
        payload: dict[str, Any] = {
            "tickets": self.copy(page),
            "after_url": f"{base}?{urlencode({'cursor': after_cursor, **kept})}",
            "after_cursor": after_cursor,
            "before_url": f"{base}?{urlencode({'cursor': before_cursor, **kept})}",
            "before_cursor": before_cursor,
            "end_of_stream": len(remaining) <= per_page,
        }
        if "metric_sets" in include:
            payload["metric_sets"] = self.copy(
                [self._metrics[t["id"]] for t in page if t["id"] in self._metrics]
            )
        if "organizations" in include:
            org_ids = {t.get("organization_id") for t in page}
            payload["organizations"] = self.copy(
                [org for org_id, org in self._organizations.items() if org_id in org_ids]
            )
        return Reply(200, payload)


def _int(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None
