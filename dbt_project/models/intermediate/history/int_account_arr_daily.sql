{#-
    ARR in USD, seats, first start and next renewal per account on each history day, from the
    contracts and fx_rates snapshots as they stood that day (point in time).
-#}
with

contracts as (
    {{ snapshot_as_of_days(ref('stg_crm__contract_snapshots'), ref('int_history_days')) }}
),

fx_rates as (
    {{ snapshot_as_of_days(ref('stg_crm__fx_rate_snapshots'), ref('int_history_days')) }}
),

latest_rates as (
    {% call first_per('history_date, currency_code', 'as_of_date desc') -%}
    select
        history_date,
        currency_code,
        rate_to_usd,
        as_of_date
    from fx_rates
    where as_of_date <= history_date
    {%- endcall %}
),

converted as (
    select
        contracts.history_date,
        contracts.account_id,
        contracts.start_date,
        contracts.renewal_date,
        contracts.seats,
        contracts.arr_amount * latest_rates.rate_to_usd as arr_usd,
        (
            contracts.contract_status = 'active'
            and contracts.start_date <= contracts.history_date
        ) as is_active
    from contracts
    left join latest_rates
        on
            contracts.history_date = latest_rates.history_date
            and contracts.currency_code = latest_rates.currency_code
),

final as (
    select
        history_date,
        account_id,
        min(start_date) as customer_since_date,
        sum(case when is_active then arr_usd else 0 end) as arr_usd,
        sum(case when is_active then coalesce(seats, 0) else 0 end) as licensed_seats,
        count(case when is_active and arr_usd is null then 1 end) as unconverted_contracts,
        min(case when is_active and renewal_date >= history_date then renewal_date end)
            as renewal_date
    from converted
    group by history_date, account_id
)

select * from final
