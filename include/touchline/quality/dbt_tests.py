"""The dbt tests a build failed, in words: the rule, where, and the failing rows by id.

A failed build runs its failed data tests again with ``--store-failures``, so each failing
row is kept in the working copy (schema ``*_dbt_test__audit``). This module reads those rows
with the tests' definitions from dbt's manifest and says what went wrong in the user's
terms: "int_account_arr_daily: an active contract's currency has no fx_rates row ...:
2 rows: account_id=acc-1, history_date=2026-10-30, ...". A test may explain its rule in
``config: meta: explain:`` (a model's yml) or in the leading comment of a singular test.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import duckdb

SHOWN_ROWS = 5
SHOWN_IDS = 4  # identifying columns shown per row, then the tested ones and the rest
SHOWN_COLUMNS = 8
# columns that identify a failing row, shown before the tested ones
ID_COLUMN = re.compile(r"(_id|_key|_email|_date|^touchpoint|^tier|^currency)$")
COUNT_COLUMNS = ("n_records", "failures")


@dataclass
class FailedTest:
    """One failed data test, with the rows it found (at most ``SHOWN_ROWS``)."""

    name: str
    where: str  # the model or seed (and column) it checks
    rule: str  # the rule in words
    failures: int
    columns: list[str] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)

    def describe(self) -> str:
        count = f"{self.failures:,} failing row{'s' if self.failures != 1 else ''}"
        text = f"{self.where}: {self.rule}: {count}"
        if self.rows:
            shown = "; ".join(
                ", ".join(f"{column}={row[column]}" for column in self.columns if column in row)
                for row in self.rows
            )
            text += f": {shown}"
            if self.failures > len(self.rows):
                text += f"; and {self.failures - len(self.rows):,} more"
        return f"{text} (dbt test {self.name})"

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "description": self.describe()}


def failed_data_tests(run_results: Path) -> list[str]:
    """The unique ids of the tests that ran and found rows (not those that could not run)."""
    if not run_results.exists():
        return []
    results = json.loads(run_results.read_text())["results"]
    return [
        r["unique_id"]
        for r in results
        if r["unique_id"].startswith("test.") and r["status"] == "fail"
    ]


def explain(target: Path, warehouse: Path) -> list[FailedTest]:
    """The failed tests of a ``--store-failures`` run in ``target``, read from ``warehouse``."""
    results = json.loads((target / "run_results.json").read_text())["results"]
    nodes = json.loads((target / "manifest.json").read_text())["nodes"]
    explained = []
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for result in results:
            if result["status"] != "fail":
                continue
            node = nodes.get(result["unique_id"], {})
            test = FailedTest(
                name=node.get("name", result["unique_id"]),
                where=_where(node),
                rule=_rule(node),
                failures=int(result.get("failures") or 0),
            )
            relation = _relation(result.get("relation_name"))
            if relation:
                test.rows, test.columns = _rows(con, relation, node)
            explained.append(test)
    return explained


def _relation(name: str | None) -> str | None:
    """``"db"."schema"."table"`` as ``"schema"."table"`` (the file's own name may differ)."""
    if not name:
        return None
    parts = name.split(".")
    return ".".join(parts[-2:])


def _where(node: dict[str, Any]) -> str:
    attached = node.get("attached_node") or ""
    where = attached.split(".")[-1] if attached else ""
    if not where:
        parents = [n.split(".")[-1] for n in node.get("depends_on", {}).get("nodes", [])]
        where = " and ".join(parents) or "the warehouse"
    column = node.get("column_name")
    return f"{where}.{column}" if column else where


def _rule(node: dict[str, Any]) -> str:
    meta = (node.get("config") or {}).get("meta") or {}
    if meta.get("explain"):
        return str(meta["explain"])
    metadata = node.get("test_metadata") or {}
    kind, kwargs = metadata.get("name"), metadata.get("kwargs") or {}
    column = node.get("column_name") or kwargs.get("column_name")
    if kind == "unique":
        return f"{column} values that appear more than once (one row per {column} expected)"
    if kind == "not_null":
        return f"rows without a {column}"
    if kind == "accepted_values":
        values = ", ".join(str(v) for v in kwargs.get("values") or [])
        return f"{column} values outside {values}"
    if kind == "relationships":
        target = re.search(r"ref\('([^']+)'\)", str(kwargs.get("to", "")))
        other = target.group(1) if target else kwargs.get("to")
        return f"{column} values with no {kwargs.get('field')} in {other}"
    if kind == "unique_combination":
        columns = ", ".join(kwargs.get("columns") or [])
        return f"rows sharing the same {columns} (one row per combination expected)"
    if kind == "expression_is_true":
        return f"rows where {kwargs.get('expression')} does not hold"
    return _leading_comment(node.get("raw_code") or "") or (kind or "rows the test rejects")


def _leading_comment(sql: str) -> str:
    """The ``--`` comment a singular test opens with: its rule in words."""
    lines = []
    for line in sql.splitlines():
        stripped = line.strip()
        if stripped.startswith("--"):
            lines.append(stripped.lstrip("- ").strip())
        elif lines or (stripped and not stripped.startswith("{{")):
            break
    return " ".join(lines).rstrip(".")


def _rows(con, relation: str, node: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
    cursor = con.execute(f"select * from {relation} limit {SHOWN_ROWS}")
    names = [d[0] for d in cursor.description]
    rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    mentioned = set(re.findall(r"[a-z_]+", json.dumps(node.get("test_metadata") or {})))
    if node.get("column_name"):
        mentioned.add(node["column_name"])
    ids = [n for n in names if ID_COLUMN.search(n)]
    tested = [n for n in names if n in mentioned and n not in ids]
    counts = [n for n in names if n in COUNT_COLUMNS]
    rest = [n for n in names if n not in ids and n not in tested and n not in counts]
    shown = (ids[:SHOWN_IDS] + tested + counts + rest)[:SHOWN_COLUMNS]
    return [{k: _plain(v) for k, v in row.items()} for row in rows], shown


def _plain(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value
