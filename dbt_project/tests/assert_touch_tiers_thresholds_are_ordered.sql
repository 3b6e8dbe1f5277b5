{{ config(tags=['touch_model_config']) }}
-- Tier thresholds must not overlap: a lower touch_rank (more touch) needs a strictly higher
-- ARR threshold, and the lowest tier starts at 0 so every ARR has a tier.
with

tiers as (
    select
        tier,
        touch_rank,
        min_arr_usd,
        lead(min_arr_usd) over (order by touch_rank) as next_min_arr_usd
    from {{ ref('touch_tiers') }}
),

problems as (
    select
        tier,
        'threshold not above the next tier''s' as problem
    from tiers
    where next_min_arr_usd is not null and min_arr_usd <= next_min_arr_usd
    union all
    select
        'all' as tier,
        'no tier starts at 0 ARR' as problem
    from tiers
    having min(min_arr_usd) <> 0
)

select * from problems
