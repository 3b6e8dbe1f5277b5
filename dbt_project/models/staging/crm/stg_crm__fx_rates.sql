with

snapshots as (
    select * from {{ ref('stg_crm__fx_rate_snapshots') }}
),

latest as (
    {{ latest_snapshot('snapshots', 'snapshot_date') }}
),

final as (
    select
        currency_code,
        rate_to_usd,
        as_of_date
    from latest
)

select * from final
