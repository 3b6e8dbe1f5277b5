{#-
    Each churn within the history, and how early the health score warned of it: the first
    red day in the longest backtest horizon before the churn, and the red days in that span.
    A churn with no red day before it is a churn the score missed (lead_time_days null).
-#}
{%- set longest = backtest_horizons() | last %}

with

health as (
    select
        history_date,
        account_id,
        health_band
    from {{ ref('int_account_health_daily') }}
),

churn_events as (
    select
        account_id,
        churned_on
    from {{ ref('stg_engagement__churn_events') }}
),

newest as (
    select
        min(history_date) as oldest_date,
        max(history_date) as newest_date
    from health
),

churns as (
    select
        churn_events.account_id,
        churn_events.churned_on
    from churn_events
    cross join newest
    where churn_events.churned_on between newest.oldest_date and newest.newest_date
),

before_churn as (
    select
        churns.account_id,
        churns.churned_on,
        count(*) as observed_days,
        sum(case when health.health_band = 'red' then 1 else 0 end) as red_days,
        min(case when health.health_band = 'red' then health.history_date end) as first_red_date
    from churns
    inner join health
        on
            churns.account_id = health.account_id
            and health.history_date < churns.churned_on
            and health.history_date >= {{ add_days(-longest, 'churns.churned_on') }}
    group by churns.account_id, churns.churned_on
),

final as (
    select
        account_id,
        churned_on,
        observed_days,
        red_days,
        first_red_date,
        churned_on - first_red_date as lead_time_days
    from before_churn
)

select * from final
