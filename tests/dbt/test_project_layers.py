"""The dbt project's layers run one way, and every model says what it is.

- only staging models read a source; an intermediate model reads staging, seeds and other
  intermediate models, never a mart; a mart reads intermediate and staging models and
  seeds, never another mart;
- every model has a primary-key test (``unique`` or ``unique_across_days`` on a column, or
  ``unique_combination``);
- a model that reads its own table (``{{ this }}``) to carry state is incremental;
- a per-day model (a ``history_date`` or ``change_date`` per row) carries ``_daily`` in its
  name;
- every source declares its freshness, with warn and error thresholds.
"""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from touchline.config import REPO_ROOT, settings
from touchline.warehouse import run_dbt

LAYERS = ("staging", "intermediate", "marts")
# what each layer may read (beside seeds)
MAY_READ = {
    "staging": {"source", "staging"},
    "intermediate": {"staging", "intermediate"},
    "marts": {"staging", "intermediate"},
}
# the staging models that take the latest of their snapshot or version model
STAGING_OVER_STAGING = {
    "stg_crm__accounts",
    "stg_crm__contracts",
    "stg_crm__fx_rates",
    "stg_support__tickets",
}


@pytest.fixture(scope="module")
def manifest(tmp_path_factory) -> dict:
    work = tmp_path_factory.mktemp("dbt-parse")
    paths = settings().with_overrides(
        landing_dir=work / "landing", warehouse=work / "warehouse.duckdb"
    )
    parsed = run_dbt(["parse", "--no-partial-parse"], paths, dt.date(2026, 10, 30), paths.warehouse)
    assert parsed.returncode == 0, parsed.stdout[-3000:]
    return json.loads((paths.state_dir / "dbt-target" / "manifest.json").read_text())


def _models(manifest: dict) -> dict[str, dict]:
    return {
        node["unique_id"]: node
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model"
    }


def _layer(node: dict) -> str:
    folder = node["original_file_path"].split("/")[1]
    assert folder in LAYERS, f"{node['name']} is outside models/{{{','.join(LAYERS)}}}"
    return folder


def _kind(unique_id: str, manifest: dict) -> str:
    if unique_id.startswith("source."):
        return "source"
    node = manifest["nodes"][unique_id]
    return "seed" if node["resource_type"] == "seed" else _layer(node)


def test_layers_read_only_the_layers_below(manifest):
    wrong = []
    for node in _models(manifest).values():
        layer = _layer(node)
        for parent in node["depends_on"]["nodes"]:
            kind = _kind(parent, manifest)
            if kind == "seed" or kind in MAY_READ[layer]:
                if kind == "staging" and layer == "staging":
                    if node["name"] not in STAGING_OVER_STAGING:
                        wrong.append(f"{node['name']} (staging) reads {parent}")
                continue
            wrong.append(f"{node['name']} ({layer}) reads {parent} ({kind})")
    assert not wrong, "models reading a layer they must not:\n" + "\n".join(wrong)


def test_only_staging_reads_a_source_even_through_a_macro():
    """A source() call anywhere but a staging model or its macros would bypass the layer."""
    models = REPO_ROOT / "dbt_project" / "models"
    readers = [
        str(path.relative_to(models))
        for path in models.rglob("*.sql")
        if "source(" in path.read_text() and path.relative_to(models).parts[0] != "staging"
    ]
    macros = REPO_ROOT / "dbt_project" / "macros"
    readers += [
        str(path.relative_to(macros.parent))
        for path in macros.rglob("*.sql")
        if re.search(r"\bsource\(\s*'", path.read_text())
    ]
    assert not readers, f"source() outside staging: {readers}"


def test_every_model_has_a_primary_key_test(manifest):
    keyed = set()
    for node in manifest["nodes"].values():
        if node["resource_type"] != "test":
            continue
        name = (node.get("test_metadata") or {}).get("name")
        if name in ("unique", "unique_across_days", "unique_combination") and node.get(
            "attached_node"
        ):
            keyed.add(node["attached_node"])
    unkeyed = sorted(node["name"] for uid, node in _models(manifest).items() if uid not in keyed)
    assert not unkeyed, f"models without a primary-key test: {unkeyed}"


def test_models_carrying_state_are_incremental(manifest):
    for node in _models(manifest).values():
        reads_itself = "{{ this }}" in node["raw_code"] or "from {{ this" in node["raw_code"]
        uses_carry = (
            "carried_rows_available(" in node["raw_code"] or "activity_spans(" in (node["raw_code"])
        )
        if reads_itself or uses_carry:
            assert node["config"]["materialized"] == "incremental", (
                f"{node['name']} reads its own table but is materialized "
                f"{node['config']['materialized']}: declare it incremental"
            )


def test_per_day_models_say_daily(manifest, tmp_path_factory):
    """A model with a history_date or change_date column per row is a per-day model."""
    for node in _models(manifest).values():
        columns = set(node["columns"]) | set(
            re.findall(r"\bas (history_date|change_date)\b", node["raw_code"])
        )
        if {"history_date", "change_date"} & columns and node["name"] != "int_history_days":
            assert node["name"].endswith("_daily"), f"{node['name']} is per day: name it _daily"


def test_every_source_declares_its_freshness(manifest):
    for source in manifest["sources"].values():
        freshness = source.get("freshness") or {}
        assert (freshness.get("warn_after") or {}).get("count") and (
            freshness.get("error_after") or {}
        ).get("count"), f"source {source['source_name']}.{source['name']} declares no freshness"
        assert source.get("loaded_at_field") or source.get("loaded_at_query"), (
            f"source {source['source_name']}.{source['name']} has no loaded_at_field"
        )
