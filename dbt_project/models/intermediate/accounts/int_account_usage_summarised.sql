with

usage_events as (
    select * from {{ ref('stg_usage__usage_events') }}
),

last_30_days as (
    select
        account_id,
        count(distinct user_id) as active_users_30d,
        count(*) as events_30d,
        max(occurred_date) as last_active_date
    from usage_events
    where
        occurred_date > {{ add_days(-30, run_date()) }}
        and occurred_date <= {{ run_date() }}
    group by account_id
),

final as (
    select * from last_30_days
)

select * from final
