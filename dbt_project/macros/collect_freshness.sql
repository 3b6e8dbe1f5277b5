{#-
    Source freshness as of the run date, not the wall clock: a source's newest landed
    partition on or before the run date, against the run date (so a backfill of a past day
    is as fresh as that day's landing was). A partition counts when it landed, even with no
    rows (a header-only file is a day with nothing new), so it is read from the landing's
    folders rather than from the rows.
-#}
{% macro duckdb__collect_freshness(source, loaded_at_field, filter) -%}
    {%- set folders = env_var('TOUCHLINE_LANDING_DIR') ~ '/' ~ source.identifier
        ~ '/ds=*/*.parquet' -%}
    {% call statement('collect_freshness', fetch_result=True, auto_begin=False) -%}
        select
            cast(max(landed.ds) as timestamp) as max_loaded_at,
            cast({{ run_date() }} as timestamp) as snapshotted_at
        from (
            select cast(regexp_extract(file, 'ds=([0-9]{4}-[0-9]{2}-[0-9]{2})', 1) as date) as ds
            from glob('{{ folders }}')
        ) as landed
        where landed.ds <= {{ run_date() }}
    {%- endcall %}
    {{ return(load_result('collect_freshness')) }}
{%- endmacro %}

{#-
    The same on PostgreSQL: touchline.warehouse_postgres lists every landed partition (rows
    or not) in the landing schema's _partitions table.
-#}
{% macro postgres__collect_freshness(source, loaded_at_field, filter) -%}
    {% call statement('collect_freshness', fetch_result=True, auto_begin=False) -%}
        select
            cast(max(landed.ds) as timestamp) as max_loaded_at,
            cast({{ run_date() }} as timestamp) as snapshotted_at
        from {{ adapter.quote(source.schema) }}._partitions as landed
        where
            landed.entity = '{{ source.identifier }}'
            and landed.ds <= {{ run_date() }}
    {%- endcall %}
    {{ return(load_result('collect_freshness')) }}
{%- endmacro %}
