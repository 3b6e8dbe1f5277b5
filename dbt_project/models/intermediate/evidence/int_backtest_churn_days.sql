{#-
    The account-days followed by a churn within the longest backtest horizon: the positives
    of the backtest, one row per account-day, for counting the accounts behind each figure.
-#}
{%- set longest = backtest_horizons() | last %}

with

outcomes as (
    select * from {{ ref('int_account_outcomes_daily') }}
),

final as (
    select
        as_of_date,
        account_id,
        cast(round(health_score) as integer) as health_value,
        health_band,
        tier,
        {{ observed_horizon('days_observed') }} as observed_horizon,
        {{ churn_horizon('days_to_churn') }} as churn_horizon
    from outcomes
    where
        days_to_churn <= {{ longest }}
        and health_score is not null
)

select * from final
