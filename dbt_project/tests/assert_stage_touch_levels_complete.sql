{{ config(tags=['touch_model_config']) }}
-- Every tier has an effective touch level in every lifecycle stage, exactly once.
with

stages as (
    select stage_names.lifecycle_stage
    from (
        values ('onboarding'), ('adoption'), ('renewal'), ('at_risk')
    ) as stage_names (lifecycle_stage)
),

expected as (
    select
        tiers.tier,
        stages.lifecycle_stage
    from {{ ref('touch_tiers') }} as tiers
    cross join stages
),

given as (
    select
        tier,
        lifecycle_stage,
        count(*) as rows_given
    from {{ ref('stage_touch_levels') }}
    group by tier, lifecycle_stage
)

select
    expected.tier,
    expected.lifecycle_stage,
    coalesce(given.rows_given, 0) as rows_given
from expected
left join given
    on expected.tier = given.tier and expected.lifecycle_stage = given.lifecycle_stage
where coalesce(given.rows_given, 0) <> 1
