{#- unique_key names one column, not a list: see DECISIONLOG, replacing the rows of a key -#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='history_date',
    )
}}
{#-
    Tier per account per day. The rule tier comes first (tier_rules, in rule order: free and
    trial plans are tech touch, strategic accounts and complex implementations high touch),
    else the highest touch_tiers threshold the ARR reaches. The tier an account is served in
    damps that with hysteresis: the highest-touch raw tier over the last tier_downgrade_days,
    so an account moves up at once and down only after that many days below the line.
-#}
{#- the run's days as literals, so scans of the stored history skip the other days -#}
{%- set first_day_sql = history_days_sql()[0] %}

with

accounts as (
    select * from {{ ref('int_accounts_daily') }}
),

arr as (
    select * from {{ ref('int_account_arr_daily') }}
),

tiers as (
    select * from {{ ref('touch_tiers') }}
),

tier_rules as (
    select * from {{ ref('tier_rules') }}
),

joined as (
    select
        accounts.history_date,
        accounts.account_id,
        accounts.plan,
        accounts.is_strategic,
        accounts.implementation_complexity,
        coalesce(arr.arr_usd, 0) as arr_usd,
        coalesce(arr.licensed_seats, 0) as licensed_seats,
        arr.customer_since_date,
        arr.renewal_date
    from accounts
    left join arr
        on
            accounts.account_id = arr.account_id
            and accounts.history_date = arr.history_date
),

-- the highest threshold the ARR reaches (an as-of join: no row per account, day and tier)
arr_tiers as (
    select
        joined.history_date,
        joined.account_id,
        tiers.tier as arr_tier
    from joined
    {{ asof_join('inner', 'tiers', 'joined.arr_usd', 'tiers.min_arr_usd') }}
),

-- the first rule in rule order that applies (an aggregate, which spills to disk when large)
rule_tiers as (
    select
        joined.history_date,
        joined.account_id,
        {{ arg_min('tier_rules.tier', 'tier_rules.rule_order') }} as rule_tier,
        {{ arg_min('tier_rules.rule_code', 'tier_rules.rule_order') }} as rule_code
    from joined
    inner join tier_rules
        on
            (tier_rules.rule_code = 'plan_free' and joined.plan = 'free')
            or (tier_rules.rule_code = 'plan_trial' and joined.plan = 'trial')
            or (tier_rules.rule_code = 'strategic' and joined.is_strategic)
            or (
                tier_rules.rule_code = 'complex_implementation'
                and joined.implementation_complexity = 'complex'
            )
    group by joined.history_date, joined.account_id
),

new_days as (
    select
        joined.*,
        arr_tiers.arr_tier,
        rule_tiers.rule_code as tier_rule,
        coalesce(rule_tiers.rule_tier, arr_tiers.arr_tier) as raw_tier
    from joined
    left join arr_tiers
        on
            joined.account_id = arr_tiers.account_id
            and joined.history_date = arr_tiers.history_date
    left join rule_tiers
        on
            joined.account_id = rule_tiers.account_id
            and joined.history_date = rule_tiers.history_date
),

{% if is_incremental() %}
earlier_days as (
    select
        history_date,
        account_id,
        raw_tier
    from {{ this }}
    where
        history_date < {{ first_day_sql }}
        and history_date >= {{ add_days(-var('tier_downgrade_days'), first_day_sql) }}
),
{% endif %}

raw_history as (
    select
        history_date,
        account_id,
        raw_tier
    from new_days
    {% if is_incremental() %}
        union all
        select * from earlier_days
    {% endif %}
),

damped as (
    select
        raw_history.history_date,
        raw_history.account_id,
        min(tiers.touch_rank) over (
            partition by raw_history.account_id
            order by raw_history.history_date
            range between {{ days_interval(var('tier_downgrade_days') - 1) }} preceding
            and current row
        ) as served_rank
    from raw_history
    inner join tiers
        on raw_history.raw_tier = tiers.tier
),

final as (
    select
        new_days.history_date,
        new_days.account_id,
        new_days.plan,
        new_days.is_strategic,
        new_days.implementation_complexity,
        new_days.arr_usd,
        new_days.licensed_seats,
        new_days.customer_since_date,
        new_days.renewal_date,
        new_days.arr_tier,
        new_days.tier_rule,
        new_days.raw_tier,
        tiers.tier
    from new_days
    inner join damped
        on
            new_days.account_id = damped.account_id
            and new_days.history_date = damped.history_date
    inner join tiers
        on damped.served_rank = tiers.touch_rank
)

select * from final
