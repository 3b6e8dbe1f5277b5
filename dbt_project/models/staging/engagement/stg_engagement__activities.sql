with

source as (
    {{ landed_events(source('engagement', 'activities')) }}
),

latest_version as (
    select *
    from source
    qualify row_number() over (partition by activity_id order by ds desc) = 1
),

renamed as (
    select
        activity_id,
        account_id,
        activity_type,
        occurred_at,
        cast(occurred_at as date) as occurred_date,
        coalesce(outcome, 'completed') as outcome,
        channel,
        lower(csm_email) as csm_email,
        ds as landed_date
    from latest_version
)

select * from renamed
