with

source as (
    {{ latest_snapshot(source('crm', 'contracts')) }}
),

renamed as (
    select
        contract_id,
        account_id,
        start_date,
        end_date as renewal_date,
        arr_amount,
        upper(currency) as currency_code,
        coalesce(status, 'active') as contract_status,
        seats,
        ds as snapshot_date
    from source
)

select * from renamed
