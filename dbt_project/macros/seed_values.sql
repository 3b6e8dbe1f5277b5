{#-
    The values of one column of a seed, in seed order, read when the model runs (at parse
    time, or before the seed is built, the given default). Used to pivot the health
    components into one column each, so a component added to the seed gets its columns.
    The seed's table is found through the graph, not ref(), so a unit test's fixture for the
    seed does not stand in for it.
-#}
{% macro seed_values(seed_name, column, default=[]) -%}
    {%- if not execute -%}
        {{ return(default) }}
    {%- endif -%}
    {%- set node = graph.nodes['seed.' ~ project_name ~ '.' ~ seed_name] -%}
    {%- set relation = api.Relation.create(
        database=node.database, schema=node.schema, identifier=node.alias
    ) -%}
    {#- not built yet (a compile or lint of an empty warehouse): the default -#}
    {%- if load_relation(relation) is none -%}
        {{ return(default) }}
    {%- endif -%}
    {%- set rows = run_query("select " ~ column ~ " from " ~ relation ~ " order by " ~ seed_row_order()) -%}
    {{ return(rows.columns[0].values() | list) }}
{%- endmacro %}
