{#-
    Current state per account on the run date. Lifecycle stage precedence (DECISIONLOG.md):
    at_risk (red health backed by at least at_risk_min_confidence of the weight) first, then
    onboarding (the first onboarding_days from the first contract start), then renewal (the
    renewal_window_days before the renewal date), else adoption.
-#}
with

tiers as (
    select *
    from {{ ref('int_account_tiers_daily') }}
    where history_date = {{ run_date() }}
),

health as (
    select *
    from {{ ref('int_account_health_daily') }}
    where history_date = {{ run_date() }}
),

health_moves as (
    select * from {{ ref('int_account_health_moves') }}
),

accounts as (
    select *
    from {{ ref('int_accounts_daily') }}
    where history_date = {{ run_date() }}
),

stage_touch_levels as (
    select * from {{ ref('stage_touch_levels') }}
),

staged as (
    select
        tiers.account_id,
        accounts.account_name,
        tiers.plan,
        tiers.arr_usd,
        tiers.tier,
        tiers.raw_tier,
        tiers.tier_rule,
        {{ lifecycle_stage_on(
            run_date(),
            'health.health_band',
            'health.confidence',
            'tiers.customer_since_date',
            'tiers.renewal_date'
        ) }} as lifecycle_stage,
        health.health_score,
        health.health_band,
        health.confidence as health_confidence,
        health.health_change_7d,
        health.health_change_30d,
        health.override_applied as health_override,
        health.top_driver as health_top_driver,
        health_moves.health_moves_7d,
        health_moves.health_moves_30d,
        accounts.csm_email,
        accounts.pod,
        tiers.renewal_date,
        tiers.customer_since_date,
        tiers.licensed_seats,
        tiers.is_strategic,
        tiers.implementation_complexity
    from tiers
    inner join accounts
        on tiers.account_id = accounts.account_id
    left join health
        on tiers.account_id = health.account_id
    left join health_moves
        on tiers.account_id = health_moves.account_id
),

final as (
    select
        staged.account_id,
        staged.account_name,
        staged.plan,
        {{ round_to('staged.arr_usd', 2) }} as arr_usd,
        staged.tier,
        staged.raw_tier,
        staged.tier_rule,
        stage_touch_levels.touch_level as effective_touch_level,
        staged.lifecycle_stage,
        staged.health_score,
        staged.health_band,
        staged.health_confidence,
        staged.health_change_7d,
        staged.health_change_30d,
        staged.health_override,
        staged.health_top_driver,
        staged.health_moves_7d,
        staged.health_moves_30d,
        staged.csm_email,
        staged.pod,
        staged.renewal_date,
        staged.customer_since_date,
        staged.licensed_seats,
        staged.is_strategic,
        staged.implementation_complexity,
        {{ run_date() }} as run_date
    from staged
    left join stage_touch_levels
        on
            staged.tier = stage_touch_levels.tier
            and staged.lifecycle_stage = stage_touch_levels.lifecycle_stage
)

select * from final
