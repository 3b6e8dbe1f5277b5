"""A digest of what a run published: each warehouse table's rows and each output file's bytes.

Two builds that should agree (before and after a change to the models, or the same drop built
two ways) give equal digests. A table's digest is its columns, its row count and an
order-free hash of its rows, so a table whose physical order changed still compares equal;
an output file's digest is the SHA-256 of its bytes, since the files' order is part of the
contract. Run ``python -m touchline.digest WAREHOUSE [OUTPUT_DAY_DIR] > digest.json`` and
compare two files with ``python -m touchline.digest --compare A.json B.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

# Run metadata that differs between two builds of the same data, not their content.
VOLATILE_COLUMNS = {"built_at", "generated_at", "run_started_at", "invocation_id"}


def table_digests(warehouse: Path, tables: list[str] | None = None) -> dict[str, dict]:
    """Columns, rows and an order-free content hash of every table and view in ``main``."""
    import duckdb

    digests: dict[str, dict] = {}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        names = tables or [
            row[0]
            for row in con.execute(
                "select table_name from information_schema.tables"
                " where table_schema = 'main' order by table_name"
            ).fetchall()
        ]
        for name in names:
            columns = [
                (column, kind)
                for column, kind in con.execute(
                    "select column_name, data_type from information_schema.columns"
                    " where table_schema = 'main' and table_name = ? order by ordinal_position",
                    [name],
                ).fetchall()
                if column not in VOLATILE_COLUMNS
            ]
            # doubles are rounded so that a sum taken in another order still compares equal
            values = ", ".join(
                f'round("{column}", 9)' if kind in ("DOUBLE", "FLOAT") else f'"{column}"'
                for column, kind in columns
            )
            rows, content = con.execute(
                f"select count(*), coalesce(sum(hash({values})::hugeint), 0)::varchar"
                f' from main."{name}"'
            ).fetchone()
            digests[name] = {
                "columns": [f"{column} {kind}" for column, kind in columns],
                "rows": rows,
                "hash": content,
            }
    return digests


def file_digests(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under ``folder``, by its path relative to it."""
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def compare(first: dict, second: dict) -> list[str]:
    """The differences between two digests, in words; empty when they agree."""
    differences = []
    for section in sorted(set(first) | set(second)):
        a, b = first.get(section, {}), second.get(section, {})
        for name in sorted(set(a) | set(b)):
            if name not in a or name not in b:
                where = "first" if name in a else "second"
                differences.append(f"{section}/{name}: only in the {where}")
            elif a[name] != b[name]:
                differences.append(f"{section}/{name}: {a[name]} != {b[name]}")
    return differences


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m touchline.digest", description=__doc__)
    parser.add_argument("warehouse", type=Path, nargs="?")
    parser.add_argument("output_day", type=Path, nargs="?", help="an output/<D>/ folder")
    parser.add_argument("--compare", nargs=2, type=Path, metavar=("A", "B"))
    args = parser.parse_args(argv)
    if args.compare:
        first, second = (json.loads(path.read_text()) for path in args.compare)
        differences = compare(first, second)
        print("\n".join(differences) or "the digests agree")
        return 1 if differences else 0
    if args.warehouse is None:
        parser.error("give a warehouse file, or --compare A B")
    digest = {"tables": table_digests(args.warehouse)}
    if args.output_day:
        digest["files"] = file_digests(args.output_day)
    json.dump(digest, sys.stdout, indent=1, sort_keys=True)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
