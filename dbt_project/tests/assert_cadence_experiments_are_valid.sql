{{ config(tags=['touch_model_config']) }}
-- Every cadence experiment varies exactly one recurring playbook row, has arms whose shares
-- sum to 1 with exactly one control, positive recurrences and ordered dates, and no two
-- enabled experiments vary the same playbook row on overlapping days.
with

experiments as (
    select * from {{ ref('cadence_experiments') }}
),

playbook as (
    select * from {{ ref('cadence_playbook') }}
),

touchpoints as (
    select * from {{ ref('touchpoints') }}
),

per_experiment as (
    select
        experiment,
        min(tier) as tier,
        min(lifecycle_stages) as lifecycle_stages,
        min(touchpoint) as touchpoint,
        count(distinct tier || '|' || lifecycle_stages || '|' || touchpoint) as playbook_rows,
        count(distinct {{ iso_date('start_date') }} || '|' || {{ iso_date('end_date') }})
            as date_ranges,
        count(distinct case when enabled then 'on' else 'off' end) as enabled_values,
        sum(share) as total_share,
        sum(case when is_control then 1 else 0 end) as controls,
        bool_or(enabled) as enabled,
        min(start_date) as start_date,
        max(end_date) as end_date
    from experiments
    group by experiment
),

matches as (
    select
        per_experiment.experiment,
        count(playbook.touchpoint) as recurring_rows
    from per_experiment
    left join playbook
        on
            per_experiment.tier = playbook.tier
            and per_experiment.lifecycle_stages = playbook.lifecycle_stages
            and per_experiment.touchpoint = playbook.touchpoint
            and playbook.every_days is not null
    group by per_experiment.experiment
),

problems as (
    select
        experiment,
        arm,
        'unknown touchpoint code ' || touchpoint as problem
    from experiments
    where touchpoint not in (select touchpoints.touchpoint from touchpoints)
    union all
    select
        experiment,
        arm,
        'start_date must be on or before end_date' as problem
    from experiments
    where start_date is null or end_date is null or start_date > end_date
    union all
    select
        experiment,
        arm,
        'share must be above 0 and at most 1' as problem
    from experiments
    where share is null or share <= 0 or share > 1
    union all
    select
        experiment,
        arm,
        'every_days must be positive' as problem
    from experiments
    where every_days is not null and every_days <= 0
    union all
    select
        experiment,
        arm,
        'a holdout arm has no every_days and is not the control' as problem
    from experiments
    where is_holdout and (every_days is not null or is_control)
    union all
    select
        experiment,
        null as arm,
        'shares sum to ' || {{ double_text(round_to('total_share', 4)) }} || ', not 1' as problem
    from per_experiment
    where abs(total_share - 1) > 0.0001
    union all
    select
        experiment,
        null as arm,
        'needs exactly one control arm, has ' || controls as problem
    from per_experiment
    where controls != 1
    union all
    select
        experiment,
        null as arm,
        'every arm must name the same playbook row, dates and enabled' as problem
    from per_experiment
    where playbook_rows != 1 or date_ranges != 1 or enabled_values != 1
    union all
    select
        matches.experiment,
        null as arm,
        'must vary exactly one recurring cadence_playbook row (tier, lifecycle_stages,'
        || ' touchpoint), matches ' || matches.recurring_rows as problem
    from matches
    where matches.recurring_rows != 1
    union all
    select
        one.experiment,
        null as arm,
        'overlaps enabled experiment ' || other.experiment || ' on the same playbook row'
            as problem
    from per_experiment as one
    inner join per_experiment as other
        on
            one.experiment != other.experiment
            and one.tier = other.tier
            and one.lifecycle_stages = other.lifecycle_stages
            and one.touchpoint = other.touchpoint
            and one.start_date <= other.end_date
            and other.start_date <= one.end_date
    where one.enabled and other.enabled
)

select * from problems
