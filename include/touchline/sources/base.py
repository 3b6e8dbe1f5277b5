"""What every source connector gives the extract step, whatever system it reads.

A connector reads one source family's entities (``touchline.schema.FAMILIES``) for a run
date from its system and returns an :class:`Extract`: per entity, an Arrow table with
exactly the entity's contract columns (``touchline.sources.filedrop.output_schema``), and
for a snapshot entity either the complete state or only what changed since the state it
was given (with the ids deleted upstream). The extract step then stages the tables as the
file drop's are staged (so the gate before load, the landing, dbt and the exports do not
know where a row came from), merges changes into the previous landed snapshot, and saves
the connector's new state only once the day's batches are published.

State is plain JSON (cursors, high-water marks, the files already loaded). A connector gets
the state saved by the last published date before the run date, so re-running a date starts
from the same place and lands the same rows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import pyarrow as pa

from touchline.errors import SourceError as SourceError  # the connectors raise it from here
from touchline.schema import Entity


@dataclass(frozen=True)
class Window:
    """What a run reads: changes after ``since`` (None: everything) up to ``until``.

    ``until`` is the end of the run date (UTC) plus the gate's future tolerance: records a
    system stamps later belong to a later run.
    """

    run_date: dt.date
    since: dt.datetime | None
    until: dt.datetime


@dataclass
class Extract:
    """One family's rows for a run date, and the state to save once they are published."""

    tables: dict[str, pa.Table]  # entity -> rows with the entity's contract columns
    # snapshot entities whose table holds only the records changed since the state given
    # (merged into the previous landed snapshot); the others are complete
    changes_only: set[str] = field(default_factory=set)
    deleted: dict[str, list[str]] = field(default_factory=dict)  # entity -> ids deleted
    state: dict[str, Any] = field(default_factory=dict)
    origin: str = ""  # where the rows came from, for the report ("salesforce", "s3://...")


class Connector(Protocol):
    """A source system, configured by its entry of ``sources.yml``."""

    def extract(
        self, entities: Sequence[Entity], window: Window, state: Mapping[str, Any]
    ) -> Extract: ...
