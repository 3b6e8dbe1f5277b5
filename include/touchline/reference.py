"""The input layout as a reference page, written from ``touchline.schema``.

``docs/input-layout.md`` is this module's output (``make docs`` writes it again); a test
fails when the page and the schema disagree, so the page is what the code accepts.
"""

from __future__ import annotations

from touchline.schema import API_ENTITIES, ENTITIES, FAMILIES, Column, Entity, Kind, Type

PAGE = "docs/input-layout.md"

INTRO = """\
# Input layout

What touchline reads, entity by entity: the file drop's files, and the rows every source
connector produces (a connector gives exactly these columns, so the rest of the pipeline
does not know where a row came from). This page is written from
`include/touchline/schema.py` by `make docs`; a test fails when the two disagree.

## The file drop

One folder per extract date, one file per entity:

```
<source-dir>/<YYYY-MM-DD>/<entity>.csv
```

- CSV with a header row, comma-separated, RFC 4180 quoting; `<entity>.csv.gz` is read too,
  and usage events may also be `usage_events.parquet`.
- Text is UTF-8 unless `TOUCHLINE_SOURCE_ENCODING` (or `TOUCHLINE_SOURCE_ENCODING_<FAMILY>`)
  names another encoding, such as `cp1252` for exports from Excel and older CRMs.
- Columns may come in any order; columns not listed here are kept and ignored.
- Timestamps are ISO 8601; one without an offset is UTC. Dates are `YYYY-MM-DD`. Booleans
  are `true` or `false`. An empty field is a missing value.
- **Snapshot** entities hold the full current state on each date; **event** entities hold
  the records created or updated since the previous drop (the first drop may hold the whole
  history). An event record is placed by its own timestamps, so a late record lands on its
  real day, and the warehouse keeps the latest version of each id.
- An account's ARR is the sum of its active, started contracts, converted to USD with the
  latest `fx_rates` row on or before the day.

A file that cannot be read as its entity (a missing required column, a value that does not
parse as its type, a byte not in the declared encoding) stops its family with the file,
line, column and value. The rules on parsed values (required values present, allowed
values, ranges, unique keys, known accounts) are checked by the gate before load.

| family | entities | extract task |
|---|---|---|
"""


def _type(column: Column) -> str:
    if column.type is Type.ENUM:
        return "one of " + ", ".join(f"`{v}`" for v in column.values)
    text = {
        Type.STRING: "text",
        Type.BOOLEAN: "`true` / `false`",
        Type.INTEGER: "integer",
        Type.DECIMAL: "number",
        Type.DATE: "date",
        Type.TIMESTAMP: "timestamp",
    }[column.type]
    if column.min_value is not None and column.max_value is not None:
        text += f", {column.min_value:g} to {column.max_value:g}"
    elif column.min_value is not None:
        text += f", at least {column.min_value:g}"
    return text


def _entity(entity: Entity, heading: str = "###") -> list[str]:
    kind = "snapshot" if entity.kind is Kind.SNAPSHOT else "event"
    notes = [f"A {kind} entity of the `{entity.family}` family"]
    notes.append("key: " + " + ".join(f"`{k}`" for k in entity.key) + " (unique in one file)")
    if entity.required_file:
        notes.append("a file is required on every date")
    elif entity.kind is Kind.EVENT:
        notes.append("a file with only its header means no new records")
    if entity.parquet_allowed:
        notes.append("Parquet accepted")
    lines = [f"{heading} `{entity.name}`", "", entity.doc, "", "; ".join(notes) + ".", ""]
    lines += ["| column | required | type |", "|---|---|---|"]
    for column in entity.columns:
        lines.append(f"| `{column.name}` | {'yes' if column.required else ''} | {_type(column)} |")
    return [*lines, ""]


def render() -> str:
    """The whole page."""
    lines = INTRO.splitlines()
    for family, names in FAMILIES.items():
        lines.append(f"| `{family}` | {', '.join(f'`{n}`' for n in names)} | `extract_{family}` |")
    lines += ["", "## Entities", ""]
    for entity in ENTITIES:
        lines += _entity(entity)
    lines += [
        "## Read back from the CRM",
        "",
        "Not part of the drop: staged by `read_crm_completions` on every run (empty without a",
        "CRM destination) and validated by the same gate.",
        "",
    ]
    for entity in API_ENTITIES:
        lines += _entity(entity)
    return "\n".join(lines).rstrip("\n") + "\n"


def main() -> None:
    from touchline.config import REPO_ROOT

    (REPO_ROOT / PAGE).write_text(render(), encoding="utf-8")


if __name__ == "__main__":
    main()
