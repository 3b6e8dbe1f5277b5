{#-
    When the evidence marts were computed: the newest history day they read. The nightly
    build computes the evidence again once this is TOUCHLINE_EVIDENCE_EVERY_DAYS days or more
    before the run date (touchline.warehouse.evidence_due); between, this row stays too.
-#}
with

history as (
    select max(history_date) as as_of_date
    from {{ ref('int_account_health_daily') }}
),

final as (
    select as_of_date
    from history
)

select * from final
