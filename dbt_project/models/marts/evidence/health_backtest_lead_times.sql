{#- Each churn within the history and how early the score warned (int_churn_lead_times). -#}
select * from {{ ref('int_churn_lead_times') }}
