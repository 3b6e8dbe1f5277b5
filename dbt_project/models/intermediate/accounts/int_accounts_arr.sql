with

contracts as (
    select * from {{ ref('int_contracts_converted_to_usd') }}
),

per_account as (
    select
        account_id,
        min(start_date) as customer_since_date,
        sum(case when is_active then arr_usd else 0 end) as arr_usd,
        sum(case when is_active then seats else 0 end) as licensed_seats,
        count(case when is_active then 1 end) as active_contracts,
        min(case when is_active and renewal_date >= {{ run_date() }} then renewal_date end)
            as renewal_date
    from contracts
    group by account_id
),

final as (
    select * from per_account
)

select * from final
