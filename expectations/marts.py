"""Before export: the suites the built marts must pass before anything is sent or published.

Each frame is a query on the candidate warehouse (the night's build, not yet published);
``BATCHES`` names the query, the columns that identify an offending row and those judged
unique. The in-warehouse logic (grain, relationships, accepted values inside the model) is
dbt's tests'; these are the sanity checks on what a CSM or a downstream tool is about to
receive.
"""

from __future__ import annotations

import datetime as dt

import great_expectations.expectations as gxe

from touchline.quality.suites import ExportContext, fail, warn

TIERS = ("high", "medium", "low", "tech")

BATCHES: dict[str, dict] = {
    "tasks": {
        "sql": """
            select
                tasks.task_key,
                tasks.account_id,
                tasks.touchpoint,
                tasks.due_date,
                case
                    when tasks.owner_role = 'automation' then nullif(tasks.channel, '')
                    when tasks.owner_role = 'support' then 'support queue'
                    else tasks.assignee_email
                end as routed_to,
                case
                    when tasks.owner_role <> 'automation' then 'not automated'
                    when exists (
                        select 1 from main.stg_crm__contacts as contacts
                        where contacts.account_id = tasks.account_id
                    ) then 'has a contact'
                end as automation_contact
            from main.fct_touchpoints_due as tasks
        """,
        "ids": ("task_key", "account_id"),
        "unique": ("task_key",),  # judged unique: chunks never split a task_key
    },
    "csm_load": {
        # the CSM is named by a masked address: the report carries no personal data
        "sql": """
            select
                regexp_replace(assignee_email, '^(.)[^@]*', '\\1***') as csm,
                count(*) as tasks
            from main.csm_worklist
            where assignee_email is not null
            group by assignee_email
        """,
        "ids": ("csm",),
    },
    "tier_shares": {
        "sql": """
            select
                count(*) as accounts,
                """
        + ",\n                ".join(
            f"round(coalesce(avg(case when tier = '{tier}' then 1.0 else 0.0 end), 0), 4) "
            f"as {tier}_share"
            for tier in TIERS
        )
        + """
            from main.dim_accounts
        """,
        "ids": (),
    },
}


def suites(ctx: ExportContext) -> dict[str, list]:
    limits = ctx.thresholds
    first_due = ctx.run_date - dt.timedelta(days=limits["due_date_days_before"])
    last_due = ctx.run_date + dt.timedelta(days=limits["due_date_days_after"])
    tasks = [
        fail(gxe.ExpectColumnValuesToNotBeNull(column="task_key")),
        fail(gxe.ExpectColumnValuesToBeUnique(column="task_key")),
        fail(gxe.ExpectColumnValuesToBeInSet(column="touchpoint", value_set=ctx.touchpoint_codes)),
        fail(gxe.ExpectColumnValuesToNotBeNull(column="due_date")),
        fail(
            gxe.ExpectColumnValuesToBeBetween(
                column="due_date",
                min_value=dt.datetime.combine(first_due, dt.time()),
                max_value=dt.datetime.combine(last_due, dt.time()),
            )
        ),
        fail(gxe.ExpectColumnValuesToNotBeNull(column="routed_to")),
        warn(gxe.ExpectColumnValuesToNotBeNull(column="automation_contact")),
    ]
    csm_load = [
        fail(
            gxe.ExpectColumnValuesToBeBetween(
                column="tasks", min_value=0, max_value=limits["max_tasks_per_csm"]
            )
        )
    ]
    tier_shares = [fail(gxe.ExpectTableRowCountToEqual(value=1))]
    for tier in TIERS:
        low, high = limits["tier_share_bounds"][tier]
        tier_shares.append(
            fail(
                gxe.ExpectColumnMaxToBeBetween(
                    column=f"{tier}_share", min_value=low, max_value=high
                )
            )
        )
    return {"tasks": tasks, "csm_load": csm_load, "tier_shares": tier_shares}
