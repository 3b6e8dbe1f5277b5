{#-
    The backtest's counts: account-days by score, band, tier, the longest horizon observed
    after the day and the shortest horizon the next churn fell within.

    One scan of the outcomes, each observation counted once per score (the health score, and
    each component alone, rounded to whole points), so the backtest marts compute churn
    rates, AUC and precision from at most a few thousand rows, however long the history. `observed_horizon`
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

score_names as (
    {%- for name in ['health'] + components %}
    select '{{ name }}' as score_name{{ ' union all' if not loop.last }}
    {%- endfor %}
),

{# every observation once per score: the health score with its band and tier, each
    component alone #}
scored as (
    select
        score_names.score_name,
        case score_names.score_name
            when 'health' then observations.health_value
            {%- for component in components %}
            when '{{ component }}' then observations.{{ component }}_value
            {%- endfor %}
        end as score_value,
        case
            when score_names.score_name = 'health' then observations.health_band
        end as health_band,
        case when score_names.score_name = 'health' then observations.tier end as tier,
        observations.observed_horizon,
        observations.churn_horizon
    from observations
    cross join score_names
    where observations.observed_horizon > 0
),

grouped as (
    select
        score_name,
        score_value,
        health_band,
        tier,
        observed_horizon,
        churn_horizon,
        count(*) as account_days
    from scored
    group by score_name, score_value, health_band, tier, observed_horizon, churn_horizon
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
