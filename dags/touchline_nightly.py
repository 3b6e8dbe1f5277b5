"""
### touchline nightly

Lands the day's file drop (one extract task per source family, in parallel), builds the
warehouse with one `dbt build` (the only writer of the DuckDB file, in the one-slot
`warehouse_writer` pool), then writes the work lists.

Paths come from the run's params (defaults: `TOUCHLINE_*` environment variables); the run
date is the logical date. Bad input fails its task at once with a message naming the file,
line, column and value; the published warehouse and work lists stay as they were.
"""

from datetime import datetime, timedelta

from airflow.sdk import Param, dag, task

from touchline import pipeline
from touchline.config import DAG_ID, WAREHOUSE_POOL, settings
from touchline.schema import FAMILIES


@dag(
    dag_id=DAG_ID,
    schedule="0 2 * * *",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["touchline", "nightly"],
    doc_md=__doc__,
    params={
        name: Param(value, type="string", description=f"{name.replace('_', ' ')} (path)")
        for name, value in settings().as_params().items()
    },
    default_args={
        "owner": "touchline",
        "retries": 3,
        "retry_delay": timedelta(minutes=1),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=30),
    },
)
def touchline_nightly():
    landed = [
        task(pipeline.extract_family, task_id=f"extract_{family}")(family) for family in FAMILIES
    ]
    built = task(pipeline.build_warehouse, task_id="build_warehouse", pool=WAREHOUSE_POOL)()
    exported = task(pipeline.export_worklists, task_id="export_worklists")()
    landed >> built >> exported


touchline_nightly()
