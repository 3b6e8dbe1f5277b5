with

source as (
    {{ latest_snapshot(source('crm', 'csms')) }}
),

renamed as (
    select
        lower(csm_email) as csm_email,
        name as csm_name,
        pod,
        capacity_hours_per_week
    from source
)

select * from renamed
