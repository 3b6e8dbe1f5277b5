{#- Accounts as the CRM snapshot stood on each history day; churned accounts drop out. -#}
with

accounts as (
    {{ snapshot_as_of_days(source('crm', 'accounts'), ref('int_history_days')) }}
),

churn_events as (
    select * from {{ source('engagement', 'churn_events') }}
),

churned as (
    select
        days.history_date,
        churn_events.account_id
    from {{ ref('int_history_days') }} as days
    inner join churn_events
        on
            churn_events.ds <= days.history_date
            and churn_events.churned_on <= days.history_date
    group by days.history_date, churn_events.account_id
),

final as (
    select
        accounts.history_date,
        accounts.account_id,
        accounts.account_name,
        accounts.plan,
        coalesce(accounts.is_strategic, false) as is_strategic,
        coalesce(accounts.implementation_complexity, 'standard') as implementation_complexity,
        lower(accounts.csm_email) as csm_email,
        accounts.pod
    from accounts
    left join churned
        on
            accounts.account_id = churned.account_id
            and accounts.history_date = churned.history_date
    where churned.account_id is null
)

select * from final
