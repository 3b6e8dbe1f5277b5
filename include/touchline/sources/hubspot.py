"""Read the crm family from HubSpot: companies, contacts, deals (or line items) and owners.

accounts come from companies, contacts from contacts (with their company), contracts from
closed-won deals (or line items, with their deal's company) and csms from the owners. HubSpot
has no object for ``snoozes`` and ``fx_rates``: this connector returns no table for them,
and they keep coming from the file drop.

The first run reads each object through its list endpoint as a complete snapshot. Later
runs read only what changed: the search API filtered on the last-modified date after the
saved cursor, sorted ascending and paged with ``after``. The search API answers at most
10,000 results per query, so a window holding that many is halved until every part fits;
records deleted in HubSpot (archived) since the cursor are returned as deleted. Requests go
through the official ``hubspot-api-client``; its urllib3 ``Retry`` honours ``Retry-After``
on 429 and backs off on 5xx and lost connections.

State (plain JSON): ``{"version": 1, "objects": {"companies": {"cursor_ms": ..., "mapping":
...}, ...}}``: per object, the last-modified time (epoch milliseconds) up to which the rows
returned are complete, and a fingerprint of its mapping (a changed mapping reads the object
in full again).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib
import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Literal

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field
from urllib3.util.retry import Retry

from touchline import hubspot_client
from touchline.schema import Entity
from touchline.sources.base import Extract, SourceError, Window
from touchline.sources.filedrop import output_schema

log = logging.getLogger(__name__)

SEARCH_RESULTS_MAX = 10_000
ASSOCIATIONS_BATCH_MAX = 1000
STATE_VERSION = 1
SUPPORTED_ENTITIES = ("accounts", "contacts", "contracts", "csms")
NO_HUBSPOT_OBJECT = ("snoozes", "fx_rates")
# association type ids HubSpot gives a record's primary company
PRIMARY_COMPANY_TYPE_IDS = {"contacts": 1, "deals": 5}


def _strict() -> ConfigDict:
    return ConfigDict(extra="forbid")


class AccountMapping(BaseModel):
    """Company properties read into ``accounts`` (None: the column stays empty)."""

    model_config = _strict()
    account_name: str = "name"
    plan: str = "touchline_plan"
    plan_values: dict[str, str] = Field(default_factory=dict)  # HubSpot value -> touchline plan
    plan_default: str | None = None  # when the plan property is empty
    is_strategic: str | None = "touchline_is_strategic"
    implementation_complexity: str | None = None
    owner: str = "hubspot_owner_id"  # the CSM: the owner's email becomes csm_email
    pod: str | None = None  # None: the pod of the company's owner
    industry: str | None = "industry"
    region: str | None = "country"


class ContactMapping(BaseModel):
    """Contact properties read into ``contacts``."""

    model_config = _strict()
    email: str = "email"
    first_name: str | None = "firstname"
    last_name: str | None = "lastname"
    role: str | None = "jobtitle"
    is_primary: str | None = None


class ContractMapping(BaseModel):
    """Where ``contracts`` come from: deals (default) or line items, and their properties."""

    model_config = _strict()
    object: Literal["deals", "line_items"] = "deals"
    arr: str = "amount"
    currency: str = "deal_currency_code"
    default_currency: str | None = None  # a single-currency portal leaves the currency empty
    start_date: str = "closedate"
    end_date: str | None = None  # None: start date plus term_months, less a day
    term_months: int = Field(12, ge=1)
    stage: str = "dealstage"  # deals only
    stages: list[str] = Field(default_factory=lambda: ["closedwon"])  # deals read as contracts
    status: str | None = "dealstage"
    status_map: dict[str, str] = Field(default_factory=lambda: {"closedwon": "active"})
    seats: str | None = None


class CsmMapping(BaseModel):
    """Which owners are CSMs, and their pod and weekly capacity."""

    model_config = _strict()
    teams: list[str] | None = None  # only owners in one of these teams; None: every owner
    pod: Literal["primary_team", "none"] = "primary_team"
    capacity_hours_per_week: float | None = Field(None, ge=0)
    capacity_by_team: dict[str, float] = Field(default_factory=dict)


class HubSpotOptions(BaseModel):
    """The ``hubspot`` entry of ``sources.yml``."""

    model_config = _strict()
    type: Literal["hubspot"] = "hubspot"
    conn_id: str = "touchline_hubspot_source"
    page_size: int = Field(200, ge=1, le=200)  # search pages (HubSpot's maximum is 200)
    list_page_size: int = Field(100, ge=1, le=100)  # list pages on the first run
    requests_per_second: float | None = Field(4.0, gt=0)  # search allows 5 per second
    max_retries: int = Field(6, ge=0)
    backoff_factor: float = Field(1.0, ge=0)
    timeout_seconds: float = Field(120.0, ge=1)
    index_lag_seconds: float = Field(120.0, ge=0)  # the search index trails writes
    accounts: AccountMapping = Field(default_factory=AccountMapping)
    contacts: ContactMapping = Field(default_factory=ContactMapping)
    contracts: ContractMapping = Field(default_factory=ContractMapping)
    csms: CsmMapping = Field(default_factory=CsmMapping)


def _retry(options: HubSpotOptions) -> Retry:
    """429 (after its Retry-After) and 5xx are retried with backoff; other refusals are not."""
    return hubspot_client.retry(options.max_retries, options.backoff_factor)


def _mask(secret: str) -> None:
    try:
        from airflow.sdk.log import mask_secret

        mask_secret(secret)
    except Exception:  # outside a task there is no log to mask
        pass


def client_from_connection(options: HubSpotOptions) -> tuple[Any, str]:
    """The official client for the Connection ``options.conn_id``, and its base URL."""
    from airflow.sdk import BaseHook

    try:
        connection = BaseHook.get_connection(options.conn_id)
    except Exception as exc:
        raise SourceError(
            f"HubSpot: Airflow Connection {options.conn_id!r} not found ({exc}); create it "
            "with the private-app token as password"
        ) from exc
    if not connection.password:
        raise SourceError(
            f"HubSpot: Airflow Connection {options.conn_id!r} has no password; put the "
            "private-app access token there"
        )
    _mask(connection.password)
    url = (connection.host or "https://api.hubapi.com").rstrip("/")
    if "://" not in url:
        url = f"{connection.schema or 'https'}://{url}"
        if connection.port:
            url = f"{url}:{connection.port}"
    client = hubspot_client.client(url, connection.password, _retry(options))
    return client, url


def _ms(moment: dt.datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return int(moment.timestamp() * 1000)


def _fingerprint(model: BaseModel) -> str:
    text = json.dumps(model.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha1(text.encode()).hexdigest()[:12]


class _Record:
    """One HubSpot record as answered (JSON): id, property values, archived time."""

    __slots__ = ("archived_at", "id", "properties")

    def __init__(self, obj: Mapping[str, Any]) -> None:
        self.id = str(obj["id"])
        self.properties: dict[str, str | None] = dict(obj.get("properties") or {})
        archived = obj.get("archivedAt")
        self.archived_at = (
            dt.datetime.fromisoformat(archived.replace("Z", "+00:00")) if archived else None
        )


class _Values:
    """Typed reads of one record's properties; a bad or missing value names the record."""

    def __init__(self, object_type: str, record: _Record) -> None:
        self.object_type = object_type
        self.record = record

    def _where(self, prop: str, column: str) -> str:
        return (
            f"HubSpot {self.object_type} record {self.record.id}: property {prop!r} "
            f"(touchline column {column})"
        )

    def text(self, prop: str | None, column: str, *, required: bool = False) -> str | None:
        value = self.record.properties.get(prop) if prop else None
        value = value.strip() if isinstance(value, str) else value
        if not value:
            if required:
                raise SourceError(
                    f"{self._where(prop or '?', column)} is missing or empty; it is required "
                    f"(set the property to read in sources.yml)"
                )
            return None
        return value

    def boolean(self, prop: str | None, column: str) -> bool | None:
        value = self.text(prop, column)
        if value is None:
            return None
        lowered = value.lower()
        if lowered in ("true", "yes", "1"):
            return True
        if lowered in ("false", "no", "0"):
            return False
        raise SourceError(f"{self._where(prop or '?', column)} is {value!r}; expected true/false")

    def number(self, prop: str | None, column: str, *, required: bool = False) -> float | None:
        value = self.text(prop, column, required=required)
        if value is None:
            return None
        try:
            return float(value)
        except ValueError:
            raise SourceError(
                f"{self._where(prop or '?', column)} is {value!r}; expected a number"
            ) from None

    def timestamp(self, prop: str | None, column: str) -> dt.datetime | None:
        value = self.text(prop, column)
        return None if value is None else self._moment(value, prop or "?", column)

    def date(self, prop: str | None, column: str, *, required: bool = False) -> dt.date | None:
        value = self.text(prop, column, required=required)
        if value is None:
            return None
        if len(value) == 10 and value[4] == "-":
            try:
                return dt.date.fromisoformat(value)
            except ValueError:
                pass
        return self._moment(value, prop or "?", column).date()

    def _moment(self, value: str, prop: str, column: str) -> dt.datetime:
        try:
            if value.isdigit():
                moment = dt.datetime.fromtimestamp(int(value) / 1000, tz=dt.UTC)
            else:
                moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except (ValueError, OverflowError):
            raise SourceError(
                f"{self._where(prop, column)} is {value!r}; expected a date or ISO 8601 time"
            ) from None
        if moment.tzinfo is not None:
            moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
        return moment


def _add_months(day: dt.date, months: int) -> dt.date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return dt.date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise ValueError(day)


class HubSpotConnector:
    """The crm family from one HubSpot portal; see the module docstring."""

    name = "hubspot"
    entities = SUPPORTED_ENTITIES

    def __init__(
        self,
        options: HubSpotOptions,
        *,
        client: Any = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.options = options
        self._client = client
        self._url = "hubspot"
        self.clock = clock
        self._last_request = 0.0
        self._unmapped: set[tuple[str, str]] = set()

    # ------------------------------------------------------------------ the interface

    def extract(
        self, entities: Sequence[Entity], window: Window, state: Mapping[str, Any]
    ) -> Extract:
        """Read the entities asked for; see the module docstring for state and deletes."""
        if self._client is None:
            self._client, self._url = client_from_connection(self.options)
        self._unmapped = set()
        names = [e.name for e in entities]
        skipped = [n for n in names if n in NO_HUBSPOT_OBJECT]
        if skipped:
            log.info("HubSpot has no object for %s; no rows read for them", ", ".join(skipped))
        unknown = [n for n in names if n not in SUPPORTED_ENTITIES and n not in skipped]
        if unknown:
            raise SourceError(
                f"HubSpot reads {', '.join(SUPPORTED_ENTITIES)} of the crm family, not "
                f"{', '.join(unknown)}"
            )
        objects = dict(state.get("objects", {})) if state.get("version") == STATE_VERSION else {}
        now_ms = int(self.clock() * 1000)
        until_ms = _ms(window.until)
        result = Extract(tables={}, origin=self._url)
        by_name = {e.name: e for e in entities}
        owners = None
        if "accounts" in by_name or "csms" in by_name:
            owners = self._owners()
        for name in names:
            if name not in SUPPORTED_ENTITIES:
                continue
            entity = by_name[name]
            if name == "csms":
                assert owners is not None
                result.tables[name] = self._table(entity, self._csm_rows(owners))
                continue
            object_type, mapping = self._object_of(name)
            saved = objects.get(object_type, {})
            fingerprint = _fingerprint(mapping)
            if saved.get("cursor_ms") is None or saved.get("mapping") != fingerprint:
                records = list(self._list(object_type, self._properties(name)))
                cursor = min(until_ms, now_ms)
                rows, dropped = self._rows(name, records, owners)
            else:
                lo = int(saved["cursor_ms"])
                hi = min(until_ms, now_ms - int(self.options.index_lag_seconds * 1000))
                if hi <= lo:
                    records, cursor, gone = [], lo, []
                else:
                    records = self._changed(object_type, self._properties(name), lo, hi)
                    gone = self._archived_between(object_type, lo, hi)
                    cursor = hi
                rows, dropped = self._rows(name, records, owners)
                result.changes_only.add(name)
                result.deleted[name] = sorted(set(gone) | set(dropped), key=_id_order)
            result.tables[name] = self._table(entity, rows)
            objects[object_type] = {"cursor_ms": cursor, "mapping": fingerprint}
        result.state = {"version": STATE_VERSION, "objects": objects}
        return result

    # ------------------------------------------------------------------ mapping

    def _object_of(self, entity: str) -> tuple[str, BaseModel]:
        if entity == "accounts":
            return "companies", self.options.accounts
        if entity == "contacts":
            return "contacts", self.options.contacts
        return self.options.contracts.object, self.options.contracts

    def _properties(self, entity: str) -> list[str]:
        mapping = self._object_of(entity)[1]
        names = [
            value
            for key, value in mapping.model_dump().items()
            if isinstance(value, str)
            and key not in ("object", "default_currency", "plan_default", "pod")
        ]
        if entity == "accounts" and self.options.accounts.pod:
            names.append(self.options.accounts.pod)
        if entity == "contracts" and self.options.contracts.object == "line_items":
            names = [n for n in names if n not in (mapping.stage,)]  # type: ignore[attr-defined]
        return list(dict.fromkeys(names))

    def _note_unmapped(self, object_type: str, record: _Record, expected: set[str]) -> None:
        for prop in record.properties:
            if prop not in expected and (object_type, prop) not in self._unmapped:
                self._unmapped.add((object_type, prop))
                log.info(
                    "HubSpot %s: property %r is new in the answers and not mapped; ignored",
                    object_type,
                    prop,
                )

    def _rows(
        self, entity: str, records: list[_Record], owners: dict[str, dict[str, Any]] | None
    ) -> tuple[list[dict[str, Any]], list[str]]:
        """The entity's rows, and the ids read that are no longer part of it."""
        object_type = self._object_of(entity)[0]
        modified = "lastmodifieddate" if object_type == "contacts" else "hs_lastmodifieddate"
        expected = {*self._properties(entity), "hs_object_id", "createdate", modified}
        for record in records:
            self._note_unmapped(object_type, record, expected)
        if entity == "accounts":
            return [self._account(r, owners or {}) for r in records], []
        if entity == "contacts":
            companies = self._companies_of("contacts", [r.id for r in records])
            return self._linked(records, companies, self._contact)
        contracts = self.options.contracts
        if contracts.object == "deals":
            kept = [r for r in records if r.properties.get(contracts.stage) in contracts.stages]
            left = [
                r.id for r in records if r.properties.get(contracts.stage) not in contracts.stages
            ]
            companies = self._companies_of("deals", [r.id for r in kept])
            rows, unlinked = self._linked(kept, companies, self._contract)
            return rows, left + unlinked
        deals = self._first_association("line_items", "deals", [r.id for r in records])
        deal_companies = self._companies_of("deals", sorted(set(deals.values())))
        companies = {
            item: deal_companies[deal] for item, deal in deals.items() if deal in deal_companies
        }
        return self._linked(records, companies, self._contract)

    def _linked(
        self,
        records: list[_Record],
        companies: dict[str, str],
        build: Callable[[_Record, str], dict[str, Any]],
    ) -> tuple[list[dict[str, Any]], list[str]]:
        rows, unlinked = [], []
        for record in records:
            company = companies.get(record.id)
            if company is None:
                unlinked.append(record.id)
            else:
                rows.append(build(record, company))
        if unlinked:
            log.info(
                "HubSpot: %d record(s) without a company left out (e.g. id %s)",
                len(unlinked),
                unlinked[0],
            )
        return rows, unlinked

    def _account(self, record: _Record, owners: dict[str, dict[str, Any]]) -> dict[str, Any]:
        m = self.options.accounts
        v = _Values("companies", record)
        plan = v.text(m.plan, "plan") or m.plan_default
        if plan is None:
            v.text(m.plan, "plan", required=True)
        assert plan is not None
        owner = owners.get(v.text(m.owner, "csm_email") or "")
        return {
            "account_id": record.id,
            "account_name": v.text(m.account_name, "account_name", required=True),
            "plan": m.plan_values.get(plan, plan.lower()),
            "is_strategic": v.boolean(m.is_strategic, "is_strategic"),
            "implementation_complexity": v.text(
                m.implementation_complexity, "implementation_complexity"
            ),
            "csm_email": owner["csm_email"] if owner else None,
            "pod": v.text(m.pod, "pod") if m.pod else (owner["pod"] if owner else None),
            "industry": v.text(m.industry, "industry"),
            "region": v.text(m.region, "region"),
            "created_at": v.timestamp("createdate", "created_at"),
        }

    def _contact(self, record: _Record, company: str) -> dict[str, Any]:
        m = self.options.contacts
        v = _Values("contacts", record)
        parts = [v.text(m.first_name, "name"), v.text(m.last_name, "name")]
        name = " ".join(p for p in parts if p) or None
        return {
            "contact_id": record.id,
            "account_id": company,
            "email": v.text(m.email, "email", required=True),
            "name": name,
            "role": v.text(m.role, "role"),
            "is_primary": v.boolean(m.is_primary, "is_primary"),
        }

    def _contract(self, record: _Record, company: str) -> dict[str, Any]:
        m = self.options.contracts
        v = _Values(m.object, record)
        start = v.date(m.start_date, "start_date", required=True)
        assert start is not None
        end = v.date(m.end_date, "end_date", required=True) if m.end_date else None
        if end is None:
            end = _add_months(start, m.term_months) - dt.timedelta(days=1)
        currency = v.text(m.currency, "currency") or m.default_currency
        if currency is None:
            v.text(m.currency, "currency", required=True)
        raw_status = v.text(m.status, "status") if m.status else None
        seats = v.number(m.seats, "seats") if m.seats else None
        return {
            "contract_id": record.id,
            "account_id": company,
            "start_date": start,
            "end_date": end,
            "arr_amount": v.number(m.arr, "arr_amount", required=True),
            "currency": currency.upper() if currency else None,
            "status": m.status_map.get(raw_status) if raw_status else None,
            "seats": int(seats) if seats is not None else None,
        }

    def _csm_rows(self, owners: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
        return [
            {k: owner[k] for k in ("csm_email", "name", "pod", "capacity_hours_per_week")}
            for owner in owners.values()
            if owner["is_csm"]
        ]

    @staticmethod
    def _table(entity: Entity, rows: list[dict[str, Any]]) -> pa.Table:
        return pa.Table.from_pylist(rows, schema=output_schema(entity, []))

    # ------------------------------------------------------------------ requests

    def _call(self, what: str, method: Callable[..., Any], /, **kwargs: Any) -> Any:
        """One API call: paced, with a generous timeout; a final refusal names the request.

        Pages of records are taken as the JSON HubSpot answers (``_preload_content=False``):
        the client's per-record models cost more than the request itself on large portals.
        """
        if self.options.requests_per_second:
            gap = 1.0 / self.options.requests_per_second
            wait = self._last_request + gap - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            self._last_request = time.monotonic()
        try:
            answer = method(
                **kwargs, _request_timeout=self.options.timeout_seconds, _preload_content=False
            )
            return json.loads(answer.data)
        except Exception as exc:
            status = getattr(exc, "status", None)
            if status is None and not type(exc).__module__.startswith(("urllib3", "hubspot")):
                raise
            detail = getattr(exc, "body", None) or getattr(exc, "reason", None) or exc
            raise SourceError(
                f"HubSpot {what} at {self._url} failed"
                + (f" with HTTP {status}" if status else "")
                + f" after the retries: {str(detail)[:300]}"
            ) from exc

    def _api(self, object_type: str) -> Any:
        return getattr(self._client.crm, object_type)

    def _list(self, object_type: str, properties: list[str]) -> Iterator[_Record]:
        yield from self._pages(object_type, properties, archived=False)

    def _pages(
        self, object_type: str, properties: list[str], *, archived: bool
    ) -> Iterator[_Record]:
        api = self._api(object_type).basic_api
        after = None
        while True:
            kwargs: dict[str, Any] = {
                "limit": self.options.list_page_size,
                "properties": properties,
                "archived": archived,
            }
            if after:
                kwargs["after"] = after
            page = self._call(f"list of {object_type}", api.get_page, **kwargs)
            for obj in page.get("results") or []:
                yield _Record(obj)
            after = (page.get("paging") or {}).get("next", {}).get("after")
            if not after:
                return

    def _changed(self, object_type: str, properties: list[str], lo: int, hi: int) -> list[_Record]:
        """Records last modified in (lo, hi], each once, in modification order."""
        found: dict[str, _Record] = {}
        pages = hubspot_client.search_in_slices(
            lambda low, high, after: self._search(object_type, properties, low, high, after),
            lo,
            hi,
            what=object_type,
            error=SourceError,
        )
        for record in map(_Record, pages):
            found[record.id] = record
        return list(found.values())

    def _search(
        self, object_type: str, properties: list[str], lo: int, hi: int, after: str | None
    ) -> Any:
        models = importlib.import_module(f"hubspot.crm.{object_type}")
        modified = "lastmodifieddate" if object_type == "contacts" else "hs_lastmodifieddate"
        request = models.PublicObjectSearchRequest(
            filter_groups=[
                models.FilterGroup(
                    filters=[
                        models.Filter(property_name=modified, operator="GT", value=str(lo)),
                        models.Filter(property_name=modified, operator="LTE", value=str(hi)),
                    ]
                )
            ],
            sorts=[{"propertyName": modified, "direction": "ASCENDING"}],
            properties=properties,
            limit=self.options.page_size,
            after=after,
        )
        api = self._api(object_type).search_api
        return self._call(
            f"search of {object_type}", api.do_search, public_object_search_request=request
        )

    def _archived_between(self, object_type: str, lo: int, hi: int) -> list[str]:
        gone = []
        for record in self._pages(object_type, [], archived=True):
            if record.archived_at is not None and lo < _ms(record.archived_at) <= hi:
                gone.append(record.id)
        return gone

    def _associations(
        self, from_type: str, to_type: str, ids: Iterable[str]
    ) -> dict[str, list[tuple[str, bool]]]:
        """``{from id: [(to id, is primary)]}`` for the ids that have any."""
        from hubspot.crm.associations.v4 import (
            BatchInputPublicFetchAssociationsBatchRequest,
            PublicFetchAssociationsBatchRequest,
        )

        api = self._client.crm.associations.v4.batch_api
        primary_type = PRIMARY_COMPANY_TYPE_IDS.get(from_type) if to_type == "companies" else None
        ids = list(ids)
        found: dict[str, list[tuple[str, bool]]] = {}
        for start in range(0, len(ids), ASSOCIATIONS_BATCH_MAX):
            chunk = ids[start : start + ASSOCIATIONS_BATCH_MAX]
            body = BatchInputPublicFetchAssociationsBatchRequest(
                inputs=[PublicFetchAssociationsBatchRequest(id=i) for i in chunk]
            )
            answer = self._call(
                f"associations of {from_type} to {to_type}",
                api.get_page,
                from_object_type=from_type,
                to_object_type=to_type,
                batch_input_public_fetch_associations_batch_request=body,
            )
            for result in answer.get("results") or []:
                links = found.setdefault(str(result["from"]["id"]), [])
                for to in result.get("to") or []:
                    primary = any(
                        (t.get("label") or "").lower() == "primary"
                        or t.get("typeId") == primary_type
                        for t in to.get("associationTypes") or []
                    )
                    links.append((str(to["toObjectId"]), primary))
        return found

    def _companies_of(self, from_type: str, ids: list[str]) -> dict[str, str]:
        """Each record's company: the primary one, else the lowest id."""
        chosen = {}
        for record_id, links in self._associations(from_type, "companies", ids).items():
            primary = [to for to, is_primary in links if is_primary]
            pool = primary or [to for to, _ in links]
            chosen[record_id] = min(pool, key=_id_order)
        return chosen

    def _first_association(self, from_type: str, to_type: str, ids: list[str]) -> dict[str, str]:
        return {
            record_id: min((to for to, _ in links), key=_id_order)
            for record_id, links in self._associations(from_type, to_type, ids).items()
            if links
        }

    def _owners(self) -> dict[str, dict[str, Any]]:
        """Every active owner by id: email, name, pod, capacity and whether a CSM."""
        m = self.options.csms
        api = self._client.crm.owners.owners_api
        owners: dict[str, dict[str, Any]] = {}
        after = None
        while True:
            kwargs: dict[str, Any] = {"limit": 500, "archived": False}
            if after:
                kwargs["after"] = after
            page = self._call("list of owners", api.get_page, **kwargs)
            for owner in page.get("results") or []:
                owners[str(owner["id"])] = self._owner(owner, m)
            after = (page.get("paging") or {}).get("next", {}).get("after")
            if not after:
                return owners

    @staticmethod
    def _owner(owner: Mapping[str, Any], m: CsmMapping) -> dict[str, Any]:
        email = (owner.get("email") or "").strip()
        if not email:
            raise SourceError(
                f"HubSpot owners record {owner['id']}: field 'email' (touchline column "
                "csm_email) is missing; it is required"
            )
        parts = (owner.get("firstName"), owner.get("lastName"))
        name = " ".join(p.strip() for p in parts if p and p.strip())
        if not name:
            raise SourceError(
                f"HubSpot owners record {owner['id']}: fields 'firstName' and 'lastName' "
                "(touchline column name) are both empty; name the user in HubSpot"
            )
        teams = owner.get("teams") or []
        team_names = [t["name"] for t in teams]
        primary = next(
            (t["name"] for t in teams if t.get("primary")), team_names[0] if team_names else None
        )
        capacity = next(
            (m.capacity_by_team[t] for t in [primary, *team_names] if t in m.capacity_by_team),
            m.capacity_hours_per_week,
        )
        return {
            "csm_email": email.lower(),
            "name": name,
            "pod": primary if m.pod == "primary_team" else None,
            "capacity_hours_per_week": capacity,
            "is_csm": m.teams is None or any(t in m.teams for t in team_names),
        }


def _id_order(record_id: str) -> tuple[int, int | str]:
    return (0, int(record_id)) if record_id.isdigit() else (1, record_id)
