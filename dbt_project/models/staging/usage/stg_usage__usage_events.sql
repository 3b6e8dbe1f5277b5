{#-
    Every usage event as delivered in the drops landed on or before the run date: one row
    per event and drop (an event delivered again in a later drop appears once per drop;
    int_usage_events keeps its first delivery).
-#}
with

source as (
    {{ landed_events(source('usage', 'usage_events')) }}
),

renamed as (
    select
        event_id,
        account_id,
        user_id,
        feature,
        occurred_at,
        cast(occurred_at as date) as occurred_date,
        ds as landed_date
    from source
)

select * from renamed
