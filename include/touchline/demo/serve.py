"""Serve a generated demo book from the local API servers, as the file drop holds it.

The demo generator writes a file drop (``<drop>/<date>/<entity>.csv``). :class:`DemoServers`
starts the local Salesforce and Zendesk servers (``touchline.devservers``) and an S3 API
(moto's server) with a bucket; :class:`ServedBook` then loads the drop into them one date at
a time, as those systems would have recorded it:

* crm, into Salesforce: accounts (``Account``, the plan as ``Type``, the CSM as the owning
  ``User``), contacts (``Contact``), contracts (``Contract`` with ``ARR__c``), CSMs
  (``User``), exchange rates (``DatedConversionRate`` and ``CurrencyType`` in a USD-corporate
  org) and snoozes (the custom object ``CS_Snooze__c``). A record new or changed in a day's
  snapshot is written with that day's ``SystemModstamp``; one gone from it is deleted.
* support, into Zendesk: each ticket version of the day's file (created, first reply,
  solved, rated, last change at the drop's times), its organization carrying the account id
  as ``external_id``.
* usage, into the bucket: the day's events as one Segment export file of track calls
  (``segment/<date>/events.jsonl.gz``).

:func:`write_sources_file` writes the ``sources.yml`` that reads them (engagement stays on
the file drop) and :meth:`DemoServers.environment` the Connections (``AIRFLOW_CONN_*``) and
``REQUESTS_CA_BUNDLE`` the connectors need.

What the systems cannot hold, and so differs from the drop by design: Zendesk ticket ids
are integers (:attr:`ServedBook.ticket_ids` maps the drop's), a first reply is kept as whole
minutes after creation, and a satisfaction rating is only good (CSAT 4-5, read as 5) or bad
(1-2, read as 1), a 3 being left unrated; the corporate currency's rate is 1 for all time
rather than a row per date. :func:`as_served` applies exactly these to the drop's rows, and
:func:`write_served_drop` writes a copy of a drop that holds the book as the systems do: the
file drop of that copy and the served book land the same rows.

:func:`land_served_day` lands one date of the history the way a night would read it: the
served families through their connectors, the others from the drop.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Self

import yaml

from touchline.config import Settings
from touchline.demo import files
from touchline.devservers.salesforce import SalesforceServer, format_datetime
from touchline.devservers.zendesk import ZendeskServer
from touchline.landing import drop_dir, publish_staged, stage_table
from touchline.schema import API_ENTITIES, ENTITIES, ENTITY_BY_NAME, FAMILIES
from touchline.sources.filedrop import find_file, read_typed

CORPORATE_CURRENCY = "USD"
CORPORATE_AS_OF = dt.date(1, 1, 1)  # the connector's date for the corporate currency's rate
PLAN_TYPES = {"paid": "Customer - Direct", "trial": "Prospect", "free": "Other"}
CONTRACT_STATUS_CODES = {"active": "Activated", "cancelled": "Terminated", "expired": "Expired"}
SNOOZE_OBJECT = "CS_Snooze__c"
CUSTOM_FIELDS: dict[str, dict[str, str]] = {
    "Account": {
        "Strategic__c": "boolean",
        "Implementation_Complexity__c": "picklist",
        "Pod__c": "string",
    },
    "Contact": {"Primary__c": "boolean"},
    "Contract": {"ARR__c": "currency", "Seats__c": "double"},
    "User": {"Pod__c": "string", "Capacity_Hours__c": "double"},
    SNOOZE_OBJECT: {
        "Account__c": "reference:Account:Account__r",
        "Touchpoint__c": "string",
        "Snoozed_Until__c": "date",
        "Reason__c": "string",
        "Created_By__c": "string",
    },
}
S3_KEY = "touchline-demo-key"
S3_SECRET = "touchline-demo-secret"
S3_REGION = "us-east-1"
BUCKET = "touchline-demo-usage"
USAGE_PREFIX = "segment"

# how sources.yml reads the custom fields above
SALESFORCE_MAPPING: dict[str, Any] = {
    "accounts": {
        "is_strategic": "Strategic__c",
        "implementation_complexity": "Implementation_Complexity__c",
        "pod": "Pod__c",
    },
    "contacts": {"is_primary": "Primary__c"},
    "contracts": {"seats": "Seats__c"},
    "csms": {
        "where": "IsActive = true",
        "pod": "Pod__c",
        "capacity_hours_per_week": "Capacity_Hours__c",
    },
    "snoozes": {
        "object": SNOOZE_OBJECT,
        "account_id": "Account__c",
        "touchpoint": "Touchpoint__c",
        "snoozed_until": "Snoozed_Until__c",
        "reason": "Reason__c",
        "created_by": "Created_By__c",
    },
}


def read_drop(drop: Path, day: dt.date, entity_name: str) -> list[dict[str, Any]]:
    """The rows of one entity's file of a date folder, typed as the contract says."""
    source = find_file(drop_dir(drop, day), ENTITY_BY_NAME[entity_name])
    if source is None:
        return []
    return [row for batch in read_typed(source) for row in batch.to_pylist()]


class DemoServers:
    """The local Salesforce, Zendesk and S3 servers the demo book is served from."""

    def __init__(self) -> None:
        self.salesforce = SalesforceServer()
        self.zendesk = ZendeskServer()
        self.s3: Any = None
        self._folder = tempfile.TemporaryDirectory(prefix="touchline-demo-servers-")
        self.ca_bundle = Path(self._folder.name) / "ca-bundle.pem"

    def start(self) -> Self:
        import boto3
        from moto.server import ThreadedMotoServer

        self.salesforce.start()
        self.zendesk.start()
        self.s3 = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.s3.start()
        self.ca_bundle.write_text(
            self.salesforce.ca_bundle.read_text() + self.zendesk.ca_bundle.read_text()
        )
        self.s3_client = boto3.client(
            "s3",
            endpoint_url=self.s3_endpoint,
            aws_access_key_id=S3_KEY,
            aws_secret_access_key=S3_SECRET,
            region_name=S3_REGION,
        )
        self.s3_client.create_bucket(Bucket=BUCKET)
        return self

    def stop(self) -> None:
        if self.s3 is not None:
            self.s3.stop()
            self.s3 = None
        self.zendesk.stop()
        self.salesforce.stop()
        self._folder.cleanup()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def s3_endpoint(self) -> str:
        host, port = self.s3.get_host_and_port()
        return f"http://{host}:{port}"

    def environment(self) -> dict[str, str]:
        """The Connections of the demo's ``sources.yml`` and the CA bundle, as env vars."""
        return {
            "AIRFLOW_CONN_TOUCHLINE_SALESFORCE": self.salesforce.connection_json(),
            "AIRFLOW_CONN_TOUCHLINE_ZENDESK": self.zendesk.connection_json(),
            "AIRFLOW_CONN_TOUCHLINE_USAGE_STORE": json.dumps(
                {
                    "conn_type": "aws",
                    "login": S3_KEY,
                    "password": S3_SECRET,
                    "extra": {"endpoint_url": self.s3_endpoint, "region_name": S3_REGION},
                }
            ),
            "REQUESTS_CA_BUNDLE": str(self.ca_bundle),
        }


def sources_config() -> dict[str, Any]:
    """The ``sources.yml`` content that reads the served book."""
    return {
        "families": {
            "crm": "salesforce",
            "support": "zendesk",
            "usage": "product_events",
            "engagement": "filedrop",
        },
        "sources": {
            "salesforce": {"type": "salesforce", **SALESFORCE_MAPPING},
            "zendesk": {"type": "zendesk", "missing_account": "fail"},
            "product_events": {
                "type": "usage_files",
                "url": f"s3://{BUCKET}/{USAGE_PREFIX}/",
                "format": "segment",
                "missing_account": "fail",
                # the files are uploaded now, for dates of the past
                "read_files_after_window": True,
            },
        },
    }


def write_sources_file(path: Path) -> Path:
    """Write the demo's ``sources.yml`` to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "# the demo book served by the local API servers (touchline demo --sources api)\n"
    path.write_text(text + yaml.safe_dump(sources_config(), sort_keys=False), encoding="utf-8")
    return path


def _stamp(day: dt.date) -> dt.datetime:
    """When a day's changes are recorded: the last second of the day (UTC)."""
    return dt.datetime.combine(day, dt.time(23, 59, 59), tzinfo=dt.UTC)


def _utc(moment: dt.datetime | None) -> dt.datetime | None:
    return None if moment is None else moment.replace(tzinfo=dt.UTC)


def csat_rating(score: int | None) -> str | None:
    """The Zendesk rating a CSAT score is served as: good (4-5), bad (1-2), none (3)."""
    if score is None or score == 3:
        return None
    return "good" if score >= 4 else "bad"


def ticket_versions(rows: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """A day's ticket versions in the order they are served (by last change, then id)."""
    return sorted(rows, key=lambda r: (r["updated_at"] or r["created_at"], r["ticket_id"]))


class TicketNumbers:
    """Zendesk's integer ticket ids, numbered in the order the tickets are first served."""

    def __init__(self) -> None:
        self.ticket_ids: dict[str, int] = {}  # drop ticket id -> Zendesk ticket id

    def number(self, drop_ticket_id: str) -> int:
        return self.ticket_ids.setdefault(drop_ticket_id, len(self.ticket_ids) + 1)


class ServedBook:
    """Loads a drop into :class:`DemoServers` date by date; see the module docstring.

    Call :meth:`serve_day` with each date in order: the servers then hold the book as of
    that date, the changes of the date stamped on it.
    """

    def __init__(self, servers: DemoServers, drop: Path) -> None:
        self.servers = servers
        self.drop = Path(drop)
        self.tickets = TicketNumbers()
        self._org_ids: dict[str, int] = {}  # account id -> Zendesk organization id
        self._users: dict[str, str] = {}  # CSM email -> Salesforce User Id
        self._snapshots: dict[str, dict[Any, dict[str, Any]]] = {}
        self._record_ids: dict[tuple[str, Any], str] = {}
        self._rates: set[tuple[str, dt.date]] = set()
        self._tickets: dict[int, dict[str, Any]] = {}
        self.served: list[dt.date] = []
        for sobject, fields in CUSTOM_FIELDS.items():
            for field, type_ in fields.items():
                servers.salesforce.add_field(sobject, field, type_)

    @property
    def ticket_ids(self) -> dict[str, int]:
        """Drop ticket id -> Zendesk ticket id, for the tickets served so far."""
        return self.tickets.ticket_ids

    def serve_day(self, day: dt.date) -> None:
        """Apply the drop of ``day`` to the servers (dates in order, each once)."""
        if self.served and day <= self.served[-1]:
            raise ValueError(
                f"{self.drop}: {day} is served after {self.served[-1]}; serve dates in order"
            )
        if not drop_dir(self.drop, day).is_dir():
            raise FileNotFoundError(f"{drop_dir(self.drop, day)}: no drop folder for {day}")
        stamp = _stamp(day)
        self._serve_crm(day, stamp)
        self._serve_tickets(day)
        self._serve_usage(day)
        self.served.append(day)

    # ------------------------------------------------------------------ crm

    def _serve_crm(self, day: dt.date, stamp: dt.datetime) -> None:
        self._sync(day, stamp, "csms", "User", ("csm_email",), self._user)
        self._sync(day, stamp, "accounts", "Account", ("account_id",), self._account)
        self._sync(day, stamp, "contacts", "Contact", ("contact_id",), self._contact)
        self._sync(day, stamp, "contracts", "Contract", ("contract_id",), self._contract)
        self._sync(day, stamp, "snoozes", SNOOZE_OBJECT, ("account_id", "touchpoint"), self._snooze)
        self._serve_rates(day, stamp)

    def _sync(self, day, stamp, entity_name, sobject, key, shape) -> None:
        """Write the records new or changed since the last date; delete the ones gone."""
        salesforce = self.servers.salesforce
        rows = {tuple(row[k] for k in key): row for row in read_drop(self.drop, day, entity_name)}
        before = self._snapshots.get(entity_name, {})
        for row_key, row in rows.items():
            if before.get(row_key) == row:
                continue
            record = shape(row)
            known = self._record_ids.get((sobject, row_key))
            if known is not None:
                record["Id"] = known
            self._record_ids[(sobject, row_key)] = salesforce.put(sobject, record, at=stamp)
        for row_key in before.keys() - rows.keys():
            salesforce.delete(sobject, self._record_ids.pop((sobject, row_key)), at=stamp)
        self._snapshots[entity_name] = rows

    def _user(self, row: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "Email": row["csm_email"],
            "Name": row["name"],
            "IsActive": True,
            "Pod__c": row["pod"],
            "Capacity_Hours__c": row["capacity_hours_per_week"],
        }

    def _owner(self, email: str | None) -> str | None:
        """The User owning an account: the CSM's, or an inactive user for an address that
        is no CSM of the day (it shows on the account, not among the CSMs)."""
        if email is None:
            return None
        known = self._record_ids.get(("User", (email,)))
        if known is not None:
            return known
        if email not in self._users:
            self._users[email] = self.servers.salesforce.put(
                "User", {"Email": email, "Name": email, "IsActive": False}
            )
        return self._users[email]

    def _account(self, row: Mapping[str, Any]) -> dict[str, Any]:
        created = _utc(row["created_at"])
        return {
            "Id": row["account_id"],
            "Name": row["account_name"],
            "Type": PLAN_TYPES[row["plan"]],
            "Strategic__c": row["is_strategic"],
            "Implementation_Complexity__c": row["implementation_complexity"],
            "OwnerId": self._owner(row["csm_email"]),
            "Pod__c": row["pod"],
            "Industry": row["industry"],
            "BillingCountry": row["region"],
            **({"CreatedDate": format_datetime(created)} if created else {}),
        }

    @staticmethod
    def _contact(row: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "Id": row["contact_id"],
            "AccountId": row["account_id"],
            "Email": row["email"],
            "Name": row["name"],
            "Title": row["role"],
            "Primary__c": row["is_primary"],
        }

    @staticmethod
    def _contract(row: Mapping[str, Any]) -> dict[str, Any]:
        status = CONTRACT_STATUS_CODES[row["status"]] if row["status"] else None
        return {
            "Id": row["contract_id"],
            "AccountId": row["account_id"],
            "StartDate": row["start_date"].isoformat(),
            "EndDate": row["end_date"].isoformat(),
            "ARR__c": row["arr_amount"],
            "CurrencyIsoCode": row["currency"],
            "StatusCode": status,
            "Status": status,
            "Seats__c": row["seats"],
        }

    @staticmethod
    def _snooze(row: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "Account__c": row["account_id"],
            "Touchpoint__c": row["touchpoint"],
            "Snoozed_Until__c": row["snoozed_until"].isoformat(),
            "Reason__c": row["reason"],
            "Created_By__c": row["created_by"],
        }

    def _serve_rates(self, day: dt.date, stamp: dt.datetime) -> None:
        """Dated rates per USD (the corporate currency): units of the currency per dollar."""
        salesforce = self.servers.salesforce
        latest: dict[str, float] = {}
        for row in sorted(read_drop(self.drop, day, "fx_rates"), key=lambda r: r["as_of_date"]):
            code, as_of = row["currency"], row["as_of_date"]
            latest[code] = 1 / row["rate_to_usd"]
            if code == CORPORATE_CURRENCY or (code, as_of) in self._rates:
                continue
            salesforce.put(
                "DatedConversionRate",
                {
                    "IsoCode": code,
                    "ConversionRate": 1 / row["rate_to_usd"],
                    "StartDate": as_of.isoformat(),
                },
                at=stamp,
            )
            self._rates.add((code, as_of))
        latest[CORPORATE_CURRENCY] = 1.0
        for code, rate in sorted(latest.items()):
            record = {
                "IsoCode": code,
                "ConversionRate": rate,
                "IsCorporate": code == CORPORATE_CURRENCY,
                "IsActive": True,
            }
            known = self._record_ids.get(("CurrencyType", code))
            if known is not None:
                record["Id"] = known
            self._record_ids[("CurrencyType", code)] = salesforce.put(
                "CurrencyType", record, at=stamp
            )

    # ------------------------------------------------------------------ support

    def _organization(self, account_id: str) -> int:
        if account_id not in self._org_ids:
            org_id = len(self._org_ids) + 1
            self.servers.zendesk.add_organization(org_id, account_id, external_id=account_id)
            self._org_ids[account_id] = org_id
        return self._org_ids[account_id]

    def _serve_tickets(self, day: dt.date) -> None:
        """Each ticket version of the day, as the ticket's history in Zendesk."""
        zendesk = self.servers.zendesk
        rows = read_drop(self.drop, day, "tickets")
        for row in ticket_versions(rows):
            ticket_id = self.tickets.number(row["ticket_id"])
            created = _utc(row["created_at"])
            updated = _utc(row["updated_at"]) or created
            tags = (row["tags"] or "").split(";") if row["tags"] else []
            known = self._tickets.get(ticket_id)
            if known is None:
                zendesk.add_ticket(
                    ticket_id,
                    self._organization(row["account_id"]),
                    status="new",
                    priority=row["priority"],
                    tags=tags,
                    at=created,
                )
                known = self._tickets[ticket_id] = {"status": "new", "replied": False}
            if row["first_reply_at"] is not None and not known["replied"]:
                minutes = int((row["first_reply_at"] - row["created_at"]).total_seconds() // 60)
                zendesk.reply(ticket_id, minutes, at=_utc(row["first_reply_at"]))
                known.update(replied=True, status="open")
            if row["solved_at"] is not None and row["status"] in ("solved", "closed"):
                if known.get("solved_at") != row["solved_at"]:
                    zendesk.update_ticket(ticket_id, at=_utc(row["solved_at"]), status="solved")
                    known.update(status="solved", solved_at=row["solved_at"])
            rating = csat_rating(row["csat_score"])
            if rating is not None and known.get("rating") != rating:
                zendesk.rate(ticket_id, rating, at=updated)
                known["rating"] = rating
            changes: dict[str, Any] = {"priority": row["priority"], "tags": tags}
            if row["status"] != known["status"]:
                changes["status"] = row["status"]
                known["status"] = row["status"]
            zendesk.update_ticket(ticket_id, at=updated, **changes)

    # ------------------------------------------------------------------ usage

    def _serve_usage(self, day: dt.date) -> None:
        """The day's events as one gzipped Segment export file of track calls."""
        rows = read_drop(self.drop, day, "usage_events")
        if not rows:
            return
        lines = "\n".join(json.dumps(record) for record in _segment_tracks(rows)) + "\n"
        self.servers.s3_client.put_object(
            Bucket=BUCKET,
            Key=f"{USAGE_PREFIX}/{day.isoformat()}/events.jsonl.gz",
            Body=gzip.compress(lines.encode("utf-8"), mtime=0),
        )


def _segment_tracks(rows: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for row in rows:
        record: dict[str, Any] = {
            "type": "track",
            "userId": row["user_id"],
            "event": row["feature"],
            "timestamp": row["occurred_at"].strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
            "context": {"groupId": row["account_id"]},
        }
        if row["event_id"] is not None:
            record["messageId"] = row["event_id"]
        yield record


def as_served(
    entity_name: str, rows: list[dict[str, Any]], book: ServedBook | TicketNumbers
) -> list[dict]:
    """The drop's rows of an entity as the served systems can hold them (module docstring)."""
    if entity_name == "tickets":
        served = []
        for row in rows:
            row = dict(row)
            row["ticket_id"] = str(book.ticket_ids[row["ticket_id"]])
            if row["first_reply_at"] is not None:
                minutes = int((row["first_reply_at"] - row["created_at"]).total_seconds() // 60)
                row["first_reply_at"] = row["created_at"] + dt.timedelta(minutes=minutes)
            if row["status"] not in ("solved", "closed"):
                row["solved_at"] = None
            rating = csat_rating(row["csat_score"])
            row["csat_score"] = None if rating is None else {"good": 5, "bad": 1}[rating]
            served.append(row)
        return served
    if entity_name == "fx_rates":
        kept = [row for row in rows if row["currency"] != CORPORATE_CURRENCY]
        corporate = {"currency": CORPORATE_CURRENCY, "rate_to_usd": 1.0}
        return kept + [{**corporate, "as_of_date": CORPORATE_AS_OF}]
    return rows


def _text(value: Any) -> str:
    """A typed value as the file drop writes it (docs/input-layout.md)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return files.boolean(value)
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None).isoformat() + "Z"
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def drop_dates(drop: Path) -> list[dt.date]:
    """The dates of a drop's date folders, in order."""
    dates = []
    for folder in Path(drop).iterdir():
        try:
            dates.append(dt.date.fromisoformat(folder.name))
        except ValueError:
            continue
    return sorted(dates)


def write_served_drop(drop: Path, out: Path) -> Path:
    """Copy ``drop`` to ``out`` with :func:`as_served` applied to every entity and date.

    The copy is the book as the served systems hold it: landed from the file drop it gives
    the rows the served book lands. Files :func:`as_served` leaves as they are are copied
    byte for byte; the others are written again in the drop's format, under the same name.
    """
    out = Path(out)
    shutil.copytree(drop, out)
    numbers = TicketNumbers()
    for day in drop_dates(drop):
        for entity in ENTITIES:
            source = find_file(drop_dir(drop, day), entity)
            if source is None:
                continue
            rows = read_drop(drop, day, entity.name)
            if entity.name == "tickets":
                for row in ticket_versions(rows):
                    numbers.number(row["ticket_id"])
            served = as_served(entity.name, rows, numbers)
            if served is rows:
                continue
            columns = entity.column_names
            files.write_rows(
                drop_dir(out, day) / source.path.name,
                entity.name,
                [[_text(row[column]) for column in columns] for row in served],
            )
    return out


def served_families() -> tuple[str, ...]:
    """The families the demo's ``sources.yml`` reads from the servers."""
    return tuple(
        family for family, source in sources_config()["families"].items() if source != "filedrop"
    )


def land_served_day(book: ServedBook, paths: Settings, day: dt.date) -> None:
    """Serve ``day`` and land it: the served families through ``sources.yml``, the others
    and the empty CRM read-back from the drop (as ``touchline.extract.land_day`` does).

    History is trusted, as ``land_history``'s is: the batches are published without the
    gate. The servers hold one date at a time, so dates land one after another, in order.
    """
    from touchline.extract import land_family, stage_family

    book.serve_day(day)
    served = served_families()
    for family in served:
        stage_family(family, day, paths)
    for family in FAMILIES:
        if family not in served:
            land_family(family, day, paths)
    for entity in API_ENTITIES:  # nothing was read back before the first run
        stage_table(entity.name, None, paths.landing_dir, day, source="history")
    publish_staged(paths.landing_dir, day)
