{#-
    Does the health score work: for each horizon, the churn rate of the account-days in each
    health band, each touch tier and each ten-point score bucket.

    An account-day counts for a horizon when the whole horizon after it lies within the
    history; it churned when the account churned within the horizon. The rates are withheld
    (null, with a note) while fewer than var('backtest_min_churned_accounts') accounts
    churned within the horizon.
-#}
{%- set minimum = var('backtest_min_churned_accounts') %}

with

horizons as (
    {{ backtest_horizon_rows() }}
),

counts as (
    select * from {{ ref('int_backtest_counts') }}
    where score_name = 'health'
),

churn_days as (
    select * from {{ ref('int_backtest_churn_days') }}
),

health_bands as (
    select * from {{ ref('health_bands') }}
),

touch_tiers as (
    select * from {{ ref('touch_tiers') }}
),

observed as (
    select
        horizons.horizon_days,
        counts.score_value,
        counts.health_band,
        counts.tier,
        counts.account_days,
        case
            when counts.churn_horizon <= horizons.horizon_days then counts.account_days else 0
        end as churned_account_days
    from counts
    inner join horizons
        on counts.observed_horizon >= horizons.horizon_days
),

positives as (
    select
        horizons.horizon_days,
        churn_days.account_id,
        churn_days.health_value as score_value,
        churn_days.health_band,
        churn_days.tier
    from churn_days
    inner join horizons
        on
            churn_days.observed_horizon >= horizons.horizon_days
            and churn_days.churn_horizon <= horizons.horizon_days
),

horizon_churners as (
    select
        horizon_days,
        count(distinct account_id) as churned_accounts
    from positives
    group by horizon_days
),

{#- each observation in its band, its tier and its score bucket -#}
{%- set segments = {
    'band': 'health_band',
    'tier': 'tier',
    'score_decile': "cast(" ~ int_div('least(score_value, 99)', 10) ~ " as integer)",
} %}

segment_days as (
    {%- for kind, expression in segments.items() %}
    select
        horizon_days,
        '{{ kind }}' as segment_kind,
        cast({{ expression }} as varchar) as segment,
        cast(sum(account_days) as bigint) as account_days,
        cast(sum(churned_account_days) as bigint) as churned_account_days,
        sum(score_value * account_days) as score_points
    from observed
    group by horizon_days, cast({{ expression }} as varchar)
    {{ 'union all' if not loop.last }}
    {%- endfor %}
),

segment_churners as (
    {%- for kind, expression in segments.items() %}
    select
        horizon_days,
        '{{ kind }}' as segment_kind,
        cast({{ expression }} as varchar) as segment,
        count(distinct account_id) as churned_accounts
    from positives
    group by horizon_days, cast({{ expression }} as varchar)
    {{ 'union all' if not loop.last }}
    {%- endfor %}
),

segment_order as (
    select
        'band' as segment_kind,
        band as segment,
        row_number() over (order by min_score) as segment_order
    from health_bands
    union all
    select
        'tier' as segment_kind,
        tier as segment,
        touch_rank as segment_order
    from touch_tiers
),

final as (
    select
        segment_days.horizon_days,
        segment_days.segment_kind,
        case
            when segment_days.segment_kind = 'score_decile'
                then
                    cast(10 * cast(segment_days.segment as integer) as varchar) || '-'
                    || case
                        when segment_days.segment = '9' then '100'
                        else cast(10 * cast(segment_days.segment as integer) + 9 as varchar)
                    end
            else segment_days.segment
        end as segment,
        coalesce(
            segment_order.segment_order,
            case
                when segment_days.segment_kind = 'score_decile'
                    then cast(segment_days.segment as integer) + 1
            end
        ) as segment_order,
        segment_days.account_days,
        segment_days.churned_account_days,
        coalesce(segment_churners.churned_accounts, 0) as churned_accounts,
        case
            when coalesce(horizon_churners.churned_accounts, 0) >= {{ minimum }}
                then {{ round_to(true_div(
                    'segment_days.churned_account_days', 'nullif(segment_days.account_days, 0)'
                ), 4) }}
        end as churn_rate,
        {{ round_to(true_div(
            'segment_days.score_points', 'nullif(segment_days.account_days, 0)'
        ), 1) }} as mean_score,
        case
            when coalesce(horizon_churners.churned_accounts, 0) < {{ minimum }}
                then 'too few churns for a rate: '
                    || cast(coalesce(horizon_churners.churned_accounts, 0) as varchar)
                    || ' accounts churned within ' || cast(segment_days.horizon_days as varchar)
                    || ' days of an observed day; a rate needs at least {{ minimum }}'
        end as note
    from segment_days
    left join horizon_churners
        on segment_days.horizon_days = horizon_churners.horizon_days
    left join segment_churners
        on
            segment_days.horizon_days = segment_churners.horizon_days
            and segment_days.segment_kind = segment_churners.segment_kind
            and segment_days.segment = segment_churners.segment
    left join segment_order
        on
            segment_days.segment_kind = segment_order.segment_kind
            and segment_days.segment = segment_order.segment
)

select * from final
