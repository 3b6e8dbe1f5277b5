"""Support tickets from Zendesk, through its cursor-based incremental ticket export.

Credentials come from an Airflow Connection read by the Zendesk provider's
:class:`~airflow.providers.zendesk.hooks.zendesk.ZendeskHook`, which builds the official
``zenpy`` client. The export is read page by page with that client's authenticated
session (``/api/v2/incremental/tickets/cursor.json``, ``start_time`` on the first run,
then ``cursor``), with ``include=metric_sets,organizations``: zenpy's own generator keeps
only the ticket objects, dropping the side-loaded metric sets (first reply, resolution)
and filling every absent field with None, so neither the reply times nor a missing field
could be seen through it. Retries (429 with ``Retry-After``, backoff on 5xx and lost
connections) are urllib3's ``Retry`` mounted on that session.

State is ``{"after_cursor": ...}``: the cursor after the last page whose tickets were
returned. Pages stop at ``end_of_stream``, or before the first page holding a ticket
changed after the window's end (it is read again by a later run). The next page is asked
for by ``cursor=<after_cursor>`` with the same page size and side-loads rather than by
``after_url``, so both always apply.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import pyarrow as pa
import requests
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from requests.adapters import HTTPAdapter
from urllib3.util import Retry

from touchline.schema import TICKET_PRIORITIES, TICKET_STATUSES, Entity
from touchline.sources.base import Extract, SourceError, Window
from touchline.sources.filedrop import output_schema

log = logging.getLogger(__name__)

EXPORT_PATH = "/api/v2/incremental/tickets/cursor.json"
RETRY_STATUSES = (429, 500, 502, 503, 504)

# fields of Zendesk's ticket object; any other one is new upstream and only logged
KNOWN_TICKET_FIELDS = frozenset(
    {
        "id", "url", "external_id", "type", "subject", "raw_subject", "description",
        "priority", "status", "recipient", "requester_id", "submitter_id", "assignee_id",
        "organization_id", "group_id", "collaborator_ids", "follower_ids", "email_cc_ids",
        "forum_topic_id", "problem_id", "has_incidents", "is_public", "due_at", "tags",
        "custom_fields", "custom_status_id", "satisfaction_rating", "sharing_agreement_ids",
        "fields", "followup_ids", "ticket_form_id", "brand_id", "allow_channelback",
        "allow_attachments", "from_messaging_channel", "via", "encoded_id",
        "generated_timestamp", "created_at", "updated_at",
    }
)  # fmt: skip

DEFAULT_STATUS_MAP = {
    "new": "new",
    "open": "open",
    "pending": "pending",
    "hold": "pending",
    "solved": "solved",
    "closed": "closed",
}
DEFAULT_PRIORITY_MAP = {"low": "low", "normal": "normal", "high": "high", "urgent": "urgent"}


class ZendeskOptions(BaseModel):
    """The ``sources.yml`` entry of a Zendesk source (see docs/sources/zendesk.md)."""

    model_config = ConfigDict(extra="forbid")

    conn_id: str = "touchline_zendesk"
    start_time: dt.datetime | None = None  # first run: tickets changed since (None: all)
    page_size: int = Field(1000, ge=1, le=1000)
    requests_per_minute: float | None = Field(None, gt=0)  # pace page requests
    max_retries: int = Field(6, ge=0)
    backoff_seconds: float = Field(2.0, ge=0)
    timeout_seconds: float = Field(120.0, ge=1)
    account_id: Literal[
        "organization_external_id", "organization_id", "organization_field", "ticket_field"
    ] = "organization_external_id"
    account_id_field: str | None = None  # organization field key, or ticket field id
    missing_account: Literal["skip", "fail"] = "skip"
    csat_scores: dict[Literal["good", "bad"], int] = {"good": 5, "bad": 1}
    status_map: dict[str, str] = DEFAULT_STATUS_MAP
    priority_map: dict[str, str] = DEFAULT_PRIORITY_MAP
    default_priority: str = "normal"

    @field_validator("csat_scores")
    @classmethod
    def _scores_on_scale(cls, value: dict[str, int]) -> dict[str, int]:
        for rating, score in value.items():
            if not 1 <= score <= 5:
                raise ValueError(f"{rating}: {score} is not a CSAT score from 1 to 5")
        return value

    @field_validator("status_map")
    @classmethod
    def _known_statuses(cls, value: dict[str, str]) -> dict[str, str]:
        return _check_values(value, TICKET_STATUSES, "status")

    @field_validator("priority_map")
    @classmethod
    def _known_priorities(cls, value: dict[str, str]) -> dict[str, str]:
        return _check_values(value, TICKET_PRIORITIES, "priority")

    @field_validator("default_priority")
    @classmethod
    def _known_default(cls, value: str) -> str:
        if value not in TICKET_PRIORITIES:
            raise ValueError(f"{value!r} is not one of {'/'.join(TICKET_PRIORITIES)}")
        return value

    @model_validator(mode="after")
    def _field_when_needed(self) -> ZendeskOptions:
        needs_field = self.account_id in ("organization_field", "ticket_field")
        if needs_field and not self.account_id_field:
            raise ValueError(f"account_id_field is required with account_id: {self.account_id}")
        return self


def _check_values(value: dict[str, str], allowed: Sequence[str], what: str) -> dict[str, str]:
    for source, target in value.items():
        if target not in allowed:
            raise ValueError(f"{source}: {target!r} is not a {what} ({'/'.join(allowed)})")
    return value


def _parse_time(text: Any, ticket_id: Any, field: str) -> dt.datetime | None:
    if text is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(str(text))
    except ValueError:
        raise SourceError(
            f"Zendesk ticket {ticket_id}: {field} {text!r} is not an ISO 8601 timestamp"
        ) from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
    return moment


class ZendeskConnector:
    """Reads the support family's ``tickets`` from Zendesk; see the module docstring."""

    entities = ("tickets",)

    def __init__(self, options: ZendeskOptions) -> None:
        self.options = options
        self._last_request = 0.0

    # ------------------------------------------------------------------ client

    def _session(self) -> tuple[requests.Session, str]:
        """The zenpy client's authenticated session, with retries mounted, and its API root."""
        from airflow.providers.zendesk.hooks.zendesk import ZendeskHook

        client = ZendeskHook(zendesk_conn_id=self.options.conn_id).get_conn()
        api = client.tickets
        retry = Retry(
            total=self.options.max_retries,
            status_forcelist=RETRY_STATUSES,
            allowed_methods=frozenset({"GET"}),
            backoff_factor=self.options.backoff_seconds,
            respect_retry_after_header=True,
            raise_on_status=False,
        )
        adapter = HTTPAdapter(max_retries=retry)
        api.session.mount("https://", adapter)
        api.session.mount("http://", adapter)
        return api.session, f"{api.protocol}://{api.base_url}"

    def _get(self, session: requests.Session, url: str, params: Mapping[str, Any]) -> dict:
        if self.options.requests_per_minute:
            wait = 60.0 / self.options.requests_per_minute - (time.monotonic() - self._last_request)
            if wait > 0:
                time.sleep(wait)
        self._last_request = time.monotonic()
        where = url.split("?")[0]
        try:
            response = session.get(url, params=params, timeout=self.options.timeout_seconds)
        except requests.RequestException as exc:
            raise SourceError(f"Zendesk GET {where}: {type(exc).__name__} after retries") from None
        if response.status_code != 200:
            raise SourceError(
                f"Zendesk GET {where} answered {response.status_code} "
                f"(after up to {self.options.max_retries} retries): {response.text[:200]}"
            )
        try:
            return response.json()
        except ValueError:
            raise SourceError(f"Zendesk GET {where}: the answer is not JSON") from None

    # ------------------------------------------------------------------ extract

    def extract(
        self, entities: Sequence[Entity], window: Window, state: Mapping[str, Any]
    ) -> Extract:
        unsupported = [e.name for e in entities if e.name != "tickets"]
        if unsupported:
            raise SourceError(
                f"The Zendesk source reads only tickets, not {', '.join(unsupported)}"
            )
        if not entities:
            return Extract(tables={}, state=dict(state), origin="zendesk")
        entity = entities[0]
        session, root = self._session()
        cursor = state.get("after_cursor")
        params: dict[str, Any] = {
            "per_page": self.options.page_size,
            "include": "metric_sets,organizations",
        }
        if cursor:
            params["cursor"] = cursor
        else:
            start = self.options.start_time or window.since
            params["start_time"] = int(start.timestamp()) if start is not None else 0
        until = window.until
        if until.tzinfo is not None:
            until = until.astimezone(dt.UTC).replace(tzinfo=None)

        rows: list[dict[str, Any]] = []
        new_fields: set[str] = set()
        deleted: list[str] = []
        skipped: list[str] = []
        url = root + EXPORT_PATH
        pages = 0
        while True:
            page = self._get(session, url, params)
            pages += 1
            tickets = page.get("tickets")
            if not isinstance(tickets, list) or "end_of_stream" not in page:
                raise SourceError(
                    f"Zendesk GET {EXPORT_PATH}: the answer has no tickets list or "
                    "end_of_stream; is the host a Zendesk account?"
                )
            page_rows, page_deleted, page_skipped, later = self._page_rows(page, until, new_fields)
            if later:
                log.info(
                    "Zendesk: tickets changed after %s are left for a later run", until.isoformat()
                )
                break
            rows += page_rows
            deleted += page_deleted
            skipped += page_skipped
            if page.get("after_cursor"):
                cursor = page["after_cursor"]
            if page["end_of_stream"] or not page.get("after_cursor"):
                break
            # the next page by its cursor, keeping the page size and side-loads
            params.pop("start_time", None)
            params["cursor"] = cursor

        if new_fields:
            log.warning(
                "Zendesk: ticket fields unknown to touchline are ignored: %s",
                ", ".join(sorted(new_fields)),
            )
        if deleted:
            log.warning(
                "Zendesk: %d deleted tickets left out (ids %s)", len(deleted), ", ".join(deleted)
            )
        if skipped:
            log.warning(
                "Zendesk: %d tickets without an account (%s) left out (ids %s)",
                len(skipped),
                self.options.account_id,
                ", ".join(skipped),
            )
        log.info("Zendesk: %d tickets read in %d pages", len(rows), pages)
        table = pa.Table.from_pylist(rows, schema=output_schema(entity, []))
        new_state = dict(state)
        if cursor:
            new_state["after_cursor"] = cursor
        return Extract(tables={entity.name: table}, state=new_state, origin="zendesk")

    def _page_rows(
        self, page: Mapping[str, Any], until: dt.datetime, new_fields: set[str]
    ) -> tuple[list[dict[str, Any]], list[str], list[str], bool]:
        """The page's rows, deleted and skipped ticket ids, and whether it reaches past until."""
        metrics = {m.get("ticket_id"): m for m in page.get("metric_sets") or []}
        orgs = {o.get("id"): o for o in page.get("organizations") or []}
        rows, deleted, skipped = [], [], []
        for ticket in page["tickets"]:
            ticket_id = ticket.get("id")
            if ticket_id is None:
                raise SourceError("Zendesk ticket without an id in the export: field id missing")
            updated = _parse_time(ticket.get("updated_at"), ticket_id, "updated_at")
            if updated is not None and updated > until:
                return [], [], [], True
            new_fields.update(set(ticket) - KNOWN_TICKET_FIELDS)
            if ticket.get("status") == "deleted":
                deleted.append(str(ticket_id))
                continue
            row = self._row(ticket, metrics.get(ticket_id), orgs)
            if row is None:
                skipped.append(str(ticket_id))
                continue
            row["updated_at"] = updated
            rows.append(row)
        return rows, deleted, skipped, False

    def _required(
        self, ticket: Mapping[str, Any], field: str, column: str, nullable: bool = False
    ) -> Any:
        """The ticket's ``field``, or SourceError naming the ticket and field when absent."""
        if field not in ticket or (ticket[field] is None and not nullable):
            raise SourceError(
                f"Zendesk ticket {ticket.get('id')}: required field {field!r} is missing "
                f"(it fills the tickets column {column})"
            )
        return ticket[field]

    def _account_id(self, ticket: Mapping[str, Any], orgs: Mapping[Any, Any]) -> str | None:
        how = self.options.account_id
        if how == "ticket_field":
            for custom in ticket.get("custom_fields") or []:
                if str(custom.get("id")) == self.options.account_id_field:
                    value = custom.get("value")
                    return str(value) if value not in (None, "") else None
            return None
        org_id = self._required(ticket, "organization_id", "account_id", nullable=True)
        if org_id is None:
            return None
        if how == "organization_id":
            return str(org_id)
        org = orgs.get(org_id)
        if org is None:
            raise SourceError(
                f"Zendesk ticket {ticket['id']}: organization {org_id} is not in the export's "
                "side-loaded organizations"
            )
        if how == "organization_external_id":
            value = org.get("external_id")
        else:
            value = (org.get("organization_fields") or {}).get(self.options.account_id_field)
        return str(value) if value not in (None, "") else None

    def _row(
        self, ticket: Mapping[str, Any], metric: Mapping[str, Any] | None, orgs: Mapping[Any, Any]
    ) -> dict[str, Any] | None:
        ticket_id = ticket["id"]
        created = _parse_time(
            self._required(ticket, "created_at", "created_at"), ticket_id, "created_at"
        )
        raw_status = self._required(ticket, "status", "status")
        status = self.options.status_map.get(raw_status)
        if status is None:
            raise SourceError(
                f"Zendesk ticket {ticket_id}: status {raw_status!r} has no touchline status; "
                "add it to status_map"
            )
        raw_priority = self._required(ticket, "priority", "priority", nullable=True)
        if raw_priority is None:
            priority = self.options.default_priority
        else:
            priority = self.options.priority_map.get(raw_priority)
            if priority is None:
                raise SourceError(
                    f"Zendesk ticket {ticket_id}: priority {raw_priority!r} has no touchline "
                    "priority; add it to priority_map"
                )
        account_id = self._account_id(ticket, orgs)
        if account_id is None:
            if self.options.missing_account == "fail":
                parts = (self.options.account_id, self.options.account_id_field)
                source = " ".join(part for part in parts if part)
                raise SourceError(f"Zendesk ticket {ticket_id}: no account id ({source} is empty)")
            return None
        first_reply = solved = None
        if metric is not None:
            minutes = (metric.get("reply_time_in_minutes") or {}).get("calendar")
            if minutes is not None and created is not None:
                first_reply = created + dt.timedelta(minutes=minutes)
            if status in ("solved", "closed"):
                solved = _parse_time(metric.get("solved_at"), ticket_id, "metric solved_at")
        rating = (ticket.get("satisfaction_rating") or {}).get("score")
        tags = ticket.get("tags") or []
        return {
            "ticket_id": str(ticket_id),
            "account_id": account_id,
            "created_at": created,
            "status": status,
            "priority": priority,
            "first_reply_at": first_reply,
            "solved_at": solved,
            "tags": ";".join(tags) if tags else None,
            "csat_score": self.options.csat_scores.get(rating),
        }
