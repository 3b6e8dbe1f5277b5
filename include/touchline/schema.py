"""The input entities (docs/input-layout.md is written from here), as data.

One place names every entity, its columns, which are required, their types, the allowed
values of enum columns and the key that must be unique within one file. Landing, the demo
generator, the dbt sources and the tests all read it from here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Kind(StrEnum):
    """How a date's file relates to the previous one."""

    SNAPSHOT = "snapshot"  # the full current state on that date
    EVENT = "event"  # records created or updated since the previous drop


class Type(StrEnum):
    STRING = "string"
    ENUM = "enum"
    BOOLEAN = "boolean"
    INTEGER = "integer"
    DECIMAL = "decimal"
    DATE = "date"
    TIMESTAMP = "timestamp"


@dataclass(frozen=True)
class Column:
    name: str
    type: Type = Type.STRING
    required: bool = False
    values: tuple[str, ...] = ()  # allowed values of an enum column
    min_value: float | None = None  # inclusive bounds of a numeric column
    max_value: float | None = None

    @property
    def expected(self) -> str:
        """What a valid value looks like, in words, for error messages."""
        if self.type is Type.ENUM:
            return "one of " + "/".join(self.values)
        if self.type is Type.BOOLEAN:
            return "true or false"
        if self.type is Type.DATE:
            return "a date YYYY-MM-DD"
        if self.type is Type.TIMESTAMP:
            return "an ISO 8601 timestamp"
        if self.type in (Type.INTEGER, Type.DECIMAL):
            noun = "an integer" if self.type is Type.INTEGER else "a number"
            if self.min_value is not None and self.max_value is not None:
                return f"{noun} from {self.min_value:g} to {self.max_value:g}"
            if self.min_value is not None:
                return f"{noun} >= {self.min_value:g}"
            return noun
        return "a non-empty value"


@dataclass(frozen=True)
class Entity:
    name: str
    kind: Kind
    family: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    required_file: bool = False  # a snapshot every drop must contain
    parquet_allowed: bool = False
    doc: str = ""
    by_name: dict[str, Column] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {c.name: c for c in self.columns})

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.required]


def _req(name: str, type_: Type = Type.STRING, **kw) -> Column:
    return Column(name, type_, required=True, **kw)


def _opt(name: str, type_: Type = Type.STRING, **kw) -> Column:
    return Column(name, type_, required=False, **kw)


PLANS = ("free", "trial", "paid")
CONTRACT_STATUSES = ("active", "cancelled", "expired")
COMPLEXITIES = ("low", "standard", "complex")
TICKET_STATUSES = ("new", "open", "pending", "solved", "closed")
TICKET_PRIORITIES = ("low", "normal", "high", "urgent")
OUTCOMES = ("completed", "no_show", "cancelled")
BOOLEAN_VALUES = ("true", "false")

ENTITIES: tuple[Entity, ...] = (
    Entity(
        "accounts",
        Kind.SNAPSHOT,
        "crm",
        (
            _req("account_id"),
            _req("account_name"),
            _req("plan", Type.ENUM, values=PLANS),
            _opt("is_strategic", Type.BOOLEAN),
            _opt("implementation_complexity", Type.ENUM, values=COMPLEXITIES),
            _opt("csm_email"),
            _opt("pod"),
            _opt("industry"),
            _opt("region"),
            _opt("created_at", Type.TIMESTAMP),
        ),
        key=("account_id",),
        required_file=True,
        doc="Customer accounts, their plan, owner and pod.",
    ),
    Entity(
        "contracts",
        Kind.SNAPSHOT,
        "crm",
        (
            _req("contract_id"),
            _req("account_id"),
            _req("start_date", Type.DATE),
            _req("end_date", Type.DATE),
            _req("arr_amount", Type.DECIMAL, min_value=0),
            _req("currency"),
            _opt("status", Type.ENUM, values=CONTRACT_STATUSES),
            _opt("seats", Type.INTEGER, min_value=0),
        ),
        key=("contract_id",),
        required_file=True,
        doc="Subscriptions: ARR in the contract currency, term and licensed seats.",
    ),
    Entity(
        "contacts",
        Kind.SNAPSHOT,
        "crm",
        (
            _req("contact_id"),
            _req("account_id"),
            _req("email"),
            _opt("name"),
            _opt("role"),
            _opt("is_primary", Type.BOOLEAN),
        ),
        key=("contact_id",),
        required_file=True,
        doc="People at customer accounts.",
    ),
    Entity(
        "csms",
        Kind.SNAPSHOT,
        "crm",
        (
            _req("csm_email"),
            _req("name"),
            _opt("pod"),
            _opt("capacity_hours_per_week", Type.DECIMAL, min_value=0),
        ),
        key=("csm_email",),
        required_file=True,
        doc="Customer success managers and their pods.",
    ),
    Entity(
        "snoozes",
        Kind.SNAPSHOT,
        "crm",
        (
            _req("account_id"),
            _opt("touchpoint"),
            _req("snoozed_until", Type.DATE),
            _opt("reason"),
            _opt("created_by"),
        ),
        key=("account_id", "touchpoint"),
        doc="Accounts or touchpoints a CSM silenced until a date.",
    ),
    Entity(
        "fx_rates",
        Kind.SNAPSHOT,
        "crm",
        (
            _req("currency"),
            _req("rate_to_usd", Type.DECIMAL, min_value=0),
            _req("as_of_date", Type.DATE),
        ),
        key=("currency", "as_of_date"),
        required_file=True,
        doc="Exchange rates to the reporting currency (USD).",
    ),
    Entity(
        "usage_events",
        Kind.EVENT,
        "usage",
        (
            _req("account_id"),
            _req("user_id"),
            _req("feature"),
            _req("occurred_at", Type.TIMESTAMP),
            _opt("event_id"),
        ),
        key=("event_id",),
        parquet_allowed=True,
        doc="Product usage: one row per user action on a feature.",
    ),
    Entity(
        "tickets",
        Kind.EVENT,
        "support",
        (
            _req("ticket_id"),
            _req("account_id"),
            _req("created_at", Type.TIMESTAMP),
            _req("status", Type.ENUM, values=TICKET_STATUSES),
            _req("priority", Type.ENUM, values=TICKET_PRIORITIES),
            _opt("first_reply_at", Type.TIMESTAMP),
            _opt("solved_at", Type.TIMESTAMP),
            _opt("updated_at", Type.TIMESTAMP),
            _opt("tags"),
            _opt("csat_score", Type.INTEGER, min_value=1, max_value=5),
        ),
        key=("ticket_id",),
        doc="Support tickets, one version per change.",
    ),
    Entity(
        "nps_responses",
        Kind.EVENT,
        "engagement",
        (
            _req("response_id"),
            _req("account_id"),
            _req("score", Type.INTEGER, min_value=0, max_value=10),
            _req("responded_at", Type.TIMESTAMP),
            _opt("contact_id"),
            _opt("comment"),
        ),
        key=("response_id",),
        doc="Net Promoter Score survey answers.",
    ),
    Entity(
        "activities",
        Kind.EVENT,
        "engagement",
        (
            _req("activity_id"),
            _req("account_id"),
            _req("activity_type"),
            _req("occurred_at", Type.TIMESTAMP),
            _opt("outcome", Type.ENUM, values=OUTCOMES),
            _opt("channel"),
            _opt("csm_email"),
        ),
        key=("activity_id",),
        doc="The touch activity log: calls, emails, reviews, webinars, opens and clicks.",
    ),
    Entity(
        "churn_events",
        Kind.EVENT,
        "engagement",
        (
            _req("account_id"),
            _req("churned_on", Type.DATE),
            _opt("reason"),
        ),
        key=("account_id", "churned_on"),
        doc="Accounts that left.",
    ),
)

# Landed from an API rather than the drop: staged by their own task on every run (empty when
# the API is not configured), validated by the same gate, read by the dbt staging models.
API_ENTITIES: tuple[Entity, ...] = (
    Entity(
        "crm_task_completions",
        Kind.EVENT,
        "crm_readback",
        (
            _req("activity_id"),
            _req("account_id"),
            _req("activity_type"),
            _req("occurred_at", Type.TIMESTAMP),
            _opt("task_key"),
            _opt("csm_email"),
        ),
        key=("activity_id",),
        doc="Tasks CSMs completed in the CRM, read back from it: completed touch activities.",
    ),
)
ALL_ENTITIES: tuple[Entity, ...] = ENTITIES + API_ENTITIES

ENTITY_BY_NAME: dict[str, Entity] = {e.name: e for e in ALL_ENTITIES}

# Source families of the drop: one extract task each.
FAMILIES: dict[str, tuple[str, ...]] = {}
for _entity in ENTITIES:
    FAMILIES.setdefault(_entity.family, ())
    FAMILIES[_entity.family] += (_entity.name,)

# Activity types other than touchpoint codes.
NON_TOUCH_ACTIVITY_TYPES = ("email_open", "email_click", "webinar_attended", "support_call")


def entity(name: str) -> Entity:
    try:
        return ENTITY_BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown entity {name!r}; known: {', '.join(ENTITY_BY_NAME)}") from None
