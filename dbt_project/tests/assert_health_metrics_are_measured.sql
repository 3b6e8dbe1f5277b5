-- Every health_metrics metric names a measure int_account_health_measures_daily computes (a
-- misspelt metric would otherwise never score).
{%- set measures = ref('int_account_health_measures_daily') %}
{%- set measured = [] %}
{%- if execute %}
{%- for column in adapter.get_columns_in_relation(measures) %}
        {%- do measured.append(column.name) %}
    {%- endfor %}
{%- endif %}
select *
from {{ ref('health_metrics') }}
where metric not in ('{{ measured | join("', '") }}')
