{#- unique_key names one column, not a list: see DECISIONLOG, replacing the rows of a key -#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='landed_date',
    )
}}
{#-
    Product usage events as first delivered, one row per event: a run adds only the landing
    partitions after the newest stored one (or lands the run date's own partition again), so
    the nightly cost follows the day's drop, not the history. An event id delivered again in a
    later drop counts once, from its first delivery (usage events do not change).
-#}
{%- set first_partition = next_days_start(this.identifier, 'landed_date') %}

with

new_partitions as (
    select
        event_id,
        account_id,
        user_id,
        feature,
        occurred_date,
        landed_date
    from {{ ref('stg_usage__usage_events') }}
    {%- if first_partition is not none %}
    where landed_date >= cast('{{ first_partition }}' as date)
    {%- endif %}
),

-- ids delivered more than once in these partitions: few, so only their rows are windowed
-- (a window over every event of a first build would hold the whole year in memory)
repeated_ids as (
    select event_id
    from new_partitions
    where event_id is not null
    group by event_id
    having count(*) > 1
),

-- adapter-specific: DuckDB's anti and semi joins, elsewhere (not) exists
first_deliveries as (
    select new_partitions.*
    from new_partitions
    {%- if target.type == 'duckdb' %}
    anti join repeated_ids
        on new_partitions.event_id = repeated_ids.event_id
    {%- else %}
    where not exists (
        select 1 from repeated_ids
        where new_partitions.event_id = repeated_ids.event_id
    )
    {%- endif %}
    union all
    {% call first_per('event_id', 'landed_date') -%}
    select *
    from (
        select new_partitions.*
        from new_partitions
        {%- if target.type == 'duckdb' %}
        semi join repeated_ids
            on new_partitions.event_id = repeated_ids.event_id
        {%- else %}
        where exists (
            select 1 from repeated_ids
            where new_partitions.event_id = repeated_ids.event_id
        )
        {%- endif %}
    ) as repeated_deliveries
    {%- endcall %}
),

{% if is_incremental() and first_partition is not none %}
delivered_before as (
    select event_id
    from {{ this }}
    where
        landed_date < cast('{{ first_partition }}' as date)
        and event_id is not null
        and occurred_date >= (select min(occurred_date) from new_partitions)
        and occurred_date <= (select max(occurred_date) from new_partitions)
),

final as (
    select first_deliveries.*
    from first_deliveries
    {%- if target.type == 'duckdb' %}
    anti join delivered_before
        on first_deliveries.event_id = delivered_before.event_id
    {%- else %}
    where not exists (
        select 1 from delivered_before
        where first_deliveries.event_id = delivered_before.event_id
    )
    {%- endif %}
)
{% else %}
final as (
    select * from first_deliveries
)
{% endif %}

select * from final
