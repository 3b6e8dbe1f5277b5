{#- The published account health: int_account_health_daily, as BI tools and the exports read it. -#}
{{ config(materialized='view') }}

select * from {{ ref('int_account_health_daily') }}
