{#-
    Every fx_rates snapshot landed on or before the run date, one row per currency, rate date
    and snapshot (the currency code in upper case).
-#}
with

source as (
    {{ landed_events(source('crm', 'fx_rates')) }}
),

renamed as (
    select
        upper(currency) as currency_code,
        rate_to_usd,
        as_of_date,
        ds as snapshot_date
    from source
)

select * from renamed
