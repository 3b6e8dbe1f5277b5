with

versions as (
    select * from {{ ref('stg_support__ticket_versions') }}
),

final as (
    {% call first_per('ticket_id', 'landed_date desc') -%}
    select *
    from versions
    {%- endcall %}
)

select * from final
