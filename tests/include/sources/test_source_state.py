"""Changes merged into the landed snapshot; a source's state published only with its batches."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from touchline.landing import (
    partition_dir,
    publish_staged,
    published_state,
    stage_state,
    stage_table,
    staged_batches,
)
from touchline.schema import ENTITY_BY_NAME
from touchline.sources.base import SourceError
from touchline.sources.filedrop import output_schema
from touchline.sources.run import merge_changes

DAY = dt.date(2026, 10, 30)
CSMS = ENTITY_BY_NAME["csms"]


def csms(*rows: tuple[str, str]) -> pa.Table:
    return pa.Table.from_pylist(
        [{"csm_email": email, "name": name} for email, name in rows],
        schema=output_schema(CSMS, []),
    )


def land(landing, day, table):
    stage_table("csms", table, landing, day, source="test")
    publish_staged(landing, day, ["csms"])


def test_changes_and_deletes_apply_to_the_previous_snapshot(tmp_path):
    land(tmp_path, DAY - dt.timedelta(days=2), csms(("a@x.io", "Ann"), ("b@x.io", "Bo")))
    changes = csms(("b@x.io", "Bo Li"), ("c@x.io", "Cy"))
    merged = merge_changes(tmp_path, CSMS, DAY, changes, ["a@x.io"], "crm_api")
    assert sorted(merged.to_pylist(), key=lambda r: r["csm_email"]) == [
        {**row, "pod": None, "capacity_hours_per_week": None}
        for row in (
            {"csm_email": "b@x.io", "name": "Bo Li"},
            {"csm_email": "c@x.io", "name": "Cy"},
        )
    ]


def test_changes_without_a_landed_snapshot_are_refused(tmp_path):
    with pytest.raises(SourceError, match="no csms snapshot is landed before that date"):
        merge_changes(tmp_path, CSMS, DAY, csms(("a@x.io", "Ann")), [], "crm_api")


def test_an_event_entity_is_never_merged(tmp_path):
    tickets = ENTITY_BY_NAME["tickets"]
    empty = output_schema(tickets, []).empty_table()
    with pytest.raises(SourceError, match="tickets is an event entity"):
        merge_changes(tmp_path, tickets, DAY, empty, [], "support_api")


def test_state_is_published_with_the_batches_and_read_by_later_dates_only(tmp_path):
    stage_table("csms", csms(("a@x.io", "Ann")), tmp_path, DAY, source="crm_api")
    stage_state(tmp_path, DAY, "crm_api", {"until": "2026-10-31T06:00:00+00:00"})
    # staged, not published: a run that stops here leaves no state behind
    assert published_state(tmp_path, "crm_api", DAY + dt.timedelta(days=1)) is None
    assert [b.origin for b in staged_batches(tmp_path, DAY)] == ["crm_api"]
    publish_staged(tmp_path, DAY, ["csms"])
    assert pq.read_table(partition_dir(tmp_path, "csms", DAY) / "part-0.parquet").num_rows == 1
    later = published_state(tmp_path, "crm_api", DAY + dt.timedelta(days=1))
    assert later == {"until": "2026-10-31T06:00:00+00:00"}
    # a re-run of the same date starts where the date before it stopped
    assert published_state(tmp_path, "crm_api", DAY) is None
    assert not (tmp_path / ".staged" / DAY.isoformat()).exists()
