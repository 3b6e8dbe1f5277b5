{#-
    Every touchpoint occurrence due or overdue on the run date (int_touchpoints_due: cadence
    and event occurrences, less the satisfied and the snoozed), with its assignee
    (docs/touch-model.md, "Assignment"):
    - automated touches go to the automation tool (no person);
    - support-owned items go to the support queue;
    - high touch: the account's dedicated CSM;
    - medium touch: the least-loaded member of the account's pod;
    - low touch: the account's scaled CSM;
    - tech-touch accounts raised to a human (at risk): the least-loaded scaled CSM.
    An account without its own CSM falls back to its pod (or the scaled pod).

    Least-loaded: a pod's accounts with pooled tasks today, in order of their most urgent
    task, are dealt to its members in turn, the member with the fewest minutes of directly
    assigned tasks first, so every member gets a share of the urgent ones, loads stay within
    an account of each other, and all of an account's tasks go to one person.
-#}
with

touchpoints_due as (
    select * from {{ ref('int_touchpoints_due') }}
),

accounts as (
    select * from {{ ref('int_accounts_classified') }}
),

csms as (
    select * from {{ ref('stg_crm__csms') }}
),

tasks as (
    select
        touchpoints_due.*,
        accounts.tier,
        case
            when touchpoints_due.owner_role = 'automation' then 'automation'
            when touchpoints_due.owner_role = 'support' then 'support'
            when accounts.tier = 'medium' then 'pool'
            when accounts.tier in ('high', 'low')
                and accounts.csm_email in (select csms.csm_email from csms)
                then 'direct'
            else 'pool'
        end as assignment,
        case
            when accounts.tier = 'medium' and accounts.pod is not null then accounts.pod
            when accounts.tier = 'high' and accounts.pod is not null then accounts.pod
            else '{{ var("scaled_pod") }}'
        end as pool_pod,
        accounts.csm_email as account_csm_email
    from touchpoints_due
    inner join accounts
        on touchpoints_due.account_id = accounts.account_id
),

direct_load as (
    select
        account_csm_email as csm_email,
        sum(estimated_minutes) as direct_minutes
    from tasks
    where assignment = 'direct'
    group by account_csm_email
),

pod_members as (
    select
        csms.pod,
        csms.csm_email,
        row_number() over (
            partition by csms.pod
            order by coalesce(direct_load.direct_minutes, 0), csms.csm_email
        ) - 1 as member_index,
        count(*) over (partition by csms.pod) as members
    from csms
    left join direct_load
        on csms.csm_email = direct_load.csm_email
    where csms.pod is not null
),

pooled_accounts as (
    -- a pod deals accounts, not single tasks: one customer hears from one CSM
    select
        account_id,
        pool_pod,
        row_number() over (
            partition by pool_pod order by min(priority), min(due_date), account_id
        ) - 1 as pool_index
    from tasks
    where assignment = 'pool'
    group by account_id, pool_pod
),

pooled as (
    select
        tasks.task_key,
        pooled_accounts.pool_pod,
        pooled_accounts.pool_index
    from tasks
    inner join pooled_accounts
        on
            tasks.account_id = pooled_accounts.account_id
            and tasks.pool_pod = pooled_accounts.pool_pod
    where tasks.assignment = 'pool'
),

pooled_assignees as (
    select
        pooled.task_key,
        pod_members.csm_email
    from pooled
    inner join pod_members
        on
            pooled.pool_pod = pod_members.pod
            and pooled.pool_index % pod_members.members = pod_members.member_index
),

final as (
    select
        tasks.task_key,
        tasks.run_date,
        tasks.account_id,
        tasks.touchpoint,
        tasks.trigger,
        tasks.due_date,
        tasks.status,
        tasks.priority,
        tasks.channel,
        case when tasks.assignment = 'support' then 'support' else tasks.owner_role end
            as owner_role,
        tasks.touch_type,
        tasks.estimated_minutes,
        case tasks.assignment
            when 'support' then nullif('{{ var("support_queue_email") }}', '')  -- noqa: LT05
            when 'direct' then tasks.account_csm_email
            when 'pool' then pooled_assignees.csm_email
        end as assignee_email,
        case when tasks.assignment = 'pool' then tasks.pool_pod end as pod,
        tasks.reason
    from tasks
    left join pooled_assignees
        on tasks.task_key = pooled_assignees.task_key
)

select * from final
