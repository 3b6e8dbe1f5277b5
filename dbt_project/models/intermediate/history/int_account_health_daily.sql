{#- unique_key names one column, not a list: see DECISIONLOG, replacing the rows of a key -#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='history_date',
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
{#- the run's days as literals, so scans of the stored history skip the other days -#}
{%- set first_day_sql, last_day_sql = history_days_sql() %}

with

account_days as (
    select *
    from {{ ref('int_account_tiers_daily') }}
    where history_date between {{ first_day_sql }} and {{ last_day_sql }}
),

measures as (
    select * from {{ ref('int_account_health_measures_daily') }}
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

{#-
    adapter-specific: DuckDB unpivots every measure column and keeps the weakest measure and
    the top driver as structs (arg_min, arg_max); elsewhere the health_metrics seed names the
    measures to unpivot (the same rows: only they are scored) and the two are columns of
    their own, picked by array_agg in the same order.
-#}
{%- set duckdb = target.type == 'duckdb' %}
{%- set driver = {
    'component': 'scores.top_driver.component' if duckdb else 'scores.top_driver_component',
    'score': 'scores.top_driver.score' if duckdb else 'scores.top_driver_score',
    'weight_used': 'scores.top_driver.weight_used' if duckdb else 'scores.top_driver_weight_used',
    'metric': 'scores.top_driver.weakest.metric' if duckdb else 'scores.top_driver_metric',
    'value': 'scores.top_driver.weakest.value' if duckdb else 'scores.top_driver_value',
} %}

measure_values as (
    {%- if duckdb %}
    unpivot measures
    on columns(* exclude (history_date, account_id))
    into name metric value metric_value
    {%- else %}
    select
        measures.history_date,
        measures.account_id,
        unpivoted.metric,
        unpivoted.metric_value
    from measures
    cross join lateral (
        values
        {%- for metric in seed_values('health_metrics', 'metric', ['seat_utilization']) %}
        ('{{ metric }}', measures.{{ metric }}){{ ',' if not loop.last }}
        {%- endfor %}
    ) as unpivoted (metric, metric_value)
    where unpivoted.metric_value is not null
    {%- endif %}
),

measure_scores as (
    select
        measure_values.history_date,
        measure_values.account_id,
        health_metrics.component,
        measure_values.metric,
        measure_values.metric_value,
        health_metrics.weight,
        {{ measure_score(
            'measure_values.metric_value', 'health_metrics.good_value', 'health_metrics.bad_value'
        ) }} as measure_score
    from measure_values
    inner join health_metrics
        on measure_values.metric = health_metrics.metric
),

component_scores as (
    select
        measure_scores.history_date,
        measure_scores.account_id,
        measure_scores.component,
        -- exact weighted sums: a score at a rounding edge must not differ run to run
        sum({{ exact('measure_scores.measure_score * measure_scores.weight') }})
        / sum(measure_scores.weight) as component_score,
        health_components.weight as component_weight,
        -- the measure that costs the component the most points (ties: the first by name)
        {%- if duckdb %}
        arg_min(
            { 'metric': measure_scores.metric, 'value': measure_scores.metric_value },
            (-(100 - measure_scores.measure_score) * measure_scores.weight, measure_scores.metric)
        ) as weakest
        {%- else %}
        {%- set weakest_order = '-(100 - measure_scores.measure_score) * measure_scores.weight,'
            ~ ' measure_scores.metric' %}
        {{ arg_min('measure_scores.metric', weakest_order) }} as weakest_metric,
        {{ arg_min('measure_scores.metric_value', weakest_order) }} as weakest_value
        {%- endif %}
    from measure_scores
    inner join health_components
        on measure_scores.component = health_components.component
    group by
        measure_scores.history_date,
        measure_scores.account_id,
        measure_scores.component,
        health_components.weight
),

scores as (
    select
        history_date,
        account_id,
        sum({{ exact('component_score * component_weight') }}) / sum(component_weight)
            as computed_score,
        {{ true_div(
            'sum(component_weight)',
            '(select sum(health_components.weight) from health_components)'
        ) }} as confidence,
        {%- for component in components %}
        max(case when component = '{{ component }}' then round(component_score, 1) end)
            as {{ component }}_score,
        coalesce(round(
            100.0 * max(case when component = '{{ component }}' then component_weight end)
            / sum(component_weight),
            1
        ), 0) as {{ component }}_weight_used,
        {%- endfor %}
        -- the component that costs the most points; ties go to the heavier component, then
        -- the name: deterministic
        {%- if duckdb %}
        arg_max(
            {
                'component': component,
                'score': component_score,
                'weight_used': 100.0 * component_weight,
                'weakest': weakest
            },
            (round((100.0 - component_score) * component_weight, 6), component_weight, component)
        ) as top_driver,
        {%- else %}
        {%- set driver_order = 'round((100.0 - component_score) * component_weight, 6) desc,'
            ~ ' component_weight desc, component desc' %}
        {{ arg_min('component', driver_order) }} as top_driver_component,
        {{ arg_min('component_score', driver_order) }} as top_driver_score,
        {{ arg_min('100.0 * component_weight', driver_order) }} as top_driver_weight_used,
        {{ arg_min('weakest_metric', driver_order) }} as top_driver_metric,
        {{ arg_min('weakest_value', driver_order) }} as top_driver_value,
        {%- endif %}
        sum(component_weight) as weight_with_data
    from component_scores
    group by history_date, account_id
),

fired_overrides as (
    {% call first_per('history_date, account_id', 'override_order') -%}
    select
        measures.history_date,
        measures.account_id,
        health_overrides.rule_code,
        health_overrides.action,
        health_overrides.score as override_score,
        health_overrides.description,
        health_overrides.override_order
    from measures
    inner join health_overrides
        on
            (
                health_overrides.rule_code = 'urgent_ticket_aging'
                and measures.oldest_open_urgent_ticket_days > health_overrides.parameter
            )
            or (
                health_overrides.rule_code = 'no_recent_usage'
                and measures.days_without_usage >= health_overrides.parameter
                and measures.days_as_customer >= health_overrides.parameter
            )
            or (
                health_overrides.rule_code = 'recent_detractor'
                and measures.days_since_detractor_answer <= health_overrides.parameter
            )
    {%- endcall %}
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
        {{ round_to('scores.confidence', 2) }} as confidence,
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
            when {{ driver.component }} is not null
                then {{ driver.component }} || ' costs the most points ('
                    || cast(round({{ driver.score }}) as integer) || '/100 with '
                    || cast(
                        round({{ driver.weight_used }} / scores.weight_with_data) as integer
                    )
                    || '% of the weight); weakest: '
                    || {{ driver.metric }} || ' = '
                    || {{ double_text(round_to(driver.value, 2)) }}
        end as top_driver,
        {{ round_to('measures.seat_utilization', 3) }} as seat_utilization,
        cast(measures.active_users_30d as integer) as active_users_30d
    from account_days
    left join scores
        on
            account_days.account_id = scores.account_id
            and account_days.history_date = scores.history_date
    left join fired_overrides
        on
            account_days.account_id = fired_overrides.account_id
            and account_days.history_date = fired_overrides.history_date
    left join measures
        on
            account_days.account_id = measures.account_id
            and account_days.history_date = measures.history_date
),

{% if is_incremental() %}
earlier_days as (
    select
        history_date,
        account_id,
        health_score
    from {{ this }}
    where
        history_date < {{ first_day_sql }}
        and history_date >= {{ add_days(-30, first_day_sql) }}
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
