{#-
    The human work list: the touchpoints due today that a person owns (csm, pod, support),
    with their assignee from fct_touchpoints_due and the account's context, in the
    worklist.csv layout of docs/outputs.md. list_position is the list's order, stated here
    once for every reader: by assignee (the queues last), priority, due date, account,
    touchpoint, and the task key, so no two tasks tie.
-#}
with

touchpoints_due as (
    select * from {{ ref('int_touchpoints_assigned') }}
),

accounts as (
    select * from {{ ref('int_accounts_classified') }}
),

human_tasks as (
    select
        touchpoints_due.task_key,
        touchpoints_due.run_date,
        touchpoints_due.due_date,
        touchpoints_due.status,
        touchpoints_due.priority,
        touchpoints_due.account_id,
        accounts.account_name,
        touchpoints_due.touchpoint,
        touchpoints_due.trigger,
        touchpoints_due.channel,
        touchpoints_due.owner_role,
        touchpoints_due.assignee_email,
        touchpoints_due.pod,
        accounts.tier,
        accounts.lifecycle_stage,
        accounts.health_score,
        accounts.health_band,
        touchpoints_due.estimated_minutes,
        touchpoints_due.reason
    from touchpoints_due
    inner join accounts
        on touchpoints_due.account_id = accounts.account_id
    where touchpoints_due.owner_role in ('csm', 'pod', 'support')
),

final as (
    select
        *,
        row_number() over (
            order by
                assignee_email asc nulls last,
                priority asc,
                due_date asc,
                account_id asc,
                touchpoint asc,
                task_key asc
        ) as list_position
    from human_tasks
)

select * from final
order by list_position
