{#-
    SQL that DuckDB and PostgreSQL spell differently, dispatched on the adapter
    (docs/warehouses.md). The duckdb__ versions are what the models always said; the
    default__ versions are PostgreSQL's (another adapter adds its own prefix).

    list_has(delimited, value):  a ;-separated list holds value.
    list_items(delimited):       a row per item of a ;-separated list (in a select list).
    iso_date(expression):        a date as YYYY-MM-DD text.
    int_div(a, b):               integer division.
    true_div(a, b):              division as a double, of integers too (PostgreSQL divides
                                 integers to an integer).
    double_type():               the 8-byte float type.
    round_to(expression, digits): round a double to digits (PostgreSQL rounds numerics only).
    double_text(expression):     a double as text, as DuckDB writes it (12.0, 0.25).
    days_interval(days):         an interval of a whole number of days, in a window frame.
    arg_min(value, key):         value of the row with the smallest key.
    seed_row_order():            the column that orders a seed's rows as in its file.
    union_all_by_name():         union all matching columns by name (PostgreSQL: the
                                 branches list the same columns in the same order).
    first_per(partition_by, order_by) (a call block around a select): the first row of each
                                 partition in that order; the order names output columns.
-#}
{% macro list_has(delimited, value) -%}
    {{ return(adapter.dispatch('list_has', 'touchline')(delimited, value)) }}
{%- endmacro %}

{% macro duckdb__list_has(delimited, value) -%}
    list_contains(string_split({{ delimited }}, ';'), {{ value }})
{%- endmacro %}

{% macro default__list_has(delimited, value) -%}
    ({{ value }} = any(string_to_array({{ delimited }}, ';')))
{%- endmacro %}

{% macro list_items(delimited) -%}
    {{ return(adapter.dispatch('list_items', 'touchline')(delimited)) }}
{%- endmacro %}

{% macro duckdb__list_items(delimited) -%}
    unnest(string_split({{ delimited }}, ';'))
{%- endmacro %}

{% macro default__list_items(delimited) -%}
    unnest(string_to_array({{ delimited }}, ';'))
{%- endmacro %}

{% macro iso_date(expression) -%}
    {{ return(adapter.dispatch('iso_date', 'touchline')(expression)) }}
{%- endmacro %}

{% macro duckdb__iso_date(expression) -%}
    strftime({{ expression }}, '%Y-%m-%d')
{%- endmacro %}

{% macro default__iso_date(expression) -%}
    to_char({{ expression }}, 'YYYY-MM-DD')
{%- endmacro %}

{% macro int_div(a, b) -%}
    {{ return(adapter.dispatch('int_div', 'touchline')(a, b)) }}
{%- endmacro %}

{% macro duckdb__int_div(a, b) -%}
    {{ a }} // {{ b }}
{%- endmacro %}

{% macro default__int_div(a, b) -%}
    div({{ a }}, {{ b }})
{%- endmacro %}

{% macro true_div(a, b) -%}
    {{ return(adapter.dispatch('true_div', 'touchline')(a, b)) }}
{%- endmacro %}

{% macro duckdb__true_div(a, b) -%}
    {{ a }} / {{ b }}
{%- endmacro %}

{% macro default__true_div(a, b) -%}
    cast({{ a }} as double precision) / {{ b }}
{%- endmacro %}

{% macro double_type() -%}
    {{ return(adapter.dispatch('double_type', 'touchline')()) }}
{%- endmacro %}

{% macro duckdb__double_type() -%}
    double
{%- endmacro %}

{% macro default__double_type() -%}
    double precision
{%- endmacro %}

{% macro round_to(expression, digits) -%}
    {{ return(adapter.dispatch('round_to', 'touchline')(expression, digits)) }}
{%- endmacro %}

{% macro duckdb__round_to(expression, digits) -%}
    round({{ expression }}, {{ digits }})
{%- endmacro %}

{% macro default__round_to(expression, digits) -%}
    cast(round(cast({{ expression }} as numeric), {{ digits }}) as double precision)
{%- endmacro %}

{% macro double_text(expression) -%}
    {{ return(adapter.dispatch('double_text', 'touchline')(expression)) }}
{%- endmacro %}

{% macro duckdb__double_text(expression) -%}
    cast({{ expression }} as varchar)
{%- endmacro %}

{#- PostgreSQL writes a whole double without its .0 -#}
{% macro default__double_text(expression) -%}
    case
        when {{ expression }} = trunc({{ expression }})
            then cast(cast({{ expression }} as numeric) as varchar) || '.0'
        else cast({{ expression }} as varchar)
    end
{%- endmacro %}

{% macro days_interval(days) -%}
    {{ return(adapter.dispatch('days_interval', 'touchline')(days)) }}
{%- endmacro %}

{% macro duckdb__days_interval(days) -%}
    interval {{ days }} days
{%- endmacro %}

{% macro default__days_interval(days) -%}
    interval '{{ days }} days'
{%- endmacro %}

{% macro arg_min(value, key) -%}
    {{ return(adapter.dispatch('arg_min', 'touchline')(value, key)) }}
{%- endmacro %}

{% macro duckdb__arg_min(value, key) -%}
    arg_min({{ value }}, {{ key }})
{%- endmacro %}

{% macro default__arg_min(value, key) -%}
    (array_agg({{ value }} order by {{ key }}))[1]
{%- endmacro %}

{% macro seed_row_order() -%}
    {{ return(adapter.dispatch('seed_row_order', 'touchline')()) }}
{%- endmacro %}

{% macro duckdb__seed_row_order() -%}
    rowid
{%- endmacro %}

{#- a seed's table is written once, in file order: its physical order -#}
{% macro default__seed_row_order() -%}
    ctid
{%- endmacro %}

{% macro union_all_by_name() -%}
    {{ return(adapter.dispatch('union_all_by_name', 'touchline')()) }}
{%- endmacro %}

{% macro duckdb__union_all_by_name() -%}
    union all by name
{%- endmacro %}

{% macro default__union_all_by_name() -%}
    union all
{%- endmacro %}

{% macro first_per(partition_by, order_by) -%}
    {{ return(adapter.dispatch('first_per', 'touchline')(partition_by, order_by, caller())) }}
{%- endmacro %}

{% macro duckdb__first_per(partition_by, order_by, query) -%}
    {{ query }}
    qualify row_number() over (partition by {{ partition_by }} order by {{ order_by }}) = 1
{%- endmacro %}

{#- a query of its own, so that it can stand in a union -#}
{% macro default__first_per(partition_by, order_by, query) -%}
    select * from (
        select distinct on ({{ partition_by }}) *
        from ({{ query }}) as ranked
        order by {{ partition_by }}, {{ order_by }}
    ) as first_rows
{%- endmacro %}

{#-
    The latest NPS answer, a running maximum (int_account_measure_changes_daily): in DuckDB a
    struct ordered by its answer time; elsewhere text of the same order (the time to the
    microsecond, the response id, the score; compared byte by byte).

    nps_answer(responded_at, response_id, nps_score): one answer.
    nps_answer_max(answer):   the latest of answers (an aggregate; a window may follow).
    nps_answer_field(answer, field): its responded_at (a timestamp) or nps_score.
-#}
{% macro nps_answer(responded_at, response_id, nps_score) -%}
    {{ return(adapter.dispatch('nps_answer', 'touchline')(responded_at, response_id, nps_score)) }}
{%- endmacro %}

{% macro duckdb__nps_answer(responded_at, response_id, nps_score) -%}
    { 'responded_at': {{ responded_at }}, 'response_id': {{ response_id }}, 'nps_score': {{ nps_score }} }
{%- endmacro %}

{% macro default__nps_answer(responded_at, response_id, nps_score) -%}
    to_char({{ responded_at }}, 'YYYY-MM-DD HH24:MI:SS.US') || '|' || {{ response_id }}
    || '|' || {{ nps_score }}
{%- endmacro %}

{% macro nps_answer_max(answer) -%}
    {{ return(adapter.dispatch('nps_answer_max', 'touchline')(answer)) }}
{%- endmacro %}

{% macro duckdb__nps_answer_max(answer) -%}
    max({{ answer }})
{%- endmacro %}

{% macro default__nps_answer_max(answer) -%}
    max({{ answer }} collate "C")
{%- endmacro %}

{% macro nps_answer_field(answer, field) -%}
    {{ return(adapter.dispatch('nps_answer_field', 'touchline')(answer, field)) }}
{%- endmacro %}

{% macro duckdb__nps_answer_field(answer, field) -%}
    {{ answer }}.{{ field }}
{%- endmacro %}

{% macro default__nps_answer_field(answer, field) -%}
    {%- if field == 'responded_at' -%}
        cast(split_part({{ answer }}, '|', 1) as timestamp)
    {%- elif field == 'nps_score' -%}
        cast(split_part({{ answer }}, '|', 3) as integer)
    {%- else -%}
        {{ exceptions.raise_compiler_error('nps_answer_field: no field ' ~ field) }}
    {%- endif -%}
{%- endmacro %}

{#-
    asof_join(kind, relation, left_key, right_key, condition): join each row to the row of
    relation with the greatest right_key not after left_key (and condition, on columns
    named relation.column), kind 'inner' or 'left'. DuckDB's asof join; elsewhere a lateral
    join of that one row.
-#}
{% macro asof_join(kind, relation, left_key, right_key, condition=none) -%}
    {{ return(adapter.dispatch('asof_join', 'touchline')(
        kind, relation, left_key, right_key, condition
    )) }}
{%- endmacro %}

{% macro duckdb__asof_join(kind, relation, left_key, right_key, condition) -%}
    asof {{ kind }} join {{ relation }}
        on
            {% if condition %}{{ condition }}
            and {% endif %}{{ left_key }} >= {{ right_key }}
{%- endmacro %}

{% macro default__asof_join(kind, relation, left_key, right_key, condition) -%}
    {{ kind }} join lateral (
        select *
        from {{ relation }}
        where
            {% if condition %}{{ condition }}
            and {% endif %}{{ right_key }} <= {{ left_key }}
        order by {{ right_key }} desc
        limit 1
    ) as {{ relation }} on true
{%- endmacro %}
