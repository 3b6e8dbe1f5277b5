{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['history_date'],
    )
}}
{#-
    Health per account per day, explained.

    Each measure of health_metrics scores 0-100 linearly between its bad_value (0) and
    good_value (100); a component's score is the weighted mean of its measures with data; the
    health score is the weighted mean of the components with data, their weights
    redistributed (weight_used_<component> sums to 100); confidence is the share of the
    configured weight that had data. The first health override (in override_order) whose
    condition holds caps or sets the score and is named. The top driver is the component
    that costs the most points, in words. Changes over 7 and 30 days compare with the stored
    history (point in time: each day uses only what was known that day).
-#}
{%- set components = seed_values(
    'health_components', 'component',
    ['usage', 'support', 'sentiment', 'engagement', 'commercial']
) %}

with

days as (
    select * from {{ ref('int_history_days') }}
),

account_days as (
    select *
    from {{ ref('fct_account_tiers_daily') }}
    where history_date in (select history_date from days)
),

measures as (
    select * from {{ ref('int_account_health_measures') }}
),

health_metrics as (
    select * from {{ ref('health_metrics') }}
),

health_components as (
    select * from {{ ref('health_components') }}
),

health_overrides as (
    select * from {{ ref('health_overrides') }}
),

health_bands as (
    select * from {{ ref('health_bands') }}
),

measure_scores as (
    select
        measures.history_date,
        measures.account_id,
        health_metrics.component,
        measures.metric,
        measures.metric_value,
        health_metrics.weight,
        100.0 * greatest(0.0, least(1.0,
            (measures.metric_value - health_metrics.bad_value)
            / (health_metrics.good_value - health_metrics.bad_value)
        )) as measure_score
    from measures
    inner join health_metrics
        on measures.metric = health_metrics.metric
),

weakest_measures as (
    select
        history_date,
        account_id,
        component,
        metric as weakest_metric,
        metric_value as weakest_value
    from measure_scores
    qualify row_number() over (
        partition by history_date, account_id, component
        order by (100 - measure_score) * weight desc, metric
    ) = 1
),

component_scores as (
    select
        measure_scores.history_date,
        measure_scores.account_id,
        measure_scores.component,
        sum(measure_scores.measure_score * measure_scores.weight)
        / sum(measure_scores.weight) as component_score,
        health_components.weight as component_weight
    from measure_scores
    inner join health_components
        on measure_scores.component = health_components.component
    group by
        measure_scores.history_date,
        measure_scores.account_id,
        measure_scores.component,
        health_components.weight
),

weighted as (
    select
        component_scores.*,
        100.0 * component_weight / sum(component_weight) over (
            partition by history_date, account_id
        ) as weight_used,
        (100.0 - component_score) * component_weight as points_lost
    from component_scores
),

scores as (
    select
        history_date,
        account_id,
        sum(component_score * weight_used) / 100.0 as computed_score,
        sum(component_weight) / (select sum(weight) from health_components) as confidence,
        {%- for component in components %}
        max(case when component = '{{ component }}' then round(component_score, 1) end)
            as {{ component }}_score,
        coalesce(max(case when component = '{{ component }}' then round(weight_used, 1) end), 0)
            as {{ component }}_weight_used,
        {%- endfor %}
        -- ties (equal points lost) go to the heavier component, then the name: deterministic
        arg_max(
            component, (round(points_lost, 6), component_weight, component)
        ) as top_driver_component
    from weighted
    group by history_date, account_id
),

signals as (
    select
        history_date,
        account_id,
        max(case when metric = 'oldest_open_urgent_ticket_days' then metric_value end)
            as oldest_open_urgent_ticket_days,
        max(case when metric = 'days_without_usage' then metric_value end) as days_without_usage,
        max(case when metric = 'days_as_customer' then metric_value end) as days_as_customer,
        max(case when metric = 'days_since_detractor_answer' then metric_value end)
            as days_since_detractor_answer,
        max(case when metric = 'seat_utilization' then metric_value end) as seat_utilization,
        max(case when metric = 'active_users_30d' then metric_value end) as active_users_30d
    from measures
    group by history_date, account_id
),

fired_overrides as (
    select
        signals.history_date,
        signals.account_id,
        health_overrides.rule_code,
        health_overrides.action,
        health_overrides.score as override_score,
        health_overrides.description
    from signals
    inner join health_overrides
        on
            (
                health_overrides.rule_code = 'urgent_ticket_aging'
                and signals.oldest_open_urgent_ticket_days > health_overrides.parameter
            )
            or (
                health_overrides.rule_code = 'no_recent_usage'
                and signals.days_without_usage >= health_overrides.parameter
                and signals.days_as_customer >= health_overrides.parameter
            )
            or (
                health_overrides.rule_code = 'recent_detractor'
                and signals.days_since_detractor_answer <= health_overrides.parameter
            )
    qualify row_number() over (
        partition by signals.history_date, signals.account_id
        order by health_overrides.override_order
    ) = 1
),

new_days as (
    select
        account_days.history_date,
        account_days.account_id,
        {%- for component in components %}
        scores.{{ component }}_score,
        scores.{{ component }}_weight_used,
        {%- endfor %}
        round(scores.computed_score, 1) as computed_score,
        round(scores.confidence, 2) as confidence,
        fired_overrides.rule_code as override_applied,
        round(case
            when fired_overrides.action = 'set' then fired_overrides.override_score
            when fired_overrides.action = 'cap'
                then least(scores.computed_score, fired_overrides.override_score)
            else scores.computed_score
        end) as health_score,
        case
            when fired_overrides.rule_code is not null
                then fired_overrides.description
            when scores.top_driver_component is not null
                then scores.top_driver_component || ' costs the most points ('
                || cast(round(weighted.component_score) as integer) || '/100 with '
                || cast(round(weighted.weight_used) as integer) || '% of the weight); weakest: '
                || weakest_measures.weakest_metric || ' = '
                || cast(round(weakest_measures.weakest_value, 2) as varchar)
        end as top_driver,
        round(signals.seat_utilization, 3) as seat_utilization,
        cast(signals.active_users_30d as integer) as active_users_30d
    from account_days
    left join scores
        on
            account_days.account_id = scores.account_id
            and account_days.history_date = scores.history_date
    left join fired_overrides
        on
            account_days.account_id = fired_overrides.account_id
            and account_days.history_date = fired_overrides.history_date
    left join signals
        on
            account_days.account_id = signals.account_id
            and account_days.history_date = signals.history_date
    left join weighted
        on
            scores.account_id = weighted.account_id
            and scores.history_date = weighted.history_date
            and scores.top_driver_component = weighted.component
    left join weakest_measures
        on
            scores.account_id = weakest_measures.account_id
            and scores.history_date = weakest_measures.history_date
            and scores.top_driver_component = weakest_measures.component
),

{% if is_incremental() %}
earlier_days as (
    select
        history_date,
        account_id,
        health_score
    from {{ this }}
    where
        history_date < (select min(history_date) from days)
        and history_date >= {{ add_days(-30, '(select min(history_date) from days)') }}
),
{% endif %}

score_history as (
    select
        history_date,
        account_id,
        health_score
    from new_days
    {% if is_incremental() %}
        union all
        select * from earlier_days
    {% endif %}
),

final as (
    select
        new_days.*,
        health_bands.band as health_band,
        new_days.health_score - week_ago.health_score as health_change_7d,
        new_days.health_score - month_ago.health_score as health_change_30d
    from new_days
    left join health_bands
        on new_days.health_score between health_bands.min_score and health_bands.max_score
    left join score_history as week_ago
        on
            new_days.account_id = week_ago.account_id
            and week_ago.history_date = {{ add_days(-7, 'new_days.history_date') }}
    left join score_history as month_ago
        on
            new_days.account_id = month_ago.account_id
            and month_ago.history_date = {{ add_days(-30, 'new_days.history_date') }}
)

select * from final
