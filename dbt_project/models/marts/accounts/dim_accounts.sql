with

accounts as (
    select * from {{ ref('int_accounts_tiered') }}
),

final as (
    select
        account_id,
        account_name,
        plan,
        round(arr_usd, 2) as arr_usd,
        tier,
        lifecycle_stage,
        health_score,
        {{ health_band('health_score') }} as health_band,
        csm_email,
        pod,
        renewal_date,
        customer_since_date,
        licensed_seats,
        active_users_30d,
        is_strategic,
        implementation_complexity,
        {{ run_date() }} as run_date
    from accounts
)

select * from final
