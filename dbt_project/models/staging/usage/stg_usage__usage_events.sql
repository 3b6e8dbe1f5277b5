with

source as (
    {{ landed_events(source('usage', 'usage_events')) }}
),

deduplicated as (
    select *
    from source
    qualify event_id is null or row_number() over (partition by event_id order by ds desc) = 1
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
    from deduplicated
)

select * from renamed
