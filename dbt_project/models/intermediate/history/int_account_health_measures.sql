{#-
    The measures behind the health score, one row per account and history day, one column
    per measure (null: no data that day). Every measure uses only what
    had landed by that day and happened on or before it (point in time). The scored measures
    are the metrics of the health_metrics seed; the rest (active_users_30d, days_without_usage,
    days_as_customer, oldest_open_urgent_ticket_days, days_since_detractor_answer) are the
    signals the health overrides test.

    Windowed counts and sums are running sums of changes (the spans macros): a fact counts
    from the day it is known (happened and landed) until it leaves its window, so a run reads
    each fact once, however many days it adds; only the oldest open ticket is a join of days
    with the spans of open tickets. Facts that left every window before the first day of the
    run are not read at all.
-#}
{%- set first_day_sql, last_day_sql = history_days_sql() %}

with

days as (
    select * from {{ ref('int_history_days') }}
),

account_days as (
    select *
    from {{ ref('fct_account_tiers_daily') }}
    where history_date between {{ first_day_sql }} and {{ last_day_sql }}
),

-- the days 90 days before the run's days (ARR change); literal bounds skip the rest
all_account_days as (
    select
        history_date,
        account_id,
        arr_usd
    from {{ ref('fct_account_tiers_daily') }}
    where
        history_date between {{ add_days(-90, first_day_sql) }} and {{ add_days(-90, last_day_sql) }}
),

touchpoints as (
    select * from {{ ref('touchpoints') }}
),

core_features as (
    select * from {{ ref('core_features') }}
),

-- usage: facts of the last 60 days (the trend compares two 30-day windows) -----------------

usage_events as (
    select
        account_id,
        user_id,
        feature,
        occurred_date,
        greatest(occurred_date, landed_date) as known_date
    from {{ ref('int_usage_events') }}
    where
        occurred_date > {{ add_days(-60, first_day_sql) }}
        and occurred_date <= {{ last_day_sql }}
        and landed_date <= {{ last_day_sql }}
),

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

core_feature_days as (
    select
        usage_events.account_id,
        usage_events.feature,
        usage_events.occurred_date,
        min(usage_events.known_date) as known_date
    from usage_events
    inner join core_features
        on usage_events.feature = core_features.feature
    group by usage_events.account_id, usage_events.feature, usage_events.occurred_date
),

active_user_spans as (
    {{ merged_spans('user_days', ['account_id', 'user_id'], 'known_date',
        add_days(30, 'occurred_date')) }}
),

core_feature_spans as (
    {{ merged_spans('core_feature_days', ['account_id', 'feature'], 'known_date',
        add_days(30, 'occurred_date')) }}
),

-- support: the ticket versions that still count on the run's days ----------------------

current_ticket_versions as (
    select
        ticket_id,
        account_id,
        created_date,
        created_at,
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
        and (valid_to is null or valid_to > {{ first_day_sql }})
        -- a closed ticket counts for 90 days after it was created or solved, no longer
        and (
            is_open
            or created_date > {{ add_days(-90, first_day_sql) }}
            or solved_date > {{ add_days(-90, first_day_sql) }}
        )
),

open_ticket_days as (
    select
        days.history_date,
        versions.account_id,
        min(versions.created_date) as oldest_open_created_date,
        min(case when versions.priority = 'urgent' then versions.created_date end)
            as oldest_open_urgent_created_date
    from current_ticket_versions as versions
    inner join days
        on
            days.history_date >= versions.valid_from
            and days.history_date < versions.valid_to
    where versions.is_open
    group by days.history_date, versions.account_id
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
        activities.occurred_date > {{ add_days(-365, first_day_sql) }}
        and activities.occurred_date <= {{ last_day_sql }}
        and activities.landed_date <= {{ last_day_sql }}
),

reviews as (
    select * from activities
    where activity_type in ('qbr', 'business_review')
),

-- running sums and latest values per account -----------------------------------------------

changes as (
    {{ span_changes('active_user_spans', 'active_users_30d', 'span_start', 'span_end') }}
    union all
    {{ span_changes('user_days', 'user_days_30d', 'known_date',
        add_days(30, 'occurred_date')) }}
    union all
    {{ span_changes('event_counts', 'events_30d', 'known_date',
        add_days(30, 'occurred_date'), 'events') }}
    union all
    {{ span_changes('event_counts', 'events_previous_30d',
        'greatest(known_date, ' ~ add_days(30, 'occurred_date') ~ ')',
        add_days(60, 'occurred_date'), 'events') }}
    union all
    {{ span_changes('core_feature_spans', 'core_features_used_30d', 'span_start', 'span_end') }}
    union all
    {{ span_changes('current_ticket_versions', 'tickets_90d', 'valid_from',
        'least(valid_to, ' ~ add_days(90, 'created_date') ~ ')') }}
    union all
    {{ span_changes(
        "(select * from current_ticket_versions where is_open"
        ~ " and priority in ('high', 'urgent'))",
        'open_urgent_high_tickets', 'valid_from', 'valid_to') }}
    union all
    {{ span_changes('(select * from current_ticket_versions where is_bug)', 'bug_tickets_90d',
        'valid_from', 'least(valid_to, ' ~ add_days(90, 'created_date') ~ ')') }}
    union all
    {{ span_changes(
        '(select * from current_ticket_versions where first_reply_at is not null)',
        'first_reply_tickets_90d', 'valid_from',
        'least(valid_to, ' ~ add_days(90, 'created_date') ~ ')') }}
    union all
    {{ span_changes(
        '(select * from current_ticket_versions where first_reply_at is not null)',
        'first_reply_hours_sum_90d', 'valid_from',
        'least(valid_to, ' ~ add_days(90, 'created_date') ~ ')', 'first_reply_hours') }}
    union all
    {{ span_changes('(select * from current_ticket_versions where csat_score is not null and solved_date is not null)',
        'csat_answers_90d', 'valid_from', 'least(valid_to, ' ~ add_days(90, 'solved_date') ~ ')') }}
    union all
    {{ span_changes('(select * from current_ticket_versions where csat_score is not null and solved_date is not null)',
        'csat_sum_90d', 'valid_from', 'least(valid_to, ' ~ add_days(90, 'solved_date') ~ ')',
        'csat_score') }}
    union all
    {{ span_changes('activities', 'activities_365d', 'known_date',
        add_days(365, 'occurred_date')) }}
    union all
    {{ span_changes("(select * from reviews where outcome = 'completed')",
        'reviews_attended_365d', 'known_date', add_days(365, 'occurred_date')) }}
    union all
    {{ span_changes("(select * from reviews where outcome in ('completed', 'no_show'))",
        'reviews_held_365d', 'known_date', add_days(365, 'occurred_date')) }}
    union all
    {{ span_changes("(select * from activities where activity_type = 'email_open')",
        'email_opens_90d', 'known_date', add_days(90, 'occurred_date')) }}
    union all
    {{ span_changes("(select * from activities where activity_type = 'webinar_attended')",
        'webinars_attended_90d', 'known_date', add_days(90, 'occurred_date')) }}
),

{%- set running_measures = [
    'active_users_30d', 'user_days_30d', 'events_30d', 'events_previous_30d',
    'core_features_used_30d', 'tickets_90d', 'open_urgent_high_tickets', 'bug_tickets_90d',
    'first_reply_tickets_90d', 'first_reply_hours_sum_90d', 'csat_answers_90d',
    'csat_sum_90d', 'activities_365d', 'reviews_attended_365d', 'reviews_held_365d',
    'email_opens_90d', 'webinars_attended_90d',
] %}

daily_changes as (
    select
        account_id,
        greatest(change_date, {{ first_day_sql }}) as change_date,
        {%- for measure in running_measures %}
        coalesce(sum(amount) filter (where measure = '{{ measure }}'), 0)
            as {{ measure }}{{ ',' if not loop.last }}
        {%- endfor %}
    from changes
    where change_date <= {{ last_day_sql }}
    group by account_id, greatest(change_date, {{ first_day_sql }})
),

running_sums as (
    select
        account_id,
        change_date,
        {%- for measure in running_measures %}
        sum({{ measure }}) over account_history as {{ measure }}{{ ',' if not loop.last }}
        {%- endfor %}
    from daily_changes
    window account_history as (
        partition by account_id order by change_date rows unbounded preceding
    )
),

latest_facts as (
    select
        account_id,
        known_date as change_date,
        occurred_date as last_usage_date,
        null::date as last_touch_date,
        null as latest_nps
    from user_days
    union all
    select
        account_id,
        known_date,
        null,
        occurred_date,
        null
    from activities
    where is_touch
    union all
    select
        account_id,
        known_date,
        null,
        null,
        {'responded_at': responded_at, 'response_id': response_id, 'nps_score': nps_score}
    from nps_responses
),

-- a running maximum: what was known before the first day counts from the first day
latest_by_day as (
    select
        account_id,
        greatest(change_date, {{ first_day_sql }}) as change_date,
        max(last_usage_date) as last_usage_date,
        max(last_touch_date) as last_touch_date,
        max(latest_nps) as latest_nps
    from latest_facts
    where change_date <= {{ last_day_sql }}
    group by account_id, greatest(change_date, {{ first_day_sql }})
),

running_latest as (
    select
        account_id,
        change_date,
        max(last_usage_date) over account_history as last_usage_date,
        max(last_touch_date) over account_history as last_touch_date,
        max(latest_nps) over account_history as latest_nps
    from latest_by_day
    window account_history as (
        partition by account_id order by change_date rows unbounded preceding
    )
),

windows as (
    select
        account_days.history_date,
        account_days.account_id,
        account_days.licensed_seats,
        account_days.customer_since_date,
        account_days.renewal_date,
        account_days.arr_usd,
        {%- for measure in running_measures %}
        coalesce(running_sums.{{ measure }}, 0) as {{ measure }},
        {%- endfor %}
        case
            when latest.last_usage_date > {{ add_days(-60, 'account_days.history_date') }}
                then latest.last_usage_date
        end as last_usage_date,
        case
            when latest.last_touch_date > {{ add_days(-365, 'account_days.history_date') }}
                then latest.last_touch_date
        end as last_touch_date,
        case
            when cast(latest.latest_nps.responded_at as date)
                > {{ add_days(-365, 'account_days.history_date') }}
                then latest.latest_nps
        end as latest_nps
    from account_days
    asof left join running_sums
        on
            account_days.account_id = running_sums.account_id
            and account_days.history_date >= running_sums.change_date
    asof left join running_latest as latest
        on
            account_days.account_id = latest.account_id
            and account_days.history_date >= latest.change_date
),

-- the measures: one row per account and day -----------------------------------------------

final as (
    select
        windows.history_date,
        windows.account_id,
        -- usage
        case
            when windows.licensed_seats > 0
                then windows.active_users_30d * 1.0 / windows.licensed_seats
        end as seat_utilization,
        case
            when windows.active_users_30d > 0
                then windows.user_days_30d / 30.0 / windows.active_users_30d
        end as stickiness,
        case
            when windows.licensed_seats > 0 or windows.active_users_30d > 0
                then windows.core_features_used_30d * 1.0 / (select count(*) from core_features)
        end as feature_breadth,
        case
            when windows.events_previous_30d > 0
                then windows.events_30d * 1.0 / windows.events_previous_30d
        end as usage_trend,
        -- support
        case
            when windows.licensed_seats > 0
                then windows.tickets_90d * 10.0 / windows.licensed_seats
        end as tickets_per_10_seats_90d,
        windows.open_urgent_high_tickets,
        coalesce(
            {{ dbt.datediff('open_tickets.oldest_open_created_date', 'windows.history_date', 'day') }},
            0
        ) as oldest_open_ticket_days,
        windows.bug_tickets_90d,
        case
            when windows.first_reply_tickets_90d > 0
                then windows.first_reply_hours_sum_90d / windows.first_reply_tickets_90d
        end as first_reply_hours_90d,
        case
            when windows.csat_answers_90d > 0
                then windows.csat_sum_90d / windows.csat_answers_90d
        end as csat_90d,
        -- sentiment and engagement
        windows.latest_nps.nps_score as latest_nps,
        {{ dbt.datediff('windows.last_touch_date', 'windows.history_date', 'day') }}
            as days_since_last_touch,
        case
            when windows.reviews_held_365d > 0
                then windows.reviews_attended_365d / windows.reviews_held_365d
        end as review_attendance_365d,
        case when windows.activities_365d > 0 then windows.email_opens_90d end as email_opens_90d,
        case
            when windows.activities_365d > 0 then windows.webinars_attended_90d
        end as webinars_attended_90d,
        -- commercial
        case
            when earlier.arr_usd > 0 then windows.arr_usd / earlier.arr_usd - 1
        end as arr_change_90d,
        {{ dbt.datediff('windows.history_date', 'windows.renewal_date', 'day') }}
            as days_to_renewal,
        -- signals for the health overrides and event triggers (not scored themselves)
        case
            when windows.licensed_seats > 0
                then coalesce(
                    {{ dbt.datediff('windows.last_usage_date', 'windows.history_date', 'day') }},
                    60
                )
        end as days_without_usage,
        windows.active_users_30d,
        {{ dbt.datediff('windows.customer_since_date', 'windows.history_date', 'day') }}
            as days_as_customer,
        {{ dbt.datediff(
            'open_tickets.oldest_open_urgent_created_date', 'windows.history_date', 'day'
        ) }} as oldest_open_urgent_ticket_days,
        case
            when windows.latest_nps.nps_score <= 6
                then {{ dbt.datediff(
                    'cast(windows.latest_nps.responded_at as date)', 'windows.history_date', 'day'
                ) }}
        end as days_since_detractor_answer
    from windows
    left join open_ticket_days as open_tickets
        on
            windows.account_id = open_tickets.account_id
            and windows.history_date = open_tickets.history_date
    left join all_account_days as earlier
        on
            windows.account_id = earlier.account_id
            and earlier.history_date = {{ add_days(-90, 'windows.history_date') }}
)

select
    history_date,
    account_id,
    columns(* exclude (history_date, account_id))::double
from final
