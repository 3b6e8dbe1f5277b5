with

source as (
    {{ latest_snapshot(source('crm', 'contacts')) }}
),

renamed as (
    select
        contact_id,
        account_id,
        lower(email) as email,
        name as contact_name,
        role as contact_role,
        coalesce(is_primary, false) as is_primary
    from source
)

select * from renamed
