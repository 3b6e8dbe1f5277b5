{#- unique_key names one column, not a list: see DECISIONLOG, replacing the rows of a key -#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='history_date',
    )
}}
{#-
    Which dbt run last wrote each day of the daily history: the days this run adds (or
    writes again) get its invocation id. The BI publication (touchline.bi_publish) keeps the
    Parquet of a month of the history marts from the last version while no day of the month
    was written since.
-#}
with

days as (
    select * from {{ ref('int_history_days') }}
),

final as (
    select
        history_date,
        '{{ invocation_id }}' as written_by
    from days
)

select * from final
