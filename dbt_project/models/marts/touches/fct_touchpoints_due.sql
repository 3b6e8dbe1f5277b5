with

occurrences as (
    select * from {{ ref('int_touchpoint_occurrences') }}
),

activities as (
    select * from {{ ref('stg_engagement__activities') }}
),

snoozes as (
    select * from {{ ref('stg_crm__snoozes') }}
),

completions as (
    select
        account_id,
        activity_type,
        occurred_date
    from activities
    where outcome = 'completed'
),

unsatisfied as (
    select occurrences.*
    from occurrences
    where not exists (
        select 1
        from completions
        where
            completions.account_id = occurrences.account_id
            and completions.activity_type = occurrences.touchpoint
            and completions.occurred_date
            >= {{ add_days('-least(' ~ var('early_completion_days') ~ ', occurrences.window_days // 2)', 'occurrences.scheduled_date') }}
            and completions.occurred_date <= {{ run_date() }}
    )
),

not_snoozed as (
    select unsatisfied.*
    from unsatisfied
    where not exists (
        select 1
        from snoozes
        where
            snoozes.account_id = unsatisfied.account_id
            and (snoozes.touchpoint is null or snoozes.touchpoint = unsatisfied.touchpoint)
            and snoozes.snoozed_until > {{ run_date() }}
    )
),

final as (
    select
        {{ task_key('account_id', 'touchpoint', 'scheduled_date') }} as task_key,
        {{ run_date() }} as run_date,
        account_id,
        touchpoint,
        'cadence' as trigger,
        scheduled_date as due_date,
        case
            when {{ dbt.datediff('scheduled_date', run_date(), 'day') }} > {{ var('overdue_grace_days') }}
                then 'overdue'
            else 'due'
        end as status,
        priority,
        channel,
        owner_role,
        touch_type,
        description
        || ': scheduled for '
        || strftime(scheduled_date, '%Y-%m-%d')
        || case
            when anchor = 'renewal' then ', ' || offset_days || ' days before renewal'
            when every_days is not null then ', every ' || every_days || ' days'
            else ', ' || offset_days || ' days after the contract start'
        end
        || '; no completed ' || touchpoint || ' logged since' as reason
    from not_snoozed
)

select * from final
