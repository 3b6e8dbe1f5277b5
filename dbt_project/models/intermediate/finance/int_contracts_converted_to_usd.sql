with

contracts as (
    select * from {{ ref('stg_crm__contracts') }}
),

fx_rates as (
    select * from {{ ref('stg_crm__fx_rates') }}
),

latest_rates as (
    select
        currency_code,
        rate_to_usd,
        as_of_date
    from fx_rates
    where as_of_date <= {{ run_date() }}
    qualify row_number() over (partition by currency_code order by as_of_date desc) = 1
),

final as (
    select
        contracts.contract_id,
        contracts.account_id,
        contracts.start_date,
        contracts.renewal_date,
        contracts.contract_status,
        contracts.seats,
        contracts.currency_code,
        contracts.arr_amount,
        latest_rates.rate_to_usd,
        latest_rates.as_of_date as rate_as_of_date,
        contracts.arr_amount * latest_rates.rate_to_usd as arr_usd,
        (
            contracts.contract_status = 'active'
            and contracts.start_date <= {{ run_date() }}
        ) as is_active
    from contracts
    left join latest_rates
        on contracts.currency_code = latest_rates.currency_code
)

select * from final
