{{
    config(
        materialized='incremental',
        incremental_strategy='replace_all',
    )
}}
{#-
    The changes behind the windowed health measures, one row per account and day that has
    any: for each running measure the sum of its changes that day (the spans macros), and
    the newest usage, touch and NPS answer that became known that day. The first row of an
    account, on the day before the run's first day, carries everything before the run: the
    measure on a day of the run is then the running sum (or maximum) of an account's rows up
    to that day (int_account_health_measures_daily).

    Carried forward (incremental, replace_all): when this table, as the previous run left it, ends on the day before
    the run's first day (the nightly run after the last, or the next batch of a first build),
    its sums and maxima per account are that first row, and only the changes that fall on
    the run's days are computed: a fact is read when it becomes known or leaves a window on
    one of them. Otherwise (a first build, a --full-refresh, a backfill of a past day) the
    first row folds in every change before the run from the facts themselves. Either way it
    holds the same amounts: a change on a day depends only on what had landed by that day
    (point in time), so what later drops bring cannot move a change behind the run, and the
    amounts are exact, so the order they are added in does not matter.
-#}
{%- set first_day, last_day = history_days_range() %}
{%- set first_day_sql, last_day_sql = history_days_sql() %}
{%- set base_day_sql = add_days(-1, first_day_sql) %}
{%- set carried = carried_rows_available(first_day) %}
{#- the first day on which a change is computed from the facts -#}
{%- set from_day_sql = first_day_sql if carried else "cast('-infinity' as date)" %}

{%- set measure_names = running_measure_names() %}

with

touchpoints as (
    select * from {{ ref('touchpoints') }}
),

{#-
    Each fact is read from the day its window reaches the run's first day: one that leaves
    its window on the first day is a change of that day (and of the carried row before it).
-#}

-- usage: facts of the last 60 days (the trend compares two 30-day windows) -----------------

usage_events_read as (
    {{ known_usage_events(add_days(-60, first_day_sql), last_day_sql) }}
),

{% if carried -%}
{#-
    Carried forward, the events that make a change on the run's days: those of a day that
    leaves the 30- or 60-day window on one of them, and every event of a user's day with an
    event that became known on one of them (a user-day counts once, from its first event).
-#}
new_user_days as (
    select distinct
        account_id,
        user_id,
        occurred_date
    from usage_events_read
    where known_date >= {{ first_day_sql }}
),

usage_events as (
    select * from usage_events_read
    where
        occurred_date between {{ add_days(-30, first_day_sql) }} and {{ add_days(-30, last_day_sql) }}
        or occurred_date between {{ add_days(-60, first_day_sql) }} and {{ add_days(-60, last_day_sql) }}
        or (account_id, user_id, occurred_date) in (select * from new_user_days)
),
{%- else %}
usage_events as (
    select * from usage_events_read
),
{%- endif %}

user_days as (
    select
        account_id,
        user_id,
        occurred_date,
        min(known_date) as known_date
    from usage_events
    group by account_id, user_id, occurred_date
),

event_counts as (
    select
        account_id,
        occurred_date,
        known_date,
        count(*) as events
    from usage_events
    group by account_id, occurred_date, known_date
),

-- the merged 30-day spans of users and core features (distinct counts)
user_spans as (
    select * from {{ ref('int_account_user_spans') }}
),

core_feature_spans as (
    select * from {{ ref('int_account_core_feature_spans') }}
),

-- support: the ticket versions that still count on the run's days ----------------------

current_ticket_versions as (
    select
        ticket_id,
        account_id,
        created_date,
        status,
        priority,
        first_reply_at,
        first_reply_hours,
        solved_date,
        csat_score,
        is_bug,
        is_open,
        valid_from,
        -- a version superseded after the run's last day holds to its end
        least(
            coalesce(valid_to, {{ add_days(1, last_day_sql) }}), {{ add_days(1, last_day_sql) }}
        ) as valid_to
    from {{ ref('int_ticket_versions') }}
    where
        landed_date <= {{ last_day_sql }}
        and (valid_to is null or valid_to >= {{ first_day_sql }})
        -- a closed ticket counts for 90 days after it was created or solved, no longer
        and (
            is_open
            or created_date >= {{ add_days(-90, first_day_sql) }}
            or solved_date >= {{ add_days(-90, first_day_sql) }}
        )
),

-- sentiment and engagement: facts of the last 365 days -------------------------------------

nps_responses as (
    select
        account_id,
        response_id,
        nps_score,
        responded_at,
        greatest(cast(responded_at as date), landed_date) as known_date
    from {{ ref('stg_engagement__nps_responses') }}
    where
        cast(responded_at as date) > {{ add_days(-365, first_day_sql) }}
        and cast(responded_at as date) <= {{ last_day_sql }}
        and landed_date <= {{ last_day_sql }}
),

activities as (
    select
        activities.account_id,
        activities.activity_type,
        activities.outcome,
        activities.occurred_date,
        greatest(activities.occurred_date, activities.landed_date) as known_date,
        activities.outcome = 'completed' and touchpoints.estimated_minutes > 0 as is_touch
    from {{ ref('stg_engagement__activities') }} as activities
    left join touchpoints
        on activities.activity_type = touchpoints.touchpoint
    where
        activities.occurred_date >= {{ add_days(-365, first_day_sql) }}
        and activities.occurred_date <= {{ last_day_sql }}
        and activities.landed_date <= {{ last_day_sql }}
),

-- the changes: amounts of the running sums (one per running measure), newest values of the
-- running maxima --------------------------------------------------------------------------

span_changes as (
    {%- for measure in running_measures() %}
    {{ span_changes(measure.facts, measure.name, measure.start, measure.end,
        measure.get('amount', '1')) }}
    {{- '\n    union all' if not loop.last }}
    {%- endfor %}
),

latest_facts as (
    select
        account_id,
        known_date as change_date,
        occurred_date as last_usage_date,
        cast(null as date) as last_touch_date,
        null as latest_nps
    from user_days
    union all
    select
        account_id,
        known_date as change_date,
        null as last_usage_date,
        occurred_date as last_touch_date,
        null as latest_nps
    from activities
    where is_touch
    union all
    select
        account_id,
        known_date as change_date,
        null as last_usage_date,
        null as last_touch_date,
        {{ nps_answer('responded_at', 'response_id', 'nps_score') }} as latest_nps
    from nps_responses
),

-- a change before the run counts on the day before its first day (the carried row)
amounts as (
    select
        account_id,
        greatest(change_date, {{ base_day_sql }}) as change_date,
        measure,
        sum(amount) as amount
    from span_changes
    where change_date between {{ from_day_sql }} and {{ last_day_sql }}
    group by account_id, greatest(change_date, {{ base_day_sql }}), measure
),

daily_amounts as (
    select
        account_id,
        change_date,
        -- noqa: disable=LT02
        {%- for measure in measure_names %}
        coalesce(sum(amount) filter (where measure = '{{ measure }}'), 0)
            as {{ measure }}{{ ',' if not loop.last }}
        {%- endfor %}
    -- noqa: enable=LT02
    from amounts
    group by account_id, change_date
),

daily_latest as (
    select
        account_id,
        greatest(change_date, {{ base_day_sql }}) as change_date,
        max(last_usage_date) as last_usage_date,
        max(last_touch_date) as last_touch_date,
        {{ nps_answer_max('latest_nps') }} as latest_nps
    from latest_facts
    where change_date between {{ from_day_sql }} and {{ last_day_sql }}
    group by account_id, greatest(change_date, {{ base_day_sql }})
),

{% if carried %}
-- what the previous run ended with: the sums and maxima of its rows
carried as (
    select
        account_id,
        {{ base_day_sql }} as change_date,
        {%- for measure in measure_names %}
        sum({{ measure }}) as {{ measure }},
        {%- endfor %}
        max(last_usage_date) as last_usage_date,
        max(last_touch_date) as last_touch_date,
        {{ nps_answer_max('latest_nps') }} as latest_nps
    from {{ this }}
    group by account_id
),
{% endif %}

computed as (
    select
        coalesce(daily_amounts.account_id, daily_latest.account_id) as account_id,
        coalesce(daily_amounts.change_date, daily_latest.change_date) as change_date,
        {%- for measure in measure_names %}
        coalesce(daily_amounts.{{ measure }}, 0) as {{ measure }},
        {%- endfor %}
        daily_latest.last_usage_date,
        daily_latest.last_touch_date,
        daily_latest.latest_nps
    from daily_amounts
    full outer join daily_latest
        on
            daily_amounts.account_id = daily_latest.account_id
            and daily_amounts.change_date = daily_latest.change_date
)

select
    *,
    -- the last day of the run: the next run carries these rows when it starts the day after
    {{ last_day_sql }} as through_date
from (
    select * from computed
    {%- if carried %}
    {{ union_all_by_name() }}
    select * from carried
    {%- endif %}
) as days_changes
