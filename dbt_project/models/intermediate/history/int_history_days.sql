{#-
    The days this run adds to the daily history tables (see the history_start_date and
    history_end_date macros).
-#}
-- depends_on: {{ ref('stg_crm__account_snapshots') }}
{%- set start = history_start_date('int_account_tiers_daily') %}

with

days as (
    {{ dbt.date_spine(
        'day',
        "cast('" ~ start ~ "' as date)",
        add_days(1, "cast('" ~ history_end_date(start) ~ "' as date)")
    ) }}
),

final as (
    select cast(date_day as date) as history_date
    from days
)

select * from final
