"""Extract the tasks CSMs completed in the CRM, as touch activities for the next build.

Each night the CRM is asked for the tasks with a ``touchline_task_key`` completed in the 30
days up to the end of the run date; the export ledger maps each key to its account and
touchpoint. The result is staged as ``crm_task_completions`` (a completed activity per
task), validated by the gate before load with the drop, and unioned into the activity log
by ``stg_engagement__activities``: a task done in the CRM satisfies its touchpoint and is not
raised again. Without a configured CRM an empty batch is staged, so every run has one.

It reads the CRM the ``crm`` destination writes to, with that destination's settings and
client (``touchline.exports.crm``) and the export ledger's record of what was sent.
"""

from __future__ import annotations

import datetime as dt
import logging

import pyarrow as pa

from touchline.config import Settings
from touchline.exports import crm, destinations
from touchline.exports.http import ExportError
from touchline.exports.ledger import Ledger
from touchline.landing import stage_table

log = logging.getLogger(__name__)

ENTITY = "crm_task_completions"
LOOKBACK_DAYS = 30


def _moment(millis: str | None) -> dt.datetime | None:
    if not millis:
        return None
    return dt.datetime.fromtimestamp(int(millis) / 1000, dt.UTC).replace(tzinfo=None)


def read_crm_completions(paths: Settings, run_date: dt.date) -> dict:
    from touchline.exports.run import ledger_path

    found = destinations.credentials("crm")
    rows: list[dict] = []
    if found.url and found.secret:
        end = dt.datetime.combine(run_date + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
        start = end - dt.timedelta(days=LOOKBACK_DAYS)
        try:
            completed = crm.completed_since(found.url, found.secret, start, until=end)
        except ExportError as exc:
            # the lists must not wait for the CRM: tonight's completions are read tomorrow
            # (the window looks back 30 days)
            log.warning("could not read completed tasks from the CRM: %s", exc)
            completed = []
        with Ledger(ledger_path(paths)) as ledger:
            sent = ledger.rows("crm")
        for task in completed:
            properties = task.get("properties") or {}
            key = properties.get(crm.KEY_PROPERTY)
            meta = sent[key].meta if key in sent else None
            occurred = _moment(properties.get("hs_lastmodifieddate"))
            if not meta or occurred is None:
                continue  # not a task this deployment sent, or no completion time
            rows.append(
                {
                    "activity_id": f"crm-task-{task['id']}",
                    "account_id": meta["account_id"],
                    "activity_type": meta["touchpoint"],
                    "occurred_at": occurred,
                    "task_key": key,
                    "csm_email": None,
                }
            )
        log.info("read %d completed CRM tasks (%d of ours)", len(completed), len(rows))
    table = pa.Table.from_pylist(rows) if rows else None
    staged = stage_table(ENTITY, table, paths.landing_dir, run_date, source="crm")
    return {"entity": ENTITY, "rows": staged.rows, "crm": bool(found.url and found.secret)}
