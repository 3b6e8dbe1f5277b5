{#-
    The measures behind the health score, one row per account and history day, one column
    per measure (null: no data that day). Every measure uses only what
    had landed by that day and happened on or before it (point in time). The scored measures
    are the metrics of the health_metrics seed; the rest (active_users_30d, days_without_usage,
    days_as_customer, oldest_open_urgent_ticket_days, days_since_detractor_answer) are the
    signals the health overrides test.

    Windowed counts and sums are running sums of changes (int_account_measure_changes_daily, which
    starts each account with what it carries from before the run), the latest usage, touch
    and NPS answer running maxima of the same rows; only the oldest open ticket is a join of
    days with the spans of open tickets.
-#}
{%- set first_day_sql, last_day_sql = history_days_sql() %}

with

days as (
    select * from {{ ref('int_history_days') }}
),

account_days as (
    select *
    from {{ ref('int_account_tiers_daily') }}
    where history_date between {{ first_day_sql }} and {{ last_day_sql }}
),

-- the days 90 days before the run's days (ARR change); literal bounds skip the rest
all_account_days as (
    select
        history_date,
        account_id,
        arr_usd
    from {{ ref('int_account_tiers_daily') }}
    where
        history_date
        between {{ add_days(-90, first_day_sql) }} and {{ add_days(-90, last_day_sql) }}
),

core_features as (
    select * from {{ ref('core_features') }}
),

-- the open tickets on the run's days (the oldest open ticket) ------------------------------

open_ticket_versions as (
    select
        account_id,
        created_date,
        priority,
        valid_from,
        valid_to
    from {{ ref('int_ticket_versions') }}
    where
        is_open
        and landed_date <= {{ last_day_sql }}
        and (valid_to is null or valid_to > {{ first_day_sql }})
),

open_ticket_days as (
    select
        days.history_date,
        versions.account_id,
        min(versions.created_date) as oldest_open_created_date,
        min(case when versions.priority = 'urgent' then versions.created_date end)
            as oldest_open_urgent_created_date
    from open_ticket_versions as versions
    inner join days
        on
            days.history_date >= versions.valid_from
            and (versions.valid_to is null or days.history_date < versions.valid_to)
    group by days.history_date, versions.account_id
),

-- running sums and latest values per account, from the day before the run ------------------

{%- set measure_names = running_measure_names() %}

running as (
    select
        account_id,
        change_date,
        {%- for measure in measure_names %}
        sum({{ measure }}) over account_history as {{ measure }},
        {%- endfor %}
        max(last_usage_date) over account_history as last_usage_date,
        max(last_touch_date) over account_history as last_touch_date,
        {{ nps_answer_max('latest_nps') }} over account_history as latest_nps
    from {{ ref('int_account_measure_changes_daily') }}
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
        {%- for measure in measure_names %}
        coalesce(running.{{ measure }}, 0) as {{ measure }},
        {%- endfor %}
        case
            when running.last_usage_date > {{ add_days(-60, 'account_days.history_date') }}
                then running.last_usage_date
        end as last_usage_date,
        case
            when running.last_touch_date > {{ add_days(-365, 'account_days.history_date') }}
                then running.last_touch_date
        end as last_touch_date,
        case
            when cast({{ nps_answer_field('running.latest_nps', 'responded_at') }} as date)
                > {{ add_days(-365, 'account_days.history_date') }}
                then running.latest_nps
        end as latest_nps
    from account_days
    {{ asof_join(
        'left', 'running', 'account_days.history_date', 'running.change_date',
        'account_days.account_id = running.account_id'
    ) }}
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
            {{ dbt.datediff(
                'open_tickets.oldest_open_created_date', 'windows.history_date', 'day'
            ) }},
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
        {{ nps_answer_field('windows.latest_nps', 'nps_score') }} as latest_nps,
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
                        {{ dbt.datediff(
                            'windows.last_usage_date', 'windows.history_date', 'day'
                        ) }},
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
            when {{ nps_answer_field('windows.latest_nps', 'nps_score') }} <= 6
                then {{ dbt.datediff(
                    'cast(' ~ nps_answer_field('windows.latest_nps', 'responded_at') ~ ' as date)', 'windows.history_date', 'day'
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
    {#- adapter-specific: DuckDB's columns(), elsewhere the measures one by one -#}
    {%- if target.type == 'duckdb' %}
    cast(columns(* exclude (history_date, account_id)) as double)
    {%- else %}
    {%- for measure in [
        'seat_utilization', 'stickiness', 'feature_breadth', 'usage_trend',
        'tickets_per_10_seats_90d', 'open_urgent_high_tickets', 'oldest_open_ticket_days',
        'bug_tickets_90d', 'first_reply_hours_90d', 'csat_90d', 'latest_nps',
        'days_since_last_touch', 'review_attendance_365d', 'email_opens_90d',
        'webinars_attended_90d', 'arr_change_90d', 'days_to_renewal', 'days_without_usage',
        'active_users_30d', 'days_as_customer', 'oldest_open_urgent_ticket_days',
        'days_since_detractor_answer',
    ] %}
    cast({{ measure }} as {{ double_type() }}) as {{ measure }}{{ ',' if not loop.last }}
    {%- endfor %}
    {%- endif %}
from final
