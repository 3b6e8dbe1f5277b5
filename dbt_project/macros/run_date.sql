{#-
    The run's logical date: the run_date var if given, else the TOUCHLINE_RUN_DATE env var,
    else today. Every model sees the world as of this date.

    run_date_value(): the date as an ISO string (for Jinja logic).
    run_date():       the date as a SQL date literal.
-#}
{% macro run_date_value() -%}
    {{ return(var("run_date", env_var("TOUCHLINE_RUN_DATE", modules.datetime.date.today().isoformat()))) }}
{%- endmacro %}

{% macro run_date() -%}
    cast('{{ run_date_value() }}' as date)
{%- endmacro %}
