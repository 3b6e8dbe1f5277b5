{#-
    Daily history tables (one row per account per day) are incremental: a run computes the
    days from the day after the newest stored day up to the run date, or only the run date
    when it is not after the newest stored day (a backfill of one past day). A first build or
    a --full-refresh computes every day from the first landed drop (at most history_days).

    history_start_date(relation_name) returns that first day as an ISO string.
-#}
{% macro history_start_date(relation_name) -%}
    {%- set run_day = modules.datetime.date.fromisoformat(run_date_value()) -%}
    {%- if not execute -%}
        {{ return(run_day.isoformat()) }}
    {%- endif -%}
    {%- set existing = adapter.get_relation(
        database=target.database, schema=target.schema, identifier=relation_name
    ) -%}
    {%- if existing is not none and not flags.FULL_REFRESH -%}
        {%- set newest = run_query("select max(history_date) from " ~ existing).columns[0].values()[0] -%}
        {%- if newest is not none -%}
            {%- set next_day = newest + modules.datetime.timedelta(days=1) -%}
            {{ return((next_day if next_day < run_day else run_day).isoformat()) }}
        {%- endif -%}
    {%- endif -%}
    {%- set first_landed = run_query(
        "select min(ds) from " ~ source('crm', 'accounts') ~ " where ds <= " ~ run_date()
    ).columns[0].values()[0] -%}
    {%- set earliest = run_day - modules.datetime.timedelta(days=var('history_days') - 1) -%}
    {%- if first_landed is none or first_landed < earliest -%}
        {{ return(earliest.isoformat()) }}
    {%- endif -%}
    {{ return(first_landed.isoformat()) }}
{%- endmacro %}

{#-
    Rows of a snapshot source as they stood on each day of a spine: for every spine day, the
    newest partition landed on or before it (point in time).
-#}
{% macro snapshot_as_of_days(relation, spine_relation, day_column='history_date') -%}
    with snapshot_days as (
        select
            spine.{{ day_column }},
            max(landed.ds) as ds
        from {{ spine_relation }} as spine
        inner join (select distinct ds from {{ relation }}) as landed
            on landed.ds <= spine.{{ day_column }}
        group by spine.{{ day_column }}
    )

    select
        snapshot_days.{{ day_column }},
        snapshot_rows.*
    from snapshot_days
    inner join {{ relation }} as snapshot_rows
        on snapshot_days.ds = snapshot_rows.ds
{%- endmacro %}
