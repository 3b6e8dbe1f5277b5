{{
    config(
        materialized='incremental',
        incremental_strategy='replace_all',
    )
}}
{#-
    The merged 30-day activity spans of each user of an account, carried forward from the
    last run (see activity_spans in macros/spans.sql); active_users_30d is their running sum.
-#}
{{ activity_spans('user_id', core_features_only=false) }}
