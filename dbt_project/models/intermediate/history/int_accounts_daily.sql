{#- Accounts as the CRM snapshot stood on each history day; churned accounts drop out. -#}
with

days as (
    select * from {{ ref('int_history_days') }}
),

accounts as (
    {{ snapshot_as_of_days(ref('stg_crm__account_snapshots'), ref('int_history_days')) }}
),

churn_events as (
    select * from {{ ref('stg_engagement__churn_events') }}
),

churned as (
    select
        days.history_date,
        churn_events.account_id
    from days
    inner join churn_events
        on
            churn_events.first_landed_date <= days.history_date
            and churn_events.churned_on <= days.history_date
    group by days.history_date, churn_events.account_id
),

final as (
    select
        accounts.history_date,
        accounts.account_id,
        accounts.account_name,
        accounts.plan,
        accounts.is_strategic,
        accounts.implementation_complexity,
        accounts.csm_email,
        accounts.pod
    from accounts
    left join churned
        on
            accounts.account_id = churned.account_id
            and accounts.history_date = churned.history_date
    where churned.account_id is null
)

select * from final
