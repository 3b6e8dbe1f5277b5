"""Run dbt commands one after another in one process, parsing the project once.

``python -m touchline.dbt_steps '<json>'`` with ``{"common": [...], "steps": [[...], ...]}``:
each step is one dbt command's arguments, run with the ``common`` ones (the project,
profiles, target and log paths) after it. The project is parsed before the first step
(partially, when the target path's saved state allows it) and that manifest serves every
step, so a nightly ``source freshness`` and ``build`` pay dbt's start-up and parse once
instead of twice. Steps therefore take no ``--vars`` of their own.

It stops at the first step that does not succeed, with dbt's own exit codes: 1 when a node
failed (the step's results say which), 2 when dbt itself failed. The process ends after the
last step, which closes every file dbt opened (the warehouse among them).
"""

from __future__ import annotations

import json
import sys


def main(argv: list[str]) -> int:
    from dbt.cli.main import dbtRunner

    plan = json.loads(argv[0])
    common, steps = plan["common"], plan["steps"]
    parsed = dbtRunner().invoke(["parse", *common])
    if not parsed.success:
        return _failed(parsed)
    for step in steps:
        result = dbtRunner(manifest=parsed.result).invoke([*step, *common])
        if not result.success:
            return _failed(result)
    return 0


def _failed(result) -> int:
    if result.exception is None:
        return 1
    print(f"dbt failed: {result.exception}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
