"""The touch model is data, and invalid data is rejected before it reaches a work list.

Each case breaks one seed in a copy of the dbt project and checks that the configuration
checks (the seeds' tests and the tests tagged touch_model_config) fail, naming the rule.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess

import pytest

from touchline.config import REPO_ROOT
from touchline.warehouse import dbt_executable

SELECTOR = "resource_type:seed tag:touch_model_config"


def run_config_checks(project, tmp_path) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.update(
        TOUCHLINE_WAREHOUSE=str(tmp_path / "config-check.duckdb"),
        TOUCHLINE_LANDING_DIR=str(tmp_path / "landing"),
        TOUCHLINE_RUN_DATE="2026-10-30",
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
    )
    return subprocess.run(
        [dbt_executable(), "build", "--select", SELECTOR, "--indirect-selection", "cautious"]
        + ["--project-dir", str(project)]
        + ["--profiles-dir", str(project), "--target-path", str(tmp_path / "target")]
        + ["--log-path", str(tmp_path / "logs")],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        cwd=project,
    )


def edit_seed(project, name, change) -> None:
    path = project / "seeds" / f"{name}.csv"
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    fields = list(rows[0])
    change(rows)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(out.getvalue(), encoding="utf-8")


def set_field(match: dict, field: str, value: str):
    def change(rows):
        hits = [r for r in rows if all(r[k] == v for k, v in match.items())]
        assert hits, f"no seed row matches {match}"
        for row in hits:
            row[field] = value

    return change


@pytest.fixture
def project(tmp_path):
    copy = tmp_path / "dbt_project"
    shutil.copytree(
        REPO_ROOT / "dbt_project", copy, ignore=shutil.ignore_patterns("target", "logs")
    )
    return copy


def test_shipped_touch_model_passes(project, tmp_path):
    completed = run_config_checks(project, tmp_path)
    assert completed.returncode == 0, completed.stdout[-3000:]


BROKEN = {
    "weights not summing to 100": (
        "health_components",
        set_field({"component": "usage"}, "weight", "40"),
        "assert_health_component_weights_sum_to_100",
    ),
    "unknown touchpoint code": (
        "cadence_playbook",
        set_field({"tier": "high", "touchpoint": "kickoff_call"}, "touchpoint", "kickoff_cal"),
        "assert_playbook_is_valid",
    ),
    "unknown lifecycle stage": (
        "cadence_playbook",
        set_field({"tier": "low", "touchpoint": "health_check"}, "lifecycle_stages", "onbording"),
        "assert_playbook_is_valid",
    ),
    "overlapping tier thresholds": (
        "touch_tiers",
        set_field({"tier": "medium"}, "min_arr_usd", "150000"),
        "assert_touch_tiers_thresholds_are_ordered",
    ),
    "overlapping health bands": (
        "health_bands",
        set_field({"band": "yellow"}, "min_score", "45"),
        "assert_health_bands_partition_0_to_100",
    ),
    "unknown tier rule": (
        "tier_rules",
        set_field({"rule_code": "strategic"}, "rule_code", "vip"),
        "accepted_values_tier_rules_rule_code",
    ),
    "touchpoint without a label": (
        "touchpoints",
        set_field({"touchpoint": "qbr"}, "label", ""),
        "assert_touchpoints_are_labelled",
    ),
    "unknown override rule": (
        "health_overrides",
        set_field({"rule_code": "recent_detractor"}, "rule_code", "angry_customer"),
        "accepted_values_health_overrides_rule_code",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_invalid_touch_model_is_rejected(project, tmp_path, case):
    seed, change, failing_test = BROKEN[case]
    edit_seed(project, seed, change)
    completed = run_config_checks(project, tmp_path)
    assert completed.returncode != 0
    failures = [line for line in completed.stdout.splitlines() if "FAIL" in line]
    assert any(failing_test in line for line in failures), completed.stdout[-3000:]


def test_a_column_added_to_the_touchpoints_seed_reaches_an_existing_warehouse(project, tmp_path):
    """A warehouse built before the catalogue had labels takes the labelled catalogue."""
    shipped = (project / "seeds" / "touchpoints.csv").read_text(encoding="utf-8")
    with open(project / "seeds" / "touchpoints.csv", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    out = io.StringIO()
    older = [f for f in rows[0] if f != "label"]
    writer = csv.DictWriter(out, fieldnames=older, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    (project / "seeds" / "touchpoints.csv").write_text(out.getvalue(), encoding="utf-8")
    before = run_config_checks(project, tmp_path)
    assert "assert_touchpoints_are_labelled" in before.stdout  # the old catalogue has no label
    (project / "seeds" / "touchpoints.csv").write_text(shipped, encoding="utf-8")
    after = run_config_checks(project, tmp_path)
    assert after.returncode == 0, after.stdout[-3000:]
