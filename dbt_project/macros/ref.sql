{#-
    ref() without the database name: DuckDB binds the names in a view in the view's own
    database, so a warehouse file keeps working under any file name (a past date's build kept
    beside the published file, a copy for BI tools). With the database in it, a view would
    name the catalog of the file it was built in, which a renamed file no longer has.
-#}
{% macro ref() -%}
    {%- set relation = builtins.ref(*varargs, **kwargs) -%}
    {%- if relation.include is defined -%}
        {{ return(relation.include(database=False)) }}
    {%- endif -%}
    {{ return(relation) }}
{%- endmacro %}
