"""A drop file that is missing is not an empty one: the gate says so, warn or fail per entity.

Event files carry only new records: a missing one read as "no records" loses that day's
records for good, so the gate reports it (``missing_file`` in thresholds.yml), while a file
with only its header row is a day without records and passes quietly.
"""

from __future__ import annotations

import json
import logging
import shutil

import pytest
import yaml

from tests.quality.test_gate_before_load import DAY, GOOD, paths_for, write_drop
from touchline.config import settings
from touchline.errors import GateFailed
from touchline.landing import PART_NAME, partition_dir, stage_entities
from touchline.pipeline import land_if_passed
from touchline.quality.report import report_dir

NPS_HEADER = "response_id,account_id,score,responded_at\n"
WITH_NPS = ("accounts", "contracts", "tickets", "nps_responses")


def stage(root, files, entities=WITH_NPS, thresholds=None):
    write_drop(root, files)
    paths = paths_for(root)
    if thresholds is not None:
        folder = root / "expectations"
        shutil.copytree(settings().expectations_dir, folder)
        config = yaml.safe_load((folder / "thresholds.yml").read_text())
        config["before_load"].update(thresholds)
        (folder / "thresholds.yml").write_text(yaml.safe_dump(config))
        paths = paths.with_overrides(expectations_dir=folder)
    stage_entities(entities, paths.source_dir, paths.landing_dir, DAY)
    return paths


def gate_part(paths):
    report = json.loads((report_dir(paths.output_dir, DAY) / "report.json").read_text())
    (gate,) = [s for s in report["steps"] if s["step"] == "before_load"]
    return gate


def test_a_missing_event_file_warns_in_the_report_and_the_log(tmp_path, caplog):
    paths = stage(tmp_path, GOOD)  # no nps_responses.csv in the folder
    with caplog.at_level(logging.WARNING, logger="touchline.quality.gates"):
        summary = land_if_passed(paths, DAY, WITH_NPS)
    assert summary["status"] == "warned" and summary["warnings"] == 1
    gate = gate_part(paths)
    assert gate["status"] == "warned"
    (nps,) = [d for d in gate["datasets"] if d["name"] == "nps_responses"]
    (missing,) = [o for o in nps["outcomes"] if not o["success"]]
    assert missing["severity"] == "warn"
    expected = tmp_path / "drop" / DAY.isoformat() / "nps_responses.csv"
    assert str(expected) in missing["message"] and "lost" in missing["message"]
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert f"nps_responses: no nps_responses file in the drop ({expected} missing)" in logged
    html = (report_dir(paths.output_dir, DAY) / "report.html").read_text()
    assert "no nps_responses file in the drop" in html
    # the day still lands (an empty partition), as before
    assert (partition_dir(paths.landing_dir, "nps_responses", DAY) / PART_NAME).exists()


def test_a_header_only_event_file_is_a_day_without_records(tmp_path):
    paths = stage(tmp_path, {**GOOD, "nps_responses": NPS_HEADER})
    summary = land_if_passed(paths, DAY, WITH_NPS)
    assert summary["status"] == "passed" and summary["warnings"] == 0


def test_a_missing_file_fails_where_thresholds_say_so(tmp_path):
    paths = stage(tmp_path, GOOD, thresholds={"missing_file": {"nps_responses": "fail"}})
    with pytest.raises(GateFailed) as caught:
        land_if_passed(paths, DAY, WITH_NPS)
    message = str(caught.value)
    assert "- nps_responses: no nps_responses file in the drop" in message
    assert "were not published" in message
    assert not (partition_dir(paths.landing_dir, "accounts", DAY) / PART_NAME).exists()


def test_missing_usage_events_fail_by_default(tmp_path):
    """A day without usage would make every account look idle: the shipped default fails."""
    paths = stage(tmp_path, GOOD, entities=("accounts", "contracts", "usage_events"))
    with pytest.raises(GateFailed, match="usage_events: no usage_events file in the drop"):
        land_if_passed(paths, DAY, ("accounts", "contracts", "usage_events"))


def test_a_severity_other_than_warn_or_fail_is_named(tmp_path):
    paths = stage(tmp_path, GOOD, thresholds={"missing_file": {"default": "stop"}})
    with pytest.raises(Exception, match=r"missing_file\.nps_responses: 'stop'; expected warn"):
        land_if_passed(paths, DAY, WITH_NPS)
