"""Progress of the command line's long steps, on stderr (rich).

On an interactive terminal a step shows a live line: a bar when its size is known (days
generated, days landed), else a spinner with a count (tasks finished), what it is doing
now and the time elapsed; the line stays when the step ends. Anywhere else (a pipe, a log
file, CI) nothing is drawn and each step prints one line when it ends:
``landing the history: 119/119 days in 41.3 s``. Standard output is left to the results.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)


class Step:
    """One step's counter: :meth:`advance` as units finish, :meth:`note` what runs now."""

    def __init__(self, progress: Progress | None, task: TaskID | None) -> None:
        self._progress = progress
        self._task = task
        self.done = 0

    def advance(self, amount: int = 1) -> None:
        self.done += amount
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, completed=self.done)

    def note(self, text: str) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, note=text)


def _console() -> Console:
    return Console(stderr=True, highlight=False)


@contextmanager
def step(
    description: str, total: int | None = None, unit: str = "", *, line: bool = True
) -> Iterator[Step]:
    """Show ``description``'s progress while the block runs.

    ``total`` units (``unit``, e.g. "days") draw a bar; without it, a spinner and a count.
    ``line=False`` leaves out the closing line off a terminal, for a caller that prints its
    own.
    """
    console = _console()
    started = time.monotonic()
    if console.is_interactive:
        columns = [SpinnerColumn(), TextColumn("{task.description}")]
        if total is not None:
            columns.append(BarColumn())
        if total is not None:
            columns += [MofNCompleteColumn(), TextColumn(unit)]
        elif unit:
            columns.append(TextColumn("{task.completed:.0f} " + unit))
        columns += [TextColumn("{task.fields[note]}", style="dim"), TimeElapsedColumn()]
        with Progress(*columns, console=console, transient=False) as progress:
            task = progress.add_task(description, total=total, note="")
            yield Step(progress, task)
            progress.update(task, note="")
        return
    counter = Step(None, None)
    yield counter
    if line:
        count = f"{counter.done}/{total}" if total is not None else str(counter.done)
        units = f" {unit}" if unit else ""
        seconds = time.monotonic() - started
        console.print(f"{description}: {count}{units} in {seconds:.1f} s", soft_wrap=True)
