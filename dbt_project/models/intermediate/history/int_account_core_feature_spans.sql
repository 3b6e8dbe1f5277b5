{{
    config(
        materialized='incremental',
        incremental_strategy='replace_all',
    )
}}
{#-
    The merged 30-day activity spans of each core feature of an account, carried forward
    from the last run (see activity_spans in macros/spans.sql); core_features_used_30d is
    their running sum.
-#}
{{ activity_spans('feature', core_features_only=true) }}
