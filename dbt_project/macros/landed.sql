{#-
    Landed partitions as of the run date (point in time: a backfilled day never sees later drops).

    latest_snapshot(relation, date_column): rows of the newest snapshot on or before the run
                       date (date_column: the snapshot's date, ds in a source).
    landed_events(relation): rows of every partition on or before the run date.
-#}
{% macro latest_snapshot(relation, date_column='ds') -%}
    select *
    from {{ relation }}
    where {{ date_column }} = (
        select max({{ date_column }}) from {{ relation }}
        where {{ date_column }} <= {{ run_date() }}
    )
{%- endmacro %}

{% macro landed_events(relation) -%}
    select *
    from {{ relation }}
    where ds <= {{ run_date() }}
{%- endmacro %}
