{#-
    The measures behind the health score, one row per account, history day and measure
    (long format; a measure without data that day has no row). Every measure uses only what
    had landed by that day and happened on or before it (point in time). The scored measures
    are the metrics of the health_metrics seed; the rest (active_users_30d, days_without_usage,
    days_as_customer, oldest_open_urgent_ticket_days, days_since_detractor_answer) are the
    signals the health overrides test.
-#}
with

days as (
    select * from {{ ref('int_history_days') }}
),

account_days as (
    select *
    from {{ ref('fct_account_tiers_daily') }}
    where history_date in (select history_date from days)
),

all_account_days as (
    select
        history_date,
        account_id,
        arr_usd
    from {{ ref('fct_account_tiers_daily') }}
),

usage_events as (
    select * from {{ ref('stg_usage__usage_events') }}
),

ticket_versions as (
    {{ landed_events(source('support', 'tickets')) }}
),

nps_responses as (
    select * from {{ ref('stg_engagement__nps_responses') }}
),

activities as (
    select * from {{ ref('stg_engagement__activities') }}
),

touchpoints as (
    select * from {{ ref('touchpoints') }}
),

core_features as (
    select * from {{ ref('core_features') }}
),

-- usage ------------------------------------------------------------------------------------

user_days as (
    select
        account_id,
        user_id,
        occurred_date,
        min(landed_date) as known_date,
        count(*) as events
    from usage_events
    where occurred_date > {{ add_days(-60, '(select min(history_date) from days)') }}
    group by account_id, user_id, occurred_date
),

usage_windows as (
    select
        days.history_date,
        user_days.account_id,
        count(distinct case
            when user_days.occurred_date > {{ add_days(-30, 'days.history_date') }}
                then user_days.user_id
        end) as active_users_30d,
        count(case
            when user_days.occurred_date > {{ add_days(-30, 'days.history_date') }} then 1
        end) as user_days_30d,
        sum(case
            when user_days.occurred_date > {{ add_days(-30, 'days.history_date') }}
                then user_days.events
            else 0
        end) as events_30d,
        sum(case
            when user_days.occurred_date <= {{ add_days(-30, 'days.history_date') }}
                then user_days.events
            else 0
        end) as events_previous_30d,
        max(user_days.occurred_date) as last_usage_date
    from days
    inner join user_days
        on
            user_days.occurred_date <= days.history_date
            and user_days.occurred_date > {{ add_days(-60, 'days.history_date') }}
            and user_days.known_date <= days.history_date
    group by days.history_date, user_days.account_id
),

feature_windows as (
    select
        days.history_date,
        usage_events.account_id,
        count(distinct usage_events.feature) as core_features_used_30d
    from days
    inner join usage_events
        on
            usage_events.occurred_date <= days.history_date
            and usage_events.occurred_date > {{ add_days(-30, 'days.history_date') }}
            and usage_events.landed_date <= days.history_date
    inner join core_features
        on usage_events.feature = core_features.feature
    group by days.history_date, usage_events.account_id
),

usage_measures as (
    select
        account_days.history_date,
        account_days.account_id,
        case
            when account_days.licensed_seats > 0
                then coalesce(usage_windows.active_users_30d, 0) * 1.0 / account_days.licensed_seats
        end as seat_utilization,
        case
            when usage_windows.active_users_30d > 0
                then usage_windows.user_days_30d / 30.0 / usage_windows.active_users_30d
        end as stickiness,
        case
            when account_days.licensed_seats > 0 or usage_windows.active_users_30d > 0
                then coalesce(feature_windows.core_features_used_30d, 0) * 1.0
                / (select count(*) from core_features)
        end as feature_breadth,
        case
            when usage_windows.events_previous_30d > 0
                then usage_windows.events_30d * 1.0 / usage_windows.events_previous_30d
        end as usage_trend,
        -- signals for the health overrides and event triggers (not scored themselves)
        coalesce(usage_windows.active_users_30d, 0) as active_users_30d,
        case
            when account_days.licensed_seats > 0
                then coalesce(
                    {{ dbt.datediff('usage_windows.last_usage_date', 'account_days.history_date', 'day') }},
                    60
                )
        end as days_without_usage,
        {{ dbt.datediff('account_days.customer_since_date', 'account_days.history_date', 'day') }}
            as days_as_customer
    from account_days
    left join usage_windows
        on
            account_days.account_id = usage_windows.account_id
            and account_days.history_date = usage_windows.history_date
    left join feature_windows
        on
            account_days.account_id = feature_windows.account_id
            and account_days.history_date = feature_windows.history_date
),

-- support ----------------------------------------------------------------------------------

tickets_as_of as (
    select
        days.history_date,
        ticket_versions.ticket_id,
        ticket_versions.account_id,
        cast(ticket_versions.created_at as date) as created_date,
        ticket_versions.created_at,
        ticket_versions.status,
        ticket_versions.priority,
        ticket_versions.first_reply_at,
        ticket_versions.solved_at,
        ticket_versions.csat_score,
        list_contains(string_split(coalesce(ticket_versions.tags, ''), ';'), 'bug') as is_bug
    from days
    inner join ticket_versions
        on
            ticket_versions.ds <= days.history_date
            and cast(ticket_versions.created_at as date) <= days.history_date
    qualify row_number() over (
        partition by days.history_date, ticket_versions.ticket_id
        order by ticket_versions.ds desc, ticket_versions.updated_at desc nulls last
    ) = 1
),

ticket_windows as (
    select
        history_date,
        account_id,
        count(case when created_date > {{ add_days(-90, 'history_date') }} then 1 end)
            as tickets_90d,
        count(case
            when status not in ('solved', 'closed') and priority in ('high', 'urgent') then 1
        end) as open_urgent_high_tickets,
        max(case
            when status not in ('solved', 'closed')
                then {{ dbt.datediff('created_date', 'history_date', 'day') }}
        end) as oldest_open_ticket_days,
        max(case
            when status not in ('solved', 'closed') and priority = 'urgent'
                then {{ dbt.datediff('created_date', 'history_date', 'day') }}
        end) as oldest_open_urgent_ticket_days,
        count(case when created_date > {{ add_days(-90, 'history_date') }} and is_bug then 1 end)
            as bug_tickets_90d,
        avg(case
            when created_date > {{ add_days(-90, 'history_date') }} and first_reply_at is not null
                then {{ dbt.datediff('created_at', 'first_reply_at', 'minute') }} / 60.0
        end) as first_reply_hours_90d,
        avg(case
            when cast(solved_at as date) > {{ add_days(-90, 'history_date') }}
                then csat_score
        end) as csat_90d
    from tickets_as_of
    group by history_date, account_id
),

support_measures as (
    select
        account_days.history_date,
        account_days.account_id,
        case
            when account_days.licensed_seats > 0
                then coalesce(ticket_windows.tickets_90d, 0) * 10.0 / account_days.licensed_seats
        end as tickets_per_10_seats_90d,
        coalesce(ticket_windows.open_urgent_high_tickets, 0) as open_urgent_high_tickets,
        coalesce(ticket_windows.oldest_open_ticket_days, 0) as oldest_open_ticket_days,
        coalesce(ticket_windows.bug_tickets_90d, 0) as bug_tickets_90d,
        ticket_windows.first_reply_hours_90d,
        ticket_windows.csat_90d,
        ticket_windows.oldest_open_urgent_ticket_days
    from account_days
    left join ticket_windows
        on
            account_days.account_id = ticket_windows.account_id
            and account_days.history_date = ticket_windows.history_date
),

-- sentiment and engagement -----------------------------------------------------------------

latest_nps as (
    select
        days.history_date,
        nps_responses.account_id,
        nps_responses.nps_score,
        {{ dbt.datediff('cast(nps_responses.responded_at as date)', 'days.history_date', 'day') }}
            as days_since_answer
    from days
    inner join nps_responses
        on
            cast(nps_responses.responded_at as date) <= days.history_date
            and cast(nps_responses.responded_at as date) > {{ add_days(-365, 'days.history_date') }}
            and nps_responses.landed_date <= days.history_date
    qualify row_number() over (
        partition by days.history_date, nps_responses.account_id
        order by nps_responses.responded_at desc, nps_responses.response_id desc
    ) = 1
),

activity_windows as (
    select
        days.history_date,
        activities.account_id,
        max(case
            when activities.outcome = 'completed' and touchpoints.estimated_minutes > 0
                then activities.occurred_date
        end) as last_touch_date,
        count(case
            when activities.activity_type in ('qbr', 'business_review')
                and activities.outcome = 'completed' then 1
        end) as reviews_attended,
        count(case
            when activities.activity_type in ('qbr', 'business_review')
                and activities.outcome in ('completed', 'no_show') then 1
        end) as reviews_held,
        count(case
            when activities.activity_type = 'email_open'
                and activities.occurred_date > {{ add_days(-90, 'days.history_date') }} then 1
        end) as email_opens_90d,
        count(case
            when activities.activity_type = 'webinar_attended'
                and activities.occurred_date > {{ add_days(-90, 'days.history_date') }} then 1
        end) as webinars_attended_90d
    from days
    inner join activities
        on
            activities.occurred_date <= days.history_date
            and activities.occurred_date > {{ add_days(-365, 'days.history_date') }}
            and activities.landed_date <= days.history_date
    left join touchpoints
        on activities.activity_type = touchpoints.touchpoint
    group by days.history_date, activities.account_id
),

-- commercial -------------------------------------------------------------------------------

commercial_measures as (
    select
        account_days.history_date,
        account_days.account_id,
        case
            when earlier.arr_usd > 0 then account_days.arr_usd / earlier.arr_usd - 1
        end as arr_change_90d,
        {{ dbt.datediff('account_days.history_date', 'account_days.renewal_date', 'day') }}
            as days_to_renewal
    from account_days
    left join all_account_days as earlier
        on
            account_days.account_id = earlier.account_id
            and earlier.history_date = {{ add_days(-90, 'account_days.history_date') }}
),

-- long format ------------------------------------------------------------------------------

measures as (
    {%- set measures = [
        ('usage_measures', 'seat_utilization'),
        ('usage_measures', 'stickiness'),
        ('usage_measures', 'feature_breadth'),
        ('usage_measures', 'usage_trend'),
        ('support_measures', 'tickets_per_10_seats_90d'),
        ('support_measures', 'open_urgent_high_tickets'),
        ('support_measures', 'oldest_open_ticket_days'),
        ('support_measures', 'bug_tickets_90d'),
        ('support_measures', 'first_reply_hours_90d'),
        ('support_measures', 'csat_90d'),
        ('commercial_measures', 'arr_change_90d'),
        ('commercial_measures', 'days_to_renewal'),
        ('usage_measures', 'days_without_usage'),
        ('usage_measures', 'active_users_30d'),
        ('usage_measures', 'days_as_customer'),
        ('support_measures', 'oldest_open_urgent_ticket_days'),
    ] %}
    {%- for relation, measure in measures %}
    select
        history_date,
        account_id,
        '{{ measure }}' as metric,
        cast({{ measure }} as double) as metric_value
    from {{ relation }}
    where {{ measure }} is not null
    union all
    {%- endfor %}
    select
        history_date,
        account_id,
        'latest_nps' as metric,
        cast(nps_score as double) as metric_value
    from latest_nps
    union all
    select
        history_date,
        account_id,
        'days_since_detractor_answer' as metric,
        cast(days_since_answer as double) as metric_value
    from latest_nps
    where nps_score <= 6
    union all
    select
        history_date,
        account_id,
        'days_since_last_touch' as metric,
        cast({{ dbt.datediff('last_touch_date', 'history_date', 'day') }} as double) as metric_value
    from activity_windows
    where last_touch_date is not null
    union all
    select
        history_date,
        account_id,
        'review_attendance_365d' as metric,
        reviews_attended * 1.0 / reviews_held as metric_value
    from activity_windows
    where reviews_held > 0
    union all
    select
        history_date,
        account_id,
        'email_opens_90d' as metric,
        cast(email_opens_90d as double) as metric_value
    from activity_windows
    union all
    select
        history_date,
        account_id,
        'webinars_attended_90d' as metric,
        cast(webinars_attended_90d as double) as metric_value
    from activity_windows
),

final as (
    select measures.*
    from measures
    inner join account_days
        on
            measures.account_id = account_days.account_id
            and measures.history_date = account_days.history_date
)

select * from final
