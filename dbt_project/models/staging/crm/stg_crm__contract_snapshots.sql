{#-
    Every contracts snapshot landed on or before the run date, one row per contract and
    snapshot: the one place where the contracts' cleaning rules live (the renewal date, the
    currency code in upper case, a missing status as active).
-#}
with

source as (
    {{ landed_events(source('crm', 'contracts')) }}
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
