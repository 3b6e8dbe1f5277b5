{{ config(tags=['touch_model_config']) }}
-- Every playbook row names a known touchpoint and known lifecycle stages, has a positive
-- recurrence if it recurs, and a non-negative offset.
with

playbook as (
    select * from {{ ref('cadence_playbook') }}
),

stages as (
    select
        playbook.tier,
        playbook.touchpoint,
        {{ list_items('playbook.lifecycle_stages') }} as lifecycle_stage
    from playbook
),

problems as (
    select
        tier,
        touchpoint,
        'unknown touchpoint code' as problem
    from playbook
    where touchpoint not in (select known.touchpoint from {{ ref('touchpoints') }} as known)
    union all
    select
        tier,
        touchpoint,
        'unknown lifecycle stage ' || lifecycle_stage as problem
    from stages
    where lifecycle_stage not in ('onboarding', 'adoption', 'renewal', 'at_risk')
    union all
    select
        tier,
        touchpoint,
        'every_days must be positive' as problem
    from playbook
    where every_days is not null and every_days <= 0
    union all
    select
        tier,
        touchpoint,
        'offset_days must be 0 or more' as problem
    from playbook
    where offset_days is null or offset_days < 0
    union all
    select
        tier,
        touchpoint,
        'applies_to must be all, strategic or a plan' as problem
    from playbook
    where applies_to not in ('all', 'strategic', 'free', 'trial', 'paid')
    union all
    select
        tier,
        touchpoint,
        'priority must be p1..p4' as problem
    from playbook
    where priority not in ('p1', 'p2', 'p3', 'p4')
)

select * from problems
