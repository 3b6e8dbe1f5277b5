{#-
    The cadence A/B tests (cadence_experiments), one row per experiment and arm: the
    accounts that entered the experiment in the arm (int_experiment_accounts), the share
    of the varied touch's occurrences completed, and from each account's entry day: the
    mean health change over 90 days (95% CI: the mean plus or minus 1.96 standard errors),
    the churn rate within 90 days and the renewal rate (renewed over renewals decided, as
    the backtest counts them), each with its 95% Wilson interval. Each arm is compared with
    the control arm: the difference and its 95% confidence interval (normal
    approximation). The verdict names the differences significant at 5% (the interval
    leaves out 0); without one the note says there is no significant difference yet.

    Withheld (null, and the note says why): a mean or rate on fewer than
    var('plays_min_occurrences') accounts whose 90 days (or renewal) are over, and churn
    figures while fewer than var('backtest_min_churned_accounts') accounts of the arm and
    the control churned within 90 days. The arms are dealt by hash, so they differ only by
    chance and by their cadence: a significant difference is the cadence's effect, within
    the 5% of false alarms each comparison allows.
-#}
{%- set min_accounts = var('plays_min_occurrences') %}
{%- set min_churned = var('backtest_min_churned_accounts') %}
{%- set z = z_95() %}

with

arms as (
    select * from {{ ref('cadence_experiments') }}
),

experiment_accounts as (
    select * from {{ ref('int_experiment_accounts') }}
),

per_arm as (
    select
        experiment,
        arm,
        count(*) as accounts, -- noqa: RF04
        cast(sum(occurrences_judged) as bigint) as occurrences_judged,
        cast(sum(occurrences_completed) as bigint) as occurrences_completed,
        count(health_change_90d) as health_observed,
        avg(health_change_90d) as health_mean,
        stddev_samp(health_change_90d) as health_sd,
        count(churned_within_90d) as churn_observed,
        cast(sum(case when churned_within_90d then 1 else 0 end) as bigint) as churned,
        cast(sum(case when renewal_outcome in ('renewed', 'churned') then 1 else 0 end) as bigint)
            as renewals_decided,
        cast(sum(case when renewal_outcome = 'renewed' then 1 else 0 end) as bigint) as renewed
    from experiment_accounts
    group by experiment, arm
),

figures as (
    select
        arms.experiment,
        arms.arm,
        arms.is_control,
        arms.is_holdout,
        arms.tier,
        arms.touchpoint,
        arms.every_days,
        arms.share,
        arms.enabled,
        arms.start_date,
        arms.end_date,
        coalesce(per_arm.accounts, 0) as accounts, -- noqa: RF04
        coalesce(per_arm.occurrences_judged, 0) as occurrences_judged,
        coalesce(per_arm.occurrences_completed, 0) as occurrences_completed,
        coalesce(per_arm.health_observed, 0) as health_observed,
        per_arm.health_mean,
        per_arm.health_sd,
        coalesce(per_arm.churn_observed, 0) as churn_observed,
        coalesce(per_arm.churned, 0) as churned,
        {{ true_div('per_arm.churned', 'nullif(per_arm.churn_observed, 0)') }} as churn_rate,
        coalesce(per_arm.renewals_decided, 0) as renewals_decided,
        coalesce(per_arm.renewed, 0) as renewed,
        {{ true_div('per_arm.renewed', 'nullif(per_arm.renewals_decided, 0)') }} as renewal_rate,
        -- the squared standard errors of the mean health change and of the two rates
        {{ true_div(
            'per_arm.health_sd * per_arm.health_sd', 'nullif(per_arm.health_observed, 0)'
        ) }} as health_se2,
        {{ true_div(
            'per_arm.churned * (per_arm.churn_observed - per_arm.churned)',
            'nullif(per_arm.churn_observed * per_arm.churn_observed * per_arm.churn_observed, 0)'
        ) }} as churn_se2,
        {{ true_div(
            'per_arm.renewed * (per_arm.renewals_decided - per_arm.renewed)',
            'nullif(per_arm.renewals_decided * per_arm.renewals_decided'
            ~ ' * per_arm.renewals_decided, 0)'
        ) }} as renewal_se2
    from arms
    left join per_arm
        on
            arms.experiment = per_arm.experiment
            and arms.arm = per_arm.arm
),

compared as (
    select
        arm.*,
        control.arm as control_arm,
        arm.health_observed >= {{ min_accounts }} as health_shown,
        arm.churn_observed >= {{ min_accounts }}
        and arm.churned + control.churned >= {{ min_churned }} as churn_shown,
        arm.renewals_decided >= {{ min_accounts }} as renewal_shown,
        arm.health_observed >= {{ min_accounts }}
        and control.health_observed >= {{ min_accounts }} as health_compared,
        arm.churn_observed >= {{ min_accounts }}
        and control.churn_observed >= {{ min_accounts }}
        and arm.churned + control.churned >= {{ min_churned }} as churn_compared,
        arm.renewals_decided >= {{ min_accounts }}
        and control.renewals_decided >= {{ min_accounts }} as renewal_compared,
        control.health_mean as control_health_mean,
        control.churn_rate as control_churn_rate,
        control.renewal_rate as control_renewal_rate,
        arm.health_mean - control.health_mean as health_diff,
        sqrt(arm.health_se2 + control.health_se2) as health_diff_se,
        arm.churn_rate - control.churn_rate as churn_diff,
        sqrt(arm.churn_se2 + control.churn_se2) as churn_diff_se,
        arm.renewal_rate - control.renewal_rate as renewal_diff,
        sqrt(arm.renewal_se2 + control.renewal_se2) as renewal_diff_se
    from figures as arm
    left join figures as control
        on
            arm.experiment = control.experiment
            and control.is_control
),

significance as (
    select
        *,
        not is_control and health_compared
        and abs(health_diff) > {{ z }} * health_diff_se as health_significant,
        not is_control and churn_compared
        and abs(churn_diff) > {{ z }} * churn_diff_se as churn_significant,
        not is_control and renewal_compared
        and abs(renewal_diff) > {{ z }} * renewal_diff_se as renewal_significant
    from compared
),

final as (
    select
        experiment,
        arm,
        is_control,
        is_holdout,
        tier,
        touchpoint,
        every_days,
        share,
        case
            when not enabled then 'off'
            when start_date > {{ run_date() }} then 'not started'
            when end_date < {{ run_date() }} then 'ended'
            else 'running'
        end as status,
        start_date,
        end_date,
        accounts,
        occurrences_judged,
        {{ round_to(true_div('occurrences_completed', 'nullif(occurrences_judged, 0)'), 4) }}
            as completion_rate,
        health_observed as accounts_observed_90d,
        case when health_shown then {{ round_to('health_mean', 2) }} end
            as health_change_90d_mean,
        case
            when health_shown
                then {{ round_to('health_mean - ' ~ z ~ ' * sqrt(health_se2)', 2) }}
        end as health_change_90d_ci_low,
        case
            when health_shown
                then {{ round_to('health_mean + ' ~ z ~ ' * sqrt(health_se2)', 2) }}
        end as health_change_90d_ci_high,
        churned as churned_accounts_90d,
        case when churn_shown then {{ round_to('churn_rate', 4) }} end as churn_rate_90d,
        case
            when churn_shown then {{ round_to(wilson_bound('churned', 'churn_observed', -1), 4) }}
        end as churn_rate_90d_ci_low,
        case
            when churn_shown then {{ round_to(wilson_bound('churned', 'churn_observed', 1), 4) }}
        end as churn_rate_90d_ci_high,
        renewals_decided,
        case when renewal_shown then {{ round_to('renewal_rate', 4) }} end as renewal_rate,
        case
            when renewal_shown
                then {{ round_to(wilson_bound('renewed', 'renewals_decided', -1), 4) }}
        end as renewal_rate_ci_low,
        case
            when renewal_shown
                then {{ round_to(wilson_bound('renewed', 'renewals_decided', 1), 4) }}
        end as renewal_rate_ci_high,
        control_arm,
        {%- for metric, digits in [('health', 2), ('churn', 4), ('renewal', 4)] %}
        case
            when not is_control and {{ metric }}_compared
                then {{ round_to(metric ~ '_diff', digits) }}
        end as {{ metric }}_diff_vs_control,
        case
            when not is_control and {{ metric }}_compared
                then {{ round_to(metric ~ '_diff - ' ~ z ~ ' * ' ~ metric ~ '_diff_se', digits) }}
        end as {{ metric }}_diff_ci_low,
        case
            when not is_control and {{ metric }}_compared
                then {{ round_to(metric ~ '_diff + ' ~ z ~ ' * ' ~ metric ~ '_diff_se', digits) }}
        end as {{ metric }}_diff_ci_high,
        {%- endfor %}
        case
            when health_significant or churn_significant or renewal_significant
                then arm || ' against ' || control_arm || ': ' || concat_ws(
                        '; ',
                        case
                            when churn_significant
                                then 'churn ' || {{ percent_text('churn_rate') }}
                                    || ' vs ' || {{ percent_text('control_churn_rate') }}
                                    || ', significant'
                        end,
                        case
                            when health_significant
                                then 'health change over 90 days '
                                    || {{ double_text(round_to('health_mean', 1)) }} || ' vs '
                                    || {{ double_text(round_to('control_health_mean', 1)) }}
                                    || ' points, significant'
                        end,
                        case
                            when renewal_significant
                                then 'renewals ' || {{ percent_text('renewal_rate') }}
                                    || ' vs ' || {{ percent_text('control_renewal_rate') }}
                                    || ', significant'
                        end
                    )
        end as verdict,
        nullif(concat_ws(
            '; ',
            case
                when not enabled
                    then 'off (enabled false): no account is touched differently'
                when start_date > {{ run_date() }}
                    then 'not started: it starts on ' || {{ iso_date('start_date') }}
            end,
            case when is_control then 'the control arm' end,
            case
                when
                    enabled and not is_control
                    and not (
                        coalesce(health_significant, false)
                        or coalesce(churn_significant, false)
                        or coalesce(renewal_significant, false)
                    )
                    then 'no significant difference from ' || control_arm || ' yet'
            end,
            case
                when enabled and not health_shown
                    then 'health change withheld: ' || health_observed
                        || ' accounts with 90 days of history after their entry'
                        || ' (fewer than {{ min_accounts }})'
            end,
            case
                when enabled and health_observed > 0 and not churn_shown
                    then 'churn withheld: too few accounts or churns ('
                        || churned
                        || ' churned within 90 days; {{ min_churned }} needed with the control)'
            end,
            case
                when enabled and not renewal_shown
                    then 'renewal rate withheld: ' || renewals_decided
                        || ' renewals decided (fewer than {{ min_accounts }})'
            end
        ), '') as note
    from significance
)

select * from final
