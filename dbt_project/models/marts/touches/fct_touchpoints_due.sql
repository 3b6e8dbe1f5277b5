{#- The published touchpoints due: int_touchpoints_assigned, as BI tools and exports read it. -#}

select * from {{ ref('int_touchpoints_assigned') }}
