{#- Each account-day's health and tier beside what happened next (int_account_outcomes_daily). -#}
{{ config(materialized='view') }}

select * from {{ ref('int_account_outcomes_daily') }}
