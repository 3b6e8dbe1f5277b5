{#-
    The incremental strategy of the models that carry state from their last run
    (incremental_strategy='replace_all'): the model reads its own table (is_incremental() and
    carried_rows_available()) and returns the whole new state, which replaces every row. A
    first build or a --full-refresh computes that state from the facts alone.
-#}
{% macro get_incremental_replace_all_sql(arg_dict) -%}
    {%- set columns = arg_dict['dest_columns'] | map(attribute='quoted') | join(', ') -%}
    delete from {{ arg_dict['target_relation'] }};
    insert into {{ arg_dict['target_relation'] }} ({{ columns }})
    select {{ columns }} from {{ arg_dict['temp_relation'] }}
{%- endmacro %}
