"""A local Salesforce REST API: the endpoints the touchline Salesforce connector reads.

Served over HTTPS with a certificate from a local CA (``trustme``), because the Salesforce
client only speaks https: point ``REQUESTS_CA_BUNDLE`` at :attr:`SalesforceServer.ca_bundle`
and the Connection's ``instance_url`` extra at :attr:`SalesforceServer.url`.

Imitated, with Salesforce's paths and JSON shapes:

* ``GET /services/data/vNN.0/query`` and ``/queryAll`` with ``q=`` (SOQL): the query
  shapes the connector sends, ``SELECT <fields> FROM <object> [WHERE <conditions joined by
  AND>] [ORDER BY <fields>]``. Conditions: ``SystemModstamp > / >= / < / <= <datetime>``,
  ``<field> = true|false|'text'``, ``<field> != 'text'``, ``<field> IN ('a', 'b')`` and
  ``Id IN (SELECT <reference field> FROM <object>)``. Fields may follow one relationship
  (``Owner.Email``). ``/query`` leaves deleted records out, ``/queryAll`` keeps them with
  ``IsDeleted`` true. The answer holds ``totalSize``, ``done``, ``records`` (each with its
  ``attributes``) and, while not done, ``nextRecordsUrl``
  (``/services/data/vNN.0/query/<locator>-<offset>``); the header
  ``Sforce-Query-Options: batchSize=N`` and the server's ``page_size`` bound a page.
* ``GET /services/data/vNN.0/sobjects/<object>/describe/``: the object's fields.
* ``POST /services/oauth2/token``: the client-credentials and username-password grants.

Requests carry ``Authorization: Bearer <token>``; anything else is answered 401
``INVALID_SESSION_ID``. An unknown field is answered 400 ``INVALID_FIELD``, a query this
server does not understand 400 ``MALFORMED_QUERY``. Faults on demand come from
:class:`~touchline.devservers.base.FakeServer` (``fail_next(429, retry_after=0)``,
``fail_next(503)``).

Not imitated: SOQL beyond those shapes, the SOAP login, API usage counters, the recycle
bin's 15-day purge, writes through the API.
"""

from __future__ import annotations

import base64
import datetime as dt
import itertools
import json
import re
from typing import Any
from urllib.parse import parse_qs

from touchline.devservers.base import HttpsFakeServer, Reply, Request

API_VERSION = "59.0"
EPOCH = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
MAX_BATCH = 2000

# object -> field -> describe type; references name the object they point to
STANDARD_FIELDS: dict[str, dict[str, str]] = {
    "Account": {
        "Name": "string",
        "Type": "picklist",
        "Industry": "picklist",
        "BillingCountry": "string",
        "OwnerId": "reference:User:Owner",
    },
    "Contact": {
        "AccountId": "reference:Account:Account",
        "Email": "email",
        "Name": "string",
        "Title": "string",
    },
    "Contract": {
        "AccountId": "reference:Account:Account",
        "StartDate": "date",
        "EndDate": "date",
        "StatusCode": "picklist",
        "Status": "picklist",
        "CurrencyIsoCode": "picklist",
    },
    "Opportunity": {
        "AccountId": "reference:Account:Account",
        "Amount": "currency",
        "CloseDate": "date",
        "IsWon": "boolean",
        "CurrencyIsoCode": "picklist",
    },
    "User": {"Email": "email", "Name": "string", "IsActive": "boolean"},
    "DatedConversionRate": {
        "IsoCode": "picklist",
        "ConversionRate": "double",
        "StartDate": "date",
        "NextStartDate": "date",
    },
    "CurrencyType": {
        "IsoCode": "picklist",
        "ConversionRate": "double",
        "IsCorporate": "boolean",
        "IsActive": "boolean",
    },
}
SYSTEM_FIELDS = {
    "Id": "id",
    "IsDeleted": "boolean",
    "CreatedDate": "datetime",
    "SystemModstamp": "datetime",
}
ID_PREFIXES = {
    "Account": "001",
    "Contact": "003",
    "Contract": "800",
    "Opportunity": "006",
    "User": "005",
    "DatedConversionRate": "04w",
    "CurrencyType": "02i",
}

_SELECT = re.compile(
    r"^\s*SELECT\s+(?P<fields>.+?)\s+FROM\s+(?P<object>\w+)"
    r"(?:\s+WHERE\s+(?P<where>.+?))?(?:\s+ORDER\s+BY\s+(?P<order>[\w\s,.]+?))?\s*$",
    re.IGNORECASE | re.DOTALL,
)
_AND = re.compile(r"\s+AND\s+", re.IGNORECASE)
_COMPARE = re.compile(r"^(?P<field>[\w.]+)\s*(?P<op>>=|<=|!=|=|>|<)\s*(?P<value>.+)$", re.DOTALL)
_IN_LIST = re.compile(r"^(?P<field>[\w.]+)\s+IN\s*\((?P<values>[^()]*)\)$", re.IGNORECASE)
_SEMI_JOIN = re.compile(
    r"^(?P<field>\w+)\s+IN\s*\(\s*SELECT\s+(?P<ref>\w+)\s+FROM\s+(?P<object>\w+)\s*\)$",
    re.IGNORECASE,
)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})$")


def format_datetime(moment: dt.datetime) -> str:
    """A datetime as Salesforce writes one in JSON: ``2026-10-01T00:00:00.000+0000``."""
    moment = moment.astimezone(dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def _parse_datetime(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(dt.UTC)


class _QueryError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class SalesforceServer(HttpsFakeServer):
    """Salesforce REST API subset over local HTTPS; see the module docstring.

    Build the data with :meth:`put` (create or update: stamps ``SystemModstamp``) and
    :meth:`delete` (to the recycle bin: ``IsDeleted`` true, stamped). Every change moves
    the server's clock on by a minute from 2026-10-01T00:00Z (or to ``at`` when given).
    :meth:`add_field` and :meth:`remove_field` change an object's fields (drift).
    """

    name = "salesforce"

    def __init__(
        self,
        token: str = "00Dtouchline!local-session",
        *,
        consumer_key: str = "touchline-consumer-key",
        consumer_secret: str = "touchline-consumer-secret",
        page_size: int = MAX_BATCH,
        host: str = "127.0.0.1",
        port: int = 0,
        verbose: bool = False,
    ) -> None:
        self.token = token
        self.consumer_key = consumer_key
        self.consumer_secret = consumer_secret
        self.page_size = page_size
        super().__init__(host, port, verbose=verbose)

    def connection_json(self) -> str:
        """An ``AIRFLOW_CONN_<ID>`` value (JSON form): a direct session on this server."""
        return json.dumps(
            {
                "conn_type": "salesforce",
                "password": self.token,
                "extra": {"instance_url": self.url, "version": API_VERSION},
            }
        )

    # ------------------------------------------------------------------ state

    def _reset_state(self) -> None:
        self._clock = EPOCH
        self._fields = {
            name: {**SYSTEM_FIELDS, **fields} for name, fields in STANDARD_FIELDS.items()
        }
        self._records: dict[str, dict[str, dict[str, Any]]] = {n: {} for n in self._fields}
        self._ids = itertools.count(1)
        self._cursors: dict[str, tuple[list[dict[str, Any]], int]] = {}
        self._locators = itertools.count(1)

    def _snapshot_state(self) -> dict[str, Any]:
        return {"clock": format_datetime(self._clock), "records": self._records}

    def _tick(self, at: dt.datetime | None) -> str:
        self._clock = (
            at.astimezone(dt.UTC) if at is not None else self._clock + dt.timedelta(minutes=1)
        )
        return format_datetime(self._clock)

    # ------------------------------------------------------------------ test helpers

    def put(self, sobject: str, record: dict[str, Any], at: dt.datetime | None = None) -> str:
        """Create a record (no ``Id``) or update one; returns its Id. Stamps the change."""
        with self.lock:
            stamp = self._tick(at)
            records = self._records.setdefault(sobject, {})
            record_id = record.get("Id")
            if record_id is None:
                record_id = f"{ID_PREFIXES.get(sobject, 'a00')}{next(self._ids):012d}AAA"
            stored = records.setdefault(
                record_id, {"Id": record_id, "IsDeleted": False, "CreatedDate": stamp}
            )
            stored.update(self.copy(record))
            stored["Id"] = record_id
            stored["SystemModstamp"] = stamp
            return record_id

    def delete(self, sobject: str, record_id: str, at: dt.datetime | None = None) -> None:
        """Move a record to the recycle bin: ``IsDeleted`` true, stamped."""
        with self.lock:
            stored = self._records[sobject][record_id]
            stored["IsDeleted"] = True
            stored["SystemModstamp"] = self._tick(at)

    def add_field(self, sobject: str, field: str, type_: str = "string") -> None:
        """A new field on an object (it shows in describe and can be queried); a custom
        object (``CS_Snooze__c``) is created with its first field."""
        with self.lock:
            self._fields.setdefault(sobject, dict(SYSTEM_FIELDS))[field] = type_
            self._records.setdefault(sobject, {})

    def remove_field(self, sobject: str, field: str) -> None:
        """Drop a field from an object: describe no longer lists it, a query naming it is 400."""
        with self.lock:
            del self._fields[sobject][field]
            for record in self._records[sobject].values():
                record.pop(field, None)

    @property
    def clock(self) -> dt.datetime:
        with self.lock:
            return self._clock

    # ------------------------------------------------------------------ HTTP

    def error_payload(self, status: int, message: str) -> Any:
        codes = {401: "INVALID_SESSION_ID", 404: "NOT_FOUND", 429: "REQUEST_LIMIT_EXCEEDED"}
        code = codes.get(status, "SERVER_UNAVAILABLE" if status >= 500 else "BAD_REQUEST")
        return [{"message": message, "errorCode": code}]

    def _error(self, status: int, code: str, message: str) -> Reply:
        return Reply(status, [{"message": message, "errorCode": code}])

    def handle(self, request: Request) -> Reply:
        if request.path == "/services/oauth2/token":
            return self._token(request)
        match = re.match(r"^/services/data/v(\d+\.\d)/(.*?)/?$", request.path)
        if match is None:
            return self.not_found()
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return self._error(401, "INVALID_SESSION_ID", "Session expired or invalid")
        if request.method != "GET":
            return self.method_not_allowed()
        version, rest = match.groups()
        parts = rest.split("/")
        if parts[0] in ("query", "queryAll") and len(parts) == 1:
            return self._query(request, version, include_deleted=parts[0] == "queryAll")
        if parts[0] in ("query", "queryAll") and len(parts) == 2:
            return self._query_more(version, parts[0], parts[1])
        if parts[0] == "sobjects" and len(parts) == 3 and parts[2] == "describe":
            return self._describe(parts[1])
        return self.not_found()

    def _token(self, request: Request) -> Reply:
        if request.method != "POST":
            return self.method_not_allowed()
        form = {k: v[-1] for k, v in parse_qs(request.body.decode(errors="replace")).items()}
        grant = form.get("grant_type")
        if grant == "client_credentials":
            auth = request.headers.get("authorization", "")
            expected = base64.b64encode(
                f"{self.consumer_key}:{self.consumer_secret}".encode()
            ).decode()
            valid = auth == f"Basic {expected}"
        elif grant == "password":
            valid = (form.get("client_id"), form.get("client_secret")) == (
                self.consumer_key,
                self.consumer_secret,
            )
        else:
            return Reply(400, {"error": "unsupported_grant_type", "error_description": grant})
        if not valid:
            return Reply(
                400, {"error": "invalid_client", "error_description": "invalid client credentials"}
            )
        return Reply(
            200,
            {
                "access_token": self.token,
                "instance_url": self.url,
                "id": f"{self.url}/id/00Dlocal/005local",
                "token_type": "Bearer",
                "issued_at": str(int(self._clock.timestamp() * 1000)),
                "signature": "local",
            },
        )

    def _describe(self, sobject: str) -> Reply:
        if sobject not in self._fields:
            return self._error(
                404, "NOT_FOUND", f"The requested resource does not exist: {sobject}"
            )
        fields = []
        for name, type_ in self._fields[sobject].items():
            kind, _, rest = type_.partition(":")
            target, _, relationship = rest.partition(":")
            fields.append(
                {
                    "name": name,
                    "type": kind,
                    "referenceTo": [target] if target else [],
                    "relationshipName": relationship or None,
                    "nillable": name != "Id",
                }
            )
        return Reply(200, {"name": sobject, "queryable": True, "fields": fields})

    def _query(self, request: Request, version: str, include_deleted: bool) -> Reply:
        soql = request.arg("q")
        if not soql:
            return self._error(400, "MALFORMED_QUERY", "q: a SOQL query is required")
        try:
            records = self._run(soql, include_deleted)
        except _QueryError as exc:
            return self._error(400, exc.code, exc.message)
        batch = self.page_size
        options = request.headers.get("sforce-query-options", "")
        found = re.search(r"batchSize=(\d+)", options)
        if found:
            batch = min(batch, max(1, int(found.group(1))))
        locator = f"01g{next(self._locators):015d}"
        self._cursors[locator] = (records, batch)
        endpoint = "queryAll" if include_deleted else "query"
        return self._page(version, endpoint, locator, 0)

    def _query_more(self, version: str, endpoint: str, token: str) -> Reply:
        locator, _, offset = token.rpartition("-")
        if locator not in self._cursors or not offset.isdigit():
            return self._error(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        return self._page(version, endpoint, locator, int(offset))

    def _page(self, version: str, endpoint: str, locator: str, offset: int) -> Reply:
        records, batch = self._cursors[locator]
        page = records[offset : offset + batch]
        end = offset + len(page)
        body: dict[str, Any] = {"totalSize": len(records), "done": end >= len(records)}
        if end < len(records):
            body["nextRecordsUrl"] = f"/services/data/v{version}/{endpoint}/{locator}-{end}"
        body["records"] = page
        return Reply(200, body)

    # ------------------------------------------------------------------ SOQL

    def _run(self, soql: str, include_deleted: bool) -> list[dict[str, Any]]:
        match = _SELECT.match(soql)
        if match is None:
            raise _QueryError("MALFORMED_QUERY", f"unexpected query: {soql}")
        sobject = match.group("object")
        if sobject not in self._fields:
            raise _QueryError("INVALID_TYPE", f"sObject type '{sobject}' is not supported.")
        fields = [f.strip() for f in match.group("fields").split(",")]
        for field in fields:
            self._check_field(sobject, field)
        conditions = [c.strip() for c in _AND.split(match.group("where") or "") if c.strip()]
        predicates = [self._predicate(sobject, c) for c in conditions]
        rows = [
            r
            for r in self._records[sobject].values()
            if (include_deleted or not r.get("IsDeleted")) and all(p(r) for p in predicates)
        ]
        for key in reversed([k.strip() for k in (match.group("order") or "").split(",") if k]):
            self._check_field(sobject, key)
            rows.sort(key=lambda r, k=key: (r.get(k) is None, str(r.get(k) or "")))
        return [self._shape(sobject, r, fields) for r in rows]

    def _check_field(self, sobject: str, field: str) -> None:
        head, _, tail = field.partition(".")
        if tail:
            relationship = self._relationship(sobject, head)
            if relationship is not None:
                self._check_field(relationship[1], tail)
                return
            field = head
        elif field in self._fields[sobject]:
            return
        raise _QueryError(
            "INVALID_FIELD",
            f"No such column '{field}' on entity '{sobject}'. If you are attempting to use a "
            "custom field, be sure to append the '__c' after the custom field name.",
        )

    def _value(self, sobject: str, record: dict[str, Any], field: str) -> Any:
        head, _, tail = field.partition(".")
        if not tail:
            return record.get(field)
        reference, target_object = self._relationship(sobject, head) or ("", "")
        target = self._records.get(target_object, {}).get(record.get(reference) or "")
        return None if target is None else target.get(tail)

    def _relationship(self, sobject: str, head: str) -> tuple[str, str] | None:
        """``(reference field, target object)`` of a relationship name, e.g. Owner."""
        for name, type_ in self._fields[sobject].items():
            parts = type_.split(":")
            if len(parts) == 3 and parts[2] == head:
                return name, parts[1]
        return None

    @staticmethod
    def _attributes(sobject: str, record_id: str) -> dict[str, str]:
        url = f"/services/data/v{API_VERSION}/sobjects/{sobject}/{record_id}"
        return {"type": sobject, "url": url}

    def _shape(self, sobject: str, record: dict[str, Any], fields: list[str]) -> dict[str, Any]:
        shaped: dict[str, Any] = {"attributes": self._attributes(sobject, record["Id"])}
        for field in fields:
            head, _, tail = field.partition(".")
            if not tail:
                shaped[field] = self.copy(record.get(field))
                continue
            reference, target_object = self._relationship(sobject, head) or ("", "")
            target = self._records.get(target_object, {}).get(record.get(reference) or "")
            if target is None:
                shaped[head] = None
                continue
            nested = shaped.get(head) or {
                "attributes": self._attributes(target_object, target["Id"])
            }
            nested[tail] = self.copy(target.get(tail))
            shaped[head] = nested
        return shaped

    def _predicate(self, sobject: str, condition: str):
        semi = _SEMI_JOIN.match(condition)
        if semi:
            other = semi.group("object")
            if other not in self._fields:
                raise _QueryError("INVALID_TYPE", f"sObject type '{other}' is not supported.")
            self._check_field(other, semi.group("ref"))
            ref = semi.group("ref")
            field = semi.group("field")
            self._check_field(sobject, field)

            def joined(record: dict[str, Any]) -> bool:
                wanted = {
                    r.get(ref) for r in self._records[other].values() if not r.get("IsDeleted")
                }
                return record.get(field) in wanted

            return joined
        listed = _IN_LIST.match(condition)
        if listed:
            field = listed.group("field")
            self._check_field(sobject, field)
            values = {self._literal(v.strip()) for v in listed.group("values").split(",")}
            return lambda r: self._value(sobject, r, field) in values
        compare = _COMPARE.match(condition)
        if compare is None:
            raise _QueryError("MALFORMED_QUERY", f"unexpected condition: {condition}")
        field, op, raw = compare.group("field"), compare.group("op"), compare.group("value")
        self._check_field(sobject, field)
        value = self._literal(raw.strip())
        if isinstance(value, dt.datetime):

            def when(record: dict[str, Any]) -> bool:
                current = self._value(sobject, record, field)
                if current is None:
                    return False
                return _COMPARISONS[op](_parse_datetime(current), value)

            return when
        return lambda r: _COMPARISONS[op](self._value(sobject, r, field), value)

    @staticmethod
    def _literal(raw: str) -> Any:
        if raw.lower() in ("true", "false"):
            return raw.lower() == "true"
        if raw.lower() == "null":
            return None
        if len(raw) >= 2 and raw[0] == raw[-1] == "'":
            return raw[1:-1].replace("\\'", "'")
        if _DATE.match(raw):
            return raw  # ISO dates compare as text
        if _DATETIME.match(raw):
            return _parse_datetime(raw)
        try:
            return float(raw)
        except ValueError:
            raise _QueryError("MALFORMED_QUERY", f"unexpected value: {raw}") from None


def _ordered(op: str):
    def compare(left: Any, right: Any) -> bool:
        if left is None or right is None:
            return False
        return {
            ">": left > right,
            ">=": left >= right,
            "<": left < right,
            "<=": left <= right,
        }[op]

    return compare


_COMPARISONS = {
    "=": lambda left, right: left == right,
    "!=": lambda left, right: left != right,
    ">": _ordered(">"),
    ">=": _ordered(">="),
    "<": _ordered("<"),
    "<=": _ordered("<="),
}
