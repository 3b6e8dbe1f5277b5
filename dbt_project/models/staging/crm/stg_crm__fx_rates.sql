with

latest as (
    {{ latest_snapshot(ref('stg_crm__fx_rate_snapshots'), 'snapshot_date') }}
),

final as (
    select
        currency_code,
        rate_to_usd,
        as_of_date
    from latest
)

select * from final
