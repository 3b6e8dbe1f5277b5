with

source as (
    {{ latest_snapshot(source('crm', 'accounts')) }}
),

renamed as (
    select
        account_id,
        account_name,
        plan,
        coalesce(is_strategic, false) as is_strategic,
        coalesce(implementation_complexity, 'standard') as implementation_complexity,
        lower(csm_email) as csm_email,
        pod,
        industry,
        region,
        created_at,
        ds as snapshot_date
    from source
)

select * from renamed
