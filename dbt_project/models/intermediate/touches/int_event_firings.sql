{#-
    Event triggers that fired for an account within their window up to the run date, one row
    per account, trigger and firing day. Conditions over the health history (health_drop,
    red_crossing, expansion_seats, plan_limit) fire on the day the condition became true
    after event_debounce_days without it, so a condition that holds for weeks raises one task
    and a score hovering at a band edge does not raise one every other day.
-#}
with

triggers as (
    select * from {{ ref('event_triggers') }}
),

accounts as (
    select * from {{ ref('int_accounts_classified') }}
),

health_history as (
    select
        health.history_date,
        health.account_id,
        health.health_score,
        health.health_band,
        health.confidence,
        health.health_change_7d,
        health.seat_utilization,
        health.active_users_30d,
        tiers.plan,
        coalesce(
            {{ dbt.datediff('tiers.customer_since_date', 'health.history_date', 'day') }}
            >= {{ var('health_trigger_min_customer_days') }},
            true
        ) as has_settled_health
    from {{ ref('int_account_health_daily') }} as health
    inner join {{ ref('int_account_tiers_daily') }} as tiers
        on
            health.account_id = tiers.account_id
            and health.history_date = tiers.history_date
    where
        health.history_date <= {{ run_date() }}
        and health.history_date > {{ add_days(-60, run_date()) }}
),

nps_responses as (
    select * from {{ ref('stg_engagement__nps_responses') }}
),

tickets as (
    select * from {{ ref('stg_support__tickets') }}
),

evaluated as (
    select
        health_history.history_date,
        health_history.account_id,
        triggers.trigger_code,
        case triggers.trigger_code
            when 'health_drop'
                then
                    health_history.health_change_7d <= -triggers.parameter
                    and health_history.has_settled_health
            when 'red_crossing'
                then
                    health_history.health_band = 'red'
                    and health_history.has_settled_health
                    and health_history.confidence >= {{ var('at_risk_min_confidence') }}
            when 'expansion_seats' then health_history.seat_utilization >= triggers.parameter
            when 'plan_limit'
                then
                    health_history.plan in ('free', 'trial')
                    and health_history.active_users_30d >= triggers.parameter
        end as holds,
        case triggers.trigger_code
            when 'health_drop'
                then 'health ' || cast(health_history.health_score as integer)
                    || ', ' || cast(health_history.health_change_7d as integer) || ' in 7 days'
            when 'red_crossing'
                then 'health ' || cast(health_history.health_score as integer)
            when 'expansion_seats'
                then cast(round(100 * health_history.seat_utilization) as integer)
                    || '% of seats active'
            when 'plan_limit'
                then health_history.active_users_30d || ' active users on the '
                    || health_history.plan || ' plan'
        end as detail
    from health_history
    cross join triggers
    where triggers.trigger_code in ('health_drop', 'red_crossing', 'expansion_seats', 'plan_limit')
),

-- the days each condition holds
conditions as (
    select
        history_date,
        account_id,
        trigger_code,
        detail
    from evaluated
    where holds
),

-- a condition fires when it did not hold on any of the event_debounce_days before
episode_starts as (
    select
        account_id,
        trigger_code,
        history_date as fired_on,
        detail
    from (
        select
            *,
            lag(history_date) over (
                partition by account_id, trigger_code order by history_date
            ) as held_before
        from conditions
    ) as flagged
    where
        held_before is null
        or held_before < {{ add_days('-' ~ var('event_debounce_days'), 'history_date') }}
),

detractors as (
    select
        nps_responses.account_id,
        'nps_detractor' as trigger_code,
        cast(nps_responses.responded_at as date) as fired_on,
        'answered ' || nps_responses.nps_score
        || coalesce(': "' || left(nps_responses.nps_comment, 80) || '"', '') as detail
    from nps_responses
    inner join triggers
        on triggers.trigger_code = 'nps_detractor'
    where nps_responses.nps_score <= triggers.parameter
),

customer_years as (
    -- whole years as a customer on the run date: calendar years, less one when this
    -- year's anniversary is still ahead
    select
        account_id,
        customer_since_date,
        {{ dbt.datediff('customer_since_date', run_date(), 'year') }}
        - case
            when cast({{ dbt.dateadd(
                'year',
                dbt.datediff('customer_since_date', run_date(), 'year'),
                'customer_since_date'
            ) }} as date) > {{ run_date() }} then 1
            else 0
        end as years
    from accounts
    where customer_since_date is not null
),

anniversaries as (
    select
        account_id,
        'milestone_anniversary' as trigger_code,
        cast({{ dbt.dateadd('year', 'years', 'customer_since_date') }} as date) as fired_on,
        years || case when years = 1 then ' year' else ' years' end || ' as a customer' as detail
    from customer_years
    where years >= 1
),

open_tickets as (
    select
        tickets.account_id,
        tickets.ticket_id,
        tickets.ticket_priority,
        cast(tickets.created_at as date) as created_date
    from tickets
    where
        not tickets.is_solved
        and tickets.ticket_priority in ('high', 'urgent')
        and cast(tickets.created_at as date) <= {{ run_date() }}
),

urgent_pileups as (
    select
        open_tickets.account_id,
        'urgent_ticket_pileup' as trigger_code,
        -- the day the pile reached the threshold: the creation of the n-th oldest open urgent
        -- ticket
        max(
            case
                when open_tickets.urgent_rank = triggers.parameter then open_tickets.created_date
            end
        )
            as fired_on,
        count(*) || ' urgent tickets open' as detail
    from (
        select
            *,
            row_number()
                over (partition by account_id order by created_date, ticket_id)
                as urgent_rank
        from open_tickets
        where ticket_priority = 'urgent'
    ) as open_tickets
    inner join triggers
        on triggers.trigger_code = 'urgent_ticket_pileup'
    group by open_tickets.account_id, triggers.parameter
    having count(*) >= triggers.parameter
),

sla_breaches as (
    select
        open_tickets.account_id,
        'sla_breach' as trigger_code,
        {{ add_days('cast(triggers.parameter as integer) + 1', 'open_tickets.created_date') }}
            as fired_on,
        'ticket ' || open_tickets.ticket_id || ' (' || open_tickets.ticket_priority
        || ') open since ' || {{ iso_date('open_tickets.created_date') }} as detail
    from open_tickets
    inner join triggers
        on triggers.trigger_code = 'sla_breach'
    where
        {{ dbt.datediff('open_tickets.created_date', run_date(), 'day') }}  -- noqa: LT05
        > triggers.parameter
),

firings as (
    select * from episode_starts
    union all
    select * from detractors
    union all
    select * from anniversaries
    union all
    select * from urgent_pileups
    union all
    select * from sla_breaches
),

final as (
    select
        firings.account_id,
        firings.trigger_code,
        firings.fired_on,
        firings.detail,
        triggers.touchpoint,
        triggers.window_days,
        triggers.overdue_after_days,
        triggers.priority,
        triggers.owner_role,
        triggers.channel,
        triggers.description
    from firings
    inner join triggers
        on firings.trigger_code = triggers.trigger_code
    inner join accounts
        on firings.account_id = accounts.account_id
    where
        firings.fired_on <= {{ run_date() }}
        and firings.fired_on > {{ add_days('-triggers.window_days', run_date()) }}
        and {{ list_has('triggers.tiers', 'accounts.tier') }}
)

select * from final
