{{ config(tags=['touch_model_config']) }}
-- Every touchpoint has a label: the words a task's reason uses for it.
with

touchpoints as (
    select * from {{ ref('touchpoints') }}
),

problems as (
    select
        touchpoint,
        'touchpoint has no label' as problem
    from touchpoints
    where label is null or trim(label) = ''
)

select * from problems
