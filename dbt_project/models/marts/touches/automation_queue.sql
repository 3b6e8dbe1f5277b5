with

touchpoints_due as (
    select * from {{ ref('fct_touchpoints_due') }}
),

contacts as (
    select * from {{ ref('stg_crm__contacts') }}
),

primary_contacts as (
    select
        account_id,
        email as contact_email
    from contacts
    qualify row_number() over (partition by account_id order by is_primary desc, contact_id) = 1
),

final as (
    select
        touchpoints_due.task_key,
        touchpoints_due.run_date,
        touchpoints_due.account_id,
        primary_contacts.contact_email,
        touchpoints_due.touchpoint,
        touchpoints_due.channel,
        touchpoints_due.touchpoint as campaign,
        touchpoints_due.reason
    from touchpoints_due
    inner join primary_contacts
        on touchpoints_due.account_id = primary_contacts.account_id
    where touchpoints_due.owner_role = 'automation'
)

select * from final
order by account_id, touchpoint, task_key
