with

snapshots as (
    select * from {{ ref('stg_crm__account_snapshots') }}
),

final as (
    {{ latest_snapshot('snapshots', 'snapshot_date') }}
)

select * from final
