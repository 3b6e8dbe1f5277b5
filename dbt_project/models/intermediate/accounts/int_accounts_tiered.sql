{#-
    Tier by ARR thresholds from the touch_tiers seed, with the plan and strategic/complexity
    rules of the touch model: free and trial plans are tech touch; strategic accounts and
    complex implementations are high touch whatever their ARR.
-#}
with

accounts as (
    select * from {{ ref('stg_crm__accounts') }}
),

arr as (
    select * from {{ ref('int_accounts_arr') }}
),

usage as (
    select * from {{ ref('int_account_usage_summarised') }}
),

tiers as (
    select * from {{ ref('touch_tiers') }}
),

joined as (
    select
        accounts.account_id,
        accounts.account_name,
        accounts.plan,
        accounts.is_strategic,
        accounts.implementation_complexity,
        accounts.csm_email,
        accounts.pod,
        coalesce(arr.arr_usd, 0) as arr_usd,
        coalesce(arr.licensed_seats, 0) as licensed_seats,
        arr.customer_since_date,
        arr.renewal_date,
        coalesce(usage.active_users_30d, 0) as active_users_30d
    from accounts
    left join arr
        on accounts.account_id = arr.account_id
    left join usage
        on accounts.account_id = usage.account_id
),

arr_tier as (
    select
        joined.account_id,
        tiers.tier as arr_tier
    from joined
    inner join tiers
        on joined.arr_usd >= tiers.min_arr_usd
    qualify row_number() over (partition by joined.account_id order by tiers.min_arr_usd desc) = 1
),

final as (
    select
        joined.*,
        case
            when joined.plan in ('free', 'trial') then 'tech'
            when joined.is_strategic or joined.implementation_complexity = 'complex' then 'high'
            else arr_tier.arr_tier
        end as tier,
        case
            when joined.customer_since_date > {{ add_days(-90, run_date()) }}
                then 'onboarding'
            when joined.renewal_date <= {{ add_days(90, run_date()) }}
                then 'renewal'
            else 'adoption'
        end as lifecycle_stage,
        case
            when joined.licensed_seats > 0
                then least(100, round(100.0 * joined.active_users_30d / joined.licensed_seats))
        end as health_score
    from joined
    left join arr_tier
        on joined.account_id = arr_tier.account_id
)

select * from final
