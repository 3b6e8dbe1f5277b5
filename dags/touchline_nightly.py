"""
### touchline nightly

Parses the day's file drop against the contract (one extract task per source family, in
parallel), validates the staged batches with Great Expectations and publishes them into the
landing (`gate_before_load`), builds the warehouse with one `dbt build` on a copy (the only
writer of the DuckDB file, in the one-slot `warehouse_writer` pool), validates the built
marts and publishes the warehouse (`gate_before_export`), then writes the work lists.

Paths come from the run's params (defaults: `TOUCHLINE_*` environment variables); the run
date is the logical date. Bad input fails its task at once with a message naming the file,
line, column and value, or the dataset, expectation, observed value and offending ids; the
published warehouse and work lists stay as they were. Every run writes a validation report
under `<output_dir>/quality/<date>/`.
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
    checked = task(pipeline.gate_before_load, task_id="gate_before_load")()
    built = task(pipeline.build_warehouse, task_id="build_warehouse", pool=WAREHOUSE_POOL)()
    published = task(
        pipeline.gate_before_export, task_id="gate_before_export", pool=WAREHOUSE_POOL
    )()
    exported = task(pipeline.export_worklists, task_id="export_worklists")()
    landed >> checked >> built >> published >> exported


touchline_nightly()
