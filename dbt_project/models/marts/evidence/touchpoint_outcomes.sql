{#-
    Do the plays work? For each cadence touchpoint, per tier and for all tiers, what
    followed when it was completed against when it was due and not done (int_touchpoint_
    outcomes): the mean health change and the churn rate over the 30 and 90 days after the
    due date, and each figure's difference from the other group with a 95% confidence
    interval (normal approximation: for means, the difference of the two means plus or
    minus 1.96 standard errors, sqrt(s1^2/n1 + s2^2/n2); for proportions, with
    sqrt(p1(1-p1)/n1 + p2(1-p2)/n2)). The counts are occurrences: one account counts once
    per occurrence.

    Withheld (null, and the note says why): a health figure with fewer than
    var('plays_min_occurrences') occurrences whose span is over, in the group (a
    difference: in either group); a churn figure also while fewer than
    var('backtest_min_churned_accounts') accounts churned within the span after an
    occurrence of either group, as in the backtest. Occurrences whose account churned
    before their listing window ended are left out of both groups (a touch the account's
    churn prevented says nothing about the touch). Observational: accounts whose touch was
    done differ from those whose touch was not in more than the touch.
-#}
{%- set min_occurrences = var('plays_min_occurrences') %}
{%- set min_churned = var('backtest_min_churned_accounts') %}
{%- set spans = [30, 90] %}

with

outcomes as (
    select *
    from {{ ref('int_touchpoint_outcomes') }}
    where
        outcome_group in ('completed', 'due_not_done')
        -- an account that churned before the window ended could not be touched: the
        -- comparison is of accounts still customers when the touch was to be done
        and (churned_on is null or churned_on >= window_end_date)
),

tier_scopes as (
    select false as is_all_tiers
    union all
    select true as is_all_tiers
),

-- every occurrence twice: under its own tier and under 'all'
scoped as (
    select
        outcomes.account_id,
        outcomes.touchpoint,
        case when tier_scopes.is_all_tiers then 'all' else outcomes.tier end as tier,
        outcomes.outcome_group,
        {%- for span in spans %}
        outcomes.health_change_{{ span }}d,
        outcomes.churned_within_{{ span }}d,
        {%- endfor %}
        outcomes.due_date,
        outcomes.health_score
    from outcomes
    cross join tier_scopes
),

grouped as (
    select
        touchpoint,
        tier,
        outcome_group,
        count(*) as occurrences,
        count(distinct account_id) as accounts, -- noqa: RF04
        avg(health_score) as health_score_mean_raw,
        {%- for span in spans %}
        count(health_change_{{ span }}d) as health_observed_{{ span }}d,
        avg(health_change_{{ span }}d) as health_mean_{{ span }}d,
        stddev_samp(health_change_{{ span }}d) as health_sd_{{ span }}d,
        count(churned_within_{{ span }}d) as churn_observed_{{ span }}d,
        sum(case when churned_within_{{ span }}d then 1 else 0 end) as churned_{{ span }}d,
        {%- endfor %}
        min(due_date) as first_due_date
    from scoped
    group by touchpoint, tier, outcome_group
),

churned_accounts as (
    -- the accounts behind the churn figures of a comparison (both groups)
    select
        touchpoint,
        tier,
        count(distinct case when churned_within_30d then account_id end)
            as churned_accounts_30d,
        count(distinct case when churned_within_90d then account_id end)
            as churned_accounts_90d
    from scoped
    group by touchpoint, tier
),

rates as (
    select
        grouped.*,
        {%- for span in spans %}
        {%- set n = 'nullif(grouped.churn_observed_' ~ span ~ 'd, 0)' %}
        {%- set p = '(' ~ true_div('grouped.churned_' ~ span ~ 'd', n) ~ ')' %}
        {{ p }} as churn_rate_raw_{{ span }}d,
        -- the squared standard errors of the mean health change and of the churn rate
        {{ true_div(
            'grouped.health_sd_' ~ span ~ 'd * grouped.health_sd_' ~ span ~ 'd',
            'nullif(grouped.health_observed_' ~ span ~ 'd, 0)'
        ) }} as health_se2_{{ span }}d,
        {{ true_div(p ~ ' * (1 - ' ~ p ~ ')', n) }} as churn_se2_{{ span }}d,
        {%- endfor %}
        churned_accounts.churned_accounts_30d,
        churned_accounts.churned_accounts_90d
    from grouped
    inner join churned_accounts
        on
            grouped.touchpoint = churned_accounts.touchpoint
            and grouped.tier = churned_accounts.tier
),

compared as (
    select
        this.*,
        {%- for span in spans %}
        other.health_observed_{{ span }}d as other_health_observed_{{ span }}d,
        this.health_mean_{{ span }}d - other.health_mean_{{ span }}d as health_diff_{{ span }}d,
        sqrt(this.health_se2_{{ span }}d + other.health_se2_{{ span }}d)
            as health_diff_se_{{ span }}d,
        other.churn_observed_{{ span }}d as other_churn_observed_{{ span }}d,
        this.churn_rate_raw_{{ span }}d - other.churn_rate_raw_{{ span }}d
            as churn_diff_{{ span }}d,
        sqrt(this.churn_se2_{{ span }}d + other.churn_se2_{{ span }}d)
            as churn_diff_se_{{ span }}d,
        {%- endfor %}
        other.occurrences as other_occurrences
    from rates as this
    left join rates as other
        on
            this.touchpoint = other.touchpoint
            and this.tier = other.tier
            and this.outcome_group != other.outcome_group
),

judged as (
    select
        {%- for span in spans %}
        health_observed_{{ span }}d >= {{ min_occurrences }} as health_shown_{{ span }}d,
        coalesce(
            health_observed_{{ span }}d >= {{ min_occurrences }}
            and other_health_observed_{{ span }}d >= {{ min_occurrences }},
            false
        ) as health_diff_shown_{{ span }}d,
        churn_observed_{{ span }}d >= {{ min_occurrences }}
        and churned_accounts_{{ span }}d >= {{ min_churned }} as churn_shown_{{ span }}d,
        coalesce(
            churn_observed_{{ span }}d >= {{ min_occurrences }}
            and other_churn_observed_{{ span }}d >= {{ min_occurrences }}
            and churned_accounts_{{ span }}d >= {{ min_churned }},
            false
        ) as churn_diff_shown_{{ span }}d,
        {%- endfor %}
        compared.*
    from compared
),

final as (
    select
        touchpoint,
        tier,
        outcome_group,
        occurrences,
        accounts,
        first_due_date,
        {{ round_to('health_score_mean_raw', 2) }} as health_score_mean,
        {%- for span in spans %}
        health_observed_{{ span }}d as occurrences_observed_{{ span }}d,
        {%- endfor %}
        {%- for span in spans %}
        case
            when health_shown_{{ span }}d then {{ round_to('health_mean_' ~ span ~ 'd', 2) }}
        end as health_change_{{ span }}d_mean,
        {%- endfor %}
        {%- for span in spans %}
        case
            when churn_shown_{{ span }}d then {{ round_to('churn_rate_raw_' ~ span ~ 'd', 4) }}
        end as churn_rate_{{ span }}d,
        {%- endfor %}
        churned_accounts_30d,
        churned_accounts_90d,
        {%- for span in spans %}
        case
            when health_diff_shown_{{ span }}d then {{ round_to('health_diff_' ~ span ~ 'd', 2) }}
        end as health_change_{{ span }}d_diff,
        case
            when health_diff_shown_{{ span }}d
                then {{ round_to(
                    'health_diff_' ~ span ~ 'd - ' ~ z_95() ~ ' * health_diff_se_' ~ span ~ 'd',
                    2
                ) }}
        end as health_change_{{ span }}d_diff_ci_low,
        case
            when health_diff_shown_{{ span }}d
                then {{ round_to(
                    'health_diff_' ~ span ~ 'd + ' ~ z_95() ~ ' * health_diff_se_' ~ span ~ 'd',
                    2
                ) }}
        end as health_change_{{ span }}d_diff_ci_high,
        case
            when churn_diff_shown_{{ span }}d then {{ round_to('churn_diff_' ~ span ~ 'd', 4) }}
        end as churn_rate_{{ span }}d_diff,
        case
            when churn_diff_shown_{{ span }}d
                then {{ round_to(
                    'churn_diff_' ~ span ~ 'd - ' ~ z_95() ~ ' * churn_diff_se_' ~ span ~ 'd',
                    4
                ) }}
        end as churn_rate_{{ span }}d_diff_ci_low,
        case
            when churn_diff_shown_{{ span }}d
                then {{ round_to(
                    'churn_diff_' ~ span ~ 'd + ' ~ z_95() ~ ' * churn_diff_se_' ~ span ~ 'd',
                    4
                ) }}
        end as churn_rate_{{ span }}d_diff_ci_high,
        {%- endfor %}
        nullif(concat_ws(
            '; ',
            {%- for span in spans %}
            case
                when health_observed_{{ span }}d = 0
                    then 'no occurrence has {{ span }} days of history after it yet'
                when not health_shown_{{ span }}d
                    then 'health over {{ span }} days withheld: '
                        || health_observed_{{ span }}d
                        || ' occurrences with {{ span }} days of history after them'
                        || ' (fewer than {{ min_occurrences }})'
                when not health_diff_shown_{{ span }}d and other_occurrences is not null
                    then 'the {{ span }}-day health difference withheld: the other group has '
                        || coalesce(other_health_observed_{{ span }}d, 0)
                        || ' occurrences with {{ span }} days after them'
                        || ' (fewer than {{ min_occurrences }})'
            end,
            case
                when
                    health_observed_{{ span }}d > 0
                    and churned_accounts_{{ span }}d < {{ min_churned }}
                    then 'too few churns for a {{ span }}-day churn figure: '
                        || churned_accounts_{{ span }}d
                        || ' accounts churned within {{ span }} days (fewer than {{ min_churned }})'
            end,
            {%- endfor %}
            case
                when other_occurrences is null
                    then 'no occurrence of the other group to compare with'
            end
        ), '') as note
    from judged
)

select * from final
