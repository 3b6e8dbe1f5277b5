{#-
    The current occurrence of every cadence playbook row that applies to an account.

    anchor = contract_start: scheduled on customer_since_date + offset_days; with every_days,
             it recurs from there, and the current occurrence is the latest one on or before
             the run date.
    anchor = renewal:        scheduled offset_days before the renewal date.
    An occurrence stays listed for its window: listing_window_days, or until the next
    recurrence if that comes sooner; after that it is a missed touch, not a task.
    While a cadence experiment runs (cadence_experiments, enabled, start_date to end_date),
    its arm's every_days replaces the varied playbook row's recurrence for the accounts of
    the arm (int_experiment_assignments), and a holdout arm gets no occurrence of the row.
-#}
with

accounts as (
    select * from {{ ref('int_accounts_classified') }}
),

playbook as (
    select * from {{ ref('cadence_playbook') }}
),

running_arms as (
    select *
    from {{ ref('int_experiment_assignments') }}
    where
        enabled
        and start_date <= {{ run_date() }}
        and end_date >= {{ run_date() }}
),

applicable as (
    select
        accounts.account_id,
        playbook.touchpoint,
        playbook.anchor,
        playbook.offset_days,
        coalesce(running_arms.every_days, playbook.every_days) as every_days,
        running_arms.experiment,
        running_arms.arm as experiment_arm,
        playbook.channel,
        playbook.owner_role,
        playbook.touch_type,
        playbook.priority,
        playbook.description,
        case
            when playbook.anchor = 'renewal'
                then {{ add_days('-playbook.offset_days', 'accounts.renewal_date') }}
            else {{ add_days('playbook.offset_days', 'accounts.customer_since_date') }}
        end as first_scheduled_date
    from accounts
    inner join playbook
        on
            accounts.tier = playbook.tier
            and {{ list_has('playbook.lifecycle_stages', 'accounts.lifecycle_stage') }}
            and (
                playbook.applies_to = 'all'
                or (playbook.applies_to = 'strategic' and accounts.is_strategic)
                or (playbook.applies_to = accounts.plan)
            )
    left join running_arms
        on
            accounts.account_id = running_arms.account_id
            and playbook.tier = running_arms.tier
            and playbook.lifecycle_stages = running_arms.lifecycle_stages
            and playbook.touchpoint = running_arms.touchpoint
            and playbook.every_days is not null
    where running_arms.is_holdout is null or not running_arms.is_holdout
),

scheduled as (
    select
        *,
        case
            when every_days is null then first_scheduled_date
            when first_scheduled_date > {{ run_date() }} then first_scheduled_date
            else {{ add_days(
                'every_days * floor(' ~ dbt.datediff('first_scheduled_date', run_date(), 'day') ~ ' / every_days)',
                'first_scheduled_date'
            ) }}
        end as scheduled_date,
        {{ listing_window_days('every_days') }} as window_days
    from applicable
    where first_scheduled_date is not null
),

final as (
    select
        *,
        {{ add_days('window_days', 'scheduled_date') }} as window_end_date
    from scheduled
    where
        scheduled_date <= {{ run_date() }}
        and {{ add_days('window_days', 'scheduled_date') }} > {{ run_date() }}
)

select * from final
