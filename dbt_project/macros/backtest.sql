{#- The backtest's horizons (var backtest_horizons_days), shortest first. -#}
{% macro backtest_horizons() -%}
    {{ return(var('backtest_horizons_days') | map('int') | sort) }}
{%- endmacro %}

{#- The longest horizon whose whole span after the day lies within the history (0: none). -#}
{% macro observed_horizon(days_observed) -%}
    case
        {%- for horizon in backtest_horizons() | reverse %}
        when {{ days_observed }} >= {{ horizon }} then {{ horizon }}
        {%- endfor %}
        else 0
    end
{%- endmacro %}

{#- The shortest horizon the next churn fell within (null: it fell within none). -#}
{% macro churn_horizon(days_to_churn) -%}
    case
        {%- for horizon in backtest_horizons() %}
        when {{ days_to_churn }} <= {{ horizon }} then {{ horizon }}
        {%- endfor %}
    end
{%- endmacro %}

{#- The horizons as rows of one column, horizon_days. -#}
{% macro backtest_horizon_rows() -%}
    {%- for horizon in backtest_horizons() %}
    select {{ horizon }} as horizon_days{{ ' union all' if not loop.last }}
    {%- endfor %}
{%- endmacro %}
