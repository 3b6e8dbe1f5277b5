{#-
    Workload per CSM against the coverage ratios of touch_tiers, with their pod's totals.

    book_load: the share of a full book the CSM carries, summed over tiers: accounts owned in
    a tier over that tier's accounts_per_csm_max (high 30, low 500; medium touch is pooled, so
    a pod member's share of the pod's medium accounts over 300 split between its members).
    weekly_cadence_hours: the hours a week the playbook's recurring touchpoints ask for the
    accounts the CSM serves. A CSM is overloaded when the book is over 100%, the weekly
    cadence needs more than their capacity, or today's tasks need more than a day of it.
    The shares and minutes are summed as exact decimals (to 1e-18, fine enough for the thirds
    of a pod's share) and the sums rounded to 1e-12 before they are rounded for display, so a
    figure does not depend on the order the terms are added in, and a sum that is exactly a
    half rounds up.
-#}
with

csms as (
    select * from {{ ref('stg_crm__csms') }}
),

accounts as (
    select * from {{ ref('int_accounts_classified') }}
),

-- the human tasks of the day: the rows of csm_worklist
worklist as (
    select *
    from {{ ref('int_touchpoints_assigned') }}
    where owner_role in ('csm', 'pod', 'support')
),

tiers as (
    select * from {{ ref('touch_tiers') }}
),

playbook as (
    select * from {{ ref('cadence_playbook') }}
),

touchpoints as (
    select * from {{ ref('touchpoints') }}
),

pod_sizes as (
    select
        pod,
        count(*) as pod_members
    from csms
    where pod is not null
    group by pod
),

-- who serves an account: its own CSM, or for pooled (medium) accounts an equal share of
-- every member of its pod
served as (
    select
        accounts.account_id,
        accounts.tier,
        accounts.lifecycle_stage,
        accounts.csm_email,
        1.0 as share
    from accounts
    where accounts.tier in ('high', 'low') and accounts.csm_email is not null
    union all
    select
        accounts.account_id,
        accounts.tier,
        accounts.lifecycle_stage,
        csms.csm_email,
        1.0 / pod_sizes.pod_members as share
    from accounts
    inner join csms
        on accounts.pod = csms.pod
    inner join pod_sizes
        on accounts.pod = pod_sizes.pod
    where accounts.tier = 'medium'
),

weekly_minutes as (
    select
        served.account_id,
        served.csm_email,
        served.share * sum(touchpoints.estimated_minutes * 7.0 / playbook.every_days)
            as minutes_per_week
    from served
    inner join playbook
        on
            served.tier = playbook.tier
            and {{ list_has('playbook.lifecycle_stages', 'served.lifecycle_stage') }}
            and playbook.every_days is not null
            and playbook.owner_role in ('csm', 'pod')
    inner join touchpoints
        on playbook.touchpoint = touchpoints.touchpoint
    group by served.account_id, served.csm_email, served.share
),

books as (
    select
        served.csm_email,
        count(case when served.tier = 'high' then 1 end) as high_touch_accounts,
        cast(round(sum({{ fine_exact(
            "case when served.tier = 'medium' then served.share else 0 end"
        ) }}), 12) as {{ double_type() }}) as medium_touch_account_share,
        count(case when served.tier = 'low' then 1 end) as low_touch_accounts,
        cast(
            round(sum({{ fine_exact('served.share / tiers.accounts_per_csm_max') }}), 12)
            as {{ double_type() }}
        )
            as book_load
    from served
    inner join tiers
        on served.tier = tiers.tier
    group by served.csm_email
),

cadence_load as (
    select
        csm_email,
        cast(round(sum({{ fine_exact('minutes_per_week') }}), 12) as {{ double_type() }}) / 60.0
            as weekly_cadence_hours
    from weekly_minutes
    group by csm_email
),

tasks as (
    select
        assignee_email as csm_email,
        count(*) as tasks_today,
        count(case when status = 'overdue' then 1 end) as overdue_tasks,
        count(case when priority = 'p1' then 1 end) as p1_tasks,
        sum(estimated_minutes) / 60.0 as task_hours_today
    from worklist
    where assignee_email is not null
    group by assignee_email
),

per_csm as (
    select
        csms.csm_email,
        csms.csm_name,
        csms.pod,
        coalesce(csms.capacity_hours_per_week, 40) as capacity_hours_per_week,
        coalesce(books.high_touch_accounts, 0) as high_touch_accounts,
        {{ round_to('coalesce(books.medium_touch_account_share, 0)', 1) }}
            as medium_touch_account_share,
        coalesce(books.low_touch_accounts, 0) as low_touch_accounts,
        {{ round_to('coalesce(books.book_load, 0)', 3) }} as book_load,
        {{ round_to('coalesce(cadence_load.weekly_cadence_hours, 0)', 1) }} as weekly_cadence_hours,
        coalesce(tasks.tasks_today, 0) as tasks_today,
        coalesce(tasks.overdue_tasks, 0) as overdue_tasks,
        coalesce(tasks.p1_tasks, 0) as p1_tasks,
        round(coalesce(tasks.task_hours_today, 0), 1) as task_hours_today
    from csms
    left join books
        on csms.csm_email = books.csm_email
    left join cadence_load
        on csms.csm_email = cadence_load.csm_email
    left join tasks
        on csms.csm_email = tasks.csm_email
),

final as (
    select
        per_csm.*,
        {{ round_to('per_csm.weekly_cadence_hours / per_csm.capacity_hours_per_week', 3) }}
            as cadence_utilization,
        (
            per_csm.book_load > 1
            or per_csm.weekly_cadence_hours > per_csm.capacity_hours_per_week
            or per_csm.task_hours_today > per_csm.capacity_hours_per_week / 5.0
        ) as is_overloaded,
        sum(per_csm.tasks_today) over (partition by per_csm.pod) as pod_tasks_today,
        {{ round_to('sum(per_csm.weekly_cadence_hours) over (partition by per_csm.pod)', 1) }}
            as pod_weekly_cadence_hours,
        sum(per_csm.capacity_hours_per_week) over (partition by per_csm.pod)
            as pod_capacity_hours_per_week,
        {{ run_date() }} as run_date
    from per_csm
)

select * from final
order by pod, csm_email
