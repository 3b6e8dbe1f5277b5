"""Write a run date's report and link it from the run's other outputs.

``<output-dir>/report/<D>/report.html`` and ``report.json`` sit beside the quality report
(``<output-dir>/quality/<D>/``) and, like it, outside the date's work-list folder, which is
swapped whole on every export. Each file is written aside and renamed into place, under a
lock on the folder, so a reader sees the previous report or the new one, and a nightly run
and ``touchline report`` never interleave. Then the run's ``run_summary.json`` gets the
report's path (relative, as it names the quality report), and the quality report is rendered
again to link to it.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from touchline import filelock

log = logging.getLogger(__name__)

FOLDER = "report"
SUMMARY_KEY = "run_report"  # its entry in run_summary.json
WRITTEN, FAILED = "written", "failed"


class ReportError(ValueError):
    """The report cannot be written from this warehouse; the message says why and what to do."""


def report_dir(output_dir: Path, run_date: dt.date) -> Path:
    return Path(output_dir) / FOLDER / run_date.isoformat()


def report_html(output_dir: Path, run_date: dt.date) -> Path:
    return report_dir(output_dir, run_date) / "report.html"


def report_json(output_dir: Path, run_date: dt.date) -> Path:
    return report_dir(output_dir, run_date) / "report.json"


@dataclass(frozen=True)
class Written:
    run_date: dt.date
    html: Path
    json: Path
    sections: dict[str, str]
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_date": self.run_date.isoformat(),
            "report": str(self.html),
            "report_json": str(self.json),
            "sections": self.sections,
            "seconds": round(self.seconds, 2),
        }


def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.partial")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def _links(output_dir: Path, run_date: dt.date, folder: Path):
    from touchline.quality.report import report_html as quality_html
    from touchline.report.page import Link

    day = Path(output_dir) / run_date.isoformat()
    targets = [
        ("data-quality report of the run", quality_html(output_dir, run_date)),
        ("every human task (worklist.csv)", day / "worklist.csv"),
        ("per-CSM work lists (worklists/)", day / "worklists"),
        ("run summary (run_summary.json)", day / "run_summary.json"),
    ]
    links = [
        Link(label, os.path.relpath(path, folder) if path.exists() else None)
        for label, path in targets
    ]
    return [*links, Link("the figures of this report (report.json)", "report.json")]


def write(
    warehouse: Path, output_dir: Path, run_date: dt.date, *, now: dt.datetime | None = None
) -> Written:
    """Render the report of ``run_date`` from the published ``warehouse`` into ``output_dir``.

    Raises :class:`ReportError` when the warehouse is missing or holds another day.
    """
    from touchline.quality import report as quality_report
    from touchline.report.figures import WarehouseNotReady, read
    from touchline.report.page import render

    started = time.monotonic()
    try:
        figures = read(warehouse, run_date)
    except WarehouseNotReady as exc:
        raise ReportError(str(exc)) from None
    rendered_at = now or dt.datetime.now(dt.UTC)
    folder = report_dir(output_dir, run_date)
    folder.mkdir(parents=True, exist_ok=True)
    with filelock.held(folder / ".lock"):
        page = render(figures, _links(output_dir, run_date, folder), rendered_at)
        payload = {
            "run_date": run_date.isoformat(),
            "rendered_at": rendered_at.isoformat(timespec="seconds"),
            "warehouse": str(Path(warehouse).absolute()),
            "sections": page.sections,
            "figures": page.headline,
        }
        _write_atomically(folder / "report.json", json.dumps(payload, indent=2) + "\n")
        _write_atomically(folder / "report.html", page.html)
    link_from_summary(output_dir, run_date, {"status": WRITTEN, "sections": page.sections})
    quality_report.refresh(output_dir, run_date)
    written = Written(
        run_date,
        folder / "report.html",
        folder / "report.json",
        page.sections,
        time.monotonic() - started,
    )
    log.info("wrote the run report of %s to %s in %.1fs", run_date, written.html, written.seconds)
    return written


def link_from_summary(output_dir: Path, run_date: dt.date, entry: dict[str, Any]) -> bool:
    """Name the report in the run's ``run_summary.json`` (paths relative to its folder).

    False when the date has no run summary (no work lists were written for it).
    """
    run_dir = Path(output_dir) / run_date.isoformat()
    summary_file = run_dir / "run_summary.json"
    if not summary_file.is_file():
        return False
    summary = json.loads(summary_file.read_text(encoding="utf-8"))
    summary[SUMMARY_KEY] = {
        **entry,
        "report": os.path.relpath(report_html(output_dir, run_date), run_dir),
        "report_json": os.path.relpath(report_json(output_dir, run_date), run_dir),
    }
    _write_atomically(summary_file, json.dumps(summary, indent=2) + "\n")
    return True


def record_failure(output_dir: Path, run_date: dt.date, error: BaseException) -> None:
    """Say in ``run_summary.json`` that the report was not written, and why."""
    try:
        link_from_summary(output_dir, run_date, {"status": FAILED, "error": str(error)})
    except (OSError, ValueError) as exc:  # the failure being recorded is the one to raise
        log.warning("could not record the run report's failure in the run summary: %s", exc)
