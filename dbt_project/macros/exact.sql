{#-
    An amount as an exact decimal (to a millionth), for sums that must not depend on the order
    of their terms: a sum of doubles does, and DuckDB's parallel aggregates add them in the
    order threads deliver them (see DECISIONLOG, exact sums).
-#}
{% macro exact(expression) -%}
    cast({{ expression }} as decimal(18, 6))
{%- endmacro %}
