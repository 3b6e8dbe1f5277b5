{#-
    Incremental tables here grow by day: a run computes the days from the day after the
    newest stored day up to the run date, or only the run date when it is not after the newest
    stored day (a backfill of one past day, or a drop landed again).

    next_days_start(relation_name, date_column): that first day as an ISO string, or none on
    a first build or a --full-refresh (the caller then starts from the beginning).

    history_start_date(relation_name): the first day for the daily history tables (one row
    per account per day); a first build starts at the first landed drop, at most
    history_days before the run date.

    history_end_date(start): the last day the run adds, from start: the run date, or sooner
    when the history_through var (an ISO date) or the history_batch_days var (a number of
    days) caps the run. A first build of a long history runs in batches of days so that no
    single statement holds every account-day at once (see touchline.warehouse.build).

    history_days_sql(): history_days_range() as two SQL date literals, so that scans of the
    stored history skip the other days by their min/max statistics; in a unit test (where
    int_history_days is a fixture) subqueries of it.

    history_days_range(): the first and last day the run adds, read from int_history_days
    when the model runs (at parse time, the run date twice; compiled before the first build,
    the days the first build adds).

    carried_rows_available(first_day): whether the model's own table, as the previous run
    left it, was built through the day before first_day (an ISO string), by its through_date
    column. Only for the incremental models that carry state (replace_all): never on a first
    build or a --full-refresh (is_incremental() is false there).
-#}
{% macro next_days_start(relation_name, date_column) -%}
    {%- set run_day = modules.datetime.date.fromisoformat(run_date_value()) -%}
    {%- if not execute -%}
        {{ return(run_day.isoformat()) }}
    {%- endif -%}
    {%- set existing = adapter.get_relation(
        database=target.database, schema=target.schema, identifier=relation_name
    ) -%}
    {%- if existing is not none and not flags.FULL_REFRESH -%}
        {%- set newest = run_query(
            "select max(" ~ date_column ~ ") from " ~ existing
        ).columns[0].values()[0] -%}
        {%- if newest is not none -%}
            {%- set next_day = newest + modules.datetime.timedelta(days=1) -%}
            {{ return((next_day if next_day < run_day else run_day).isoformat()) }}
        {%- endif -%}
    {%- endif -%}
    {{ return(none) }}
{%- endmacro %}

{% macro history_start_date(relation_name) -%}
    {%- set next_day = next_days_start(relation_name, 'history_date') -%}
    {%- if next_day is not none -%}
        {{ return(next_day) }}
    {%- endif -%}
    {%- set run_day = modules.datetime.date.fromisoformat(run_date_value()) -%}
    {#- through the graph, not ref(): every daily model asks, only int_history_days depends -#}
    {%- set snapshots = graph.nodes['model.' ~ project_name ~ '.stg_crm__account_snapshots'] -%}
    {%- set snapshots_relation = api.Relation.create(
        database=snapshots.database, schema=snapshots.schema, identifier=snapshots.alias
    ) -%}
    {#- not built yet (a compile or lint of an empty warehouse): nothing has landed -#}
    {%- set first_landed = none -%}
    {%- if load_relation(snapshots_relation) is not none -%}
        {%- set first_landed = run_query(
            "select min(snapshot_date) from " ~ snapshots_relation
        ).columns[0].values()[0] -%}
    {%- endif -%}
    {%- set earliest = run_day - modules.datetime.timedelta(days=var('history_days') - 1) -%}
    {%- if first_landed is none or first_landed < earliest -%}
        {{ return(earliest.isoformat()) }}
    {%- endif -%}
    {{ return(first_landed.isoformat()) }}
{%- endmacro %}

{% macro history_end_date(start) -%}
    {%- set run_day = modules.datetime.date.fromisoformat(run_date_value()) -%}
    {%- set last_day = run_day -%}
    {%- if var('history_through', none) -%}
        {%- set through = modules.datetime.date.fromisoformat(var('history_through') | string) -%}
        {%- set last_day = [last_day, through] | min -%}
    {%- endif -%}
    {%- if var('history_batch_days', none) -%}
        {%- set batch_end = modules.datetime.date.fromisoformat(start)
            + modules.datetime.timedelta(days=var('history_batch_days') | int - 1) -%}
        {%- set last_day = [last_day, batch_end] | min -%}
    {%- endif -%}
    {{ return(last_day.isoformat()) }}
{%- endmacro %}

{% macro history_days_sql() -%}
    {%- set days = ref('int_history_days') -%}
    {#- a unit test's ref is a fixture: no database or schema to look it up in -#}
    {%- if execute and not (days.database and days.schema) -%}
        {{ return((
            '(select min(history_date) from ' ~ days ~ ')',
            '(select max(history_date) from ' ~ days ~ ')',
        )) }}
    {%- endif -%}
    {%- set first_day, last_day = history_days_range() -%}
    {{ return(("cast('" ~ first_day ~ "' as date)", "cast('" ~ last_day ~ "' as date)")) }}
{%- endmacro %}

{% macro history_days_range() -%}
    {%- if not execute -%}
        {{ return((run_date_value(), run_date_value())) }}
    {%- endif -%}
    {%- if load_relation(ref('int_history_days')) is none -%}
        {#- compiled before anything was built (the SQL floor): what the first build adds -#}
        {%- set start = history_start_date('int_account_tiers_daily') -%}
        {{ return((start, history_end_date(start))) }}
    {%- endif -%}
    {%- set row = run_query(
        "select min(history_date), max(history_date) from " ~ ref('int_history_days')
    ).rows[0] -%}
    {{ return((row[0].isoformat(), row[1].isoformat())) }}
{%- endmacro %}

{#-
    Rows of a snapshot model as they stood on each day of a spine: for every spine day, the
    newest snapshot landed on or before it (point in time).
-#}
{% macro snapshot_as_of_days(relation, spine_relation, day_column='history_date') -%}
    with snapshot_days as (
        select
            spine.{{ day_column }},
            max(landed.snapshot_date) as snapshot_date
        from {{ spine_relation }} as spine
        inner join (select distinct snapshot_date from {{ relation }}) as landed
            on landed.snapshot_date <= spine.{{ day_column }}
        group by spine.{{ day_column }}
    )

    select
        snapshot_days.{{ day_column }},
        snapshot_rows.*
    from snapshot_days
    inner join {{ relation }} as snapshot_rows
        on snapshot_days.snapshot_date = snapshot_rows.snapshot_date
{%- endmacro %}

{% macro carried_rows_available(first_day) -%}
    {%- if not is_incremental() -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set through = run_query(
        "select max(through_date) from " ~ this
    ).columns[0].values()[0] -%}
    {%- set day_before = modules.datetime.date.fromisoformat(first_day)
        - modules.datetime.timedelta(days=1) -%}
    {{ return(through is not none and through == day_before) }}
{%- endmacro %}
