{#-
    The backtest's counts: account-days by score, band, tier, the longest horizon observed
    after the day and the shortest horizon the next churn fell within.

    One scan of the outcomes, grouped once per score (the health score, and each component
    alone, rounded to whole points), so the backtest marts compute churn rates, AUC and
    precision from at most a few thousand rows, however long the history. `observed_horizon`
    is the longest of var('backtest_horizons_days') whose whole span lies within the history
    (0: none); `churn_horizon` the shortest the next churn fell within (null: none did).
-#}
{%- set components = seed_values(
    'health_components', 'component',
    ['usage', 'support', 'sentiment', 'engagement', 'commercial']
) %}

with

outcomes as (
    select * from {{ ref('int_account_outcomes_daily') }}
),

observations as (
    select
        cast(round(health_score) as integer) as health_value,
        health_band,
        tier,
        {%- for component in components %}
        cast(round({{ component }}_score) as integer) as {{ component }}_value,
        {%- endfor %}
        {{ observed_horizon('days_observed') }} as observed_horizon,
        {{ churn_horizon('days_to_churn') }} as churn_horizon
    from outcomes
    where health_score is not null
),

grouped as (
    select
        case
            when grouping(health_value) = 0 then 'health'
            {%- for component in components %}
            when grouping({{ component }}_value) = 0 then '{{ component }}'
            {%- endfor %}
        end as score_name,
        coalesce(
            health_value{% for component in components %}, {{ component }}_value{% endfor %}
        ) as score_value,
        health_band,
        tier,
        observed_horizon,
        churn_horizon,
        count(*) as account_days
    from observations
    where observed_horizon > 0
    group by grouping sets (
        (health_value, health_band, tier, observed_horizon, churn_horizon)
        {%- for component in components %},
        ({{ component }}_value, observed_horizon, churn_horizon)
        {%- endfor %}
    )
),

final as (
    select
        score_name,
        score_value,
        health_band,
        tier,
        observed_horizon,
        churn_horizon,
        account_days
    from grouped
    where score_value is not null
)

select * from final
