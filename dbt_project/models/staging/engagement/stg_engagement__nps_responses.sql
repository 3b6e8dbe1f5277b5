with

source as (
    {{ landed_events(source('engagement', 'nps_responses')) }}
),

latest_version as (
    {% call first_per('response_id', 'ds desc') -%}
    select *
    from source
    {%- endcall %}
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
