"""``touchline diff``: what is new, moved, changed and closed in a run's lists since the
previous run (docs/reviewing-changes.md).

Two kinds of runs, both real files: the small drop's last two nights run through Airflow
(``two_nights``), compared as they are; and one run's folder written from the built
warehouse, copied to a second date with known edits, so every line can be predicted.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import run_touchline
from touchline.exports.worklist_files import export_files


def read_rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def write_rows(path: Path, header: list[str], rows: list[dict[str, str]]) -> None:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, header, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def groups_of(run_dir: Path) -> dict[str, str]:
    """task_key -> work list, read straight from the run's files."""
    found = {}
    for path in (run_dir / "worklists").glob("*.csv"):
        for row in read_rows(path)[1]:
            found[row["task_key"]] = path.stem
    for row in read_rows(run_dir / "automation_queue.csv")[1]:
        found[row["task_key"]] = "automation"
    return found


def diff(*args: str, home: Path) -> tuple[int, str, str]:
    completed = run_touchline("diff", *args, home=home)
    return completed.returncode, completed.stdout, completed.stderr


# -- two real nights -----------------------------------------------------------------------


@pytest.mark.e2e
def test_two_nights_counts_match_the_files(two_nights, tmp_path):
    first, last = two_nights["dates"]
    output = two_nights["output"]
    code, out, err = diff(
        "--date", last.isoformat(), "--output-dir", str(output), "--format", "json", home=tmp_path
    )
    assert code == 0, err
    found = json.loads(out)
    assert found["before"]["run_date"] == first.isoformat()  # the previous run, found
    assert found["after"]["run_date"] == last.isoformat()

    before, after = groups_of(output / first.isoformat()), groups_of(output / last.isoformat())
    common = before.keys() & after.keys()
    moved = {key for key in common if before[key] != after[key]}
    totals = found["totals"]
    assert totals["before"] == len(before) and totals["now"] == len(after)
    assert totals["new"] == len(after.keys() - before.keys())
    assert totals["closed"] == len(before.keys() - after.keys())
    assert totals["moved"] == len(moved)
    assert totals["changed"] + totals["unchanged"] == len(common) - len(moved)

    for group in found["groups"]:
        now = sum(1 for g in after.values() if g == group["group"])
        then = sum(1 for g in before.values() if g == group["group"])
        assert (group["now"], group["before"]) == (now, then), group["group"]
        for task in group["tasks"]:
            key = task["task_key"]
            if task["change"] == "new":
                assert key not in before and after[key] == group["group"]
            elif task["change"] == "closed":
                assert key not in after and before[key] == group["group"]
            elif task["change"] == "moved in":
                assert (before[key], after[key]) == (task["from"], group["group"])
            elif task["change"] == "moved out":
                assert (before[key], after[key]) == (group["group"], task["to"])
            else:
                assert task["change"] == "changed" and task["changes"]
    assert {g["group"] for g in found["groups"]} == set(before.values()) | set(after.values())


@pytest.mark.e2e
def test_two_nights_text_and_one_csm(two_nights, tmp_path):
    first, last = two_nights["dates"]
    output = two_nights["output"]
    code, out, err = diff("--date", last.isoformat(), "--output-dir", str(output), home=tmp_path)
    assert code == 0, err
    assert out.startswith(f"touchline diff: {last} against {first}")
    # the counts first, then the accounts, then the task lines
    assert out.index("Work lists (tasks)") < out.index("Accounts (") < out.index("\nTasks\n")

    csm = sorted(p.stem for p in (output / last.isoformat() / "worklists").glob("*.csv"))[0]
    code, out, err = diff(
        "--date", last.isoformat(), "--output-dir", str(output), "--csm", csm, home=tmp_path
    )
    assert code == 0, err
    table = out.split("Work lists (tasks)\n")[1].split("\n\n")[0].splitlines()
    assert [line.split()[0] for line in table] == ["work", csm]  # no other list, no total
    headings = [
        line for line in out.split("\nTasks\n")[1].splitlines() if not line.startswith("    ")
    ]
    assert headings in ([f"  {csm} (csm)"], ["  no task is new, moved, changed or closed"])


# -- known edits between two copies of one run ---------------------------------------------


@pytest.fixture(scope="module")
def one_run(tmp_path_factory, built):
    """A run folder written from the built warehouse of the small drop's last day."""
    paths, run_date = built
    output = tmp_path_factory.mktemp("one-run")
    export_files(paths.warehouse, output, run_date, dbt_project_dir=paths.dbt_project_dir)
    return output / run_date.isoformat()


@pytest.fixture
def edited(tmp_path, one_run):
    """Two run dates: the run as written, and the next day with one edit of each kind."""
    day = dt.date.fromisoformat(one_run.name)
    output = tmp_path / "output"
    before_dir = output / day.isoformat()
    after_dir = output / (day + dt.timedelta(days=1)).isoformat()
    shutil.copytree(one_run, before_dir)
    shutil.copytree(one_run, after_dir)

    files = {p.stem: p for p in (after_dir / "worklists").glob("*.csv") if "@" in p.stem}
    csms = sorted(files, key=lambda name: -len(read_rows(files[name])[1]))[:2]
    giver, taker = csms
    header, giver_rows = read_rows(files[giver])
    _, taker_rows = read_rows(files[taker])
    changed = next(r for r in giver_rows if r["priority"] != "p1")
    closed, moved = [r for r in giver_rows if r is not changed][:2]
    new = dict(taker_rows[0], task_key="new0000000000000000", touchpoint="qbr", priority="p1")
    edits = {
        "changed": {**changed, "priority": "p1", "status": "overdue"},
        "moved": {**moved, "assignee_email": taker},
    }
    giver_after = [
        edits["changed"] if r is changed else r for r in giver_rows if r not in (closed, moved)
    ]
    taker_after = [*taker_rows, edits["moved"], new]
    write_rows(files[giver], header, giver_after)
    write_rows(files[taker], header, taker_after)
    worklist = [
        row
        for path in sorted((after_dir / "worklists").glob("*.csv"))
        for row in read_rows(path)[1]
    ]
    write_rows(after_dir / "worklist.csv", header, worklist)

    auto_header, automation = read_rows(after_dir / "automation_queue.csv")
    write_rows(after_dir / "automation_queue.csv", auto_header, automation[1:])

    account_header, accounts = read_rows(after_dir / "accounts.csv")
    high = next(a for a in accounts if a["tier"] == "high")
    high["tier"] = "medium"
    write_rows(after_dir / "accounts.csv", account_header, accounts)
    return {
        "output": output,
        "day": day,
        "next": day + dt.timedelta(days=1),
        "giver": giver,
        "taker": taker,
        "changed": changed,
        "closed": closed,
        "moved": moved,
        "new": new,
        "automation_closed": automation[0],
        "account": high,
    }


def test_each_kind_of_change_is_named(edited, tmp_path):
    args = ["--date", edited["next"].isoformat(), "--output-dir", str(edited["output"])]
    code, out, err = diff(*args, "--limit", "0", home=tmp_path)
    assert code == 0, err
    assert out.splitlines()[0].startswith(
        f"touchline diff: {edited['next']} against {edited['day']}"
    )
    giver, taker = edited["giver"], edited["taker"]
    rows = {
        line.split()[0]: line.split()[1:]
        for line in out.split("Work lists (tasks)\n")[1].split("\n\n")[0].splitlines()
    }
    columns = rows["work"]
    assert columns == [
        "list",
        "before",
        "now",
        "new",
        "moved",
        "in",
        "changed",
        "unchanged",
        "moved",
        "out",
        "closed",
    ]
    counts = {
        name: dict(
            zip(
                ["before", "now", "new", "moved in", "changed", "unchanged", "moved out", "closed"],
                map(int, values),
                strict=True,
            )
        )
        for name, values in rows.items()
        if name != "work"
    }
    assert counts[giver]["changed"] == 1 and counts[giver]["closed"] == 1
    assert counts[giver]["moved out"] == 1 and counts[giver]["new"] == 0
    assert counts[giver]["now"] == counts[giver]["before"] - 2
    assert counts[taker]["new"] == 1 and counts[taker]["moved in"] == 1
    assert counts[taker]["changed"] == 0 and counts[taker]["closed"] == 0
    assert counts["automation"]["closed"] == 1
    assert counts["all"]["new"] == 1 and counts["all"]["closed"] == 2
    assert counts["all"]["moved in"] == counts["all"]["moved out"] == 1
    assert counts["all"]["changed"] == 1

    lines = out.splitlines()

    def line_of(kind: str, task: dict) -> str:
        found = [
            line
            for line in lines
            if line.strip().startswith(kind)
            and f"({task['account_id']})  {task['touchpoint']}" in line
        ]
        assert len(found) == 1, (kind, task, found)
        return found[0]

    changed = edited["changed"]
    line = line_of("changed", changed)
    assert f"{changed['account_name']} ({changed['account_id']})" in line
    assert f"priority {changed['priority']} -> p1" in line
    if changed["status"] != "overdue":
        assert f"status {changed['status']} -> overdue" in line
    assert f"from {giver}" in line_of("moved in", edited["moved"])
    assert f"to {taker}" in line_of("moved out", edited["moved"])
    assert line_of("closed", edited["closed"])
    assert line_of("new", edited["new"])
    account = edited["account"]
    tier_line = next(line for line in lines if line.strip().startswith("tier "))
    assert "high -> medium" in tier_line
    assert f"1: {account['account_name']} ({account['account_id']})" in tier_line
    # the groups in the details: each under its own heading, the automation queue last
    headings = [
        line.strip()
        for line in lines
        if line.startswith("  ") and line.endswith(")") and not line.startswith("    ")
    ]
    assert headings[-1] == "automation (automation queue)"
    assert f"{giver} (csm)" in headings and f"{taker} (csm)" in headings


def test_json_names_old_and_new_values(edited, tmp_path):
    args = ["--date", edited["next"].isoformat(), "--output-dir", str(edited["output"])]
    code, out, err = diff(*args, "--format", "json", "--csm", edited["giver"], home=tmp_path)
    assert code == 0, err
    found = json.loads(out)
    assert [g["group"] for g in found["groups"]] == [edited["giver"]]
    tasks = {t["task_key"]: t for t in found["groups"][0]["tasks"]}
    changed = tasks[edited["changed"]["task_key"]]
    assert changed["change"] == "changed"
    assert changed["changes"]["priority"] == {"from": edited["changed"]["priority"], "to": "p1"}
    assert tasks[edited["moved"]["task_key"]]["to"] == edited["taker"]
    assert tasks[edited["closed"]["task_key"]]["change"] == "closed"
    assert edited["new"]["task_key"] not in tasks  # it is on the other list


def test_against_a_chosen_date_and_no_change(edited, tmp_path):
    """The run compared with itself copied: nothing but unchanged tasks."""
    output = edited["output"]
    third = edited["next"] + dt.timedelta(days=1)
    shutil.copytree(output / edited["day"].isoformat(), output / third.isoformat())
    args = ["--date", third.isoformat(), "--output-dir", str(output)]
    code, out, err = diff(*args, "--against", edited["day"].isoformat(), home=tmp_path)
    assert code == 0, err
    assert f"against {edited['day']}" in out.splitlines()[0]
    assert "no task is new, moved, changed or closed" in out
    assert "no account changed tier, stage or band" in out


def test_first_run_lists_everything_as_new(one_run, tmp_path):
    output = tmp_path / "output"
    shutil.copytree(one_run, output / one_run.name)
    code, out, err = diff(
        "--date", one_run.name, "--output-dir", str(output), "--format", "json", home=tmp_path
    )
    assert code == 0, err
    found = json.loads(out)
    assert found["before"] is None
    assert found["totals"]["new"] == found["totals"]["now"] > 0
    code, out, err = diff("--date", one_run.name, "--output-dir", str(output), home=tmp_path)
    assert code == 0, err
    assert f"No earlier run in {output}: this is the first run there, so every task is new." in out


def test_a_missing_date_is_named(one_run, tmp_path):
    output = tmp_path / "output"
    shutil.copytree(one_run, output / one_run.name)
    code, out, err = diff("--date", "2026-01-02", "--output-dir", str(output), home=tmp_path)
    assert code == 1 and not out
    assert f"no run of 2026-01-02 in {output}: {output / '2026-01-02'} does not exist" in err
    assert f"(runs there: {one_run.name})" in err

    code, _, err = diff(
        "--date",
        one_run.name,
        "--output-dir",
        str(output),
        "--against",
        "2026-01-01",
        home=tmp_path,
    )
    assert code == 1
    assert str(output / "2026-01-01" / "worklist.csv") in err

    (output / one_run.name / "worklist.csv").unlink()
    code, _, err = diff("--date", one_run.name, "--output-dir", str(output), home=tmp_path)
    assert code == 1
    assert f"{output / one_run.name / 'worklist.csv'} does not exist" in err
