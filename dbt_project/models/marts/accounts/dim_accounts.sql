{#- The published accounts: int_accounts_classified, as BI tools and the exports read it. -#}

select * from {{ ref('int_accounts_classified') }}
