{#-
    An amount as an exact decimal (to a millionth), for sums that must not depend on the order
    of their terms: a sum of doubles does, and DuckDB's parallel aggregates add them in the
    order threads deliver them (see DECISIONLOG, exact sums).
-#}
{% macro exact(expression) -%}
    cast({{ expression }} as decimal(18, 6))
{%- endmacro %}

{#- The same, to 1e-18: for sums of fractions (a third of a share) rounded to a few digits. -#}
{% macro fine_exact(expression) -%}
    cast({{ expression }} as decimal(38, 18))
{%- endmacro %}
