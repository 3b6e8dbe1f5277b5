{#-
    How the touch model is doing, per tier and overall, on the run date
    (docs/touch-model.md, "Metrics"):
    NPS (365 days), CSAT (90 days), touch completion (30 days), business-review attendance
    (365 days), email open and click rates and webinar attendance (90 days), retention over
    30 and 90 days, and customer lifetime value. One row per metric and tier ('all' for the
    whole base), with numerator and denominator where the metric is a ratio and the target
    from metric_targets where there is one.
-#}
with

accounts as (
    select * from {{ ref('int_accounts_classified') }}
),

tiers_daily as (
    select * from {{ ref('int_account_tiers_daily') }}
),

nps_responses as (
    select * from {{ ref('stg_engagement__nps_responses') }}
),

tickets as (
    select * from {{ ref('stg_support__tickets') }}
),

activities as (
    select * from {{ ref('stg_engagement__activities') }}
),

touchpoints as (
    select * from {{ ref('touchpoints') }}
),

targets as (
    select * from {{ ref('metric_targets') }}
),

tier_rows as (
    -- every account once under its tier and once under 'all'
    select
        account_id,
        tier
    from accounts
    union all
    select
        account_id,
        'all' as tier
    from accounts
),

nps as (
    select
        'nps' as metric,
        tier_rows.tier,
        count(case when nps_responses.nps_category = 'promoter' then 1 end)
        - count(case when nps_responses.nps_category = 'detractor' then 1 end) as numerator,
        count(*) as denominator,
        100.0 * (
            count(case when nps_responses.nps_category = 'promoter' then 1 end)
            - count(case when nps_responses.nps_category = 'detractor' then 1 end)
        ) / count(*) as metric_value
    from nps_responses
    inner join tier_rows
        on nps_responses.account_id = tier_rows.account_id
    where cast(nps_responses.responded_at as date) > {{ add_days(-365, run_date()) }}
    group by tier_rows.tier
),

csat as (
    select
        'csat' as metric,
        tier_rows.tier,
        sum(tickets.csat_score) as numerator,
        count(*) as denominator,
        avg(tickets.csat_score) as metric_value
    from tickets
    inner join tier_rows
        on tickets.account_id = tier_rows.account_id
    where
        tickets.csat_score is not null
        and cast(tickets.solved_at as date) > {{ add_days(-90, run_date()) }}
    group by tier_rows.tier
),

recent_activities as (
    select
        activities.*,
        tier_rows.tier,
        touchpoints.estimated_minutes
    from activities
    inner join tier_rows
        on activities.account_id = tier_rows.account_id
    left join touchpoints
        on activities.activity_type = touchpoints.touchpoint
    where activities.occurred_date > {{ add_days(-365, run_date()) }}
),

ratio_counts as (
    -- per account, so an account's opens are only counted against its own sends
    {%- set ratios = [
        ('touch_completion_rate', 30,
            "outcome = 'completed' and estimated_minutes > 0",
            "estimated_minutes > 0"),
        ('review_attendance_rate', 365,
            "activity_type in ('qbr', 'business_review') and outcome = 'completed'",
            "activity_type in ('qbr', 'business_review') and outcome in ('completed', 'no_show')"),
        ('email_open_rate', 90,
            "activity_type = 'email_open'",
            "channel = 'email' and outcome = 'completed' and activity_type not in ('email_open', 'email_click')"),
        ('email_click_rate', 90,
            "activity_type = 'email_click'",
            "channel = 'email' and outcome = 'completed' and activity_type not in ('email_open', 'email_click')"),
        ('webinar_attendance_rate', 90,
            "activity_type = 'webinar_attended'",
            "activity_type = 'webinar_invite' and outcome = 'completed'"),
    ] %}
    {%- for name, days, numerator, denominator in ratios %}
    select
        '{{ name }}' as metric,
        tier,
        account_id,
        count(case when {{ numerator }} then 1 end) as numerator,
        count(case when {{ denominator }} then 1 end) as denominator
    from recent_activities
    where occurred_date > {{ add_days(-days, run_date()) }}
    group by tier, account_id
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

ratios as (
    select
        metric,
        tier,
        sum(least(numerator, denominator)) as numerator,
        sum(denominator) as denominator,
        sum(least(numerator, denominator)) * 1.0 / nullif(sum(denominator), 0) as metric_value
    from ratio_counts
    group by metric, tier
),

paying as (
    -- paying customers (ARR > 0) per day, in the tier they had on the run date
    select
        tiers_daily.history_date,
        tiers_daily.account_id,
        tier_rows.tier
    from tiers_daily
    inner join tier_rows
        on tiers_daily.account_id = tier_rows.account_id
    where tiers_daily.arr_usd > 0
),

retention as (
    {%- for days in [30, 90] %}
    select
        'retention_rate_{{ days }}d' as metric,
        tier_rows.tier,
        count(distinct case
            when at_start.account_id is not null and at_end.account_id is not null
                then tier_rows.account_id
        end) as numerator,
        count(distinct at_start.account_id) as denominator,
        100.0 * count(distinct case
            when at_start.account_id is not null and at_end.account_id is not null
                then tier_rows.account_id
        end) / nullif(count(distinct at_start.account_id), 0) as metric_value
    from tier_rows
    left join paying as at_start
        on
            tier_rows.account_id = at_start.account_id
            and tier_rows.tier = at_start.tier
            and at_start.history_date = {{ add_days(-days, run_date()) }}
    left join paying as at_end
        on
            tier_rows.account_id = at_end.account_id
            and tier_rows.tier = at_end.tier
            and at_end.history_date = {{ run_date() }}
    group by tier_rows.tier
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

lifetime_value as (
    select
        'customer_lifetime_value_usd' as metric,
        retention.tier,
        cast(null as bigint) as numerator,
        cast(null as bigint) as denominator,
        -- annualised churn from the 90-day retention; no observed churn: 20 years at most
        avg(accounts.arr_usd)
        * least(20.0, 1.0 / nullif(1 - power(retention.metric_value / 100.0, 365.0 / 90), 0))
        - {{ var('acquisition_cost_usd') }} as metric_value
    from retention
    inner join tier_rows
        on retention.tier = tier_rows.tier
    inner join accounts
        on tier_rows.account_id = accounts.account_id
    where retention.metric = 'retention_rate_90d' and accounts.arr_usd > 0
    group by retention.tier, retention.metric_value
),

metrics as (
    select * from nps
    union all
    select * from csat
    union all
    select * from ratios
    union all
    select * from retention
    union all
    select * from lifetime_value
),

final as (
    select
        metrics.metric,
        metrics.tier,
        {{ round_to('metrics.metric_value', 4) }} as metric_value,
        metrics.numerator,
        metrics.denominator,
        coalesce(tier_target.target, all_target.target) as target,
        case
            when coalesce(tier_target.target, all_target.target) is null then null
            when coalesce(tier_target.direction, all_target.direction) = 'at_least'
                then metrics.metric_value >= coalesce(tier_target.target, all_target.target)
            else metrics.metric_value <= coalesce(tier_target.target, all_target.target)
        end as meets_target,
        {{ run_date() }} as run_date
    from metrics
    left join targets as tier_target
        on metrics.metric = tier_target.metric and metrics.tier = tier_target.tier
    left join targets as all_target
        on metrics.metric = all_target.metric and all_target.tier = 'all'
)

select * from final
order by metric, tier
