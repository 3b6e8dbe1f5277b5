with

source as (
    {{ landed_events(source('engagement', 'churn_events')) }}
),

latest_version as (
    select *
    from source
    qualify row_number() over (partition by account_id, churned_on order by ds desc) = 1
),

renamed as (
    select
        account_id,
        churned_on,
        reason as churn_reason
    from latest_version
)

select * from renamed
