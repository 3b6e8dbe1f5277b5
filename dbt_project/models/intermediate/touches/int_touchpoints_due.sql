{#-
    Every touchpoint due or overdue on the run date, one task per account and touchpoint:
    cadence occurrences from the playbook and event occurrences from the triggers, less those
    satisfied by a completed activity of the same touchpoint in their window and those
    snoozed. When several occurrences of one touchpoint are open for an account (a health
    drop and a red crossing, an expansion signal that came back), they are one task: the
    earliest occurrence gives its due date, task_key (account, touchpoint, due period),
    trigger, channel and owner (an event before a cadence on the same day), the most urgent
    occurrence its priority, and the reason names every distinct cause, earliest first.
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
        {{ satisfied_from_date('scheduled_date', 'every_days') }} as satisfied_from_date,
        {{ var('overdue_grace_days') }} as overdue_after_days,
        priority,
        channel,
        owner_role,
        description || ':' as cause,
        ' scheduled for '
        || {{ iso_date('scheduled_date') }}
        || case
            when anchor = 'renewal' then ', ' || offset_days || ' days before renewal'
            when every_days is not null then ', every ' || every_days || ' days'
            else ', ' || offset_days || ' days after the contract start'
        end as occasion
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
        description as cause,
        ' on ' || {{ iso_date('fired_on') }} || ' (' || detail || ')' as occasion
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

earliest as (
    -- the occurrence that stands for the task: the earliest, an event before a cadence
    {% call first_per(
        'account_id, touchpoint',
        "due_date, case trigger when 'event' then 0 else 1 end, priority, cause, occasion"
    ) -%}
    select *
    from open_occurrences
    {%- endcall %}
),

occasions as (
    select distinct
        account_id,
        touchpoint,
        cause,
        occasion,
        due_date
    from open_occurrences
),

causes as (
    -- each distinct cause once, with the occasions it came up on in date order
    select
        account_id,
        touchpoint,
        min(due_date) as first_due_date,
        cause || {{ listagg('occasion', "' and'", 'order by due_date, occasion') }} as cause_text
    from occasions
    group by account_id, touchpoint, cause
),

merged as (
    select
        account_id,
        touchpoint,
        {{ listagg('cause_text', "'; '", 'order by first_due_date, cause_text') }} as causes
    from causes
    group by account_id, touchpoint
),

urgency as (
    select
        account_id,
        touchpoint,
        min(priority) as priority,
        -- every open occurrence is unsatisfied since its own start, so the task since the first
        min(satisfied_from_date) as unsatisfied_since_date
    from open_occurrences
    group by account_id, touchpoint
),

final as (
    select
        {{ task_key('earliest.account_id', 'earliest.touchpoint', 'earliest.due_date') }}
            as task_key,
        {{ run_date() }} as run_date,
        earliest.account_id,
        earliest.touchpoint,
        earliest.trigger,
        earliest.due_date,
        case
            when
                {{ dbt.datediff('earliest.due_date', run_date(), 'day') }}
                > earliest.overdue_after_days
                then 'overdue'
            else 'due'
        end as status,
        urgency.priority,
        earliest.channel,
        earliest.owner_role,
        touchpoints.touch_type,
        touchpoints.estimated_minutes,
        merged.causes
        || '; no completed ' || touchpoints.label || ' logged since '
        || {{ iso_date('urgency.unsatisfied_since_date') }} as reason
    from earliest
    inner join merged
        on
            earliest.account_id = merged.account_id
            and earliest.touchpoint = merged.touchpoint
    inner join urgency
        on
            earliest.account_id = urgency.account_id
            and earliest.touchpoint = urgency.touchpoint
    inner join touchpoints
        on earliest.touchpoint = touchpoints.touchpoint
)

select * from final
