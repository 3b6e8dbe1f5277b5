with

source as (
    {{ latest_snapshot(source('crm', 'snoozes')) }}
),

renamed as (
    select
        account_id,
        touchpoint,
        snoozed_until,
        reason as snooze_reason,
        lower(created_by) as created_by
    from source
)

select * from renamed
