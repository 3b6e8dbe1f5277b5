{#-
    The stable key of a task: the same account, touchpoint and due period give the same key on
    every run (docs/outputs.md).
-#}
{% macro task_key(account_id, touchpoint, period) -%}
    substr(md5(
        {{ account_id }} || '|' || {{ touchpoint }} || '|' || cast({{ period }} as varchar)
    ), 1, 20)
{%- endmacro %}
