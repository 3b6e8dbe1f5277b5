{#-
    The values of one column of a seed, in seed order, read when the model runs (at parse
    time, where nothing can be read yet, the given default). Used to pivot the health
    components into one column each, so a component added to the seed gets its columns.
-#}
{% macro seed_values(seed_name, column, default=[]) -%}
    {%- if not execute -%}
        {{ return(default) }}
    {%- endif -%}
    {%- set rows = run_query("select " ~ column ~ " from " ~ ref(seed_name) ~ " order by rowid") -%}
    {{ return(rows.columns[0].values() | list) }}
{%- endmacro %}
