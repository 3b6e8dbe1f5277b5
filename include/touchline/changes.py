"""What changed between two runs' work lists: the one comparison ``touchline diff`` and
``touchline preview`` print (docs/reviewing-changes.md).

A run is read from its output folder (docs/outputs.md): the per-CSM files of
``worklists/`` (each file's name is its group: a CSM's address, ``queue-pod-<pod>``,
``queue-support``), ``automation_queue.csv`` (the group ``automation``) and
``accounts.csv``. Tasks are matched by ``task_key`` across the human lists and the
automation queue, so a task keeps its identity whichever list it is on:

- **new**: on the later run only; **closed**: on the earlier run only (no longer listed:
  done, snoozed, expired or no longer due);
- **moved**: on both, in another group (a CSM to another, a CSM to a pod queue, a list to
  the automation queue): the receiving group sees it *moved in* (from whom), the giving
  group *moved out* (to whom), never as a new task nor a closed one, since the work is
  neither new nor done;
- **changed**: on both, in the same group, with another value in a column of the task
  (``TASK_COLUMNS``), each shown old -> new;
- **unchanged**: the rest (counted, not listed).

The account columns the task rows repeat (tier, stage, health) are compared once per
account from ``accounts.csv`` (the tier, stage and band moves), and a task line notes its
account's move; they never make a task "changed" by themselves.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

AUTOMATION_GROUP = "automation"
WORKLIST, AUTOMATION = "worklist", "automation"
# the columns of a task a CSM acts on (the account's own columns are compared per account)
TASK_COLUMNS = {
    WORKLIST: ["status", "priority", "due_date", "channel", "trigger", "owner_role", "reason"],
    AUTOMATION: ["channel", "campaign", "contact_email", "reason"],
}
ACCOUNT_MOVES = [("tier", "tier"), ("lifecycle_stage", "stage"), ("health_band", "band")]
ACCOUNTS_SHOWN = 10  # a move of at most this many accounts names them
NEW, MOVED_IN, CHANGED, UNCHANGED, MOVED_OUT, CLOSED = (
    "new",
    "moved in",
    "changed",
    "unchanged",
    "moved out",
    "closed",
)
KINDS = [NEW, MOVED_IN, CHANGED, UNCHANGED, MOVED_OUT, CLOSED]
PRIORITY_ORDER = {"p1": 1, "p2": 2, "p3": 3, "p4": 4}


class ReviewError(RuntimeError):
    """A run folder, a date or a seed cannot be compared; the message says which and why."""


# -- reading a run -------------------------------------------------------------------------


@dataclass(frozen=True)
class Task:
    key: str
    group: str  # the work list it is on: a CSM's address, a queue, or "automation"
    list: str  # WORKLIST or AUTOMATION
    row: dict[str, str]

    @property
    def account_id(self) -> str:
        return self.row.get("account_id", "")


@dataclass(frozen=True)
class RunLists:
    run_date: dt.date
    folder: Path
    tasks: dict[str, Task]
    accounts: dict[str, dict[str, str]]

    def account_name(self, account_id: str) -> str:
        return self.accounts.get(account_id, {}).get("account_name", "")


def _read_csv(path: Path) -> list[dict[str, str]]:
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            return list(csv.DictReader(handle))
    except FileNotFoundError:
        raise ReviewError(f"{path} is missing: not a complete run folder") from None


def group_kind(group: str) -> str:
    """What a group is, in words: a CSM, a pod queue, the support queue, the automation."""
    if group == AUTOMATION_GROUP:
        return "automation queue"
    if group.startswith("queue-pod-"):
        return "pod queue"
    if group.startswith("queue-support"):
        return "support queue"
    if group.startswith("queue-"):
        return "queue"
    return "csm"


def load_run(folder: Path) -> RunLists:
    """The tasks (by key) and accounts (by id) of one run's output folder."""
    folder = Path(folder)
    if not (folder / "worklist.csv").is_file():
        raise ReviewError(
            f"{folder / 'worklist.csv'} does not exist: {folder} holds no run's work lists"
        )
    try:
        run_date = dt.date.fromisoformat(folder.name)
    except ValueError:
        raise ReviewError(f"{folder} is not a run folder (<output-dir>/YYYY-MM-DD)") from None
    tasks: dict[str, Task] = {}
    per_csm = folder / "worklists"
    if not per_csm.is_dir():
        raise ReviewError(f"{per_csm} is missing: not a complete run folder")
    for path in sorted(per_csm.glob("*.csv")):
        for row in _read_csv(path):
            tasks[row["task_key"]] = Task(row["task_key"], path.stem, WORKLIST, row)
    for row in _read_csv(folder / "automation_queue.csv"):
        tasks.setdefault(row["task_key"], Task(row["task_key"], AUTOMATION_GROUP, AUTOMATION, row))
    accounts = {row["account_id"]: row for row in _read_csv(folder / "accounts.csv")}
    return RunLists(run_date, folder, tasks, accounts)


def run_dates(output_dir: Path) -> list[dt.date]:
    """The run dates of an output folder that have a work list, oldest first."""
    found = []
    for child in Path(output_dir).iterdir() if Path(output_dir).is_dir() else []:
        try:
            day = dt.date.fromisoformat(child.name)
        except ValueError:
            continue
        if (child / "worklist.csv").is_file():
            found.append(day)
    return sorted(found)


def previous_run(output_dir: Path, run_date: dt.date) -> dt.date | None:
    """The newest run date before ``run_date`` with a ``worklist.csv`` (None: none)."""
    earlier = [day for day in run_dates(output_dir) if day < run_date]
    return earlier[-1] if earlier else None


# -- comparing two runs --------------------------------------------------------------------


@dataclass(frozen=True)
class TaskChange:
    kind: str  # one of KINDS
    group: str
    task: Task  # as it is now (as it was, for a closed or moved-out task)
    account_name: str
    changes: dict[str, tuple[str, str]] = field(default_factory=dict)  # column -> (old, new)
    other_group: str | None = None  # moved: where it came from (in) or went to (out)
    account_moves: dict[str, tuple[str, str]] = field(default_factory=dict)

    def sort_key(self) -> tuple:
        row = self.task.row
        return (
            KINDS.index(self.kind),
            PRIORITY_ORDER.get(row.get("priority", ""), 9),
            row.get("due_date", ""),
            self.account_name.lower(),
            row.get("touchpoint", ""),
            self.task.key,
        )

    def as_dict(self) -> dict[str, Any]:
        row = self.task.row
        found: dict[str, Any] = {
            "change": self.kind,
            "task_key": self.task.key,
            "list": self.task.list,
            "account_id": self.task.account_id,
            "account_name": self.account_name,
            "touchpoint": row.get("touchpoint", ""),
        }
        for column in ("priority", "status", "due_date", "channel"):
            if column in row:
                found[column] = row[column]
        if self.changes:
            found["changes"] = {c: {"from": a, "to": b} for c, (a, b) in self.changes.items()}
        if self.other_group is not None:
            found["from" if self.kind == MOVED_IN else "to"] = self.other_group
        if self.account_moves:
            found["account_moves"] = {
                c: {"from": a, "to": b} for c, (a, b) in self.account_moves.items()
            }
        return found


@dataclass(frozen=True)
class AccountMove:
    column: str  # tier, lifecycle_stage or health_band
    old: str
    new: str
    accounts: list[tuple[str, str]]  # (account_id, account_name), by name


@dataclass
class Comparison:
    before: RunLists | None
    after: RunLists
    changes: list[TaskChange]
    moves: list[AccountMove]
    accounts_added: list[str]
    accounts_removed: list[str]
    totals: dict[str, int]

    def groups(self) -> list[str]:
        """Every group of either run: the CSMs by address, then the queues, automation last."""
        names = {change.group for change in self.changes}
        return sorted(names, key=lambda g: (g == AUTOMATION_GROUP, g.startswith("queue-"), g))

    def counts(self, group: str) -> dict[str, int]:
        mine = [c for c in self.changes if c.group == group]
        counted = Counter(c.kind for c in mine)
        found = {"before": 0, "now": 0, **{kind: counted.get(kind, 0) for kind in KINDS}}
        found["now"] = sum(counted.get(k, 0) for k in (NEW, MOVED_IN, CHANGED, UNCHANGED))
        found["before"] = sum(counted.get(k, 0) for k in (MOVED_OUT, CLOSED, CHANGED, UNCHANGED))
        return found


def _differences(old: Task, new: Task) -> dict[str, tuple[str, str]]:
    columns = [c for c in TASK_COLUMNS[new.list] if c in TASK_COLUMNS[old.list]]
    return {
        column: (old.row.get(column, ""), new.row.get(column, ""))
        for column in columns
        if old.row.get(column, "") != new.row.get(column, "")
    }


def compare(before: RunLists | None, after: RunLists) -> Comparison:
    """Every task of either run, classified; the accounts' tier, stage and band moves.

    ``before`` None (no earlier run): every task is new.
    """
    old_tasks = before.tasks if before else {}
    old_accounts = before.accounts if before else {}
    account_moves: dict[str, dict[str, tuple[str, str]]] = defaultdict(dict)
    grouped: dict[tuple[str, str, str], list[tuple[str, str]]] = defaultdict(list)
    for account_id, now in after.accounts.items():
        then = old_accounts.get(account_id)
        if then is None:
            continue
        for column, _ in ACCOUNT_MOVES:
            if then.get(column, "") != now.get(column, ""):
                account_moves[account_id][column] = (then.get(column, ""), now.get(column, ""))
                grouped[(column, then.get(column, ""), now.get(column, ""))].append(
                    (account_id, now.get("account_name", ""))
                )
    order = [column for column, _ in ACCOUNT_MOVES]
    moves = [
        AccountMove(column, old, new, sorted(accounts, key=lambda a: (a[1].lower(), a[0])))
        for (column, old, new), accounts in sorted(
            grouped.items(), key=lambda item: (order.index(item[0][0]), -len(item[1]), item[0])
        )
    ]

    def name(task: Task, run: RunLists | None) -> str:
        return (run.account_name(task.account_id) if run else "") or task.row.get(
            "account_name", ""
        )

    changes: list[TaskChange] = []
    totals: Counter[str] = Counter()
    for key, task in after.tasks.items():
        moved = account_moves.get(task.account_id, {})
        account = name(task, after)
        previous = old_tasks.get(key)
        if previous is None:
            changes.append(TaskChange(NEW, task.group, task, account, account_moves=moved))
            totals["new"] += 1
            continue
        differences = _differences(previous, task)
        if previous.group != task.group:
            changes += [
                TaskChange(MOVED_IN, task.group, task, account, differences, previous.group, moved),
                TaskChange(
                    MOVED_OUT, previous.group, previous, account, differences, task.group, moved
                ),
            ]
            totals["moved"] += 1
        elif differences:
            changes.append(TaskChange(CHANGED, task.group, task, account, differences, None, moved))
            totals["changed"] += 1
        else:
            changes.append(TaskChange(UNCHANGED, task.group, task, account, account_moves=moved))
            totals["unchanged"] += 1
    for key, task in old_tasks.items():
        if key not in after.tasks:
            moved = account_moves.get(task.account_id, {})
            changes.append(
                TaskChange(CLOSED, task.group, task, name(task, before), account_moves=moved)
            )
            totals["closed"] += 1
    changes.sort(key=TaskChange.sort_key)
    return Comparison(
        before,
        after,
        changes,
        moves,
        accounts_added=sorted(set(after.accounts) - set(old_accounts)),
        accounts_removed=sorted(set(old_accounts) - set(after.accounts)) if before else [],
        totals={
            "before": len(old_tasks),
            "now": len(after.tasks),
            **{k: totals.get(k, 0) for k in ("new", "moved", "changed", "unchanged", "closed")},
        },
    )


# -- what a selection of groups sees -------------------------------------------------------


def _selected(comparison: Comparison, csm: list[str] | None) -> list[str]:
    groups = comparison.groups()
    if not csm:
        return groups
    wanted = [name.removesuffix(".csv").lower() for name in csm]
    by_lower = {group.lower(): group for group in groups}
    return [by_lower.get(name, name) for name in wanted]


def _selected_accounts(comparison: Comparison, groups: list[str]) -> set[str]:
    """The accounts of the selected groups: owned (``csm_email``), pooled in a selected pod
    queue, or with a task on a selected list in either run."""
    chosen = {g.lower() for g in groups}
    found = set()
    for run in (comparison.before, comparison.after):
        for account_id, row in (run.accounts if run else {}).items():
            owner = (row.get("csm_email") or "").lower()
            pod = f"queue-pod-{row.get('pod') or ''}".lower()
            if owner in chosen or pod in chosen:
                found.add(account_id)
    for change in comparison.changes:
        if change.group.lower() in chosen:
            found.add(change.task.account_id)
    return found


def as_dict(comparison: Comparison, csm: list[str] | None = None) -> dict[str, Any]:
    """The comparison for machines: every group's counts and its changed tasks (the
    unchanged ones only counted), the account moves with every account."""
    groups = _selected(comparison, csm)
    accounts = _selected_accounts(comparison, groups) if csm else None
    before = comparison.before
    return {
        "before": {"run_date": before.run_date.isoformat(), "folder": str(before.folder)}
        if before
        else None,
        "after": {
            "run_date": comparison.after.run_date.isoformat(),
            "folder": str(comparison.after.folder),
        },
        "selected": groups if csm else None,
        "totals": comparison.totals,
        "groups": [
            {
                "group": group,
                "kind": group_kind(group),
                **{k.replace(" ", "_"): v for k, v in comparison.counts(group).items()},
                "tasks": [
                    c.as_dict()
                    for c in comparison.changes
                    if c.group == group and c.kind != UNCHANGED
                ],
            }
            for group in groups
        ],
        "accounts": {
            "before": len(before.accounts) if before else 0,
            "now": len(comparison.after.accounts),
            "added": [a for a in comparison.accounts_added if accounts is None or a in accounts],
            "removed": [
                a for a in comparison.accounts_removed if accounts is None or a in accounts
            ],
            "moves": [
                {
                    "column": move.column,
                    "from": move.old,
                    "to": move.new,
                    "count": len(shown),
                    "accounts": [{"account_id": i, "account_name": n} for i, n in shown],
                }
                for move in comparison.moves
                for shown in [[a for a in move.accounts if accounts is None or a[0] in accounts]]
                if shown
            ],
        },
    }


# -- printing ------------------------------------------------------------------------------

SUMMARY_COLUMNS = ["before", "now", NEW, MOVED_IN, CHANGED, UNCHANGED, MOVED_OUT, CLOSED]


def _table(rows: list[list[str]], first_width: int) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(1, len(rows[0]))]
    return [
        f"  {row[0]:<{first_width}}"
        + "".join(f"  {cell:>{w}}" for cell, w in zip(row[1:], widths, strict=True))
        for row in rows
    ]


def _task_line(change: TaskChange) -> str:
    row = change.task.row
    what = f"{change.account_name} ({change.task.account_id})  {row.get('touchpoint', '')}"
    if change.task.list == WORKLIST:
        head = f"{row.get('priority', ''):<2}  {row.get('status', ''):<7}  {row.get('due_date')}"
    else:
        head = f"{'auto':<21}  {row.get('channel', '')}, campaign {row.get('campaign', '')}"
    line = f"    {change.kind:<9}  {head}  {what}"
    extras = []
    if change.kind == MOVED_IN:
        extras.append(f"from {change.other_group}")
    elif change.kind == MOVED_OUT:
        extras.append(f"to {change.other_group}")
    # a reason is a sentence: the text says it changed, the JSON has both
    extras += [
        "reason changed" if column == "reason" else f"{column} {old} -> {new}"
        for column, (old, new) in change.changes.items()
    ]
    if extras:
        line += ": " + "; ".join(extras)
    if change.account_moves:
        moved = ", ".join(
            f"{label} {old} -> {new}"
            for column, label in ACCOUNT_MOVES
            for old, new in [change.account_moves.get(column, (None, None))]
            if old is not None
        )
        line += f"  [account {moved}]"
    return line


def render(
    comparison: Comparison,
    heading: list[str],
    *,
    csm: list[str] | None = None,
    limit: int = 50,
) -> str:
    """The comparison for people: the heading, the counts per work list, the account moves,
    then one line per new, moved, changed or closed task (at most ``limit`` per work list;
    0: all)."""
    groups = _selected(comparison, csm)
    accounts = _selected_accounts(comparison, groups) if csm else None
    lines = list(heading)
    lines += ["", "Work lists (tasks)"]
    width = max([len(g) for g in groups] + [len("work list")])
    rows = [["work list", *SUMMARY_COLUMNS]]
    for group in groups:
        counts = comparison.counts(group)
        rows.append([group, *(str(counts[column]) for column in SUMMARY_COLUMNS)])
    if not csm:
        t = comparison.totals
        rows.append(
            [
                "all",
                str(t["before"]),
                str(t["now"]),
                str(t["new"]),
                str(t["moved"]),
                str(t["changed"]),
                str(t["unchanged"]),
                str(t["moved"]),
                str(t["closed"]),
            ]
        )
    lines += _table(rows, width)
    missing = [g for g in groups if not any(c.group == g for c in comparison.changes)]
    for group in missing:
        lines.append(f"  ({group} has no task in either run)")

    lines += ["", "Accounts (tier, lifecycle stage, health band)"]
    before = comparison.before
    shown_moves = [
        (move, [a for a in move.accounts if accounts is None or a[0] in accounts])
        for move in comparison.moves
    ]
    shown_moves = [(move, picked) for move, picked in shown_moves if picked]
    if accounts is None:
        lines.append(
            f"  {len(before.accounts) if before else 0} before, {len(comparison.after.accounts)} "
            f"now: {len(comparison.accounts_added)} added, "
            f"{len(comparison.accounts_removed)} removed"
        )
    else:
        lines.append("  (the accounts the selected lists own or have a task for)")
    if not shown_moves:
        lines.append("  no account changed tier, stage or band")
    labels = dict(ACCOUNT_MOVES)
    move_width = max([len(f"{m.old} -> {m.new}") for m, _ in shown_moves] + [0])
    for move, picked in shown_moves:
        fromto = f"{move.old} -> {move.new}"
        text = f"  {labels[move.column]:<5}  {fromto:<{move_width}}  {len(picked):>5}"
        if len(picked) <= ACCOUNTS_SHOWN:
            text += ": " + ", ".join(f"{n} ({i})" for i, n in picked)
        lines.append(text)

    listed = [c for c in comparison.changes if c.kind != UNCHANGED and c.group in groups]
    lines += ["", "Tasks"]
    if not listed:
        lines.append("  no task is new, moved, changed or closed")
    for group in groups:
        mine = [c for c in listed if c.group == group]
        if not mine:
            continue
        lines.append(f"  {group} ({group_kind(group)})")
        cut = mine if limit <= 0 else mine[:limit]
        lines += [_task_line(change) for change in cut]
        if len(mine) > len(cut):
            lines.append(f"    ... and {len(mine) - len(cut)} more (--limit 0 lists them all)")
    return "\n".join(lines)


def describe_runs(comparison: Comparison) -> str:
    """The two runs compared, in words."""
    after = comparison.after
    if comparison.before is None:
        return f"{after.run_date} ({after.folder})"
    before = comparison.before
    return f"{after.run_date} against {before.run_date} ({before.folder} -> {after.folder})"


# -- touchline diff ------------------------------------------------------------------------


def diff_runs(
    output_dir: Path, run_date: dt.date, against: dt.date | None = None
) -> tuple[Comparison, list[str]]:
    """Compare the run of ``run_date`` in ``output_dir`` with the previous run there (the
    newest earlier date with a ``worklist.csv``), or with the run of ``against``.

    No earlier run: every task is new, and the heading says so.
    """
    folder = Path(output_dir) / run_date.isoformat()
    if not folder.is_dir():
        raise ReviewError(
            f"no run of {run_date} in {output_dir}: {folder} does not exist"
            + _known_dates(output_dir)
        )
    after = load_run(folder)
    if against is not None:
        if against == run_date:
            raise ReviewError(f"--against {against} is the run date itself")
        earlier_folder = Path(output_dir) / against.isoformat()
        if not (earlier_folder / "worklist.csv").is_file():
            raise ReviewError(
                f"no run of {against} in {output_dir}: {earlier_folder / 'worklist.csv'} "
                "does not exist" + _known_dates(output_dir)
            )
        previous: dt.date | None = against
    else:
        previous = previous_run(output_dir, run_date)
    before = load_run(Path(output_dir) / previous.isoformat()) if previous else None
    comparison = compare(before, after)
    heading = [f"touchline diff: {describe_runs(comparison)}"]
    if before is None:
        heading.append(
            f"No earlier run in {output_dir}: this is the first run there, so every task is new."
        )
    return comparison, heading


def _known_dates(output_dir: Path) -> str:
    dates = run_dates(output_dir)
    if not dates:
        return f" (no run folder with a worklist.csv in {output_dir})"
    shown = ", ".join(day.isoformat() for day in dates[-5:])
    return f" (runs there: {'..., ' if len(dates) > 5 else ''}{shown})"
