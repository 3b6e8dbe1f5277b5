{{ config(tags=['touch_model_config']) }}
-- The health bands cover 0..100 with no gap and no overlap.
with

bands as (
    select
        band,
        min_score,
        max_score,
        lag(max_score) over (order by min_score) as previous_max
    from {{ ref('health_bands') }}
),

problems as (
    select
        band,
        'starts after a gap or overlaps the band before it' as problem
    from bands
    where previous_max is not null and min_score <> previous_max + 1
    union all
    select
        band,
        'min_score above max_score' as problem
    from bands
    where min_score > max_score
    union all
    select
        'all' as band,
        'the bands do not start at 0 and end at 100' as problem
    from bands
    having min(min_score) <> 0 or max(max_score) <> 100
)

select * from problems
