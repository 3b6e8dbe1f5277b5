{#-
    The 30-day activity spans of each user and each core feature of an account, merged where
    they overlap or touch: a user (feature) counts as active on a day when an event of it
    that happened in the 30 days up to that day had become known by then. Kept: the spans
    that reach the run's first day or later and begin by its last day, a span that began
    before the run shown as beginning the day before it (what happened earlier is carried by
    int_account_measure_changes). The distinct counts active_users_30d and
    core_features_used_30d are these spans' running sums.

    Carried forward: when the previous run ended the day before this one begins, its spans
    that reach this run's first day are merged with the spans of the events that became
    known on the run's days, and nothing older is read. A merged span is the union of the
    days its events cover, and every day from the one before the run on is covered by a
    span known before the run (which reaches the first day) or by a new one: the same spans
    as when they are merged from the 30 days of events before the run, as a first build, a
    --full-refresh or a backfill does.
-#}
{%- set first_day, last_day = history_days_range() %}
{%- set first_day_sql, last_day_sql = history_days_sql() %}
{%- set carried = carried_rows_available(this, first_day) %}

with

core_features as (
    select * from {{ ref('core_features') }}
),

usage_events as (
    select * from ({{ known_usage_events(add_days(-30, first_day_sql), last_day_sql) }})
    {%- if carried %}
    where known_date >= {{ first_day_sql }}
    {%- endif %}
),

spans as (
    select
        account_id,
        'user' as span_kind,
        user_id as span_key,
        min(known_date) as span_start,
        {{ add_days(30, 'occurred_date') }} as span_end
    from usage_events
    group by account_id, user_id, occurred_date
    union all
    select
        usage_events.account_id,
        'core_feature',
        usage_events.feature,
        min(usage_events.known_date),
        {{ add_days(30, 'usage_events.occurred_date') }}
    from usage_events
    inner join core_features
        on usage_events.feature = core_features.feature
    group by usage_events.account_id, usage_events.feature, usage_events.occurred_date
    {%- if carried %}
    union all
    select
        account_id,
        span_kind,
        span_key,
        span_start,
        span_end
    from {{ this }}
    where span_end >= {{ first_day_sql }}
    {%- endif %}
),

merged as (
    {{ merged_spans('spans', ['account_id', 'span_kind', 'span_key'], 'span_start', 'span_end') }}
)

select
    account_id,
    span_kind,
    span_key,
    greatest(span_start, {{ add_days(-1, first_day_sql) }}) as span_start,
    span_end,
    {{ last_day_sql }} as through_date
from merged
where
    span_end >= {{ first_day_sql }}
    and span_start <= {{ last_day_sql }}
