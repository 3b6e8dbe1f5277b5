{#-
    How well each score predicts churn, per horizon: the health score and each component
    alone.

    - auc: the chance that an account-day followed by churn within the horizon scored lower
      than one that was not (ties count half); 0.5 is no better than chance.
    - precision_at_k: the churn rate of the k observations with the lowest scores
      (k = var('backtest_top_share') of them; observations tied at the boundary count in
      proportion).
    - lift_red_over_green (health only): the red band's churn rate over the green band's.
    - lead times (health only): of the accounts that churned within the history, the share
      that were red at some point in the longest horizon before, and the median days from
      their first red day to the churn.
    Every figure is withheld (null, with a note) while fewer than
    var('backtest_min_churned_accounts') accounts churned within the horizon.
-#}
{%- set components = seed_values(
    'health_components', 'component',
    ['usage', 'support', 'sentiment', 'engagement', 'commercial']
) %}
{%- set minimum = var('backtest_min_churned_accounts') %}
{%- set top_share = var('backtest_top_share') %}

with

horizons as (
    {{ backtest_horizon_rows() }}
),

counts as (
    select * from {{ ref('int_backtest_counts') }}
),

churn_days as (
    select * from {{ ref('int_backtest_churn_days') }}
),

lead_times as (
    select * from {{ ref('int_churn_lead_times') }}
),

histogram as (
    select
        horizons.horizon_days,
        counts.score_name,
        counts.score_value,
        sum(case
            when counts.churn_horizon <= horizons.horizon_days then counts.account_days else 0
        end) as churned,
        sum(case
            when counts.churn_horizon <= horizons.horizon_days then 0 else counts.account_days
        end) as stayed
    from counts
    inner join horizons
        on counts.observed_horizon >= horizons.horizon_days
    group by horizons.horizon_days, counts.score_name, counts.score_value
),

totals as (
    select
        horizon_days,
        score_name,
        cast(sum(churned + stayed) as bigint) as observations,
        cast(sum(churned) as bigint) as churned_account_days,
        cast(sum(stayed) as bigint) as stayed_account_days,
        cast(ceil({{ top_share }} * sum(churned + stayed)) as bigint) as k
    from histogram
    group by horizon_days, score_name
),

cumulative as (
    select
        histogram.*,
        -- observations that stayed with a higher score: the pairs this score ranks right
        sum(histogram.stayed) over (
            partition by histogram.horizon_days, histogram.score_name
            order by histogram.score_value desc
            rows between unbounded preceding and current row
        ) - histogram.stayed as stayed_above,
        -- observations at this score or lower: the top of the risk ranking
        sum(histogram.churned + histogram.stayed) over (
            partition by histogram.horizon_days, histogram.score_name
            order by histogram.score_value
            rows between unbounded preceding and current row
        ) as at_or_below
    from histogram
),

ranking as (
    select
        cumulative.horizon_days,
        cumulative.score_name,
        sum(cumulative.churned * (cumulative.stayed_above + 0.5 * cumulative.stayed))
            as ranked_pairs,
        sum({{ true_div(
            'cumulative.churned * greatest(0, least(cumulative.churned + cumulative.stayed,'
            ~ ' totals.k - (cumulative.at_or_below - cumulative.churned - cumulative.stayed)))',
            'nullif(cumulative.churned + cumulative.stayed, 0)'
        ) }}
        ) as churned_in_top_k
    from cumulative
    inner join totals
        on
            cumulative.horizon_days = totals.horizon_days
            and cumulative.score_name = totals.score_name
    group by cumulative.horizon_days, cumulative.score_name
),

bands as (
    select
        horizons.horizon_days,
        counts.health_band,
        {{ true_div(
            'sum(case when counts.churn_horizon <= horizons.horizon_days'
            ~ ' then counts.account_days else 0 end)',
            'nullif(sum(counts.account_days), 0)'
        ) }} as churn_rate
    from counts
    inner join horizons
        on counts.observed_horizon >= horizons.horizon_days
    where counts.score_name = 'health'
    group by horizons.horizon_days, counts.health_band
),

churners as (
    select
        horizons.horizon_days,
        count(distinct churn_days.account_id) as churned_accounts
    from churn_days
    inner join horizons
        on
            churn_days.observed_horizon >= horizons.horizon_days
            and churn_days.churn_horizon <= horizons.horizon_days
    group by horizons.horizon_days
),

warnings as (
    select
        count(*) as churns,
        {{ true_div('count(lead_time_days)', 'nullif(count(*), 0)') }} as red_before_share,
        percentile_cont(0.5) within group (order by lead_time_days) as median_lead_time_days
    from lead_times
),

scores as (
    {%- for name in ['health'] + components %}
    select '{{ name }}' as score_name{{ ' union all' if not loop.last }}
    {%- endfor %}
),

grid as (
    select
        horizons.horizon_days,
        scores.score_name
    from horizons
    cross join scores
),

graded as (
    select
        grid.horizon_days,
        grid.score_name,
        coalesce(totals.observations, 0) as observations,
        coalesce(totals.churned_account_days, 0) as churned_account_days,
        totals.stayed_account_days,
        coalesce(churners.churned_accounts, 0) as churned_accounts,
        coalesce(churners.churned_accounts, 0) >= {{ minimum }} as enough_churns,
        totals.k,
        ranking.ranked_pairs,
        ranking.churned_in_top_k,
        red.churn_rate as red_rate,
        green.churn_rate as green_rate,
        warnings.churns as churns_in_history,
        warnings.red_before_share,
        warnings.median_lead_time_days
    from grid
    cross join warnings
    left join totals
        on grid.horizon_days = totals.horizon_days and grid.score_name = totals.score_name
    left join ranking
        on grid.horizon_days = ranking.horizon_days and grid.score_name = ranking.score_name
    left join churners
        on grid.horizon_days = churners.horizon_days
    left join bands as red
        on grid.horizon_days = red.horizon_days and red.health_band = 'red'
    left join bands as green
        on grid.horizon_days = green.horizon_days and green.health_band = 'green'
),

final as (
    select
        horizon_days,
        score_name,
        observations,
        churned_account_days,
        churned_accounts,
        case when enough_churns then {{ round_to(true_div(
            'ranked_pairs', 'nullif(churned_account_days * stayed_account_days, 0)'
        ), 3) }} end as auc,
        k,
        case when enough_churns then {{ round_to(true_div(
            'churned_in_top_k', 'nullif(k, 0)'
        ), 4) }} end as precision_at_k,
        case when enough_churns then {{ round_to(true_div(
            'churned_account_days', 'nullif(observations, 0)'
        ), 4) }} end as churn_rate,
        case
            when enough_churns and score_name = 'health' then {{ round_to('red_rate', 4) }}
        end as red_churn_rate,
        case
            when enough_churns and score_name = 'health' then {{ round_to('green_rate', 4) }}
        end as green_churn_rate,
        case
            when enough_churns and score_name = 'health' and green_rate > 0
                then {{ round_to(true_div('red_rate', 'nullif(green_rate, 0)'), 2) }}
        end as lift_red_over_green,
        case
            when score_name = 'health' and churns_in_history >= {{ minimum }}
                then {{ round_to('red_before_share', 3) }}
        end as churners_red_before_share,
        case
            when score_name = 'health' and churns_in_history >= {{ minimum }}
                then median_lead_time_days
        end as median_lead_time_days,
        case
            when observations = 0
                then 'no day has ' || cast(horizon_days as varchar)
                    || ' days of history after it yet'
            when not enough_churns
                then 'too few churns for a figure: '
                    || cast(churned_accounts as varchar)
                    || ' accounts churned within ' || cast(horizon_days as varchar)
                    || ' days of an observed day; a figure needs at least {{ minimum }}'
            when score_name = 'health' and coalesce(green_rate, 0) = 0
                then 'no green account-day churned within the horizon: no lift'
        end as note
    from graded
)

select * from final
