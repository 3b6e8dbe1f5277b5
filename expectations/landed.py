"""Before load: the suites every staged batch of the drop must pass to be published.

Two frames per entity:

- ``rows``: every record (validated in chunks), with ``_row`` (its record number, which
  the report turns into the file's line) and, for entities that name an account,
  ``known_account_id`` (null when the account is in neither today's accounts snapshot
  nor the previous one); for contracts, ``active_contract_currency`` (the upper-cased
  currency of a contract that counts towards ARR on the run date: active, or without a
  status, and started; null for the others).
- ``keys``: the key columns of the whole batch in one frame, for uniqueness and volume.

Columns, types, enums and ranges come from the contract (``touchline.schema``); the rules
below add what the contract cannot say about one value alone.
"""

from __future__ import annotations

import datetime as dt

import great_expectations.expectations as gxe

from touchline.quality.suites import LoadContext, fail, quarantine, warn
from touchline.schema import Kind, Type

DATETIMES = [f"datetime64[{unit}]" for unit in ("s", "ms", "us", "ns")]
# pandas types of the frames the gate validates (nullable: a column with nulls keeps its type)
TYPE_NAMES = {
    Type.STRING: ["StringDtype"],
    Type.ENUM: ["StringDtype"],
    Type.BOOLEAN: ["BooleanDtype"],
    Type.INTEGER: ["Int64Dtype"],
    Type.DECIMAL: ["float64"],
    Type.DATE: DATETIMES,
    Type.TIMESTAMP: DATETIMES,
}

# Times that record something that already happened: none may lie after the run.
PAST_COLUMNS = {
    "accounts": ["created_at"],
    "usage_events": ["occurred_at"],
    "tickets": ["created_at", "first_reply_at", "solved_at", "updated_at"],
    "nps_responses": ["responded_at"],
    "activities": ["occurred_at"],
    "churn_events": ["churned_on"],
}

# (later, earlier, severity): the later column may not precede the earlier one.
ORDERED_COLUMNS = {
    "tickets": [("solved_at", "created_at", fail), ("first_reply_at", "created_at", warn)],
    "contracts": [("end_date", "start_date", fail)],
}


# An email address a work list can be named after: no leading, trailing or doubled dot, no
# path separator, a domain with at least one dot.
_LOCAL = r"[A-Za-z0-9_%+'-]+(?:\.[A-Za-z0-9_%+'-]+)*"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
EMAIL_PATTERN = rf"^{_LOCAL}@{_LABEL}(?:\.{_LABEL})+$"

# (column, severity): columns holding a CSM's email address. The CSM list's key and the
# account owner name work lists, so a bad one stops the run; an activity's CSM only
# credits the touch, so its row is quarantined.
EMAIL_COLUMNS = {
    "csms": [("csm_email", fail)],
    "accounts": [("csm_email", fail)],
    "activities": [("csm_email", quarantine)],
}


def rows_suite(ctx: LoadContext) -> list:
    entity = ctx.entity
    expectations = []
    for column in entity.columns:
        if column.required:
            expectations.append(fail(gxe.ExpectColumnToExist(column=column.name)))
            expectations.append(fail(gxe.ExpectColumnValuesToNotBeNull(column=column.name)))
        expectations.append(
            fail(
                gxe.ExpectColumnValuesToBeInTypeList(
                    column=column.name, type_list=TYPE_NAMES[column.type]
                )
            )
        )
        if column.type is Type.ENUM:
            expectations.append(
                fail(gxe.ExpectColumnValuesToBeInSet(column=column.name, value_set=column.values))
            )
        if column.min_value is not None or column.max_value is not None:
            expectations.append(
                fail(
                    gxe.ExpectColumnValuesToBeBetween(
                        column=column.name,
                        min_value=column.min_value,
                        max_value=column.max_value,
                    )
                )
            )
    latest = dt.datetime.combine(ctx.run_date + dt.timedelta(days=1), dt.time()) + dt.timedelta(
        hours=ctx.thresholds["future_tolerance_hours"]
    )
    for name in PAST_COLUMNS.get(entity.name, []):
        expectations.append(fail(gxe.ExpectColumnValuesToBeBetween(column=name, max_value=latest)))
    for later, earlier, severity in ORDERED_COLUMNS.get(entity.name, []):
        expectations.append(
            severity(
                gxe.ExpectColumnPairValuesAToBeGreaterThanB(
                    column_A=later,
                    column_B=earlier,
                    or_equal=True,
                    ignore_row_if="either_value_is_missing",
                )
            )
        )
    for name, severity in EMAIL_COLUMNS.get(entity.name, []):
        expectations.append(
            severity(
                gxe.ExpectColumnValuesToMatchRegex(
                    column=name,
                    regex=EMAIL_PATTERN,
                    notes="an email address such as name@example.com",
                )
            )
        )
    if entity.name == "contracts" and ctx.rated_currencies is not None:
        expectations.append(
            fail(
                gxe.ExpectColumnValuesToBeInSet(
                    column="active_contract_currency",
                    value_set=list(ctx.rated_currencies),
                    notes=f"an active contract's currency needs an fx_rates row on or before "
                    f"{ctx.run_date} to count in ARR",
                )
            )
        )
    if ctx.checks_accounts:
        unknown = ctx.thresholds["unknown_account_share"]
        # every row naming an unknown account is quarantined (warn); the batch fails only
        # when such rows are both many and a large share: a broken export, not a stray row
        expectations.append(
            quarantine(
                gxe.ExpectColumnValuesToNotBeNull(
                    column="known_account_id",
                    notes="account_id names an account of the accounts snapshot",
                )
            )
        )
        expectations.append(
            fail(
                gxe.ExpectColumnValuesToNotBeNull(
                    column="known_account_id",
                    mostly=1 - unknown["fail"],
                    meta={"min_unexpected_rows": unknown["min_rows"]},
                    notes="account_id names an account of the accounts snapshot",
                )
            )
        )
    return expectations


def keys_suite(ctx: LoadContext) -> list:
    entity = ctx.entity
    if len(entity.key) == 1:
        unique = gxe.ExpectColumnValuesToBeUnique(column=entity.key[0])
    else:
        unique = gxe.ExpectCompoundColumnsToBeUnique(column_list=list(entity.key))
    expectations = [fail(unique)]
    if entity.required_file:
        expectations.append(fail(gxe.ExpectTableRowCountToBeBetween(min_value=1)))
    volume = ctx.thresholds["volume"]
    if ctx.baseline is not None and ctx.baseline.rows >= volume["min_rows"]:
        factor = volume["snapshot_factor" if entity.kind is Kind.SNAPSHOT else "event_factor"]
        expectations.append(
            fail(
                gxe.ExpectTableRowCountToBeBetween(
                    min_value=int(ctx.baseline.rows / factor),
                    max_value=int(ctx.baseline.rows * factor) + 1,
                    notes=f"baseline: {ctx.baseline.rows} rows on {ctx.baseline.ds}, "
                    f"factor {factor}",
                )
            )
        )
    return expectations
