"""The dbt project documents itself: every model has a yml with its grain, and every mart
column a description in the generated docs."""

from __future__ import annotations

import json

import yaml

from touchline.config import REPO_ROOT
from touchline.warehouse import run_dbt

MODELS = REPO_ROOT / "dbt_project" / "models"


def test_every_model_has_its_own_yml():
    for sql in MODELS.rglob("*.sql"):
        yml = sql.with_suffix(".yml")
        assert yml.exists(), f"{sql.relative_to(MODELS)} has no {yml.name} beside it"
        models = yaml.safe_load(yml.read_text(encoding="utf-8"))["models"]
        (model,) = [m for m in models if m["name"] == sql.stem]
        assert "one row per" in model.get("description", "").lower(), (
            f"{sql.stem}'s description does not state its grain ('one row per ...')"
        )


def test_docs_describe_every_mart_column(built):
    paths, run_date = built
    completed = run_dbt(["docs", "generate"], paths, run_date, paths.warehouse)
    assert completed.returncode == 0, completed.stdout[-3000:]
    target = paths.state_dir / "dbt-target"
    manifest = json.loads((target / "manifest.json").read_text())
    catalog = json.loads((target / "catalog.json").read_text())
    marts = [
        node
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and "/marts/" in "/" + node["original_file_path"]
    ]
    assert len(marts) >= 8
    for node in marts:
        assert node["description"].strip(), f"{node['name']} has no description"
        built_columns = catalog["nodes"][node["unique_id"]]["columns"]
        documented = {
            name.lower(): column["description"].strip() for name, column in node["columns"].items()
        }
        missing = sorted(c for c in built_columns if not documented.get(c.lower()))
        assert not missing, f"{node['name']}: undocumented columns {missing}"
