with

final as (
    {{ latest_snapshot(ref('stg_crm__account_snapshots'), 'snapshot_date') }}
)

select * from final
