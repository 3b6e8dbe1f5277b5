{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='history_date',
    )
}}
{#-
    The health ledger: each component's points in an account's score per day, and how they
    moved over 7 and 30 days, so a change of the score is told by its parts.

    A component's points are its score times the share of the weight it carried that day
    (weight_used, in percent): the points sum to the computed score. An override that capped
    or set the score adds override_points (health_score less the computed score), so the
    points and the override sum to the published score, up to the rounding of each part.
    The days 7 and 30 before come from the stored health history (point in time: each day as
    it was computed that day).
-#}
{%- set components = seed_values(
    'health_components', 'component',
    ['usage', 'support', 'sentiment', 'engagement', 'commercial']
) %}
{%- set first_day_sql, last_day_sql = history_days_sql() %}

with

health as (
    select
        history_date,
        account_id,
        health_score,
        computed_score,
        override_applied,
        {%- for component in components %}
        coalesce(
            {{ round_to(component ~ '_score * ' ~ component ~ '_weight_used / 100.0', 1) }}, 0
        ) as {{ component }}_points,
        {%- endfor %}
        case
            when override_applied is not null
                then {{ round_to('health_score - computed_score', 1) }}
            else 0
        end as override_points
    from {{ ref('int_account_health_daily') }}
    where
        history_date between {{ add_days(-30, first_day_sql) }} and {{ last_day_sql }}
),

new_days as (
    select * from health
    where history_date between {{ first_day_sql }} and {{ last_day_sql }}
),

final as (
    select
        new_days.history_date,
        new_days.account_id,
        new_days.health_score,
        new_days.computed_score,
        new_days.override_applied,
        {%- for part in components + ['override'] %}
        new_days.{{ part }}_points,
        {%- for days, then in [(7, 'week_ago'), (30, 'month_ago')] %}
        {{ round_to('new_days.' ~ part ~ '_points - ' ~ then ~ '.' ~ part ~ '_points', 1) }}
            as {{ part }}_points_change_{{ days }}d,
        {%- endfor %}
        {%- endfor %}
        new_days.health_score - week_ago.health_score as health_change_7d,
        new_days.health_score - month_ago.health_score as health_change_30d
    from new_days
    left join health as week_ago
        on
            new_days.account_id = week_ago.account_id
            and week_ago.history_date = {{ add_days(-7, 'new_days.history_date') }}
    left join health as month_ago
        on
            new_days.account_id = month_ago.account_id
            and month_ago.history_date = {{ add_days(-30, 'new_days.history_date') }}
)

select * from final
