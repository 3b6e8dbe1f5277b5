{#-
    The run's logical date as a SQL date literal: the run_date var if given, else the
    TOUCHLINE_RUN_DATE env var, else today. Every model sees the world as of this date.
-#}
{% macro run_date() -%}
    cast('{{ var("run_date", env_var("TOUCHLINE_RUN_DATE", modules.datetime.date.today().isoformat())) }}' as date)
{%- endmacro %}
