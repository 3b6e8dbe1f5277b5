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

    running_measures(): the names of the health measures kept as running sums of changes
    (the columns of int_account_measure_changes).

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
    from {{ relation }}
    where {{ start }} < {{ end }}
    union all
    select
        account_id,
        {{ end }} as change_date,
        '{{ measure }}' as measure,
        -{{ exact(amount) }} as amount
    from {{ relation }}
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
        )
    )
    group by {{ key_list }}, span_number
{%- endmacro %}

{% macro running_measures() -%}
    {{ return([
        'active_users_30d', 'user_days_30d', 'events_30d', 'events_previous_30d',
        'core_features_used_30d', 'tickets_90d', 'open_urgent_high_tickets', 'bug_tickets_90d',
        'first_reply_tickets_90d', 'first_reply_hours_sum_90d', 'csat_answers_90d',
        'csat_sum_90d', 'activities_365d', 'reviews_attended_365d', 'reviews_held_365d',
        'email_opens_90d', 'webinars_attended_90d',
    ]) }}
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
