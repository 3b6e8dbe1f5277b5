{{
    config(
        materialized='incremental',
        incremental_strategy='replace_all',
    )
}}
{#-
    The 30-day activity spans of each core feature of an account, merged where they overlap or
    touch: a core feature counts as active on a day when an event of it that happened in the 30
    days up to that day had become known by then. Kept: the spans that reach the run's first
    day or later and begin by its last day, a span that began before the run shown as
    beginning the day before it (what happened earlier is carried by
    int_account_measure_changes_daily). core_features_used_30d is these spans' running sum.

    Carried forward (incremental, replace_all): when the previous run ended the day before
    this one begins, its spans that reach this run's first day are merged with the spans of
    the events that became known on the run's days, and nothing older is read. A merged span
    is the union of the days its events cover, and every day from the one before the run on
    is covered by a span known before the run (which reaches the first day) or by a new one:
    the same spans as when they are merged from the 30 days of events before the run, as a
    first build, a --full-refresh or a backfill does.
-#}
{{ activity_spans('feature', core_features_only=true) }}
