{#- A measure's score, 0-100: linear from its bad_value (0) to its good_value (100). -#}
{% macro measure_score(value, good_value, bad_value) -%}
    100.0 * greatest(0.0, least(
        1.0,
        ({{ value }} - {{ bad_value }})
        / ({{ good_value }} - {{ bad_value }})
    ))
{%- endmacro %}

{#- A number as people write it: whole numbers without decimals, others to two places. -#}
{% macro number_text(expression) -%}
    case
        when {{ expression }} = trunc({{ expression }})
            then cast(cast({{ expression }} as bigint) as varchar)
        else cast({{ round_to(expression, 2) }} as varchar)
    end
{%- endmacro %}

{#- Points as a signed whole number, as a change is told: +4, -11, 0. -#}
{#- round_to rounds halves away from zero on every engine (PostgreSQL's round of a double
    rounds them to even) -#}
{% macro signed_points(expression) -%}
    case when {{ round_to(expression, 0) }} > 0 then '+' else '' end
    || cast(cast({{ round_to(expression, 0) }} as bigint) as varchar)
{%- endmacro %}
