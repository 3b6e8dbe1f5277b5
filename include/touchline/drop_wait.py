"""Waiting for the day's drop: a deferrable sensor and the trigger that watches the folder.

A scheduled run starts at its logical date, and the files may land a little after it. The
``wait_for_drop`` task looks once; if the drop is not complete it defers to the triggerer
(holding no worker slot), which looks again every ``TOUCHLINE_DROP_POLL_SECONDS`` until
every required file is there or the deadline passes: the logical date plus
``TOUCHLINE_DROP_WAIT_MINUTES``. Past the deadline the task fails at once, naming the
folder and each missing file, and the failure notice goes out. A run for a date whose
deadline has already passed (a re-run, a backfill) looks once and does not wait.

What counts as arrived: the day's folder holds a file (``.csv``, ``.csv.gz``, or for usage
events ``.parquet``) for every entity the contract requires in each drop and that the file
drop feeds (families read from an API are not waited for), and, when the deployment sets
``TOUCHLINE_DROP_MARKER``, that marker file too. A writer that copies files one by one
should write the marker last, or copy each file under a temporary name and rename it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from airflow.sdk import BaseSensorOperator
from airflow.sdk.exceptions import AirflowFailException
from airflow.triggers.base import BaseTrigger, TriggerEvent

from touchline.config import drop_marker, drop_poll_seconds, drop_wait_minutes

# Each requirement is a list of file names, any one of which satisfies it.
Requirements = list[list[str]]
NO_FOLDER = "the folder itself"


def requirements(paths, *, marker: str | None = None) -> Requirements:
    """The files a day's folder must hold before the run reads it."""
    from touchline.schema import ENTITIES
    from touchline.sources.config import FILEDROP, load

    fed = load(paths.sources_file).by_entity
    wanted = [
        [f"{e.name}{s}" for s in (".csv", ".csv.gz", *((".parquet",) if e.parquet_allowed else ()))]
        for e in ENTITIES
        if e.required_file and fed[e.name] == FILEDROP
    ]
    return wanted + ([[marker]] if marker else [])


def missing(folder: str | Path, wanted: Requirements) -> list[str]:
    """The requirements the folder does not meet yet, each as the file name it wants first."""
    folder = Path(folder)
    if not folder.is_dir():
        return [NO_FOLDER]
    return [names[0] for names in wanted if not any((folder / n).is_file() for n in names)]


def describe(folder: str | Path, absent: Sequence[str]) -> str:
    if list(absent) == [NO_FOLDER]:
        return f"{folder} does not exist"
    return f"{folder} lacks {', '.join(absent)}"


class DropArrivedTrigger(BaseTrigger):
    """Fires when the folder meets every requirement, or at the deadline with what is missing."""

    def __init__(self, folder: str, wanted: Requirements, deadline: str, poll_seconds: int):
        super().__init__()
        self.folder = folder
        self.wanted = wanted
        self.deadline = deadline  # ISO 8601, UTC
        self.poll_seconds = poll_seconds

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "folder": self.folder,
                "wanted": self.wanted,
                "deadline": self.deadline,
                "poll_seconds": self.poll_seconds,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        deadline = dt.datetime.fromisoformat(self.deadline)
        while True:
            absent = await asyncio.to_thread(missing, self.folder, self.wanted)
            if not absent:
                yield TriggerEvent({"arrived": True})
                return
            left = (deadline - dt.datetime.now(dt.UTC)).total_seconds()
            if left <= 0:
                yield TriggerEvent({"arrived": False, "missing": absent})
                return
            self.log.info("waiting for %s", describe(self.folder, absent))
            await asyncio.sleep(min(self.poll_seconds, left))


class WaitForDrop(BaseSensorOperator):
    """Succeeds once the run date's drop has arrived; defers while it has not (see module)."""

    def poke(self, context) -> bool:  # BaseSensorOperator's contract; execute() is the path
        folder, wanted = self._target(context)
        return not missing(folder, wanted)

    def execute(self, context) -> None:
        folder, wanted = self._target(context)
        absent = missing(folder, wanted)
        if not absent:
            self.log.info("the drop has arrived: %s", folder)
            return
        deadline = context["logical_date"] + dt.timedelta(minutes=drop_wait_minutes())
        if dt.datetime.now(dt.UTC) >= deadline:
            self._fail(folder, absent, deadline)
        self.log.info("waiting until %s for %s", deadline.isoformat(), describe(folder, absent))
        self.defer(
            trigger=DropArrivedTrigger(
                str(folder), wanted, deadline.astimezone(dt.UTC).isoformat(), drop_poll_seconds()
            ),
            method_name="execute_complete",
        )

    def execute_complete(self, context, event: dict[str, Any]) -> None:
        folder, _ = self._target(context)
        if not event.get("arrived"):
            deadline = context["logical_date"] + dt.timedelta(minutes=drop_wait_minutes())
            self._fail(folder, event.get("missing", []), deadline)
        self.log.info("the drop has arrived: %s", folder)

    @staticmethod
    def _target(context) -> tuple[Path, Requirements]:
        from touchline.config import Settings
        from touchline.landing import drop_dir

        paths = Settings.from_params(dict(context["params"]))
        run_date = context["logical_date"].date()
        return drop_dir(paths.source_dir, run_date), requirements(paths, marker=drop_marker())

    @staticmethod
    def _fail(folder: Path, absent: Sequence[str], deadline: dt.datetime) -> None:
        raise AirflowFailException(
            f"the drop for {folder.name} has not arrived by {deadline.isoformat()}: "
            f"{describe(folder, absent)}. Put the files there and clear this run to read them "
            f"(TOUCHLINE_DROP_WAIT_MINUTES sets how long a run waits)"
        )
