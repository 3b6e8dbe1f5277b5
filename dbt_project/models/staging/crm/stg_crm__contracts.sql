with

snapshots as (
    select * from {{ ref('stg_crm__contract_snapshots') }}
),

final as (
    {{ latest_snapshot('snapshots', 'snapshot_date') }}
)

select * from final
