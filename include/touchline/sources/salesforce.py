"""The crm family from Salesforce: accounts, contacts, contracts, CSMs and exchange rates.

Read through the Airflow provider's ``SalesforceHook`` (``simple-salesforce``), with SOQL:

* accounts, contacts and contracts: the whole object on the first run; afterwards only the
  records whose ``SystemModstamp`` moved past the saved cursor (up to the window's end),
  read with ``queryAll`` so records sent to the recycle bin come back with ``IsDeleted``
  true and are reported as deleted. The cursor is the last ``SystemModstamp`` returned.
* csms (users), fx_rates and a mapped snoozes object: read whole on every run (they are
  small, and a user's ownership or the corporate currency changes without stamping them).

Every touchline column is read from a field named in the options (``sources.yml``), with
defaults for a standard org. ``describe`` checks the mapped fields before querying: a
missing field of a required column stops the run, of an optional one is logged and left
empty; fields new upstream are named once in the log.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pyarrow as pa
import requests
from pydantic import BaseModel, ConfigDict, Field, model_validator
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from touchline.schema import Entity, Type
from touchline.sources.base import Extract, SourceError, Window
from touchline.sources.filedrop import output_schema

log = logging.getLogger(__name__)

STATE_VERSION = 1
# deleted records stay in the recycle bin 15 days: older cursors read the object whole
RECYCLE_BIN_DAYS = 15
PLAN_VALUES = {
    "Customer - Direct": "paid",
    "Customer - Channel": "paid",
    "Channel Partner / Reseller": "paid",
    "Prospect": "trial",
    "Installation Partner": "free",
    "Technology Partner": "free",
    "Other": "free",
}
CONTRACT_STATUS_VALUES = {"Activated": "active", "Terminated": "cancelled", "Expired": "expired"}

Plan = Literal["free", "trial", "paid"]
Complexity = Literal["low", "standard", "complex"]
ContractStatus = Literal["active", "cancelled", "expired"]


class _Mapping(BaseModel):
    """Where one entity's columns are read from: column name -> Salesforce field."""

    model_config = ConfigDict(extra="forbid")

    object: str
    where: str | None = None  # an extra SOQL condition, ANDed to the connector's own

    def fields(self, entity: Entity) -> dict[str, str | None]:
        """Column -> field path (``Owner.Email``); None: the column is left empty."""
        return {c: getattr(self, c) for c in entity.column_names if c in type(self).model_fields}

    def signature(self) -> str:
        """A digest of the mapping: a changed mapping reads the object whole again."""
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()[:16]


class AccountsMapping(_Mapping):
    object: str = "Account"
    incremental: bool = True
    account_name: str = "Name"
    plan: str = "Type"
    plan_values: dict[str, Plan] = Field(default_factory=lambda: dict(PLAN_VALUES))
    plan_default: Plan | None = None  # for an empty or unlisted value; None: refuse it
    is_strategic: str | None = None
    implementation_complexity: str | None = None
    implementation_complexity_values: dict[str, Complexity] = Field(default_factory=dict)
    csm_email: str | None = "Owner.Email"
    pod: str | None = None
    industry: str | None = "Industry"
    region: str | None = "BillingCountry"
    created_at: str | None = "CreatedDate"


class ContactsMapping(_Mapping):
    object: str = "Contact"
    incremental: bool = True
    account_id: str = "AccountId"
    email: str = "Email"
    name: str | None = "Name"
    role: str | None = "Title"
    is_primary: str | None = None


class ContractsMapping(_Mapping):
    """``Contract`` (default) or ``Opportunity`` (closed-won deals) as contracts."""

    object: str = "Contract"
    incremental: bool = True
    account_id: str = "AccountId"
    start_date: str = "StartDate"
    end_date: str | None = "EndDate"  # None: start_date + term_months - 1 day
    term_months: int = Field(default=12, ge=1)
    arr_amount: str  # Contract: ARR__c, Opportunity: Amount
    currency: str | None = "CurrencyIsoCode"  # None: every contract is in currency_default
    currency_default: str | None = None
    status: str | None = "StatusCode"
    status_values: dict[str, ContractStatus] = Field(
        default_factory=lambda: dict(CONTRACT_STATUS_VALUES)
    )
    seats: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _object_defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if data.get("object") == "Opportunity":
            data.setdefault("where", "IsWon = true")
            data.setdefault("start_date", "CloseDate")
            data.setdefault("end_date", None)
            data.setdefault("arr_amount", "Amount")
            data.setdefault("status", None)
        elif data.get("object", "Contract") == "Contract":
            data.setdefault("where", "StatusCode IN ('Activated', 'Terminated', 'Expired')")
            data.setdefault("arr_amount", "ARR__c")  # no standard field: the usual custom one
        return data

    @model_validator(mode="after")
    def _currency_known(self) -> ContractsMapping:
        if self.currency is None and self.currency_default is None:
            raise ValueError("currency_default: required when currency is not read from a field")
        return self


class CsmsMapping(_Mapping):
    object: str = "User"
    where: str | None = "IsActive = true AND Id IN (SELECT OwnerId FROM Account)"
    csm_email: str = "Email"
    name: str = "Name"
    pod: str | None = None
    capacity_hours_per_week: str | None = None


class SnoozesMapping(_Mapping):
    """A custom object holding snoozes (none in a standard org)."""

    object: str  # e.g. CS_Snooze__c
    account_id: str
    snoozed_until: str
    touchpoint: str | None = None
    reason: str | None = None
    created_by: str | None = None


class FxRatesMapping(BaseModel):
    """Where exchange rates come from.

    ``DatedConversionRate`` (advanced currency management) or ``CurrencyType`` rates are per
    the org's corporate currency; they are turned into USD per unit of each currency
    (USD's rate divided by the currency's), so USD must be an active currency of the org.
    ``fixed`` writes ``fixed_rates`` (USD per unit) as of ``fixed_as_of``: a single-currency
    org needs only ``{USD: 1}``.
    """

    model_config = ConfigDict(extra="forbid")

    source: Literal["DatedConversionRate", "CurrencyType", "fixed"] = "DatedConversionRate"
    fixed_rates: dict[str, float] = Field(default_factory=lambda: {"USD": 1.0})
    fixed_as_of: dt.date = dt.date(2000, 1, 1)


class SalesforceOptions(BaseModel):
    """The ``salesforce`` entry of ``sources.yml``."""

    model_config = ConfigDict(extra="forbid")

    conn_id: str = "touchline_salesforce"
    page_size: int = Field(default=2000, ge=200, le=2000)  # Sforce-Query-Options batchSize
    retries: int = Field(default=5, ge=0)  # 429 (after its Retry-After), 5xx, timeouts
    backoff_seconds: float = Field(default=2.0, ge=0)  # doubled on each retry
    timeout_seconds: float = Field(default=120, gt=0)
    accounts: AccountsMapping = Field(default_factory=AccountsMapping)
    contacts: ContactsMapping = Field(default_factory=ContactsMapping)
    contracts: ContractsMapping = Field(default_factory=ContractsMapping)
    csms: CsmsMapping = Field(default_factory=CsmsMapping)
    fx_rates: FxRatesMapping = Field(default_factory=FxRatesMapping)
    snoozes: SnoozesMapping | None = None  # None: snoozes stay empty


@dataclass(frozen=True)
class _Read:
    """One SOQL read: the records, and the ids deleted (queryAll reads only)."""

    records: list[dict[str, Any]]
    deleted: list[str]
    cursor: str | None


class _TimeoutSession(requests.Session):
    """A session whose requests time out after ``timeout`` seconds unless told otherwise."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.timeout = timeout

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any):
        kwargs.setdefault("timeout", self.timeout)
        return super().request(method, url, *args, **kwargs)


def _session(options: SalesforceOptions) -> requests.Session:
    """Retries 429 (honouring Retry-After), 5xx and timeouts with exponential backoff."""
    session = _TimeoutSession(options.timeout_seconds)
    retry = Retry(
        total=options.retries,
        status_forcelist=(429, 500, 502, 503, 504),
        allowed_methods=frozenset({"GET", "POST"}),
        backoff_factor=options.backoff_seconds,
        respect_retry_after_header=True,
        raise_on_status=False,
    )
    session.mount("https://", HTTPAdapter(max_retries=retry))
    session.mount("http://", HTTPAdapter(max_retries=retry))
    return session


def _soql_datetime(moment: dt.datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    moment = moment.astimezone(dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _parse_datetime(text: str) -> dt.datetime:
    """A Salesforce datetime (``2026-10-01T00:00:00.000+0000``) as aware UTC."""
    if len(text) > 5 and text[-5] in "+-" and text[-3] != ":":
        text = text[:-2] + ":" + text[-2:]
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(dt.UTC)


def _value(record: Mapping[str, Any], path: str) -> tuple[bool, Any]:
    """``(present, value)`` of a field path in a record; a null relationship is present."""
    current: Any = record
    for part in path.split("."):
        if current is None:
            return True, None
        if part not in current:
            return False, None
        current = current[part]
    return True, current


class SalesforceConnector:
    """Reads the crm family from Salesforce; see the module docstring."""

    origin = "salesforce"
    entities = ("accounts", "contacts", "contracts", "csms", "snoozes", "fx_rates")

    def __init__(self, options: SalesforceOptions) -> None:
        self.options = options
        self._hook: Any = None

    # ------------------------------------------------------------------ client

    def client(self) -> Any:
        """The ``simple_salesforce.Salesforce`` the provider's hook builds from the Connection.

        A Connection with ``instance_url`` (or ``instance``) in its extra and no login is a
        direct session: its password is the access token.
        """
        try:
            if self._hook is None:
                from airflow.providers.salesforce.hooks.salesforce import SalesforceHook

                connection = SalesforceHook.get_connection(self.options.conn_id)
                extras = connection.extra_dejson or {}
                direct = not connection.login and (
                    extras.get("instance_url") or extras.get("instance")
                )
                self._hook = SalesforceHook(
                    salesforce_conn_id=self.options.conn_id,
                    session_id=connection.password if direct else None,
                    session=_session(self.options),
                )
            return self._hook.get_conn()
        except Exception as exc:
            raise SourceError(
                f"Salesforce connection {self.options.conn_id!r}: could not sign in: {exc}"
            ) from None

    # ------------------------------------------------------------------ extract

    def extract(
        self, entities: Sequence[Entity], window: Window, state: Mapping[str, Any]
    ) -> Extract:
        old = state if state.get("version") == STATE_VERSION else {}
        new_state: dict[str, Any] = {
            "version": STATE_VERSION,
            "cursors": dict(old.get("cursors", {})),
            "fields": dict(old.get("fields", {})),
        }
        result = Extract(tables={}, state=new_state, origin=self.origin)
        for entity in entities:
            name = entity.name
            if name in ("accounts", "contacts", "contracts"):
                self._incremental(entity, window, old, result)
            elif name == "csms":
                mapping = self.options.csms
                fields = self._checked_fields(entity, mapping, result)
                read = self._query(mapping, fields, None, None, include_deleted=False)
                result.tables[name] = self._table(entity, mapping, fields, read.records)
            elif name == "snoozes":
                mapping = self.options.snoozes
                if mapping is None:
                    result.tables[name] = output_schema(entity, []).empty_table()
                    continue
                fields = self._checked_fields(entity, mapping, result)
                read = self._query(mapping, fields, None, None, include_deleted=False)
                result.tables[name] = self._table(entity, mapping, fields, read.records)
            elif name == "fx_rates":
                result.tables[name] = self._fx_rates(entity, window)
            else:
                raise SourceError(
                    f"Salesforce does not hold {name}; it reads accounts, contacts, contracts, "
                    "csms, snoozes and fx_rates (the crm family)"
                )
        return result

    def _incremental(
        self, entity: Entity, window: Window, old: Mapping[str, Any], result: Extract
    ) -> None:
        mapping: AccountsMapping | ContactsMapping | ContractsMapping = getattr(
            self.options, entity.name
        )
        fields = self._checked_fields(entity, mapping, result)
        saved = old.get("cursors", {}).get(entity.name) or {}
        since = saved.get("modstamp") if saved.get("mapping") == mapping.signature() else None
        if since is not None and mapping.incremental:
            if _aware(window.until) - _parse_datetime(since) > dt.timedelta(
                days=RECYCLE_BIN_DAYS - 1
            ):
                log.warning(
                    "Salesforce %s: last read %s, longer ago than the recycle bin keeps "
                    "deletes; reading the object whole",
                    mapping.object,
                    since,
                )
                since = None
        if since is None or not mapping.incremental:
            read = self._query(mapping, fields, None, None, include_deleted=False)
        else:
            read = self._query(mapping, fields, since, window.until, include_deleted=True)
            result.changes_only.add(entity.name)
            result.deleted[entity.name] = read.deleted
        result.tables[entity.name] = self._table(entity, mapping, fields, read.records)
        cursor = read.cursor or since
        if cursor is not None and mapping.incremental:
            result.state["cursors"][entity.name] = {
                "modstamp": cursor,
                "mapping": mapping.signature(),
            }
        else:
            result.state["cursors"].pop(entity.name, None)

    # ------------------------------------------------------------------ fields

    def _describe(self, sobject: str) -> list[dict[str, Any]]:
        client = self.client()
        try:
            return list(getattr(client, sobject).describe()["fields"])
        except Exception as exc:
            raise SourceError(f"Salesforce describe {sobject}: {_reason(exc)}") from None

    def _checked_fields(self, entity: Entity, mapping: _Mapping, result: Extract) -> dict:
        """The mapping's fields that exist upstream; logs the fields new since the last run."""
        described = self._describe(mapping.object)
        names = {f["name"] for f in described}
        relationships = {f["relationshipName"] for f in described if f.get("relationshipName")}
        known = result.state["fields"].get(mapping.object)
        if known is not None:
            new = sorted(names - set(known))
            if new:
                log.info(
                    "Salesforce %s: new fields upstream, not read (map them in sources.yml "
                    "to use them): %s",
                    mapping.object,
                    ", ".join(new),
                )
        result.state["fields"][mapping.object] = sorted(names)
        fields: dict[str, str | None] = {}
        for column, path in mapping.fields(entity).items():
            if path is None:
                fields[column] = None
                continue
            head = path.split(".")[0]
            if (head in relationships) if "." in path else (path in names):
                fields[column] = path
                continue
            where = f"sources.yml {entity.name}.{column}"
            if entity.by_name[column].required:
                raise SourceError(
                    f"Salesforce {mapping.object} has no field {path!r}, which {entity.name}."
                    f"{column} is read from (required); set {where} to the field that holds it"
                )
            log.warning(
                "Salesforce %s has no field %r (%s.%s): left empty; set %s to read it",
                mapping.object,
                path,
                entity.name,
                column,
                where,
            )
            fields[column] = None
        return fields

    # ------------------------------------------------------------------ SOQL

    def _query(
        self,
        mapping: _Mapping,
        fields: Mapping[str, str | None],
        since: str | None,
        until: dt.datetime | None,
        include_deleted: bool,
    ) -> _Read:
        wanted = ["Id", "SystemModstamp"] + [f for f in fields.values() if f]
        if include_deleted:
            wanted.append("IsDeleted")
        select = ", ".join(dict.fromkeys(wanted))
        conditions = []
        if mapping.where:
            conditions.append(mapping.where)
        if since is not None:
            conditions.append(f"SystemModstamp > {since}")
        if until is not None:
            conditions.append(f"SystemModstamp <= {_soql_datetime(until)}")
        soql = f"SELECT {select} FROM {mapping.object}"
        if conditions:
            soql += " WHERE " + " AND ".join(conditions)
        soql += " ORDER BY SystemModstamp, Id"
        records, deleted, cursor = [], [], None
        for record in self._records(soql, include_deleted, mapping.object):
            stamp = record.get("SystemModstamp")
            if stamp:
                cursor = _soql_datetime(_parse_datetime(stamp))
            if include_deleted and record.get("IsDeleted"):
                deleted.append(record["Id"])
            else:
                records.append(record)
        return _Read(records, deleted, cursor)

    def _records(self, soql: str, include_deleted: bool, sobject: str) -> Iterator[dict]:
        client = self.client()
        headers = {"Sforce-Query-Options": f"batchSize={self.options.page_size}"}
        endpoint = "queryAll" if include_deleted else "query"
        try:
            yield from client.query_all_iter(soql, include_deleted=include_deleted, headers=headers)
        except Exception as exc:
            raise SourceError(f"Salesforce {endpoint} on {sobject}: {_reason(exc)}") from None

    # ------------------------------------------------------------------ rows

    def _table(
        self,
        entity: Entity,
        mapping: _Mapping,
        fields: Mapping[str, str | None],
        records: list[dict],
    ) -> pa.Table:
        id_column = entity.key[0] if entity.key[0] not in fields else None
        rows = []
        for record in records:
            row: dict[str, Any] = {}
            if id_column is not None:
                row[id_column] = record["Id"]
            for column, path in fields.items():
                row[column] = self._cell(entity, mapping, record, column, path)
            if entity.name == "contracts":
                self._contract_defaults(mapping, record, row)
            for column in entity.required_columns:
                if row.get(column) is None:
                    path = fields.get(column) or "Id"
                    raise SourceError(
                        f"Salesforce {mapping.object} {record.get('Id')}: field {path} "
                        f"({entity.name}.{column}) is empty; touchline needs "
                        f"{entity.by_name[column].expected}"
                    )
            rows.append(row)
        return pa.Table.from_pylist(rows, schema=output_schema(entity, []))

    def _cell(
        self, entity: Entity, mapping: _Mapping, record: dict, column: str, path: str | None
    ) -> Any:
        if path is None:
            return None
        present, raw = _value(record, path)
        if not present:
            raise SourceError(
                f"Salesforce {mapping.object} {record.get('Id')}: field {path} "
                f"({entity.name}.{column}) is missing from the record"
            )
        spec = entity.by_name[column]
        where = f"Salesforce {mapping.object} {record.get('Id')}: field {path} value {raw!r}"
        if raw is None or raw == "":
            default = getattr(mapping, f"{column}_default", None)
            return default
        try:
            if spec.type is Type.ENUM:
                values = getattr(mapping, f"{column}_values", None) or {}
                mapped = values.get(str(raw))
                if mapped is None and str(raw).lower() in spec.values:
                    mapped = str(raw).lower()
                if mapped is None:
                    mapped = getattr(mapping, f"{column}_default", None)
                if mapped is None:
                    raise SourceError(
                        f"{where} is not one of {', '.join(spec.values)} and not listed in "
                        f"sources.yml {entity.name}.{column}_values"
                    )
                return mapped
            if spec.type is Type.BOOLEAN:
                if isinstance(raw, bool):
                    return raw
                text = str(raw).strip().lower()
                if text in ("true", "yes", "1"):
                    return True
                if text in ("false", "no", "0"):
                    return False
                raise ValueError(raw)
            if spec.type is Type.INTEGER:
                return int(float(raw))
            if spec.type is Type.DECIMAL:
                return float(raw)
            if spec.type is Type.DATE:
                return dt.date.fromisoformat(str(raw)[:10])
            if spec.type is Type.TIMESTAMP:
                return _parse_datetime(str(raw)).replace(tzinfo=None)
            return str(raw)
        except (TypeError, ValueError):
            raise SourceError(f"{where} is not {spec.expected}") from None

    @staticmethod
    def _contract_defaults(mapping: Any, record: dict, row: dict[str, Any]) -> None:
        if mapping.currency is None:
            row["currency"] = mapping.currency_default
        if mapping.end_date is None and row.get("start_date") is not None:
            row["end_date"] = _term_end(row["start_date"], mapping.term_months)

    # ------------------------------------------------------------------ fx rates

    def _fx_rates(self, entity: Entity, window: Window) -> pa.Table:
        options = self.options.fx_rates
        schema = output_schema(entity, [])
        if options.source == "fixed":
            rows = [
                {"currency": code, "rate_to_usd": rate, "as_of_date": options.fixed_as_of}
                for code, rate in sorted(options.fixed_rates.items())
            ]
            return pa.Table.from_pylist(rows, schema=schema)
        currencies = self._plain(
            "SELECT IsoCode, ConversionRate, IsCorporate FROM CurrencyType WHERE IsActive = true",
            "CurrencyType",
        )
        corporate = next((c["IsoCode"] for c in currencies if c.get("IsCorporate")), None)
        if options.source == "CurrencyType":
            periods = {
                c["IsoCode"]: [(options.fixed_as_of, float(c["ConversionRate"]))]
                for c in currencies
            }
        else:
            periods = {}
            for rate in self._plain(
                "SELECT IsoCode, ConversionRate, StartDate FROM DatedConversionRate "
                f"WHERE StartDate <= {window.run_date.isoformat()} ORDER BY IsoCode, StartDate",
                "DatedConversionRate",
            ):
                start = dt.date.fromisoformat(rate["StartDate"])
                periods.setdefault(rate["IsoCode"], []).append(
                    (start, float(rate["ConversionRate"]))
                )
        if corporate is not None:
            periods[corporate] = [(dt.date(1, 1, 1), 1.0)]
        if "USD" not in periods:
            raise SourceError(
                f"Salesforce {options.source}: no USD rate, so rates (per the corporate "
                f"currency {corporate}) cannot be turned into USD; add USD as a currency of "
                "the org, or set fx_rates.source: fixed with fixed_rates in sources.yml"
            )
        rows = []
        for code, own in sorted(periods.items()):
            dates = sorted({d for d, _ in own} | {d for d, _ in periods["USD"]})
            for day in dates:
                usd, rate = _rate_on(periods["USD"], day), _rate_on(own, day)
                if usd is None or rate is None or rate == 0:
                    continue
                rows.append(
                    {"currency": code, "rate_to_usd": round(usd / rate, 10), "as_of_date": day}
                )
        return pa.Table.from_pylist(rows, schema=schema)

    def _plain(self, soql: str, sobject: str) -> list[dict[str, Any]]:
        return list(self._records(soql, False, sobject))


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def _term_end(start: dt.date, months: int) -> dt.date:
    """The last day of a term of ``months`` starting on ``start`` (a day short of the same
    day ``months`` later, the month's last day when that month is shorter)."""
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    last_day = (dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)).day
    return dt.date(year, month, min(start.day, last_day)) - dt.timedelta(days=1)


def _rate_on(periods: list[tuple[dt.date, float]], day: dt.date) -> float | None:
    """The rate of the period that contains ``day``: the last one starting on or before it."""
    found = None
    for start, rate in periods:
        if start <= day:
            found = rate
    return found


def _reason(exc: Exception) -> str:
    """What Salesforce answered, in one line: status, error code and message."""
    status = getattr(exc, "status", None)
    content = getattr(exc, "content", None)
    if status is not None:
        detail = content
        if isinstance(content, list) and content and isinstance(content[0], Mapping):
            detail = "; ".join(f"{c.get('errorCode')}: {c.get('message')}" for c in content)
        return f"HTTP {status}: {detail}"
    return f"{type(exc).__name__}: {exc}"
