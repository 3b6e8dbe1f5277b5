{#-
    Every running count of running_measures() (the measures whose facts each add 1) is zero
    or more on every day of the run: a fact's change off never comes before, nor without, its
    change on. A negative count means a fact was taken off that was never added.
-#}
{%- set counts = running_measures() | rejectattr('amount', 'defined')
    | map(attribute='name') | list %}

with

changes as (
    select * from {{ ref('int_account_measure_changes_daily') }}
),

running as (
    select
        account_id,
        change_date,
        -- noqa: disable=LT02
        {%- for measure in counts %}
        sum({{ measure }}) over account_history as {{ measure }}{{ ',' if not loop.last }}
        {%- endfor %}
    -- noqa: enable=LT02
    from changes
    window account_history as (
        partition by account_id order by change_date rows unbounded preceding
    )
),

negative as (
    {%- for measure in counts %}
    select
        account_id,
        change_date,
        '{{ measure }}' as measure,
        {{ measure }} as value
    from running
    where {{ measure }} < 0
    {{ 'union all' if not loop.last }}
    {%- endfor %}
)

select * from negative
