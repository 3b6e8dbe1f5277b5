{#-
    Landed partitions as of the run date (point in time: a backfilled day never sees later drops).

    latest_snapshot(): rows of the newest snapshot partition on or before the run date.
    landed_events():   rows of every event partition on or before the run date.
-#}
{% macro latest_snapshot(relation) -%}
    select *
    from {{ relation }}
    where ds = (
        select max(ds) from {{ relation }}
        where ds <= {{ run_date() }}
    )
{%- endmacro %}

{% macro landed_events(relation) -%}
    select *
    from {{ relation }}
    where ds <= {{ run_date() }}
{%- endmacro %}
