{#- The band of a 0-100 health score, by the health_*_max vars. -#}
{% macro health_band(score) -%}
    case
        when {{ score }} is null then null
        when {{ score }} <= {{ var('health_red_max') }} then 'red'
        when {{ score }} <= {{ var('health_yellow_max') }} then 'yellow'
        else 'green'
    end
{%- endmacro %}
