{#-
    Every accounts snapshot landed on or before the run date, one row per account and
    snapshot: the one place where the accounts' cleaning rules live (the defaults for
    is_strategic and implementation_complexity, csm_email in lower case). Models that need
    the accounts as they stood on a past day take that day's snapshot from here.
-#}
with

source as (
    {{ landed_events(source('crm', 'accounts')) }}
),

renamed as (
    select
        account_id,
        account_name,
        plan,
        coalesce(is_strategic, false) as is_strategic,
        coalesce(implementation_complexity, 'standard') as implementation_complexity,
        lower(csm_email) as csm_email,
        pod,
        industry,
        region,
        created_at,
        ds as snapshot_date
    from source
)

select * from renamed
