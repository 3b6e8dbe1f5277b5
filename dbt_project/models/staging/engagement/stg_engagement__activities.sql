{#-
    The touch activity log: the drop's activities plus the tasks CSMs completed in the CRM
    (read back each night as crm_task_completions; completed, channel crm).
-#}
with

source as (
    {{ landed_events(source('engagement', 'activities')) }}
),

crm_completions as (
    select
        activity_id,
        account_id,
        activity_type,
        occurred_at,
        'completed' as outcome,
        'crm' as channel,
        csm_email,
        ds
    from ({{ landed_events(source('engagement', 'crm_task_completions')) }}) as completions
),

unioned as (
    select
        activity_id,
        account_id,
        activity_type,
        occurred_at,
        outcome,
        channel,
        csm_email,
        ds
    from source
    union all
    select * from crm_completions
),

latest_version as (
    {% call first_per('activity_id', 'ds desc') -%}
    select *
    from unioned
    {%- endcall %}
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
