with

source as (
    {{ landed_events(source('engagement', 'churn_events')) }}
),

latest_version as (
    select
        *,
        min(ds) over (partition by account_id, churned_on) as first_landed_date
    from source
    qualify row_number() over (partition by account_id, churned_on order by ds desc) = 1
),

renamed as (
    select
        account_id,
        churned_on,
        reason as churn_reason,
        first_landed_date
    from latest_version
)

select * from renamed
