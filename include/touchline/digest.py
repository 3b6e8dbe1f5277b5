"""A digest of what a run published: each warehouse table's rows and each output file's bytes.

Two builds that should agree (before and after a change to the models, or the same drop built
two ways) give equal digests. A table's digest is its columns, its row count and an
order-free hash of its rows, so a table whose physical order changed still compares equal;
an output file's digest is the SHA-256 of its bytes, since the files' order is part of the
contract. Run ``python -m touchline.digest WAREHOUSE [OUTPUT_DAY_DIR] > digest.json`` and
compare two files with ``python -m touchline.digest --compare A.json B.json``.

Two warehouses whose models were renamed or gained columns compare row by row instead:
``python -m touchline.digest --rows OLD.duckdb NEW.duckdb [--renamed old=new ...]`` compares
every table of OLD with its namesake in NEW on the columns both have (EXCEPT ALL both ways)
and names the tables that differ, the columns each side lacks and the tables only one has.
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


def row_differences(old: Path, new: Path, renamed: dict[str, str] | None = None) -> list[dict]:
    """Each table of ``old`` against its namesake in ``new``, row by row on shared columns.

    Each database is read through its own connection (a view names its own catalog) and
    copied to Parquet, so the comparison sees what each file's tables and views return.
    """
    import tempfile

    import duckdb

    renamed = renamed or {}
    with tempfile.TemporaryDirectory() as scratch:

        def dump(database: Path, tag: str) -> dict[str, str]:
            files = {}
            with duckdb.connect(str(database), read_only=True) as con:
                for (name,) in con.execute(
                    "select table_name from information_schema.tables where table_schema = 'main'"
                ).fetchall():
                    files[name] = f"{scratch}/{tag}-{name}.parquet"
                    con.execute(f"copy (select * from main.\"{name}\") to '{files[name]}'")
            return files

        before, after = dump(old, "old"), dump(new, "new")
        con = duckdb.connect()
        found = []
        for name in sorted(before):
            target = renamed.get(name, name)
            if target not in after:
                found.append({"table": name, "status": "only in the old"})
                continue
            columns = [
                [row[0] for row in con.execute(f"describe select * from '{path}'").fetchall()]
                for path in (before[name], after[target])
            ]
            shared = ", ".join(f'"{c}"' for c in columns[0] if c in columns[1])
            lost, gained = (
                con.execute(
                    f"select count(*) from (select {shared} from '{a}'"
                    f" except all select {shared} from '{b}')"
                ).fetchone()[0]
                for a, b in ((before[name], after[target]), (after[target], before[name]))
            )
            found.append(
                {
                    "table": name if target == name else f"{name} -> {target}",
                    "status": "same" if lost == gained == 0 else "differs",
                    "rows_only_in_old": lost,
                    "rows_only_in_new": gained,
                    "columns_added": [c for c in columns[1] if c not in columns[0]],
                    "columns_dropped": [c for c in columns[0] if c not in columns[1]],
                }
            )
        mapped = {renamed.get(name, name) for name in before}
        found += [
            {"table": name, "status": "only in the new"}
            for name in sorted(after)
            if name not in mapped
        ]
        con.close()
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m touchline.digest", description=__doc__)
    parser.add_argument("warehouse", type=Path, nargs="?")
    parser.add_argument("output_day", type=Path, nargs="?", help="an output/<D>/ folder")
    parser.add_argument("--compare", nargs=2, type=Path, metavar=("A", "B"))
    parser.add_argument("--rows", nargs=2, type=Path, metavar=("OLD", "NEW"))
    parser.add_argument("--renamed", nargs="*", default=[], metavar="OLD=NEW")
    args = parser.parse_args(argv)
    if args.rows:
        renamed = dict(pair.split("=", 1) for pair in args.renamed)
        found = row_differences(*args.rows, renamed=renamed)
        for table in found:
            extra = {k: v for k, v in table.items() if k not in ("table", "status") and v}
            print(f"{table['table']}: {table['status']}" + (f" {extra}" if extra else ""))
        return 1 if any(table["status"] == "differs" for table in found) else 0
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
