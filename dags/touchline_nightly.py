"""
### touchline nightly

Waits for the day's drop (`wait_for_drop`, deferred to the triggerer until every required
file is there, at most `TOUCHLINE_DROP_WAIT_MINUTES` after the logical date); parses the
drop against the contract (one extract task per source family, in parallel) and reads back
the tasks CSMs completed in the CRM (`read_crm_completions`); validates the staged batches
with Great Expectations and publishes them into the landing (`gate_before_load`); builds
the warehouse with one `dbt build` on a copy (the only writer of the DuckDB file, in the
one-slot `warehouse_writer` pool); validates the built marts and publishes the warehouse
(`gate_before_export`); publishes the marts BI tools read as versioned Parquet behind a
catalog of views (`publish_marts`, whose outlets are the Assets `touchline_mart_<mart>`,
so downstream DAGs and dashboard refreshes can be scheduled on them); writes the work
lists; and sends them to each destination this deployment configures (`send_*`: files,
CRM tasks, Slack, email automation, webhook; one skips when its settings are absent),
through the export ledger, so each item arrives once. Beside the sends, `write_report`
writes the run report (health bands and tiers over time, CSM capacity, the backtest) from
the published warehouse; nothing waits for it, so its failure holds back no list or send.

Paths come from the run's params (defaults: `TOUCHLINE_*` environment variables); the run
date is the logical date. Bad input fails its task at once with a message naming the file,
line, column and value, or the dataset, expectation, observed value and offending ids; the
published warehouse and work lists stay as they were. Every run writes a validation report
under `<output_dir>/quality/<date>/`, and a run that publishes its warehouse a run report
under `<output_dir>/report/<date>/`.

A task that fails for good posts a notice to Slack, and a run not finished
`TOUCHLINE_LISTS_DEADLINE_MINUTES` after it was queued raises a deadline alert, both on the
Connection `touchline_alerts` when it exists.
"""

from datetime import datetime, timedelta

from airflow.sdk import Asset, AsyncCallback, DeadlineAlert, DeadlineReference, Param, dag, task

from touchline import pipeline
from touchline.alerts import FailureNotice, lists_late
from touchline.bi_publish import MARTS, asset_name, mart_uri
from touchline.config import (
    DAG_ID,
    SEND_PARAM,
    WAREHOUSE_POOL,
    bi_dir,
    lists_deadline_minutes,
    settings,
)
from touchline.drop_wait import WaitForDrop
from touchline.exports.destinations import NAMES as DESTINATIONS
from touchline.schema import FAMILIES


@dag(
    dag_id=DAG_ID,
    schedule="0 2 * * *",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["touchline", "nightly"],
    doc_md=__doc__,
    deadline=[
        DeadlineAlert(
            reference=DeadlineReference.DAGRUN_QUEUED_AT,
            interval=timedelta(minutes=minutes),
            callback=AsyncCallback(lists_late),
            name="morning lists ready",
        )
        for minutes in [lists_deadline_minutes()]
        if minutes
    ],
    params={
        **{
            name: Param(value, type="string", description=f"{name.replace('_', ' ')} (path)")
            for name, value in settings().as_params().items()
        },
        SEND_PARAM: Param(
            True,
            type="boolean",
            description="send the day to the destinations (a backfill sends only its last date)",
        ),
    },
    default_args={
        "owner": "touchline",
        "retries": 3,
        "retry_delay": timedelta(minutes=1),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=30),
        "on_failure_callback": [FailureNotice()],
    },
)
def touchline_nightly():
    arrived = WaitForDrop(task_id="wait_for_drop")
    landed = [
        task(pipeline.extract_family, task_id=f"extract_{family}")(family) for family in FAMILIES
    ]
    arrived >> landed
    readback = task(pipeline.read_crm_completions, task_id="read_crm_completions")()
    checked = task(pipeline.gate_before_load, task_id="gate_before_load")()
    built = task(pipeline.build_warehouse, task_id="build_warehouse", pool=WAREHOUSE_POOL)()
    published = task(
        pipeline.gate_before_export, task_id="gate_before_export", pool=WAREHOUSE_POOL
    )()
    marts = [Asset(asset_name(m), uri=mart_uri(bi_dir(settings().home), m)) for m in MARTS]
    for_bi = task(pipeline.publish_marts, task_id="publish_marts", outlets=marts)()
    exported = task(pipeline.export_worklists, task_id="export_worklists")()
    sent = [task(pipeline.send_to, task_id=f"send_{name}")(name) for name in DESTINATIONS]
    reported = task(pipeline.write_report, task_id="write_report")()
    [*landed, readback] >> checked >> built >> published >> exported >> sent
    exported >> reported
    published >> for_bi


touchline_nightly()
