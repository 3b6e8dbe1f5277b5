{#-
    The current occurrence of every cadence playbook row that applies to an account.

    anchor = contract_start: scheduled on customer_since_date + offset_days; with every_days,
             it recurs from there, and the current occurrence is the latest one on or before
             the run date.
    anchor = renewal:        scheduled offset_days before the renewal date.
    An occurrence stays listed for its window: listing_window_days, or until the next
    recurrence if that comes sooner; after that it is a missed touch, not a task.
-#}
with

accounts as (
    select * from {{ ref('int_accounts_classified') }}
),

playbook as (
    select * from {{ ref('cadence_playbook') }}
),

applicable as (
    select
        accounts.account_id,
        playbook.touchpoint,
        playbook.anchor,
        playbook.offset_days,
        playbook.every_days,
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
        least(
            coalesce(every_days, {{ var('listing_window_days') }}), {{ var('listing_window_days') }}
        )
            as window_days
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
