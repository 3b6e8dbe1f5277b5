{#- The days this run adds to the daily history tables (see the history_start_date macro). -#}
with

days as (
    {{ dbt.date_spine(
        'day',
        "cast('" ~ history_start_date('fct_account_tiers_daily') ~ "' as date)",
        add_days(1, run_date())
    ) }}
),

final as (
    select cast(date_day as date) as history_date
    from days
)

select * from final
