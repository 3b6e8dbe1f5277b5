"""The demo data generator: a fictional book of business as a file drop (docs/input-layout.md).

    generate(out_dir, accounts=2000, days=120, seed=42)

writes `out_dir/<YYYY-MM-DD>/<entity>.csv` for every date of the window: snapshot entities
hold the full state on that date, event entities the records created or updated that day.
The same arguments always give byte-identical files. The world is drawn once (the book),
then simulated day by day with per-account state only, so memory does not grow with days.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from touchline import schema
from touchline.demo import files
from touchline.demo.book import (
    COMPLEXITIES,
    CURRENCIES,
    HIGH,
    LOW,
    MEDIUM,
    PAID,
    PLAN_PAID,
    Book,
    DayState,
    build_book,
    random_stream,
    state_on,
)
from touchline.demo.files import Clock, RowRenderer, check_columns
from touchline.demo.fx import FxWalk
from touchline.demo.names import CHURN_REASONS, INDUSTRIES, REGIONS
from touchline.demo.snoozes import Snoozes
from touchline.demo.support import SupportDesk
from touchline.demo.surveys import Surveys
from touchline.demo.touches import TouchLog
from touchline.demo.usage import UsageModel, trajectory_multiplier

DEFAULT_END_DATE = date(2026, 10, 30)
USAGE_FORMATS = files.USAGE_FORMATS

ACCOUNT_COLUMNS = (
    "account_id",
    "account_name",
    "plan",
    "is_strategic",
    "implementation_complexity",
    "csm_email",
    "pod",
    "industry",
    "region",
    "created_at",
)
CONTRACT_COLUMNS = (
    "contract_id",
    "account_id",
    "start_date",
    "end_date",
    "arr_amount",
    "currency",
    "status",
    "seats",
)
CONTACT_COLUMNS = ("contact_id", "account_id", "email", "name", "role", "is_primary")
CSM_COLUMNS = ("csm_email", "name", "pod", "capacity_hours_per_week")
CHURN_COLUMNS = ("account_id", "churned_on", "reason")
for _name, _columns in (
    ("accounts", ACCOUNT_COLUMNS),
    ("contracts", CONTRACT_COLUMNS),
    ("contacts", CONTACT_COLUMNS),
    ("csms", CSM_COLUMNS),
    ("churn_events", CHURN_COLUMNS),
):
    check_columns(_name, _columns)

# Independent random streams, so changing one part of the simulation leaves the others alone.
_FX, _USAGE, _SUPPORT, _SURVEYS, _TOUCHES, _SNOOZES, _DETAILS = range(1, 8)


@dataclass(frozen=True)
class DemoSummary:
    """What generate() wrote."""

    out_dir: Path
    dates: tuple[date, date]  # first and last extract date
    accounts: int
    rows: dict[str, int] = field(default_factory=dict)  # per entity, over all dates

    @property
    def days(self) -> int:
        return (self.dates[1] - self.dates[0]).days + 1

    def __str__(self) -> str:
        first, last = self.dates
        lines = [
            f"demo data in {self.out_dir}: {self.accounts:,} accounts, "
            f"{self.days} days ({first} to {last})"
        ]
        width = max(len(name) for name in self.rows) if self.rows else 0
        lines += [f"  {name:<{width}}  {count:>13,} rows" for name, count in self.rows.items()]
        return "\n".join(lines)


def generate(
    out_dir: Path,
    *,
    accounts: int = 2000,
    days: int = 120,
    seed: int = 42,
    end_date: date = DEFAULT_END_DATE,
    usage_format: str = "csv.gz",
    compress: bool = False,
    on_day: Callable[[str], object] | None = None,
) -> DemoSummary:
    """Write `days` daily drops ending on `end_date` for a book of `accounts` accounts.

    ``compress`` writes every CSV file gzipped (``<entity>.csv.gz``); the usage events follow
    ``usage_format``. ``on_day`` is called with each day's date once its drop is written.
    """
    if accounts < 1:
        raise ValueError(f"accounts must be at least 1, got {accounts}")
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed}")
    if usage_format not in USAGE_FORMATS:
        raise ValueError(
            f"usage_format must be one of {', '.join(USAGE_FORMATS)}; got {usage_format!r}"
        )
    out_dir = Path(out_dir)
    book = build_book(accounts, days, seed, end_date)  # draws from random_stream(seed, 0)
    clock = Clock(book.start)

    snapshots = _Snapshots(book, clock, random_stream(seed, _DETAILS), compress)
    fx = FxWalk(random_stream(seed, _FX))
    usage = UsageModel(book, clock, random_stream(seed, _USAGE))
    desk = SupportDesk(book, clock, random_stream(seed, _SUPPORT))
    surveys = Surveys(book, clock, random_stream(seed, _SURVEYS))
    touches = TouchLog(book, clock, random_stream(seed, _TOUCHES))
    snoozes = Snoozes(book, clock, random_stream(seed, _SNOOZES))
    rows = {e.name: 0 for e in schema.ENTITIES}

    for day in range(days):
        state = state_on(book, day)
        if day == 0:
            snoozes.warm_up(state)
        folder = out_dir / clock.date(day)
        folder.mkdir(parents=True, exist_ok=True)

        def csv_path(entity_name: str, folder: Path = folder) -> Path:
            return files.drop_file(folder, entity_name, compress)

        rows["accounts"] += snapshots.write_accounts(folder, state)
        rows["contracts"] += snapshots.write_contracts(folder, state)
        rows["contacts"] += snapshots.write_contacts(folder, state)
        rows["csms"] += snapshots.write_csms(folder)
        rows["snoozes"] += files.write_rows(csv_path("snoozes"), "snoozes", snoozes.day(state))
        rows["fx_rates"] += snapshots.write_fx(folder, day, fx.step())

        multiplier = trajectory_multiplier(book, day, state.has_contract)
        table, stamps = usage.day(day, state.weekday, state.alive, multiplier)
        files.write_usage(folder, table, usage_format, stamps)
        rows["usage_events"] += table.num_rows

        tickets = desk.day(day, state.weekday, state.alive, state.plan)
        rows["tickets"] += files.write_rows(csv_path("tickets"), "tickets", tickets)
        responses = surveys.day(day, state.alive, state.plan)
        rows["nps_responses"] += files.write_rows(
            csv_path("nps_responses"), "nps_responses", responses
        )
        activities = touches.day(
            state, snoozes.account_until, desk.urgent_today, surveys.detractors_today
        )
        rows["activities"] += files.write_rows(csv_path("activities"), "activities", activities)
        churn = [
            [book.account_id[a], clock.date(day), _churn_reason(book, a)]
            for a in np.flatnonzero(book.churn_day == day).tolist()
        ]
        rows["churn_events"] += files.write_rows(csv_path("churn_events"), "churn_events", churn)
        if on_day is not None:
            on_day(clock.date(day))

    return DemoSummary(
        out_dir=out_dir,
        dates=(book.start, book.start + timedelta(days=days - 1)),
        accounts=accounts,
        rows=rows,
    )


def _churn_reason(book: Book, account: int) -> str:
    reason = int(book.churn_reason[account])
    return CHURN_REASONS[reason] if reason >= 0 else ""


class _Snapshots:
    """Snapshot files, rendered once per row and re-rendered only when a row changes."""

    def __init__(
        self, book: Book, clock: Clock, rng: np.random.Generator, compress: bool = False
    ) -> None:
        self.book = book
        self.files = files.SnapshotFiles(compress)
        self.clock = clock
        self.render = RowRenderer()
        n = book.n
        self.industry_missing = (book.kind != PAID) & (rng.random(n) < 0.4)
        self.account_lines = [""] * n
        self.account_state = np.full(n, -1, dtype=np.int64)
        self.contract_lines = [""] * len(book.contract_id)
        self.contract_state = np.full(len(book.contract_id), -1, dtype=np.int64)
        self.contacts_blob, self.contact_offsets = self._render_contacts()
        csm_rows = sorted(
            zip(
                book.csm_email,
                book.csm_name,
                book.csm_pod,
                map(str, book.csm_capacity),
                strict=True,
            )
        )
        self.csm_lines = [self.render(list(row)) for row in csm_rows]
        self.fx_lines: list[str] = []
        self.fx_order = sorted(range(len(CURRENCIES)), key=lambda k: CURRENCIES[k])

    def _render_contacts(self) -> tuple[bytes, np.ndarray]:
        """All contact lines as one UTF-8 blob; the visible ones on a day are a prefix."""
        book, render = self.book, self.render
        blob = bytearray()
        offsets = np.zeros(len(book.contact_account) + 1, dtype=np.int64)
        for j in range(len(book.contact_account)):
            contact_id, account_id, email, name, role, primary = book.contact_fields(j)
            line = render([contact_id, account_id, email, name, role, files.boolean(primary)])
            blob += line.encode("utf-8")
            offsets[j + 1] = len(blob)
        return bytes(blob), offsets

    def _account_line(self, i: int, plan: int, tier: int) -> str:
        book, clock = self.book, self.clock
        csm, pod = "", ""
        owner = {
            HIGH: book.account_strategic_csm,
            MEDIUM: book.account_growth_csm,
            LOW: book.account_scale_csm,
        }.get(tier)
        if owner is not None:
            csm = book.csm_email[owner[i]]
            pod = book.csm_pod[owner[i]]
        return self.render(
            [
                book.account_id[i],
                book.account_name[i],
                schema.PLANS[plan],
                files.boolean(bool(book.is_strategic[i])),
                COMPLEXITIES[book.complexity[i]] if plan == PLAN_PAID else "",
                csm,
                pod,
                "" if self.industry_missing[i] else INDUSTRIES[book.industry[i]],
                REGIONS[book.region[i]],
                clock.timestamp(int(book.created_day[i]) * 86400 + int(book.created_second[i])),
            ]
        )

    def _path(self, folder: Path, entity_name: str) -> Path:
        return files.drop_file(folder, entity_name, self.files.compress)

    def write_accounts(self, folder: Path, state: DayState) -> int:
        visible = state.n_visible
        code = state.plan.astype(np.int64) * 4 + state.tier
        changed = np.flatnonzero(self.account_state[:visible] != code[:visible])
        for i in changed.tolist():
            self.account_lines[i] = self._account_line(i, int(state.plan[i]), int(state.tier[i]))
        self.account_state[changed] = code[changed]
        lines, size = self.account_lines, self.files.BLOCK_ROWS
        self.files.write(
            folder,
            "accounts",
            (
                "".join(lines[start : min(start + size, visible)]).encode("utf-8")
                for start in range(0, visible, size)
            ),
        )
        return visible

    def write_contracts(self, folder: Path, state: DayState) -> int:
        book, day = self.book, state.day
        status = np.where(
            book.contract_cancel_day <= day,
            schema.CONTRACT_STATUSES.index("cancelled"),
            np.where(
                book.contract_end <= day,
                schema.CONTRACT_STATUSES.index("expired"),
                schema.CONTRACT_STATUSES.index("active"),
            ),
        )
        visible = np.flatnonzero(book.contract_start <= day)
        changed = visible[self.contract_state[visible] != status[visible]]
        for k in changed.tolist():
            a = int(book.contract_account[k])
            self.contract_lines[k] = self.render(
                [
                    book.contract_id[k],
                    book.account_id[a],
                    self.clock.date(int(book.contract_start[k])),
                    self.clock.date(int(book.contract_end[k])),
                    files.amount(float(book.contract_amount[k])),
                    CURRENCIES[book.contract_currency[k]],
                    schema.CONTRACT_STATUSES[status[k]],
                    str(int(book.contract_seats[k])),
                ]
            )
        self.contract_state[changed] = status[changed]
        lines, size = self.contract_lines, self.files.BLOCK_ROWS
        # blocks cut at fixed contract numbers: a contract starting changes only its block
        cuts = np.searchsorted(visible, np.arange(0, len(lines) + size, size))
        self.files.write(
            folder,
            "contracts",
            (
                "".join(lines[k] for k in visible[cuts[b] : cuts[b + 1]].tolist()).encode("utf-8")
                for b in range(len(cuts) - 1)
            ),
        )
        return len(visible)

    def write_contacts(self, folder: Path, state: DayState) -> int:
        visible = state.n_visible
        count = int(self.book.contacts_end[visible - 1]) if visible else 0
        blob, offsets, size = self.contacts_blob, self.contact_offsets, self.files.BLOCK_ROWS
        self.files.write(
            folder,
            "contacts",
            (
                blob[int(offsets[start]) : int(offsets[min(start + size, count)])]
                for start in range(0, count, size)
            ),
        )
        return count

    def write_csms(self, folder: Path) -> int:
        files.write_lines(self._path(folder, "csms"), "csms", self.csm_lines)
        return len(self.csm_lines)

    def write_fx(self, folder: Path, day: int, rates: np.ndarray) -> int:
        as_of = self.clock.date(day)
        for k in self.fx_order:
            self.fx_lines.append(self.render([CURRENCIES[k], files.rate(float(rates[k])), as_of]))
        files.write_lines(self._path(folder, "fx_rates"), "fx_rates", self.fx_lines)
        return len(self.fx_lines)
