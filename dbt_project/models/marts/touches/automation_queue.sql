{#-
    The automated touches due today (owner automation), one enrolment per task for the
    account's primary contact, in the automation_queue.csv layout of docs/outputs.md.
    list_position is the queue's order, stated here once for every reader: by account,
    touchpoint and task key.
-#}
with

touchpoints_due as (
    select * from {{ ref('int_touchpoints_assigned') }}
),

contacts as (
    select * from {{ ref('stg_crm__contacts') }}
),

primary_contacts as (
    {% call first_per('account_id', 'is_primary desc, contact_id asc') -%}
    select
        account_id,
        email as contact_email,
        is_primary,
        contact_id
    from contacts
    {%- endcall %}
),

automated_tasks as (
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
),

final as (
    select
        *,
        row_number() over (order by account_id asc, touchpoint asc, task_key asc)
            as list_position
    from automated_tasks
)

select * from final
order by list_position
