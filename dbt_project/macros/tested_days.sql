{#-
    Data tests check the days a build added, not the whole history again.

    A nightly build adds one day to tables that grow by day (the landed partitions behind
    the staging views, the daily history, the event stores). The rows of earlier days were
    tested by the build that added them and have not changed since, so a test of such a
    table needs to read only the new days. The build (touchline.warehouse.build) passes the
    first day it adds in TOUCHLINE_TESTED_FROM; a first build, a --full-refresh or a bare
    dbt run leaves it unset, and every row is tested.

    A model opts in with the column holding each row's day in its meta:
        config:
          meta:
            tested_day_column: snapshot_date
    Only models whose earlier days a build never rewrites may opt in: a table rebuilt whole
    each night (a backtest's outcome rows, which later days change) is tested whole.

    tested_from(): the first day to test as an ISO string, or none (test every row).
    tested_days(column): a SQL condition keeping the tested days of ``column`` (always true
                         when every row is tested), for singular tests.
    get_where_subquery(relation): dbt's own hook for a generic test's ``where`` config, also
                         keeping only the tested days of the model under test when it opts in.
-#}
{% macro tested_from() -%}
    {#- read when the test runs, never at parse time: a new value each night must not make
        dbt parse the project again -#}
    {%- if not execute -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(env_var('TOUCHLINE_TESTED_FROM', '') or none) }}
{%- endmacro %}

{% macro tested_days(column) -%}
    {%- set first_day = tested_from() -%}
    {%- if first_day is none -%}
        {{ return('1 = 1') }}
    {%- endif -%}
    {{ return(column ~ " >= cast('" ~ first_day ~ "' as date)") }}
{%- endmacro %}

{% macro get_where_subquery(relation) -%}
    {%- set filters = [] -%}
    {%- set where = config.get('where') -%}
    {%- if where -%}
        {%- do filters.append('(' ~ where ~ ')') -%}
    {%- endif -%}
    {%- if tested_from() is not none and model.attached_node -%}
        {%- set tested = graph.nodes.get(model.attached_node) -%}
        {%- set day_column = (tested.config.meta or {}).get('tested_day_column') if tested -%}
        {%- if day_column -%}
            {%- do filters.append(tested_days(day_column)) -%}
        {%- endif -%}
    {%- endif -%}
    {%- if not filters -%}
        {{ return(relation) }}
    {%- endif -%}
    {{ return('(select * from ' ~ relation ~ ' where ' ~ filters | join(' and ') ~ ') dbt_subquery') }}
{%- endmacro %}
