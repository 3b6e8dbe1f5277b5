{#-
    Landed partitions as of the run date (point in time: a backfilled day never sees later drops).

    latest_snapshot(relation, date_column): rows of the newest snapshot on or before the run
                       date (date_column: the snapshot's date, ds in a source). Over a model,
                       the newest date is looked up when the model runs and written into its
                       SQL, so that DuckDB reads that one partition instead of every landed
                       one (through a view, a subquery for the date scans them all each time
                       the view is read).
    landed_events(relation): rows of every partition on or before the run date.
-#}
{% macro latest_snapshot(relation, date_column='ds') -%}
    {%- set newest = "(select max(" ~ date_column ~ ") from " ~ relation
        ~ " where " ~ date_column ~ " <= " ~ run_date() ~ ")" -%}
    {#- a relation not built yet (a compile of an empty warehouse), a unit test's fixture (no
        schema) and Parquet read in place (where DuckDB skips the other partitions itself)
        keep the subquery -#}
    {%- if execute and relation.schema and not relation.external
        and load_relation(relation) is not none -%}
        {%- set found = run_query("select " ~ newest).columns[0].values()[0] -%}
        {%- if found is not none -%}
            {%- set newest = "cast('" ~ found ~ "' as date)" -%}
        {%- endif -%}
    {%- endif -%}
    select *
    from {{ relation }}
    where {{ date_column }} = {{ newest }}
{%- endmacro %}

{% macro landed_events(relation) -%}
    select *
    from {{ relation }}
    where ds <= {{ run_date() }}
{%- endmacro %}
