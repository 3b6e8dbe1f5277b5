with

versions as (
    select * from {{ ref('stg_support__ticket_versions') }}
),

final as (
    select *
    from versions
    qualify row_number() over (partition by ticket_id order by landed_date desc) = 1
)

select * from final
