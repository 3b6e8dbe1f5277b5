{#-
    The plays' rules, written once for the nightly lists and for the evidence models.

    satisfied_from_date(scheduled_date, every_days): the first day a completed activity of
        the touchpoint satisfies an occurrence: a recurring touch one nearer to it than to
        the previous occurrence, a one-off one up to early_completion_days before it.
    listing_window_days(every_days): the days an occurrence stays listed from its date:
        listing_window_days, or until the next recurrence if that comes sooner.
    lifecycle_stage_on(...): an account's lifecycle stage on a day (DECISIONLOG.md; the
        classification of the run date uses it too):
        at_risk, then onboarding, then renewal, else adoption.
    hash_share(expression): a stable number in [0, 1) from the text of expression (the
        first 8 hex digits of its md5 over 16^8), the same on every database.
    z_95(): the normal quantile of a two-sided 95% confidence interval.
-#}
{% macro satisfied_from_date(scheduled_date, every_days) -%}
    {{ add_days(
        '-coalesce(' ~ int_div(every_days, 2) ~ ', ' ~ var('early_completion_days') ~ ')',
        scheduled_date
    ) }}
{%- endmacro %}

{% macro listing_window_days(every_days) -%}
    least(coalesce({{ every_days }}, {{ var('listing_window_days') }}), {{ var('listing_window_days') }})
{%- endmacro %}

{% macro lifecycle_stage_on(day, health_band, confidence, customer_since_date, renewal_date) -%}
    case
        when
            {{ health_band }} = 'red'
            and {{ confidence }} >= {{ var('at_risk_min_confidence') }}
            then 'at_risk'
        when {{ customer_since_date }} > {{ add_days(-var('onboarding_days'), day) }}
            then 'onboarding'
        when {{ renewal_date }} <= {{ add_days(var('renewal_window_days'), day) }}
            then 'renewal'
        else 'adoption'
    end
{%- endmacro %}

{% macro hash_share(expression) -%}
    {{ return(adapter.dispatch('hash_share', 'touchline')(expression)) }}
{%- endmacro %}

{% macro duckdb__hash_share(expression) -%}
    cast('0x' || substr(md5({{ expression }}), 1, 8) as bigint) / 4294967296.0
{%- endmacro %}

{% macro default__hash_share(expression) -%}
    cast(('x' || substr(md5({{ expression }}), 1, 8))::bit(32)::bigint as double precision)
    / 4294967296.0
{%- endmacro %}

{% macro z_95() -%}
    1.959964
{%- endmacro %}

{#-
    wilson_bound(successes, trials, side): the lower (side -1) or upper (side 1) bound of
    the 95% Wilson score interval of a proportion (null without trials).
-#}
{% macro wilson_bound(successes, trials, side) -%}
    {%- set z = z_95() %}
    {%- set p = '(' ~ true_div(successes, 'nullif(' ~ trials ~ ', 0)') ~ ')' %}
    {%- set n = 'nullif(' ~ trials ~ ', 0)' %}
    (
        ({{ p }} + {{ z }} * {{ z }} / (2.0 * {{ n }}))
        + ({{ side }}) * {{ z }} * sqrt(
            {{ p }} * (1 - {{ p }}) / {{ n }} + {{ z }} * {{ z }} / (4.0 * {{ n }} * {{ n }})
        )
    ) / (1 + {{ z }} * {{ z }} / {{ n }})
{%- endmacro %}

{#- percent_text(rate): a share as text in percent to one decimal ("3.1%"). -#}
{% macro percent_text(rate) -%}
    {{ double_text(round_to(rate ~ ' * 100', 1)) }} || '%'
{%- endmacro %}
