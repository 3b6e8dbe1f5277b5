"""The windowed health measures (computed as running sums of changes) equal the same windows
computed directly, day by day, from the landed files.

The drop has two months of history; some usage events arrive five days late and some are
delivered twice, so "known by that day" and "counted once" are both exercised. The reference
queries below are the plain definitions: for one day, filter every fact to its window and
count.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from touchline.config import settings
from touchline.demo.generator import generate
from touchline.extract import land_history
from touchline.warehouse import run_dbt

LATE_DAYS = 5

REFERENCE = """
with
events as (
    select *, cast(occurred_at as date) as occurred_date
    from read_parquet('{landing}/usage_events/ds=*/*.parquet', hive_partitioning = true)
    where ds <= $day
    qualify row_number() over (partition by event_id order by ds) = 1
),
known_events as (
    select * from events
    where greatest(occurred_date, ds) <= $day and occurred_date <= $day
),
usage as (
    select
        account_id,
        count(distinct user_id) filter (where occurred_date > $day - 30) as active_users_30d,
        count(*) filter (where occurred_date > $day - 30) as events_30d,
        count(*) filter (where occurred_date <= $day - 30 and occurred_date > $day - 60)
            as events_previous_30d,
        count(distinct feature) filter (
            where occurred_date > $day - 30
            and feature in ('dashboards', 'reports', 'alerts', 'integrations')
        ) as core_features_30d
    from known_events
    group by account_id
),
tickets as (
    select *, cast(created_at as date) as created_date
    from read_parquet('{landing}/tickets/ds=*/*.parquet', hive_partitioning = true)
    where ds <= $day and cast(created_at as date) <= $day
    qualify row_number() over (
        partition by ticket_id order by ds desc, updated_at desc nulls last
    ) = 1
),
support as (
    select
        account_id,
        count(*) filter (
            where status not in ('solved', 'closed') and priority in ('high', 'urgent')
        ) as open_urgent_high_tickets,
        avg(csat_score) filter (where cast(solved_at as date) > $day - 90) as csat_90d,
        avg(date_diff('minute', created_at, first_reply_at) / 60.0) filter (
            where created_date > $day - 90 and first_reply_at is not null
        ) as first_reply_hours_90d
    from tickets
    group by account_id
)
select 'active_users_30d' as metric, account_id, active_users_30d::double from usage
union all
select 'usage_trend', account_id, events_30d / events_previous_30d from usage
where events_previous_30d > 0
union all
select 'core_features_30d', account_id, core_features_30d::double from usage
union all
select 'open_urgent_high_tickets', account_id, open_urgent_high_tickets::double from support
union all
select 'csat_90d', account_id, csat_90d from support where csat_90d is not null
union all
select 'first_reply_hours_90d', account_id, first_reply_hours_90d from support
where first_reply_hours_90d is not null
"""

MEASURES = """
unpivot (
    select
        account_id,
        active_users_30d,
        usage_trend,
        feature_breadth * 4 as core_features_30d,
        open_urgent_high_tickets,
        csat_90d,
        first_reply_hours_90d
    from int_account_health_measures_daily
    where history_date = $day
)
on columns(* exclude (account_id))
into name metric value metric_value
"""


def arrive_late(landing, day):
    """Move a third of one day's usage events to the partition LATE_DAYS later."""
    usage = landing / "usage_events"
    events = pq.read_table(usage / f"ds={day}" / "part-0.parquet")
    late = pc.equal(pc.bit_wise_and(pc.cast(pc.utf8_length(events["user_id"]), "int64"), 1), 1)
    pq.write_table(events.filter(pc.invert(late)), usage / f"ds={day}" / "part-0.parquet")
    later = day + dt.timedelta(days=LATE_DAYS)
    pq.write_table(events.filter(late), usage / f"ds={later}" / "part-1.parquet")


def deliver_again(landing, day, later):
    usage = landing / "usage_events"
    events = pq.read_table(usage / f"ds={day}" / "part-0.parquet")
    pq.write_table(events.slice(0, 50), usage / f"ds={later}" / "part-2.parquet")


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    work = tmp_path_factory.mktemp("windows")
    drop = generate(work / "drop", accounts=120, days=75, seed=11, usage_format="csv")
    first, last = drop.dates
    paths = settings().with_overrides(
        source_dir=drop.out_dir,
        landing_dir=work / "landing",
        warehouse=work / "warehouse.duckdb",
    )
    days = [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]
    land_history(paths, days)
    for day in days[-45:-10:3]:
        arrive_late(paths.landing_dir, day)
    deliver_again(paths.landing_dir, days[-30], days[-25])
    completed = run_dbt(["build", "--exclude", "test_type:unit"], paths, last, paths.warehouse)
    assert completed.returncode == 0, completed.stdout[-3000:]
    return paths, last


@pytest.mark.parametrize("days_back", [0, 8, 21])
def test_windowed_measures_equal_their_definition(history, days_back):
    paths, last = history
    day = last - dt.timedelta(days=days_back)
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        computed = {
            (metric, account): value
            for account, metric, value in con.execute(MEASURES, {"day": day}).fetchall()
        }
        accounts = {
            account
            for (account,) in con.execute(
                "select account_id from fct_account_tiers_daily where history_date = ?", [day]
            ).fetchall()
        }
        reference = {
            (metric, account): value
            for metric, account, value in con.execute(
                REFERENCE.format(landing=paths.landing_dir), {"day": day}
            ).fetchall()
            if account in accounts
        }
    assert len(reference) > 300
    counts = ("active_users_30d", "open_urgent_high_tickets", "core_features_30d")
    for key, value in reference.items():
        expected = computed.get(key, 0.0 if key[0] in counts else None)
        assert expected == pytest.approx(value), key
    for key, value in computed.items():
        if key[0] in counts and value:
            assert key in reference, key
