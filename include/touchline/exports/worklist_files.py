"""The work-list files of docs/outputs.md: worklist.csv, the per-CSM files,
automation_queue.csv and accounts.csv, written from the day the exports read (``day.Day``).

``<output-dir>/<D>/`` is assembled in a temporary folder and swapped into place, so a reader
sees the previous complete set or the new complete set, never a mix. The rows come in the
marts' order, as every destination gets them; the files hold exactly their columns below.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import logging
import os
import re
import shutil
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from touchline.exports.day import Day
from touchline.quality.report import report_dir

log = logging.getLogger(__name__)

WORKLIST_COLUMNS = [
    "task_key",
    "run_date",
    "due_date",
    "status",
    "priority",
    "account_id",
    "account_name",
    "touchpoint",
    "trigger",
    "channel",
    "owner_role",
    "assignee_email",
    "tier",
    "lifecycle_stage",
    "health_score",
    "health_band",
    "reason",
]
AUTOMATION_COLUMNS = [
    "task_key",
    "run_date",
    "account_id",
    "contact_email",
    "touchpoint",
    "channel",
    "campaign",
    "reason",
]
ACCOUNT_COLUMNS = [
    "account_id",
    "account_name",
    "plan",
    "arr_usd",
    "tier",
    "lifecycle_stage",
    "health_score",
    "health_band",
    "csm_email",
    "pod",
    "renewal_date",
]

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
SAFE_NAME = re.compile(r"[^A-Za-z0-9@._+-]")


def neutralise(value: object) -> object:
    """Text a spreadsheet would run as a formula gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def cell(value: object) -> object:
    """A value as a spreadsheet-safe cell: dates ISO, numbers plain, formulas neutralised."""
    if value is None:
        return ""
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:.2f}".rstrip("0").rstrip(".") if value != int(value) else str(int(value))
    return neutralise(value)


def write_rows(handle, columns: list[str], rows: Iterable[Sequence]) -> None:
    """The header and the rows (values in column order) as CSV, every value through cell()."""
    writer = csv.writer(handle, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([cell(v) for v in row])


def write_csv(path: Path, columns: list[str], rows: list[tuple]) -> None:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        write_rows(handle, columns, rows)


def worklist_file_name(assignee_email: str | None, owner_role: str, pod: str | None) -> str:
    """One file per CSM; tasks without a person go to their pod's or the support queue."""
    if assignee_email:
        name = assignee_email
    elif owner_role == "support":
        name = "queue-support"
    elif pod:
        name = f"queue-pod-{pod}"
    else:
        name = "queue-unassigned"
    return SAFE_NAME.sub("_", name) + ".csv"


def _values(rows: list[dict[str, Any]], columns: list[str]) -> list[tuple]:
    return [tuple(row[column] for column in columns) for row in rows]


def export_files(
    warehouse: Path,
    output_dir: Path,
    run_date: dt.date,
    extra: dict | None = None,
    *,
    dbt_project_dir: Path | None = None,
) -> dict:
    """Write the run's work lists; return a summary for the run log and the demo.

    ``extra``: more entries for ``run_summary.json`` (a past date says so there);
    ``dbt_project_dir``: the project that built ``warehouse`` (default: the settings').
    """
    day = Day.load(warehouse, run_date, dbt_project_dir=dbt_project_dir)
    worklist = _values(day.worklist, WORKLIST_COLUMNS + ["pod"])
    automation = _values(day.automation, AUTOMATION_COLUMNS)
    accounts = _values(day.accounts, ACCOUNT_COLUMNS)
    output_dir.mkdir(parents=True, exist_ok=True)
    final = output_dir / run_date.isoformat()
    staging = output_dir / f".{run_date.isoformat()}.{uuid.uuid4().hex}.partial"
    (staging / "worklists").mkdir(parents=True)
    try:
        summary = _write_all(staging, worklist, automation, accounts, run_date)
        summary["quality"] = _quality(output_dir, run_date, final)
        summary.update(extra or {})
        (staging / "run_summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        _swap_into_place(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    summary["output_dir"] = str(final)
    log.info("wrote work lists for %s to %s", run_date, final)
    return summary


def _write_all(staging: Path, worklist, automation, accounts, run_date: dt.date) -> dict:
    width = len(WORKLIST_COLUMNS)
    assignee_at = WORKLIST_COLUMNS.index("assignee_email")
    role_at = WORKLIST_COLUMNS.index("owner_role")
    per_file: dict[str, list[tuple]] = defaultdict(list)
    for row in worklist:
        per_file[worklist_file_name(row[assignee_at], row[role_at], row[width])].append(row[:width])
    write_csv(staging / "worklist.csv", WORKLIST_COLUMNS, [row[:width] for row in worklist])
    for name, rows in per_file.items():
        write_csv(staging / "worklists" / name, WORKLIST_COLUMNS, rows)
    write_csv(staging / "automation_queue.csv", AUTOMATION_COLUMNS, automation)
    write_csv(staging / "accounts.csv", ACCOUNT_COLUMNS, accounts)
    tier_at = ACCOUNT_COLUMNS.index("tier")
    summary = {
        "run_date": run_date.isoformat(),
        "accounts_per_tier": dict(sorted(Counter(row[tier_at] for row in accounts).items())),
        "tasks_per_worklist": {
            name.removesuffix(".csv"): len(rows) for name, rows in sorted(per_file.items())
        },
        "human_tasks": len(worklist),
        "automation_items": len(automation),
    }
    return summary


def _quality(output_dir: Path, run_date: dt.date, final: Path) -> dict:
    """The run's validation report, linked relative to the run folder."""
    folder = report_dir(output_dir, run_date)
    status = "missing"
    if (folder / "report.json").exists():
        status = json.loads((folder / "report.json").read_text(encoding="utf-8"))["status"]
    return {
        "status": status,
        "report": os.path.relpath(folder / "report.html", final),
        "report_json": os.path.relpath(folder / "report.json", final),
    }


def _swap_into_place(staging: Path, final: Path) -> None:
    retired = final.with_name(f".{final.name}.{uuid.uuid4().hex}.retired")
    if final.exists():
        os.replace(final, retired)
    os.replace(staging, final)
    shutil.rmtree(retired, ignore_errors=True)
