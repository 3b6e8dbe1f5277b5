{#-
    Windowed measures as running sums of changes. A fact that counts towards a measure over a
    span of days [start, end) adds its amount on the start day and takes it off on the end
    day; the measure on a day is the running sum of the changes up to that day. One pass over
    the facts replaces "for every day, scan its window" (days x window rows).

    span_changes(relation, measure, start, end, amount): the two changes of every span of
    the relation with start < end, as (account_id, change_date, measure, amount). Amounts
    are exact (the exact macro): a running sum then does not depend on how many
    spans opened and closed before, nor in which order they are added, so a day comes out
    the same in a first build, in batches or in a nightly run.

    merged_spans(relation, keys, start, end): the spans of each key merged where they overlap
    or touch, as (keys..., span_start, span_end). For distinct counts: a user active on
    several days of a window counts once.

    running_measures(): the health measures kept as running sums of changes, the one list
    that generates the changes of int_account_measure_changes_daily (one span_changes per
    measure), its columns and those of int_account_health_measures_daily, and the check that
    a count never goes below zero (tests/assert_running_counts_are_never_negative.sql). Each
    names its facts (a CTE of int_account_measure_changes_daily), the day a fact starts and
    stops counting, and the amount it adds (1: a count).

    running_measure_names(): their names, in that order.

    known_usage_events(since, through): the usage events that happened from since to through
    (SQL dates) and had landed by through, each with the day it became known: the later of
    the day it happened and the day it landed.
-#}
{% macro span_changes(relation, measure, start, end, amount='1') -%}
    select
        account_id,
        {{ start }} as change_date,
        '{{ measure }}' as measure,
        {{ exact(amount) }} as amount
    from {{ relation }} as facts
    where {{ start }} < {{ end }}
    union all
    select
        account_id,
        {{ end }} as change_date,
        '{{ measure }}' as measure,
        -{{ exact(amount) }} as amount
    from {{ relation }} as facts
    where {{ start }} < {{ end }}
{%- endmacro %}

{% macro merged_spans(relation, keys, start, end) -%}
    {%- set key_list = keys | join(', ') -%}
    select
        {{ key_list }},
        min(span_start) as span_start,
        max(span_end) as span_end
    from (
        select
            *,
            count(case when span_start > previous_end then 1 end) over (
                partition by {{ key_list }}
                order by span_start, span_end
                rows between unbounded preceding and current row
            ) as span_number
        from (
            select
                {{ key_list }},
                {{ start }} as span_start,
                {{ end }} as span_end,
                max({{ end }}) over (
                    partition by {{ key_list }}
                    order by {{ start }}, {{ end }}
                    rows between unbounded preceding and 1 preceding
                ) as previous_end
            from {{ relation }}
            where {{ start }} < {{ end }}
        ) as ordered_spans
    ) as numbered_spans
    group by {{ key_list }}, span_number
{%- endmacro %}

{% macro running_measures() -%}
    {#- a ticket counts for 90 days from its creation (volume, bugs, replies) or solving (CSAT) -#}
    {%- set created_90d = 'least(valid_to, ' ~ add_days(90, 'created_date') ~ ')' -%}
    {%- set solved_90d = 'least(valid_to, ' ~ add_days(90, 'solved_date') ~ ')' -%}
    {%- set replied = '(select * from current_ticket_versions where first_reply_at is not null)' -%}
    {%- set rated = '(select * from current_ticket_versions'
        ~ ' where csat_score is not null and solved_date is not null)' -%}
    {%- set reviews = "(select * from activities where activity_type in ('qbr', 'business_review')" -%}
    {{ return([
        {'name': 'active_users_30d', 'facts': 'user_spans',
            'start': 'span_start', 'end': 'span_end'},
        {'name': 'user_days_30d', 'facts': 'user_days',
            'start': 'known_date', 'end': add_days(30, 'occurred_date')},
        {'name': 'events_30d', 'facts': 'event_counts', 'amount': 'events',
            'start': 'known_date', 'end': add_days(30, 'occurred_date')},
        {'name': 'events_previous_30d', 'facts': 'event_counts', 'amount': 'events',
            'start': 'greatest(known_date, ' ~ add_days(30, 'occurred_date') ~ ')',
            'end': add_days(60, 'occurred_date')},
        {'name': 'core_features_used_30d', 'facts': 'core_feature_spans',
            'start': 'span_start', 'end': 'span_end'},
        {'name': 'tickets_90d', 'facts': 'current_ticket_versions',
            'start': 'valid_from', 'end': created_90d},
        {'name': 'open_urgent_high_tickets',
            'facts': "(select * from current_ticket_versions where is_open"
                ~ " and priority in ('high', 'urgent'))",
            'start': 'valid_from', 'end': 'valid_to'},
        {'name': 'bug_tickets_90d', 'facts': '(select * from current_ticket_versions where is_bug)',
            'start': 'valid_from', 'end': created_90d},
        {'name': 'first_reply_tickets_90d', 'facts': replied,
            'start': 'valid_from', 'end': created_90d},
        {'name': 'first_reply_hours_sum_90d', 'facts': replied, 'amount': 'first_reply_hours',
            'start': 'valid_from', 'end': created_90d},
        {'name': 'csat_answers_90d', 'facts': rated, 'start': 'valid_from', 'end': solved_90d},
        {'name': 'csat_sum_90d', 'facts': rated, 'amount': 'csat_score',
            'start': 'valid_from', 'end': solved_90d},
        {'name': 'activities_365d', 'facts': 'activities',
            'start': 'known_date', 'end': add_days(365, 'occurred_date')},
        {'name': 'reviews_attended_365d', 'facts': reviews ~ " and outcome = 'completed')",
            'start': 'known_date', 'end': add_days(365, 'occurred_date')},
        {'name': 'reviews_held_365d',
            'facts': reviews ~ " and outcome in ('completed', 'no_show'))",
            'start': 'known_date', 'end': add_days(365, 'occurred_date')},
        {'name': 'email_opens_90d',
            'facts': "(select * from activities where activity_type = 'email_open')",
            'start': 'known_date', 'end': add_days(90, 'occurred_date')},
        {'name': 'webinars_attended_90d',
            'facts': "(select * from activities where activity_type = 'webinar_attended')",
            'start': 'known_date', 'end': add_days(90, 'occurred_date')},
    ]) }}
{%- endmacro %}

{% macro running_measure_names() -%}
    {{ return(running_measures() | map(attribute='name') | list) }}
{%- endmacro %}

{% macro known_usage_events(since, through) -%}
    select
        account_id,
        user_id,
        feature,
        occurred_date,
        greatest(occurred_date, landed_date) as known_date
    from {{ ref('int_usage_events') }}
    where
        occurred_date >= {{ since }}
        and occurred_date <= {{ through }}
        and landed_date <= {{ through }}
{%- endmacro %}

{#-
    activity_spans(key_column, core_features_only): the body of the incremental (replace_all)
    span models. The 30-day activity spans of each key (a user, or a core feature) of an
    account, merged where they overlap or touch: a key counts as active on a day when an event
    of it that happened in the 30 days up to that day had become known by then. Kept: the
    spans that reach the run's first day or later and begin by its last day, a span that
    began before the run shown as beginning the day before it (what happened earlier is
    carried by int_account_measure_changes_daily).

    Carried forward: when the previous run ended the day before this one begins, its spans
    that reach this run's first day are merged with the spans of the events that became
    known on the run's days, and nothing older is read. A merged span is the union of the
    days its events cover, and every day from the one before the run on is covered by a span
    known before the run (which reaches the first day) or by a new one: the same spans as
    when they are merged from the 30 days of events before the run, as a first build, a
    --full-refresh or a backfill does.
-#}
{% macro activity_spans(key_column, core_features_only=false) -%}
    {%- set first_day, last_day = history_days_range() %}
    {%- set first_day_sql, last_day_sql = history_days_sql() %}
    {%- set carried = carried_rows_available(first_day) %}

with

usage_events as (
    select * from ({{ known_usage_events(add_days(-30, first_day_sql), last_day_sql) }}) as known
    where
        true
        {%- if core_features_only %}
        and feature in (select feature from {{ ref('core_features') }})
        {%- endif %}
        {%- if carried %}
        and known_date >= {{ first_day_sql }}
        {%- endif %}
),

spans as (
    select
        account_id,
        {{ key_column }},
        min(known_date) as span_start,
        {{ add_days(30, 'occurred_date') }} as span_end
    from usage_events
    group by account_id, {{ key_column }}, occurred_date
    {%- if carried %}
    union all
    select
        account_id,
        {{ key_column }},
        span_start,
        span_end
    from {{ this }}
    where span_end >= {{ first_day_sql }}
    {%- endif %}
),

merged as (
    {{ merged_spans('spans', ['account_id', key_column], 'span_start', 'span_end') }}
),

final as (
    select
        account_id,
        {{ key_column }},
        greatest(span_start, {{ add_days(-1, first_day_sql) }}) as span_start,
        span_end,
        {{ last_day_sql }} as through_date
    from merged
    where
        span_end >= {{ first_day_sql }}
        and span_start <= {{ last_day_sql }}
)

select * from final
{%- endmacro %}
