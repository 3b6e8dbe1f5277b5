"""`touchline demo --sources api` gives the work lists of the file drop, row for row.

One small book is generated; ``touchline demo --sources api --drop`` serves it from the local
Salesforce, Zendesk and S3 servers (history landed through the APIs date by date, the night
read by the DAG's extract tasks), and ``touchline demo --drop`` runs the file drop of the
same book as the systems hold it (``write_served_drop``: Zendesk's integer ticket ids,
whole-minute first replies, good/bad ratings, the corporate currency rated 1). Each run has
its own TOUCHLINE_HOME and output folder. Every file of the last date's work lists must
hold the same rows: what the APIs deliver is what the drop would have.
"""

from __future__ import annotations

import csv

import pytest

from tests.conftest import run_touchline
from touchline.demo.generator import generate
from touchline.demo.serve import write_served_drop

pytestmark = pytest.mark.e2e

ACCOUNTS, DAYS, SEED = 150, 8, 11


def _demo(work, *options: str):
    work.mkdir()
    output = work / "output"
    completed = run_touchline(
        "demo", "--output-dir", str(output), *options, home=work / "home", timeout=1800
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    (day_dir,) = [p for p in output.iterdir() if p.is_dir() and p.name[:2] == "20"]
    return completed, day_dir


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    work = tmp_path_factory.mktemp("demo-api")
    drop = generate(work / "drop", accounts=ACCOUNTS, days=DAYS, seed=SEED).out_dir
    served_drop = write_served_drop(drop, work / "served-drop")
    api = _demo(work / "api", "--sources", "api", "--drop", str(drop))
    files = _demo(work / "files", "--drop", str(served_drop))
    return api, files


def _rows(path) -> list[dict]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _work_list_files(day_dir) -> list[str]:
    names = ["worklist.csv", "automation_queue.csv", "accounts.csv"]
    return names + sorted(
        f"worklists/{path.name}" for path in (day_dir / "worklists").glob("*.csv")
    )


def test_the_api_demo_says_where_its_sources_came_from(runs):
    (api, _), _ = runs
    assert "Sources (" in api.stdout
    assert "crm        local Salesforce at https://127.0.0.1:" in api.stdout
    assert "support    local Zendesk at https://127.0.0.1:" in api.stdout
    assert "usage      Segment files in s3://" in api.stdout
    assert "engagement the file drop" in api.stdout
    assert "Landing the history through the APIs" in api.stdout
    assert "Data quality:    passed" in api.stdout


def test_the_api_demo_and_the_file_drop_write_the_same_work_lists(runs):
    (_, api_day), (_, files_day) = runs
    assert api_day.name == files_day.name
    names = _work_list_files(files_day)
    assert _work_list_files(api_day) == names
    assert len(names) > 4, "no per-CSM work list to compare"
    for name in names:
        expected, actual = _rows(files_day / name), _rows(api_day / name)
        assert expected, f"{name} is empty in the file-drop run: the comparison proves nothing"
        assert len(actual) == len(expected), f"{name}: row counts differ"
        for number, (want, got) in enumerate(zip(expected, actual, strict=True), start=2):
            assert got == want, f"{name} line {number}: the API demo and the drop differ"
