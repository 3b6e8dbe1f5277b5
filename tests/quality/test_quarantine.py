"""One stray row does not stop the night: it is quarantined, the other rows land.

Unknown accounts fail a batch only when they are both above the ``fail`` share and at
least ``min_rows`` (thresholds.yml); below that, each such row is held back into
``quality/<D>/quarantine/<entity>.csv`` with its file, line and reason.
"""

from __future__ import annotations

import csv
import json

import pyarrow.parquet as pq

from tests.quality.test_gate_before_load import DAY, GOOD, paths_for, replace_line, write_drop
from touchline.landing import PART_NAME, partition_dir, stage_entities
from touchline.pipeline import land_if_passed
from touchline.quality.quarantine import quarantine_dir
from touchline.quality.report import report_dir

ENTITIES = ("accounts", "contracts", "nps_responses", "activities", "csms")
NPS = (
    "response_id,account_id,score,responded_at,comment\n"
    "r1,a1,9,2026-10-30T08:00:00Z,great\n"
    'r2,nobody,3,2026-10-30T09:00:00Z,"two\nlines"\n'
    "r3,a3,7,2026-10-30T10:00:00Z,\n"
    "r4,a4,10,2026-10-30T11:00:00Z,\n"
)
ACTIVITIES = "activity_id,account_id,activity_type,occurred_at,csm_email\n" + "".join(
    f"v{n},a{n},check_in_call,2026-10-30T08:00:00Z,sam.lee@touchline.example\n"
    for n in range(1, 11)
)
CSMS = "csm_email,name\nsam.lee@touchline.example,Sam Lee\n"


def run(root, **changes):
    files = {**GOOD, "nps_responses": NPS, "activities": ACTIVITIES, "csms": CSMS, **changes}
    write_drop(root, files)
    paths = paths_for(root)
    stage_entities(ENTITIES, paths.source_dir, paths.landing_dir, DAY)
    return paths, land_if_passed(paths, DAY, ENTITIES)


def landed_ids(paths, entity, column):
    table = pq.read_table(partition_dir(paths.landing_dir, entity, DAY) / PART_NAME)
    return table.column(column).to_pylist()


def test_one_unknown_account_in_four_rows_is_quarantined_and_the_rest_lands(tmp_path):
    paths, summary = run(tmp_path)
    assert summary["status"] == "warned"
    held = quarantine_dir(paths.output_dir, DAY) / "nps_responses.csv"
    assert summary["quarantined_rows"] == 1
    assert summary["quarantine"] == [{"entity": "nps_responses", "rows": 1, "file": str(held)}]
    assert landed_ids(paths, "nps_responses", "response_id") == ["r1", "r3", "r4"]
    with open(held, encoding="utf-8", newline="") as handle:
        (row,) = list(csv.DictReader(handle))
    assert row["file"].endswith("nps_responses.csv") and row["line"] == "3"
    assert "account_id is in neither today's accounts snapshot" in row["reason"]
    assert (row["response_id"], row["account_id"], row["score"]) == ("r2", "nobody", "3")
    assert row["responded_at"] == "2026-10-30T09:00:00Z" and row["comment"] == "two\nlines"
    report = json.loads((report_dir(paths.output_dir, DAY) / "report.json").read_text())
    (gate,) = [s for s in report["steps"] if s["step"] == "before_load"]
    assert gate["quarantined_rows"] == 1 and gate["quarantine"][0]["file"] == str(held)
    (nps,) = [d for d in gate["datasets"] if d["name"] == "nps_responses"]
    assert nps["quarantined"] == 1
    html = (report_dir(paths.output_dir, DAY) / "report.html").read_text()
    assert "1 row(s) quarantined" in html and str(held) in html


def test_a_rerun_without_the_stray_row_leaves_no_quarantine(tmp_path):
    paths, _ = run(tmp_path)
    paths, summary = run(tmp_path, nps_responses=NPS.replace(",nobody,", ",a2,"))
    assert summary["status"] == "passed" and "quarantine" not in summary
    assert not quarantine_dir(paths.output_dir, DAY).exists()
    assert landed_ids(paths, "nps_responses", "response_id") == ["r1", "r2", "r3", "r4"]


def test_an_activity_with_a_malformed_csm_address_is_quarantined(tmp_path):
    activities = replace_line(ACTIVITIES, 4, "sam.lee@", ".sam.lee@")
    paths, summary = run(
        tmp_path, activities=activities, nps_responses=NPS.replace(",nobody,", ",a2,")
    )
    assert [h["entity"] for h in summary["quarantine"]] == ["activities"]
    assert "v3" not in landed_ids(paths, "activities", "activity_id")
    held = quarantine_dir(paths.output_dir, DAY) / "activities.csv"
    with open(held, encoding="utf-8", newline="") as handle:
        (row,) = list(csv.DictReader(handle))
    assert row["line"] == "4" and row["csm_email"] == ".sam.lee@touchline.example"
    assert row["reason"].startswith("csm_email: expect_column_values_to_match_regex")
