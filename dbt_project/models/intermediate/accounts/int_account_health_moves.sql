{#-
    Why each account's health moved, in one line per window, as of the run date: the score
    then and now and the components that moved it most, each with the measure that costs it
    the most points today when it fell ("health 78 -> 61 in 7 days: support -11 (open urgent
    high tickets 3), usage -6 (seat utilization 0.32)"). From the health ledger
    (int_account_health_contributions_daily); an override that moved is named too.
-#}
{%- set components = seed_values(
    'health_components', 'component',
    ['usage', 'support', 'sentiment', 'engagement', 'commercial']
) %}
{%- set metrics = seed_values('health_metrics', 'metric', ['seat_utilization']) %}
{%- set windows = [7, 30] %}
{%- set shown = 3 %}

with

ledger as (
    select * from {{ ref('int_account_health_contributions_daily') }}
    where history_date = {{ run_date() }}
),

measures as (
    select * from {{ ref('int_account_health_measures_daily') }}
    where history_date = {{ run_date() }}
),

health_metrics as (
    select * from {{ ref('health_metrics') }}
),

measure_values as (
    {%- for metric in metrics %}
    select
        account_id,
        '{{ metric }}' as metric,
        cast(measures.{{ metric }} as {{ double_type() }}) as metric_value
    from measures
    where measures.{{ metric }} is not null
    {{ 'union all' if not loop.last }}
    {%- endfor %}
),

{#- each measure today, what it costs its component, in words -#}
measure_costs as (
    select
        measure_values.account_id,
        health_metrics.component,
        measure_values.metric,
        (100 - {{ measure_score(
            'measure_values.metric_value', 'health_metrics.good_value', 'health_metrics.bad_value'
        ) }}) * health_metrics.weight as points_lost,
        replace(measure_values.metric, '_', ' ') || ' '
        || {{ number_text('measure_values.metric_value') }} as detail
    from measure_values
    inner join health_metrics
        on measure_values.metric = health_metrics.metric
),

{#- each component's costliest measure today -#}
weakest as (
    {% call first_per('account_id, component', 'points_lost desc, metric') -%}
    select * from measure_costs
    {%- endcall %}
),

{#- one row per account, window and part that moved -#}
moves as (
    {%- set pairs = [] %}
    {%- for days in windows %}{% for part in components + ['override'] %}
    {%- do pairs.append((days, part)) %}
    {%- endfor %}{% endfor %}
    {%- for days, part in pairs %}
    select
        ledger.account_id,
        {{ days }} as window_days,
        '{{ part }}' as part,
        ledger.{{ part }}_points_change_{{ days }}d as points_change
    from ledger
    where abs(ledger.{{ part }}_points_change_{{ days }}d) >= 0.5
    {{ 'union all' if not loop.last }}
    {%- endfor %}
),

ranked as (
    select
        moves.*,
        row_number() over (
            partition by moves.account_id, moves.window_days
            order by abs(moves.points_change) desc, moves.part
        ) as move_rank
    from moves
),

told as (
    select
        ranked.account_id,
        ranked.window_days,
        string_agg(
            case
                when ranked.part = 'override'
                    then 'override ' || coalesce(ledger.override_applied, 'lifted') || ' '
                        || {{ signed_points('ranked.points_change') }}
                else ranked.part || ' ' || {{ signed_points('ranked.points_change') }}
                    || case
                        when ranked.points_change < 0
                            then coalesce(' (' || weakest.detail || ')', '')
                        else ''
                    end
            end,
            ', ' order by ranked.move_rank
        ) as parts
    from ranked
    inner join ledger
        on ranked.account_id = ledger.account_id
    left join weakest
        on ranked.account_id = weakest.account_id and ranked.part = weakest.component
    where ranked.move_rank <= {{ shown }}
    group by ranked.account_id, ranked.window_days
),

final as (
    select
        ledger.account_id,
        {%- for days in windows %}
        case
            when ledger.health_score is null then null
            when ledger.health_change_{{ days }}d is null
                then 'health ' || cast(cast(ledger.health_score as bigint) as varchar)
                    || ' (no score {{ days }} days before)'
            else 'health '
                || cast(cast(ledger.health_score - ledger.health_change_{{ days }}d as bigint) as varchar)
                || ' -> ' || cast(cast(ledger.health_score as bigint) as varchar)
                || ' in {{ days }} days'
                || coalesce(': ' || told_{{ days }}.parts, case
                    when ledger.health_change_{{ days }}d = 0 then ', unchanged'
                    else ': no part moved by a whole point'
                end)
        end as health_moves_{{ days }}d{{ ',' if not loop.last }}
        {%- endfor %}
    from ledger
    {%- for days in windows %}
    left join told as told_{{ days }}
        on ledger.account_id = told_{{ days }}.account_id and told_{{ days }}.window_days = {{ days }}
    {%- endfor %}
)

select * from final
