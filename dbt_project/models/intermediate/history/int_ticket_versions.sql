{#- unique_key names one column, not a list: see DECISIONLOG, replacing the rows of a key -#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='ticket_id',
    )
}}
{#-
    Every landed version of every support ticket, each valid from the day it landed (or the
    ticket was created, if later) until the next version landed. Kept incrementally: a run
    reads only the partitions landed since the newest stored one (or the run date's own
    partition again, for a backfill) and recomputes the versions of just the tickets those
    partitions touch, from their stored versions and the new ones. Point in time: a day sees
    the versions landed by then; one not yet superseded has no valid_to.
-#}
{%- set first_partition = next_days_start(this.identifier, 'landed_date') %}
{%- set first_partition_sql = "cast('" ~ first_partition ~ "' as date)" %}
{%- set version_columns = [
    'ticket_id', 'account_id', 'landed_date', 'created_at', 'status', 'priority',
    'first_reply_at', 'solved_at', 'csat_score', 'tags', 'is_bug', 'is_open',
] %}

with

new_versions as (
    select
        ticket_id,
        account_id,
        landed_date,
        created_at,
        ticket_status as status,
        ticket_priority as priority,
        first_reply_at,
        solved_at,
        csat_score,
        tags,
        is_bug,
        not is_solved as is_open
    from {{ ref('stg_support__ticket_versions') }}
    where
        landed_date <= {{ run_date() }}
    {%- if first_partition is not none %}
            and landed_date >= {{ first_partition_sql }}
        {%- endif %}
),

{% if is_incremental() and first_partition is not none %}
touched_tickets as (
    select ticket_id from new_versions
    union
    -- a re-landed drop that no longer holds a ticket takes its old version away
    select ticket_id
    from {{ this }}
    where landed_date >= {{ first_partition_sql }} and landed_date <= {{ run_date() }}
),

kept_versions as (
    select
        {%- for column in version_columns %}
        {{ column }}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ this }}
    where
        ticket_id in (select ticket_id from touched_tickets)
        and (landed_date < {{ first_partition_sql }} or landed_date > {{ run_date() }})
),

versions as (
    select * from new_versions
    union all
    select * from kept_versions
),
{% else %}
versions as (
    select * from new_versions
),
{% endif %}

final as (
    select
        {%- for column in version_columns if column not in ('is_bug', 'is_open') %}
        {{ column }},
        {%- endfor %}
        cast(created_at as date) as created_date,
        cast(solved_at as date) as solved_date,
        is_bug,
        is_open,
        {{ dbt.datediff('created_at', 'first_reply_at', 'minute') }} / 60.0  -- noqa: LT05
            as first_reply_hours,
        greatest(landed_date, cast(created_at as date)) as valid_from,
        lead(landed_date) over (partition by ticket_id order by landed_date) as valid_to
    from versions
)

select * from final
