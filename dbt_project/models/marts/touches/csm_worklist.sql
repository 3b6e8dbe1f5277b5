{#-
    The human work list: the touchpoints due today that a person owns (csm, pod, support),
    with their assignee from fct_touchpoints_due and the account's context, in the
    worklist.csv layout of docs/outputs.md.
-#}
with

touchpoints_due as (
    select * from {{ ref('fct_touchpoints_due') }}
),

accounts as (
    select * from {{ ref('dim_accounts') }}
),

final as (
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
)

select * from final
order by assignee_email, priority, due_date, account_id, touchpoint, task_key
