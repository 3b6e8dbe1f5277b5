with

source as (
    {{ landed_events(source('engagement', 'nps_responses')) }}
),

latest_version as (
    select *
    from source
    qualify row_number() over (partition by response_id order by ds desc) = 1
),

renamed as (
    select
        response_id,
        account_id,
        contact_id,
        score as nps_score,
        case
            when score <= 6 then 'detractor'
            when score <= 8 then 'passive'
            else 'promoter'
        end as nps_category,
        responded_at,
        comment as nps_comment,
        ds as landed_date
    from latest_version
)

select * from renamed
