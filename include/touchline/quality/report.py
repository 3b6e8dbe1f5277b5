"""The run's validation report: ``<output-dir>/quality/<D>/report.json`` and ``report.html``.

Each step of the run (the extract tasks' contract checks, the gate before load, the gate
before export) writes its own part under ``parts/``; after every part the report is
rendered again from all of them, under a lock, so parallel tasks cannot lose each other's
part. The report sits beside the date's work-list folder, not in it: a run stopped by a gate
writes its report and no work-list file.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import os
import uuid
from collections.abc import Iterable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from touchline import filelock

STEP_ORDER = (
    "extract_crm",
    "extract_usage",
    "extract_support",
    "extract_engagement",
    "before_load",
    "build",
    "before_export",
)
GATES = ("before_load", "before_export")
BUILD = "build"  # a failed build's part: its failed dbt tests

PASSED, WARNED, FAILED = "passed", "warned", "failed"


def report_dir(output_dir: Path, run_date: dt.date) -> Path:
    return Path(output_dir) / "quality" / run_date.isoformat()


def report_html(output_dir: Path, run_date: dt.date) -> Path:
    return report_dir(output_dir, run_date) / "report.html"


@contextmanager
def _locked(folder: Path):
    folder.mkdir(parents=True, exist_ok=True)
    with filelock.held(folder / ".lock"):
        yield


def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.partial")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def record(output_dir: Path, run_date: dt.date, part: dict[str, Any]) -> Path:
    """Store one step's part and render the report again; return the HTML report's path."""
    folder = report_dir(output_dir, run_date)
    with _locked(folder):
        parts = folder / "parts"
        parts.mkdir(exist_ok=True)
        _write_atomically(parts / f"{part['step']}.json", json.dumps(part, indent=2) + "\n")
        _render(folder, run_date)
    return folder / "report.html"


def forget(output_dir: Path, run_date: dt.date, steps: Iterable[str]) -> None:
    """Drop earlier runs' parts of ``steps`` for the date (this run will write its own)."""
    folder = report_dir(output_dir, run_date)
    if not folder.is_dir():
        return
    with _locked(folder):
        for step in steps:
            (folder / "parts" / f"{step}.json").unlink(missing_ok=True)
        _render(folder, run_date)


def refresh(output_dir: Path, run_date: dt.date) -> None:
    """Render the date's report again from its parts: the run report now exists to link."""
    folder = report_dir(output_dir, run_date)
    if not (folder / "parts").is_dir():
        return
    with _locked(folder):
        _render(folder, run_date)


def _parts(folder: Path) -> list[dict[str, Any]]:
    found = {}
    for path in (folder / "parts").glob("*.json"):
        part = json.loads(path.read_text(encoding="utf-8"))
        found[part["step"]] = part
    order = {step: n for n, step in enumerate(STEP_ORDER)}
    return [found[s] for s in sorted(found, key=lambda s: (order.get(s, len(order)), s))]


def overall_status(parts: list[dict[str, Any]]) -> str:
    statuses = {p["status"] for p in parts}
    if FAILED in statuses:
        return FAILED
    if not all(any(p["step"] == gate for p in parts) for gate in GATES):
        return "incomplete"
    return WARNED if WARNED in statuses else PASSED


def _render(folder: Path, run_date: dt.date) -> None:
    parts = _parts(folder)
    report = {
        "run_date": run_date.isoformat(),
        "status": overall_status(parts),
        "rendered_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "steps": parts,
    }
    run_report = _run_report(folder, run_date)
    if run_report is not None:
        report["run_report"] = run_report
    _write_atomically(folder / "report.json", json.dumps(report, indent=2) + "\n")
    _write_atomically(folder / "report.html", render_html(report))


def _run_report(folder: Path, run_date: dt.date) -> str | None:
    """The run report of the date (``touchline.report``), relative to this folder, if written."""
    from touchline.report import report_html as run_report_html

    path = run_report_html(folder.parent.parent, run_date)
    return os.path.relpath(path, folder) if path.exists() else None


# -- HTML ----------------------------------------------------------------------------------

_COLOURS = {PASSED: "#1a7f37", WARNED: "#9a6700", FAILED: "#cf222e", "incomplete": "#57606a"}

_STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 72em; color: #1f2328 }
h1 { font-size: 1.5em } h2 { font-size: 1.2em; margin-top: 2em }
table { border-collapse: collapse; width: 100%; margin: .5em 0 1em }
th, td { border-bottom: 1px solid #d0d7de; padding: .3em .6em; text-align: left;
         vertical-align: top }
th { background: #f6f8fa } td.num { text-align: right; font-variant-numeric: tabular-nums }
.badge { display: inline-block; padding: .1em .6em; border-radius: 1em; color: white;
         font-weight: 600; font-size: .85em }
code { font-size: .9em } .muted { color: #57606a } pre { white-space: pre-wrap }
"""


def _badge(status: str) -> str:
    colour = _COLOURS.get(status, "#57606a")
    return f'<span class="badge" style="background:{colour}">{html.escape(status)}</span>'


def _outcome_status(outcome: dict[str, Any]) -> str:
    if outcome["success"]:
        return PASSED
    return FAILED if outcome["severity"] == "fail" else WARNED


def _observed(outcome: dict[str, Any]) -> str:
    if outcome.get("message"):
        return outcome["message"]
    if outcome.get("error"):
        return "error: " + outcome["error"]
    if outcome.get("aggregate"):
        return f"observed {outcome['observed_value']}"
    if not outcome.get("counted"):
        return "met" if outcome["success"] else "not met"
    share = outcome.get("unexpected_share")
    text = f"{outcome['unexpected_count']} of {outcome['element_count']} rows unexpected"
    if share:
        text += f" ({share:.2%})"
    return text


def expected_text(outcome: dict[str, Any]) -> str:
    kwargs = outcome["kwargs"]
    bits = []
    if "value_set" in kwargs:
        bits.append("one of " + "/".join(str(v) for v in kwargs["value_set"][:12]))
    if "type_list" in kwargs:
        bits.append("type " + "/".join(kwargs["type_list"]))
    if kwargs.get("min_value") is not None:
        bits.append(f">= {kwargs['min_value']}")
    if kwargs.get("max_value") is not None:
        bits.append(f"<= {kwargs['max_value']}")
    if "value" in kwargs:
        bits.append(f"= {kwargs['value']}")
    if kwargs.get("mostly") is not None:
        bits.append(f"for at least {kwargs['mostly']:.0%} of rows")
    if outcome.get("min_unexpected_rows"):
        bits.append(f"failing from {outcome['min_unexpected_rows']} unexpected rows on")
    if outcome.get("notes"):
        bits.append(f"({outcome['notes']})")
    return ", ".join(bits)


def warnings(report: dict[str, Any]) -> list[str]:
    """The report's warnings and quarantined rows, one line each, for the run's output."""
    lines = []
    for part in report.get("steps", []):
        for dataset in part.get("datasets", []):
            for outcome in dataset.get("outcomes", []):
                if outcome["success"] or _outcome_status(outcome) != WARNED:
                    continue
                if outcome.get("message"):
                    lines.append(f"{outcome['dataset']}: {outcome['message']}")
                    continue
                what = outcome["expectation"]
                if outcome.get("column"):
                    what += f" on {outcome['column']!r}"
                notes = f" ({outcome['notes']})" if outcome.get("notes") else ""
                lines.append(f"{outcome['dataset']}: {what}: {_observed(outcome)}{notes}")
        for held in part.get("quarantine") or []:
            lines.append(
                f"{held['entity']}: {held['rows']:,} row(s) quarantined, not landed: {held['file']}"
            )
    return lines


def render_html(report: dict[str, Any]) -> str:
    e = html.escape
    out = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        f"<title>touchline data quality {e(report['run_date'])}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>Data quality for {e(report['run_date'])} {_badge(report['status'])}</h1>",
        f'<p class="muted">Rendered {e(report["rendered_at"])}. Severity <b>fail</b> stops the '
        "run at its gate; <b>warn</b> is recorded and the run goes on.</p>",
        (
            f'<p>The <a href="{e(report["run_report"])}">run report</a> of this date: health '
            "bands and tiers over time, CSM capacity, the touch model's metrics.</p>"
            if report.get("run_report")
            else ""
        ),
        "<table><tr><th>step</th><th>status</th><th class=num>rows</th>"
        "<th class=num>seconds</th><th>failed / warned</th></tr>",
    ]
    for part in report["steps"]:
        outcomes = [o for d in part.get("datasets", []) for o in d.get("outcomes", [])]
        failed = sum(1 for o in outcomes if _outcome_status(o) == FAILED)
        warned = sum(1 for o in outcomes if _outcome_status(o) == WARNED)
        rows = sum(d.get("rows") or 0 for d in part.get("datasets", []))
        out.append(
            f"<tr><td><a href='#{e(part['step'])}'>{e(part['title'])}</a></td>"
            f"<td>{_badge(part['status'])}</td><td class=num>{rows:,}</td>"
            f"<td class=num>{part.get('seconds', 0):.2f}</td><td>{failed} / {warned}</td></tr>"
        )
    out.append("</table>")
    for part in report["steps"]:
        out.append(f"<h2 id='{e(part['step'])}'>{e(part['title'])} {_badge(part['status'])}</h2>")
        if part.get("message"):
            out.append(f"<pre>{e(part['message'])}</pre>")
        for test in part.get("failed_tests") or []:
            out.append(
                f"<h3>{e(test['where'])}: {e(test['rule'])}</h3>"
                f"<p>{test['failures']:,} failing row(s) (dbt test <code>{e(test['name'])}</code>)"
                "</p>"
            )
            if test["rows"]:
                columns = test["columns"]
                out.append("<table><tr>" + "".join(f"<th>{e(c)}</th>" for c in columns) + "</tr>")
                for row in test["rows"]:
                    cells = "".join(f"<td>{e(str(row.get(c, '')))}</td>" for c in columns)
                    out.append(f"<tr>{cells}</tr>")
                out.append("</table>")
        held = part.get("quarantine") or []
        if held:
            out.append(
                f"<p><b>{part.get('quarantined_rows', 0):,} row(s) quarantined</b>: not landed, "
                "the other rows were. Each file lists the row's drop file, line and reason, "
                "then its values, to correct and drop again.</p>"
                "<table><tr><th>dataset</th><th class=num>rows</th><th>file</th></tr>"
            )
            for entry in held:
                out.append(
                    f"<tr><td>{e(entry['entity'])}</td><td class=num>{entry['rows']:,}</td>"
                    f"<td><code>{e(entry['file'])}</code></td></tr>"
                )
            out.append("</table>")
        datasets = part.get("datasets", [])
        if not datasets:
            continue
        out.append(
            "<table><tr><th>dataset</th><th class=num>rows</th><th class=num>seconds</th>"
            "<th>expectations</th></tr>"
        )
        for dataset in datasets:
            outcomes = dataset.get("outcomes", [])
            passed = sum(1 for o in outcomes if o["success"])
            verdict = f"{passed} of {len(outcomes)} met" if outcomes else "parsed to the contract"
            seconds = dataset.get("seconds")
            out.append(
                f"<tr><td>{e(dataset['name'])}</td><td class=num>{dataset.get('rows') or 0:,}</td>"
                f"<td class=num>{'' if seconds is None else f'{seconds:.2f}'}</td>"
                f"<td>{e(verdict)}</td></tr>"
            )
        out.append("</table>")
        flagged = [
            (d["name"], o) for d in datasets for o in d.get("outcomes", []) if not o["success"]
        ]
        if flagged:
            out.append(
                "<table><tr><th>dataset</th><th>expectation</th><th>severity</th>"
                "<th>observed</th><th>expected</th><th>offending rows</th></tr>"
            )
            for name, outcome in flagged:
                rows = "; ".join(
                    ", ".join(f"{k}={v}" for k, v in row.items()) for row in outcome["sample_ids"]
                )
                if outcome.get("location"):
                    rows = f"{outcome['location']}: {rows}"
                out.append(
                    f"<tr><td>{e(name)}</td><td><code>{e(outcome['expectation'])}</code> "
                    f"{e(outcome.get('column') or '')}</td><td>{_badge(_outcome_status(outcome))}"
                    f"</td><td>{e(_observed(outcome))}</td><td>{e(expected_text(outcome))}</td>"
                    f"<td>{e(rows)}</td></tr>"
                )
            out.append("</table>")
        out.append("<details><summary>every expectation</summary><table>")
        for dataset in datasets:
            for outcome in dataset.get("outcomes", []):
                out.append(
                    f"<tr><td>{e(dataset['name'])}.{e(outcome['frame'])}</td>"
                    f"<td><code>{e(outcome['expectation'])}</code> "
                    f"{e(outcome.get('column') or '')}</td>"
                    f"<td>{_badge(_outcome_status(outcome))}</td>"
                    f"<td>{e(_observed(outcome))}</td><td>{e(expected_text(outcome))}</td></tr>"
                )
        out.append("</table></details>")
    out.append("</body></html>\n")
    return "\n".join(out)
