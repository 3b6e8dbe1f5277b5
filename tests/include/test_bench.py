"""The benchmark's measuring and reporting: peak memory of a process tree, the figures a
stage prints, the targets each scale is judged against."""

from __future__ import annotations

import json
import sys

import pytest

from touchline import bench
from touchline.bench import markdown, measure, targets

# a parent that starts a child holding ~300 MB until the sampler has seen it, then reports
# its rows; the release file is the signal, so a slow machine only makes it wait longer
TREE = """
import os, subprocess, sys
child = (
    "import os, time; block = b'x' * (300 * 2**20)\\n"
    "while not os.path.exists(os.environ['RELEASE']): time.sleep(0.01)"
)
subprocess.run([sys.executable, "-c", child])
print('BENCH {"rows": 1234, "models": 7}')
"""


def test_peak_memory_counts_the_children_of_the_stage(tmp_path, monkeypatch):
    release = tmp_path / "sampled"
    sample = bench._tree_rss

    def sample_then_release(process):
        rss = sample(process)
        if rss >= 290 * 2**20:
            release.touch()
        return rss

    monkeypatch.setattr(bench, "_tree_rss", sample_then_release)
    stage = measure("tree", [sys.executable, "-c", TREE], env={"RELEASE": str(release)})
    assert stage.peak_rss_mb >= 290  # the child's block, not just the idle parent
    assert stage.rows == 1234
    assert stage.detail == {"models": 7}
    # the rate comes from the unrounded seconds; stage.seconds is rounded to 0.01 s
    assert 1234 / (stage.seconds + 0.005) <= stage.rows_per_second + 0.05
    assert stage.rows_per_second - 0.05 <= 1234 / max(stage.seconds - 0.005, 1e-9)


def test_a_failed_stage_raises_with_its_output():
    failing = "print('partial output'); raise SystemExit(3)"
    with pytest.raises(RuntimeError, match=r"(?s)bench stage broken failed \(3\).*partial output"):
        measure("broken", [sys.executable, "-c", failing], env={})


def result(scale, nightly_seconds, nightly_mb=2000.0, sql_seconds=90.0, overhead=12.0, **more):
    """A result with every stage a target reads; ``more``: other figures by target name."""

    def stage(name, seconds, mb=100.0, detail=None):
        return {
            "name": name,
            "seconds": seconds,
            "peak_rss_mb": mb,
            "rows": 10,
            "rows_per_second": 10 / seconds,
            "detail": detail or {},
        }

    return {
        "scale": scale,
        "accounts": 20_000,
        "days": 180,
        "date": "2026-12-01",
        "machine": {"cpus": 2, "memory_gb": 23.5},
        "stages": [
            stage("full_pipeline", more.get("full", 500.0)),
            stage("scan_floor", 2.5),
            stage(
                "nightly_incremental",
                nightly_seconds,
                nightly_mb,
                {
                    "airflow_overhead_seconds": overhead,
                    "dbt_seconds": more.get("dbt", 10.0),
                    "slowest_tasks": [["build_warehouse", 12.5], ["gate_before_load", 3.4]],
                    "slowest_models": [["int_account_user_spans", 1.39]],
                },
            ),
            stage("exports", more.get("exports", 5.0)),
            stage("sql_floor", sql_seconds),
        ],
        "ratios": {"nightly_over_sql_floor": round(nightly_seconds / sql_seconds, 2)},
    }


def test_the_medium_nightly_target_is_25_seconds():
    within, beyond = targets(result("medium", 25.0)), targets(result("medium", 25.1))
    assert [check["limit"] for check in within] == [25]
    assert within[0]["met"] and not beyond[0]["met"]
    assert within[0]["over_scan_floor"] == 10.0  # against the scan floor of 2.5 s
    assert "25.1 (10.0 x the scan floor) against 25, NOT met" in markdown(result("medium", 25.1))
    assert "25.0 (10.0 x the scan floor) against 25, met" in markdown(result("medium", 25.0))


def test_the_small_scales_have_no_targets():
    assert targets(result("small", 1000.0)) == []
    assert "target" not in markdown(result("small", 1000.0))


def test_the_large_scale_is_held_to_each_of_its_targets():
    checks = {
        check["target"]: check["met"]
        for check in targets(result("large", 44.0, nightly_mb=4000.0, dbt=16.0, full=599.0))
    }
    assert checks == {
        "nightly under 45 s (s)": True,
        "nightly peak memory under 4 GB (MB)": True,
        "the night's dbt build under 15 s (s)": False,
        "first build under 10 minutes (s)": True,
        "exports under 15 s (s)": True,
    }
    too_big = targets(result("large", 46.0, nightly_mb=4097.0, full=601.0, exports=15.5))
    assert [check["met"] for check in too_big] == [False, False, True, False, False]
    assert "over_scan_floor" not in too_big[1]  # memory has no ratio


def test_the_table_names_the_slowest_tasks_and_models():
    table = markdown(result("medium", 20.0))
    assert "- nightly_incremental, tasks: build_warehouse 12.5, gate_before_load 3.4" in table
    assert "- nightly_incremental, models: int_account_user_spans 1.4" in table


def test_the_table_names_the_commit_it_measured():
    assert "(2026-12-01; commit 1516e70; 2 cores" in markdown(
        dict(result("small", 30.0), commit="1516e70")
    )
    assert "(2026-12-01; 2 cores" in markdown(result("small", 30.0))  # not from a checkout


def test_a_run_keeps_earlier_commits_figures_and_shows_them_beside_its_own(tmp_path):
    first = dict(result("medium", 37.0), commit="53ccf86")
    second = dict(result("medium", 85.6), commit="b80e3fd", date="2026-12-03")
    bench.write_results(first, tmp_path)
    bench.write_results(dict(result("small", 9.0), commit="0000000"), tmp_path)  # another scale
    bench.write_results(second, tmp_path)
    assert sorted(p.name for p in tmp_path.glob("*.json")) == [
        "medium-2026-12-01-53ccf86.json",
        "medium-2026-12-03-b80e3fd.json",
        "small-2026-12-01-0000000.json",
    ]
    table = (tmp_path / "medium-2026-12-03-b80e3fd.md").read_text()
    assert "| stage | seconds | earlier (53ccf86) | peak RSS (MB) |" in table
    assert "| nightly_incremental | 85.6 | 37.0 | 2000 |" in table
    assert "| sql_floor | 90.0 | 90.0 |" in table
    first_table = (tmp_path / "medium-2026-12-01-53ccf86.md").read_text()
    assert "earlier" not in first_table  # nothing before it


def test_the_sources_stage_measures_each_source_at_the_tiny_scale(tmp_path):
    from touchline.cli import build_parser

    args = build_parser().parse_args(["bench", "--scale", "tiny", "--stage", "sources"])
    assert args.stage == "sources"
    measured = bench.run_sources("tiny", tmp_path / "work", results_dir=tmp_path / "results")
    stages = {stage["name"]: stage for stage in measured["stages"]}
    assert list(stages) == ["salesforce", "zendesk", "usage_files"]
    for name, stage in stages.items():
        assert stage["rows"] > 0, f"{name}: no rows extracted"
        assert stage["rows_per_second"] > 0, f"{name}: no rows/s"
        assert stage["peak_rss_mb"] > 0, f"{name}: no peak memory"
    assert set(stages["salesforce"]["detail"]["entities"]) == {
        "accounts",
        "contacts",
        "contracts",
        "csms",
        "snoozes",
        "fx_rates",
    }
    assert list(stages["zendesk"]["detail"]["entities"]) == ["tickets"]
    assert list(stages["usage_files"]["detail"]["entities"]) == ["usage_events"]
    # the results name the commit measured and the date served
    stem = f"tiny-sources-{measured['date']}"
    if measured["commit"]:
        stem += f"-{measured['commit']}"
    written = json.loads((tmp_path / "results" / f"{stem}.json").read_text())
    assert written["commit"] == bench.code_version()
    assert written["served_date"] == measured["served_date"]
    table = (tmp_path / "results" / f"{stem}.md").read_text()
    assert "| salesforce | accounts, contracts, contacts, csms, snoozes, fx_rates |" in table
    assert 0 < stages["zendesk"]["detail"]["extract_seconds"] <= stages["zendesk"]["seconds"]
