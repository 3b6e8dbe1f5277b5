"""Parsing the nightly DAG costs no more than Airflow's own SDK: no heavy library, no output.

The scheduler parses every DAG file every 30 seconds, in a fresh process now and then. The
file and ``touchline.pipeline`` import only settings, the schema and the error classes; the
tasks import Great Expectations, pandas, DuckDB, Arrow and dbt's runner when they run. Each
check runs the parse in a new interpreter, so nothing another test imported hides a heavy
import.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from touchline.config import DAG_ID, REPO_ROOT

DAG_FILE = REPO_ROOT / "dags" / f"{DAG_ID}.py"
# what the tasks use and a parse must not load (none of them comes with airflow.sdk)
HEAVY = ("great_expectations", "pandas", "dbt", "duckdb", "pyarrow", "numpy", "matplotlib")
MARK = "--- the DAG file from here ---"

PARSE = f"""
import json, logging, os, sys

import airflow.sdk  # what every DAG file costs: the baseline

baseline = set(sys.modules)
environ = dict(os.environ)
records = []


class Kept(logging.Handler):
    def emit(self, record):
        records.append(f"{{record.levelname}} {{record.name}}: {{record.getMessage()}}")


logging.getLogger().addHandler(Kept(logging.NOTSET))
for stream in (sys.stdout, sys.stderr):
    stream.write({MARK!r} + "\\n")
    stream.flush()

import importlib.util

spec = importlib.util.spec_from_file_location("{DAG_ID}", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)

sys.stdout.flush()
sys.stderr.flush()
loaded = set(sys.modules)
found = {{
    "factory": callable(getattr(module, "{DAG_ID}", None)),
    "pipeline": "touchline.pipeline" in loaded,
    "baseline": sorted(name for name in {HEAVY!r} if name in baseline),
    "added": sorted(name for name in {HEAVY!r} if name in loaded - baseline),
    "changed": sorted(
        name
        for name in set(environ) | set(os.environ)
        if environ.get(name) != os.environ.get(name)
    ),
    "records": records,
}}
with open(sys.argv[2], "w", encoding="utf-8") as out:
    json.dump(found, out)
"""


@pytest.fixture(scope="module")
def parsed(tmp_path_factory) -> dict:
    """Parse the DAG file once in a fresh interpreter: what it loaded, changed and wrote."""
    result = tmp_path_factory.mktemp("parse") / "parsed.json"
    done = subprocess.run(
        [sys.executable, "-c", PARSE, str(DAG_FILE), str(result)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(result.read_text(encoding="utf-8"))
    found["stdout"] = done.stdout.split(MARK + "\n", 1)[1]
    found["stderr"] = done.stderr.split(MARK + "\n", 1)[1]
    return found


def test_the_parse_reads_the_dag_through_the_pipeline(parsed):
    # otherwise the checks below would hold for a file that parses nothing
    assert parsed["factory"] and parsed["pipeline"]


def test_the_parse_imports_no_heavy_library(parsed):
    assert parsed["added"] == [], (
        f"parsing {DAG_FILE.name} imports {', '.join(parsed['added'])}: import it inside the "
        "task that uses it"
    )


def test_the_parse_logs_and_prints_nothing(parsed):
    assert parsed["records"] == []
    assert parsed["stdout"] == ""
    assert parsed["stderr"] == ""


def test_the_parse_changes_no_environment_variable(parsed):
    assert parsed["changed"] == []
