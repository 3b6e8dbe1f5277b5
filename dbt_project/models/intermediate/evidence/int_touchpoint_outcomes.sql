{#-
    Every cadence touchpoint that came due within the history, whether it was done, and
    what followed: the health change and churn over 30 and 90 days after its date.

    An occurrence is rebuilt from the stored point-in-time history: on each history day an
    account's tier, plan, contract start and renewal date (int_account_tiers_daily) and its
    lifecycle stage that day (lifecycle_stage_on, from that day's health) pick the playbook
    rows that applied, as int_touchpoint_occurrences does on the run date (with the cadence
    of a running experiment's arm; a holdout gets none), and the row is due that day when
    the day is one of its scheduled dates. It was completed when an activity of the
    touchpoint with outcome completed fell between its satisfied_from_date (the nightly
    lists' rule) and the end of its listing window; due_not_done when the whole window
    passed within the history without one; pending otherwise. Only the outcome columns
    look forward, and a horizon counts only when it lies within the history (null: not over
    yet), as in the backtest. The history is read once.
-#}
with

tiers as (
    select
        history_date,
        account_id,
        tier,
        plan,
        is_strategic,
        customer_since_date,
        renewal_date
    from {{ ref('int_account_tiers_daily') }}
),

health as (
    select
        history_date,
        account_id,
        health_score,
        health_band,
        confidence
    from {{ ref('int_account_health_daily') }}
),

playbook as (
    select * from {{ ref('cadence_playbook') }}
),

arms as (
    select *
    from {{ ref('int_experiment_assignments') }}
    where enabled
),

activities as (
    select * from {{ ref('stg_engagement__activities') }}
),

churn_events as (
    select
        account_id,
        churned_on
    from {{ ref('stg_engagement__churn_events') }}
),

newest as (
    select max(history_date) as newest_date
    from health
),

account_days as (
    select
        tiers.*,
        health.health_score,
        {{ lifecycle_stage_on(
            'tiers.history_date', 'health.health_band', 'health.confidence',
            'tiers.customer_since_date', 'tiers.renewal_date'
        ) }} as lifecycle_stage
    from tiers
    inner join health
        on
            tiers.account_id = health.account_id
            and tiers.history_date = health.history_date
),

applicable as (
    select
        account_days.history_date,
        account_days.account_id,
        account_days.tier,
        account_days.lifecycle_stage,
        account_days.health_score,
        playbook.touchpoint,
        playbook.anchor,
        playbook.priority,
        coalesce(arms.every_days, playbook.every_days) as every_days,
        arms.experiment,
        arms.arm as experiment_arm,
        case
            when playbook.anchor = 'renewal'
                then {{ add_days('-playbook.offset_days', 'account_days.renewal_date') }}
            else {{ add_days('playbook.offset_days', 'account_days.customer_since_date') }}
        end as first_scheduled_date
    from account_days
    inner join playbook
        on
            account_days.tier = playbook.tier
            and {{ list_has('playbook.lifecycle_stages', 'account_days.lifecycle_stage') }}
            and (
                playbook.applies_to = 'all'
                or (playbook.applies_to = 'strategic' and account_days.is_strategic)
                or (playbook.applies_to = account_days.plan)
            )
    left join arms
        on
            account_days.account_id = arms.account_id
            and playbook.tier = arms.tier
            and playbook.lifecycle_stages = arms.lifecycle_stages
            and playbook.touchpoint = arms.touchpoint
            and playbook.every_days is not null
            and account_days.history_date between arms.start_date and arms.end_date
    where arms.is_holdout is null or not arms.is_holdout
),

scheduled as (
    {% call first_per('account_id, touchpoint, due_date', 'priority, every_days') -%}
    select
        account_id,
        touchpoint,
        history_date as due_date,
        tier,
        lifecycle_stage,
        anchor,
        every_days,
        priority,
        experiment,
        experiment_arm,
        health_score,
        {{ satisfied_from_date('history_date', 'every_days') }} as satisfied_from_date,
        {{ add_days(listing_window_days('every_days'), 'history_date') }} as window_end_date
    from applicable
    where
        first_scheduled_date <= history_date
        and (
            (every_days is null and first_scheduled_date = history_date)
            or (
                every_days is not null
                and (history_date - first_scheduled_date) % every_days = 0
            )
        )
    {%- endcall %}
),

completions as (
    select
        scheduled.account_id,
        scheduled.touchpoint,
        scheduled.due_date,
        min(activities.occurred_date) as completed_on
    from scheduled
    inner join activities
        on
            scheduled.account_id = activities.account_id
            and scheduled.touchpoint = activities.activity_type
            and activities.outcome = 'completed'
            and activities.occurred_date >= scheduled.satisfied_from_date
            and activities.occurred_date < scheduled.window_end_date
    group by scheduled.account_id, scheduled.touchpoint, scheduled.due_date
),

next_churns as (
    select
        scheduled.account_id,
        scheduled.touchpoint,
        scheduled.due_date,
        min(churn_events.churned_on) as churned_on
    from scheduled
    inner join churn_events
        on
            scheduled.account_id = churn_events.account_id
            and churn_events.churned_on > scheduled.due_date
    group by scheduled.account_id, scheduled.touchpoint, scheduled.due_date
),

final as (
    select
        scheduled.account_id,
        scheduled.touchpoint,
        scheduled.due_date,
        scheduled.tier,
        scheduled.lifecycle_stage,
        scheduled.anchor,
        scheduled.every_days,
        scheduled.experiment,
        scheduled.experiment_arm,
        scheduled.satisfied_from_date,
        scheduled.window_end_date,
        completions.completed_on,
        case
            when completions.completed_on is not null then 'completed'
            when scheduled.window_end_date <= {{ add_days(1, 'newest.newest_date') }}
                then 'due_not_done'
            else 'pending'
        end as outcome_group,
        newest.newest_date - scheduled.due_date as days_observed,
        scheduled.health_score,
        case
            when newest.newest_date - scheduled.due_date >= 30
                then health_30d.health_score - scheduled.health_score
        end as health_change_30d,
        case
            when newest.newest_date - scheduled.due_date >= 90
                then health_90d.health_score - scheduled.health_score
        end as health_change_90d,
        next_churns.churned_on,
        case
            when newest.newest_date - scheduled.due_date >= 30
                then coalesce(next_churns.churned_on - scheduled.due_date <= 30, false)
        end as churned_within_30d,
        case
            when newest.newest_date - scheduled.due_date >= 90
                then coalesce(next_churns.churned_on - scheduled.due_date <= 90, false)
        end as churned_within_90d
    from scheduled
    cross join newest
    left join completions
        on
            scheduled.account_id = completions.account_id
            and scheduled.touchpoint = completions.touchpoint
            and scheduled.due_date = completions.due_date
    left join next_churns
        on
            scheduled.account_id = next_churns.account_id
            and scheduled.touchpoint = next_churns.touchpoint
            and scheduled.due_date = next_churns.due_date
    left join health as health_30d
        on
            scheduled.account_id = health_30d.account_id
            and health_30d.history_date = {{ add_days(30, 'scheduled.due_date') }}
    left join health as health_90d
        on
            scheduled.account_id = health_90d.account_id
            and health_90d.history_date = {{ add_days(90, 'scheduled.due_date') }}
)

select * from final
