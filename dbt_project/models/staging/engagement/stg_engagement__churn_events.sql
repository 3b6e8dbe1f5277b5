with

source as (
    {{ landed_events(source('engagement', 'churn_events')) }}
),

latest_version as (
    {% call first_per('account_id, churned_on', 'ds desc') -%}
    select
        *,
        min(ds) over (partition by account_id, churned_on) as first_landed_date
    from source
    {%- endcall %}
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
