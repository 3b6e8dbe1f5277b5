{#- The published account tiers: int_account_tiers_daily, as BI tools and the exports read it. -#}
{{ config(materialized='view') }}

select * from {{ ref('int_account_tiers_daily') }}
