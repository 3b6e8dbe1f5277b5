{#-
    Fails on every value of the column held by more than one row, like dbt's unique, for a
    table that grows by day (day_column). On a night (TOUCHLINE_TESTED_FROM set, see
    macros/tested_days.sql) it counts only the values the new days hold, against every
    row: a value of a new day found on an earlier day fails, and the stored rows' values
    are read once, not grouped again. Nulls are left out, as unique does.
-#}
{% test unique_across_days(model, column_name, day_column) %}
    {%- set first_day = tested_from() %}
    select {{ column_name }}, count(*) as copies
    from {{ model }}
    where
        {{ column_name }} is not null
        {%- if first_day is not none %}
        and {{ column_name }} in (
            select {{ column_name }}
            from {{ model }}
            where {{ tested_days(day_column) }}
        )
        {%- endif %}
    group by {{ column_name }}
    having count(*) > 1
{% endtest %}
