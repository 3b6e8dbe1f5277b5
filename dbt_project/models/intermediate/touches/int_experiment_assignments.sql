{#-
    The arm of every account in every cadence experiment (cadence_experiments): a stable
    hash of the account id and the experiment's name gives each account a number in [0, 1)
    (hash_share: md5, the same on DuckDB and PostgreSQL), and the arms, in the seed's order
    of arm names, take consecutive ranges of it as wide as their shares. The same account
    stays in the same arm every night, and nothing about the account decides its arm.
-#}
with

accounts as (
    select account_id from {{ ref('stg_crm__accounts') }}
),

experiments as (
    select * from {{ ref('cadence_experiments') }}
),

arm_ranges as (
    select
        *,
        coalesce(sum(share) over (
            partition by experiment order by arm
            rows between unbounded preceding and 1 preceding
        ), 0) as share_from,
        sum(share) over (
            partition by experiment order by arm
            rows between unbounded preceding and current row
        ) as share_through,
        row_number() over (partition by experiment order by arm desc) = 1 as is_last_arm
    from experiments
),

experiment_names as (
    select distinct experiment
    from experiments
),

hashed as (
    select
        experiment_names.experiment,
        accounts.account_id,
        {{ hash_share("accounts.account_id || '|' || experiment_names.experiment") }}
            as assignment_share
    from accounts
    cross join experiment_names
),

final as (
    select
        hashed.experiment,
        hashed.account_id,
        arm_ranges.arm,
        arm_ranges.is_control,
        arm_ranges.is_holdout,
        arm_ranges.every_days,
        arm_ranges.tier,
        arm_ranges.lifecycle_stages,
        arm_ranges.touchpoint,
        arm_ranges.enabled,
        arm_ranges.start_date,
        arm_ranges.end_date,
        hashed.assignment_share
    from hashed
    inner join arm_ranges
        on
            hashed.experiment = arm_ranges.experiment
            and hashed.assignment_share >= arm_ranges.share_from
            -- the last arm takes the rest, whatever the rounding of the shares
            and (arm_ranges.is_last_arm or hashed.assignment_share < arm_ranges.share_through)
)

select * from final
