with

source as (
    {{ latest_snapshot(source('crm', 'fx_rates')) }}
),

renamed as (
    select
        upper(currency) as currency_code,
        rate_to_usd,
        as_of_date
    from source
)

select * from renamed
