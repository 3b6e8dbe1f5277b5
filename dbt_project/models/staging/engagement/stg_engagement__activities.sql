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
    from ({{ landed_events(source('engagement', 'crm_task_completions')) }})
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
    select *
    from unioned
    qualify row_number() over (partition by activity_id order by ds desc) = 1
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
