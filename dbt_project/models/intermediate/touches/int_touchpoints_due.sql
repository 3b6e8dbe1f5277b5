{#-
    Every touchpoint occurrence due or overdue on the run date: cadence occurrences from the
    playbook and event occurrences from the triggers, less those satisfied by a completed
    activity of the same touchpoint in their window and those snoozed. One row per task_key
    (account, touchpoint, due period): where a cadence and an event land on the same key,
    the event wins.
-#}
with

occurrences as (
    select * from {{ ref('int_touchpoint_occurrences') }}
),

firings as (
    select * from {{ ref('int_event_firings') }}
),

activities as (
    select * from {{ ref('stg_engagement__activities') }}
),

snoozes as (
    select * from {{ ref('stg_crm__snoozes') }}
),

touchpoints as (
    select * from {{ ref('touchpoints') }}
),

cadence as (
    select
        account_id,
        touchpoint,
        'cadence' as trigger,
        scheduled_date as due_date,
        -- a recurring touch is satisfied by a completion nearer to it than to the previous
        -- occurrence; a one-off by one up to early_completion_days before it
        {{ add_days(
            '-coalesce(every_days // 2, ' ~ var('early_completion_days') ~ ')', 'scheduled_date'
        ) }} as satisfied_from_date,
        {{ var('overdue_grace_days') }} as overdue_after_days,
        priority,
        channel,
        owner_role,
        description
        || ': scheduled for '
        || strftime(scheduled_date, '%Y-%m-%d')
        || case
            when anchor = 'renewal' then ', ' || offset_days || ' days before renewal'
            when every_days is not null then ', every ' || every_days || ' days'
            else ', ' || offset_days || ' days after the contract start'
        end
        || '; no completed ' || touchpoint || ' logged since' as reason
    from occurrences
),

events as (
    select
        account_id,
        touchpoint,
        'event' as trigger,
        fired_on as due_date,
        fired_on as satisfied_from_date,
        overdue_after_days,
        priority,
        channel,
        owner_role,
        description || ' on ' || strftime(fired_on, '%Y-%m-%d') || ' (' || detail || ')'
        || '; no completed ' || touchpoint || ' logged since' as reason
    from firings
),

candidates as (
    select * from events
    union all
    select * from cadence
),

completions as (
    select
        account_id,
        activity_type,
        occurred_date
    from activities
    where outcome = 'completed'
),

open_occurrences as (
    select candidates.*
    from candidates
    where
        not exists (
            select 1
            from completions
            where
                completions.account_id = candidates.account_id
                and completions.activity_type = candidates.touchpoint
                and completions.occurred_date >= candidates.satisfied_from_date
                and completions.occurred_date <= {{ run_date() }}
        )
        and not exists (
            select 1
            from snoozes
            where
                snoozes.account_id = candidates.account_id
                and (snoozes.touchpoint is null or snoozes.touchpoint = candidates.touchpoint)
                and snoozes.snoozed_until > {{ run_date() }}
        )
),

keyed as (
    select
        {{ task_key('account_id', 'touchpoint', 'due_date') }} as task_key,
        *
    from open_occurrences
    qualify row_number() over (
        partition by account_id, touchpoint, due_date
        order by case trigger when 'event' then 0 else 1 end, priority, reason
    ) = 1
),

final as (
    select
        keyed.task_key,
        {{ run_date() }} as run_date,
        keyed.account_id,
        keyed.touchpoint,
        keyed.trigger,
        keyed.due_date,
        case
            when {{ dbt.datediff('keyed.due_date', run_date(), 'day') }} > keyed.overdue_after_days
                then 'overdue'
            else 'due'
        end as status,
        keyed.priority,
        keyed.channel,
        keyed.owner_role,
        touchpoints.touch_type,
        touchpoints.estimated_minutes,
        keyed.reason
    from keyed
    inner join touchpoints
        on keyed.touchpoint = touchpoints.touchpoint
)

select * from final
