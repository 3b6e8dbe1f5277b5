{#-
    Each account-day's health and tier as they stood that day, beside what happened next:
    the next churn after the day, and the outcome of the next renewal.

    The score, band and tier are the stored point-in-time history (each day computed from
    what had landed by that day); only the outcome columns look forward, and they use every
    churn event landed by now, since what happened next is the thing being predicted.
    A horizon is observed for a day when the whole horizon lies within the history:
    `days_observed` (the days from the as-of day to the newest history day) is at least it.

    A table, not a view: the backtest's models, the plays' and their tests each read it,
    and as a view each of them joined the whole history again.
-#}
{%- set components = seed_values(
    'health_components', 'component',
    ['usage', 'support', 'sentiment', 'engagement', 'commercial']
) %}

with

health as (
    select * from {{ ref('int_account_health_daily') }}
),

tiers as (
    select
        history_date,
        account_id,
        tier,
        renewal_date
    from {{ ref('int_account_tiers_daily') }}
),

churn_events as (
    select
        account_id,
        churned_on
    from {{ ref('stg_engagement__churn_events') }}
),

newest as (
    select max(history_date) as newest_date
    from health
),

next_churns as (
    select
        health.history_date,
        health.account_id,
        min(churn_events.churned_on) as churned_on
    from health
    inner join churn_events
        on
            health.account_id = churn_events.account_id
            and churn_events.churned_on > health.history_date
    group by health.history_date, health.account_id
),

final as (
    select
        health.history_date as as_of_date,
        health.account_id,
        health.health_score,
        health.health_band,
        {%- for component in components %}
        health.{{ component }}_score,
        {%- endfor %}
        health.override_applied,
        tiers.tier,
        newest.newest_date - health.history_date as days_observed,
        next_churns.churned_on,
        next_churns.churned_on - health.history_date as days_to_churn,
        tiers.renewal_date as next_renewal_date,
        case
            when tiers.renewal_date is null or tiers.renewal_date < health.history_date then null
            when
                next_churns.churned_on
                <= {{ add_days(var('renewal_outcome_grace_days'), 'tiers.renewal_date') }}
                then 'churned'
            when
                {{ add_days(var('renewal_outcome_grace_days'), 'tiers.renewal_date') }}
                <= newest.newest_date
                then 'renewed'
            else 'pending'
        end as renewal_outcome
    from health
    cross join newest
    left join tiers
        on
            health.account_id = tiers.account_id
            and health.history_date = tiers.history_date
    left join next_churns
        on
            health.account_id = next_churns.account_id
            and health.history_date = next_churns.history_date
)

select * from final
