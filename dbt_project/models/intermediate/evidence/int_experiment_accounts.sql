{#-
    The accounts of each enabled cadence experiment and what followed for them. An account
    enters an experiment on the first history day within the experiment's dates on which
    the varied playbook row applied to it (its tier and its lifecycle stage that day, as in
    int_touchpoint_outcomes), whichever its arm: the holdout enters as the others do. Its
    outcomes are counted from that day: the health change and churn over the next 90 days
    (null while 90 days of history have not followed), its next renewal's outcome
    (int_account_outcomes_daily), and the occurrences of the row due to it while the
    experiment ran and how many were completed (int_touchpoint_outcomes).
-#}
with

assignments as (
    select *
    from {{ ref('int_experiment_assignments') }}
    where enabled
),

tiers as (
    select
        history_date,
        account_id,
        tier,
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

outcomes as (
    select * from {{ ref('int_account_outcomes_daily') }}
),

touchpoint_outcomes as (
    select * from {{ ref('int_touchpoint_outcomes') }}
),

eligible_days as (
    select
        assignments.experiment,
        assignments.account_id,
        tiers.history_date
    from assignments
    inner join tiers
        on
            assignments.account_id = tiers.account_id
            and assignments.tier = tiers.tier
            and tiers.history_date between assignments.start_date and assignments.end_date
    inner join health
        on
            tiers.account_id = health.account_id
            and tiers.history_date = health.history_date
    where
        {{ list_has('assignments.lifecycle_stages', lifecycle_stage_on(
            'tiers.history_date', 'health.health_band', 'health.confidence',
            'tiers.customer_since_date', 'tiers.renewal_date'
        )) }}
),

entries as (
    select
        experiment,
        account_id,
        min(history_date) as entry_date
    from eligible_days
    group by experiment, account_id
),

touches as (
    select
        experiment,
        account_id,
        sum(case when outcome_group in ('completed', 'due_not_done') then 1 else 0 end)
            as occurrences_judged,
        sum(case when outcome_group = 'completed' then 1 else 0 end) as occurrences_completed
    from touchpoint_outcomes
    where experiment is not null
    group by experiment, account_id
),

final as (
    select
        entries.experiment,
        entries.account_id,
        assignments.arm,
        assignments.is_control,
        assignments.is_holdout,
        entries.entry_date,
        outcomes.days_observed,
        coalesce(touches.occurrences_judged, 0) as occurrences_judged,
        coalesce(touches.occurrences_completed, 0) as occurrences_completed,
        outcomes.health_score,
        case
            when outcomes.days_observed >= 90
                then health_90d.health_score - outcomes.health_score
        end as health_change_90d,
        case
            when outcomes.days_observed >= 90
                then coalesce(outcomes.days_to_churn <= 90, false)
        end as churned_within_90d,
        outcomes.renewal_outcome
    from entries
    inner join assignments
        on
            entries.experiment = assignments.experiment
            and entries.account_id = assignments.account_id
    inner join outcomes
        on
            entries.account_id = outcomes.account_id
            and entries.entry_date = outcomes.as_of_date
    left join health as health_90d
        on
            entries.account_id = health_90d.account_id
            and health_90d.history_date = {{ add_days(90, 'entries.entry_date') }}
    left join touches
        on
            entries.experiment = touches.experiment
            and entries.account_id = touches.account_id
)

select * from final
