with

source as (
    {{ landed_events(source('support', 'tickets')) }}
),

latest_version as (
    select *
    from source
    qualify row_number() over (
        partition by ticket_id
        order by ds desc, coalesce(updated_at, solved_at, first_reply_at, created_at) desc
    ) = 1
),

renamed as (
    select
        ticket_id,
        account_id,
        created_at,
        status as ticket_status,
        priority as ticket_priority,
        first_reply_at,
        solved_at,
        coalesce(updated_at, solved_at, first_reply_at, created_at) as updated_at,
        tags,
        list_contains(string_split(coalesce(tags, ''), ';'), 'bug') as is_bug,
        csat_score,
        status in ('solved', 'closed') as is_solved,
        ds as landed_date
    from latest_version
)

select * from renamed
