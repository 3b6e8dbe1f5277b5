{#-
    Every version of every support ticket landed on or before the run date: one row per
    ticket and drop (a ticket twice in one drop: its latest update). The one place where the
    tickets' cleaning rules live: updated_at falls back to the latest of solved_at,
    first_reply_at and created_at; a ticket is a bug when its tags hold "bug"; solved and
    closed tickets are solved, the others open.
-#}
with

source as (
    {{ landed_events(source('support', 'tickets')) }}
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
        {{ list_has("coalesce(tags, '')", "'bug'") }} as is_bug,
        csat_score,
        status in ('solved', 'closed') as is_solved,
        ds as landed_date
    from source
),

final as (
    {% call first_per('ticket_id, landed_date', 'updated_at desc') -%}
    select *
    from renamed
    {%- endcall %}
)

select * from final
