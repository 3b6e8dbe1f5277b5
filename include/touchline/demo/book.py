"""The demo book of business: accounts, contract histories, contacts and the CS team.

Everything that does not change day by day is drawn here, once, as per-account and
per-contract numpy arrays (no per-event history). Days are integers counted from the first
date of the window (day 0); history before the window has negative days.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from touchline.demo import names

NEVER = 10**7  # a day index after any window

# Account kinds: how the plan evolves.
FREE, TRIAL_TO_PAID, TRIAL_TO_FREE, PAID = 0, 1, 2, 3
KIND_WEIGHTS = (0.05, 0.08, 0.04, 0.83)

# Plan codes, in schema.PLANS order.
PLAN_FREE, PLAN_TRIAL, PLAN_PAID = 0, 1, 2

STABLE, GROWING, DECLINING = 0, 1, 2
TRAJECTORY_WEIGHTS = (0.60, 0.20, 0.20)

HIGH, MEDIUM, LOW, TECH = 0, 1, 2, 3
HIGH_TOUCH_ARR = 100_000.0
MEDIUM_TOUCH_ARR = 25_000.0
LOW_TOUCH_ARR = 5_000.0

COMPLEXITIES = ("low", "standard", "complex")

CURRENCIES = ("USD", "EUR", "GBP", "JPY", "AUD", "CAD", "CHF", "SEK", "SGD", "BRL", "MXN")
BASE_RATE_TO_USD = (1.0, 1.08, 1.27, 0.0067, 0.66, 0.73, 1.13, 0.095, 0.74, 0.18, 0.055)
# Contract amounts are quoted in round numbers of the currency.
AMOUNT_ROUNDING = (100, 100, 100, 10_000, 100, 100, 100, 1_000, 100, 500, 1_000)
# Currency mix per region (index matches names.REGIONS): USD dominates.
REGION_CURRENCIES = (
    {"USD": 0.90, "CAD": 0.10},
    {"USD": 0.22, "EUR": 0.46, "GBP": 0.20, "CHF": 0.06, "SEK": 0.06},
    {"USD": 0.40, "JPY": 0.30, "AUD": 0.20, "SGD": 0.10},
    {"USD": 0.60, "BRL": 0.25, "MXN": 0.15},
)

# ARR in USD for paid accounts at the start of the window: a mixture of lognormals, one
# per commercial edition (median, sigma, weight). Heavy-tailed, tuned so the default tier
# rule gives roughly 15-20% high, 30-40% medium, 20-30% low touch over the whole book.
ARR_EDITIONS = (
    (2_600.0, 0.55, 0.14),
    (11_000.0, 0.50, 0.26),
    (42_000.0, 0.50, 0.42),
    (165_000.0, 0.65, 0.18),
)

HISTORY_DAYS = 3 * 365  # accounts were created over about three years before the end date
SIGNUP_GROWTH_PER_DAY = 0.0005  # new signups per day grow ~20% a year
ONBOARDING_DAYS = 90
CHURN_SHARE_PER_120_DAYS = 0.02  # share of the book that churns inside a 120-day window
CHURN_SHARE_MAX = 0.03

# Pod sizing (docs/touch-model.md, "Assignment"): dedicated CSMs with 15-30 high-touch
# accounts, growth pods of 3-4 CSMs sharing 200-300 medium-touch accounts, scaled CSMs with
# 200-500 low-touch accounts.
ACCOUNTS_PER_STRATEGIC_CSM = 22
ACCOUNTS_PER_GROWTH_POD = 250
ACCOUNTS_PER_SCALE_CSM = 350
CSM_DOMAIN = "touchline-demo.example"


def random_stream(seed: int, stream: int) -> np.random.Generator:
    """Independent, reproducible random streams: one per part of the simulation."""
    return np.random.default_rng(np.random.SeedSequence([seed, stream]))


@dataclass
class Book:
    """The static part of the demo world, as arrays indexed by account or contract."""

    start: date  # the window's first date (day 0)
    days: int
    n: int
    # accounts, ordered by creation (so the accounts visible on a day are a prefix)
    account_id: list[str]
    account_name: list[str]
    account_slug: list[str]  # unique; the e-mail domain of the account's contacts
    created_day: np.ndarray
    created_second: np.ndarray
    kind: np.ndarray
    trial_end_day: np.ndarray
    is_strategic: np.ndarray
    complexity: np.ndarray
    industry: np.ndarray
    region: np.ndarray
    currency: np.ndarray
    trajectory: np.ndarray
    trajectory_target: np.ndarray
    trajectory_tau: np.ndarray
    first_contract_day: np.ndarray
    churn_day: np.ndarray
    churn_reason: np.ndarray
    neglect_from_day: np.ndarray
    base_seats: np.ndarray
    adoption: np.ndarray
    breadth: np.ndarray
    # contracts, ordered by contract_id (account, then sequence)
    contract_id: list[str]
    contract_account: np.ndarray
    contract_start: np.ndarray
    contract_end: np.ndarray
    contract_cancel_day: np.ndarray
    contract_amount: np.ndarray
    contract_usd: np.ndarray  # the amount at the base rate, for the generator's own tiering
    contract_currency: np.ndarray
    contract_seats: np.ndarray
    # contacts, ordered by contact_id (so also a prefix per visible accounts); kept as small
    # integers and rendered on demand, since a large book has millions of them
    contact_account: np.ndarray
    contact_number: np.ndarray  # 1, 2, ... within the account; 1 is the primary contact
    contact_first_name: np.ndarray  # index into names.FIRST_NAMES
    contact_last_name: np.ndarray
    contact_role: np.ndarray  # index into names.CONTACT_ROLES
    contact_email_serial: np.ndarray  # >1 when the plain address is taken in the account
    contacts_end: np.ndarray  # per account: index after its last contact
    # the CS team
    csm_email: list[str]
    csm_name: list[str]
    csm_pod: list[str]
    csm_capacity: list[int]
    account_strategic_csm: np.ndarray
    account_growth_csm: np.ndarray
    account_scale_csm: np.ndarray

    def contact_id(self, j: int) -> str:
        account = self.account_id[self.contact_account[j]]
        return f"cnt-{account[4:]}-{self.contact_number[j]}"

    def contact_fields(self, j: int) -> tuple[str, str, str, str, str, bool]:
        """contact_id, account_id, email, name, role, is_primary of contact `j`."""
        a = int(self.contact_account[j])
        first, last = int(self.contact_first_name[j]), int(self.contact_last_name[j])
        serial = int(self.contact_email_serial[j])
        local = f"{names.FIRST_NAME_LOCALS[first]}.{names.LAST_NAME_LOCALS[last]}"
        email = f"{local}{serial if serial > 1 else ''}@{self.account_slug[a]}.example"
        return (
            self.contact_id(j),
            self.account_id[a],
            email,
            f"{names.FIRST_NAMES[first]} {names.LAST_NAMES[last]}",
            names.CONTACT_ROLES[self.contact_role[j]],
            int(self.contact_number[j]) == 1,
        )

    def date_of(self, day: int) -> date:
        return self.start + timedelta(days=day)

    def plan_on(self, day: int) -> np.ndarray:
        """Plan code per account on a day (PLAN_FREE / PLAN_TRIAL / PLAN_PAID)."""
        plan = np.full(self.n, PLAN_PAID, dtype=np.int8)
        plan[self.kind == FREE] = PLAN_FREE
        trial = (self.kind == TRIAL_TO_PAID) | (self.kind == TRIAL_TO_FREE)
        plan[trial & (day < self.trial_end_day)] = PLAN_TRIAL
        plan[(self.kind == TRIAL_TO_FREE) & (day >= self.trial_end_day)] = PLAN_FREE
        return plan

    def contracts_active_on(self, day: int) -> np.ndarray:
        return (
            (self.contract_start <= day)
            & (day < self.contract_end)
            & (day < self.contract_cancel_day)
        )

    def tier_on(self, day: int, active: np.ndarray | None = None) -> np.ndarray:
        """The default tier rule, with ARR at the base exchange rates (no day-to-day flapping)."""
        if active is None:
            active = self.contracts_active_on(day)
        arr = np.bincount(
            self.contract_account[active], weights=self.contract_usd[active], minlength=self.n
        )
        tier = np.full(self.n, TECH, dtype=np.int8)
        tier[arr >= LOW_TOUCH_ARR] = LOW
        tier[arr >= MEDIUM_TOUCH_ARR] = MEDIUM
        flagged = self.is_strategic | (self.complexity == 2)
        tier[(arr >= HIGH_TOUCH_ARR) | flagged] = HIGH
        tier[self.plan_on(day) != PLAN_PAID] = TECH
        return tier


@dataclass
class DayState:
    """What every daily generator needs to know about the book on one day."""

    day: int
    weekday: int  # 0 = Monday
    business_day: int  # weekdays counted from a fixed epoch; cadences recur on it
    n_visible: int  # accounts created on or before the day (a prefix of the book)
    alive: np.ndarray  # visible and not churned
    plan: np.ndarray
    tier: np.ndarray
    has_contract: np.ndarray  # per account: at least one active contract
    renewal_day: np.ndarray  # per account: earliest end of an active contract, else NEVER
    onboarding: np.ndarray  # within ONBOARDING_DAYS of the first contract's start
    owner: np.ndarray  # index of the CSM in charge for the day's tier, -1 for tech touch

    @property
    def is_weekday(self) -> bool:
        return self.weekday < 5


def state_on(book: Book, day: int) -> DayState:
    active = book.contracts_active_on(day)
    account = book.contract_account[active]
    has_contract = np.bincount(account, minlength=book.n) > 0
    renewal_day = np.full(book.n, NEVER, dtype=np.int64)
    np.minimum.at(renewal_day, account, book.contract_end[active])
    tier = book.tier_on(day, active)
    n_visible = int(np.searchsorted(book.created_day, day, side="right"))
    alive = (np.arange(book.n) < n_visible) & (day < book.churn_day)
    since_first = day - book.first_contract_day
    owner = np.select(
        [tier == HIGH, tier == MEDIUM, tier == LOW],
        [book.account_strategic_csm, book.account_growth_csm, book.account_scale_csm],
        default=-1,
    )
    ordinal = book.date_of(day).toordinal() - 1  # 0 = Monday 0001-01-01
    weekday = ordinal % 7
    return DayState(
        day=day,
        weekday=weekday,
        business_day=(ordinal // 7) * 5 + min(weekday, 5),
        n_visible=n_visible,
        alive=alive,
        plan=book.plan_on(day),
        tier=tier,
        has_contract=has_contract,
        renewal_day=renewal_day,
        onboarding=has_contract & (since_first >= 0) & (since_first < ONBOARDING_DAYS),
        owner=owner,
    )


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def _round_amounts(amount: np.ndarray, step: np.ndarray) -> np.ndarray:
    """Quote amounts in round numbers of their currency (finer steps for small amounts)."""
    step = np.where(amount >= 4 * step, step, np.maximum(1, step // 10))
    return np.maximum(step, np.round(amount / step) * step).astype(np.float64)


def _draw_arr_usd(rng: np.random.Generator, size: int) -> np.ndarray:
    medians, sigmas, weights = (np.array(v) for v in zip(*ARR_EDITIONS, strict=True))
    edition = rng.choice(len(weights), size=size, p=weights / weights.sum())
    return np.exp(np.log(medians[edition]) + sigmas[edition] * rng.standard_normal(size))


def _company_names(rng: np.random.Generator, region: np.ndarray) -> tuple[list[str], list[str]]:
    """Plausible, mostly unique company names and a unique slug (e-mail domain) for each."""
    heads, tails = names.COMPANY_HEADS, names.COMPANY_TAILS
    attempts = 6
    n = len(region)
    head = rng.integers(len(heads), size=n * attempts).tolist()
    tail = rng.integers(len(tails), size=n * attempts).tolist()
    suffix = rng.integers(8, size=n * attempts).tolist()
    used: set[str] = set()  # membership only; never iterated
    slug_count: dict[str, int] = {}
    result, slugs = [], []
    for i, r in enumerate(region.tolist()):
        suffixes = names.COMPANY_SUFFIXES[r]
        for a in range(attempts):
            h, t = head[i * attempts + a], tail[i * attempts + a]
            legal = suffixes[suffix[i * attempts + a] % len(suffixes)]
            name = f"{heads[h]} {tails[t]}" + (f" {legal}" if legal else "")
            if name not in used:
                break
        used.add(name)
        result.append(name)
        slug = f"{names.COMPANY_HEAD_SLUGS[h]}-{names.COMPANY_TAIL_SLUGS[t]}"
        count = slug_count.get(slug, 0) + 1
        slug_count[slug] = count
        slugs.append(slug if count == 1 else f"{slug}-{count}")
    return result, slugs


def build_book(accounts: int, days: int, seed: int, end_date: date) -> Book:
    """Draw the demo book for a window of `days` days ending on `end_date`.

    The same arguments give the same book, so tests can look at the latent state (e.g. which
    accounts are growing) behind a generated drop.
    """
    rng = random_stream(seed, 0)
    n = accounts
    start = end_date - timedelta(days=days - 1)
    last = days - 1
    history = max(HISTORY_DAYS, days + 365)
    history_start_day = (end_date - timedelta(days=history - 1) - start).days

    # Creation dates: signups grow slowly, so recent ones are a bit denser.
    g = SIGNUP_GROWTH_PER_DAY
    u = rng.random(n)
    offset = np.floor(np.log1p(u * np.expm1(g * history)) / g).astype(np.int64)
    created_day = np.sort(history_start_day + np.minimum(offset, history - 1))

    region = rng.choice(len(names.REGIONS), size=n, p=names.REGION_WEIGHTS)
    midday = np.array(names.REGION_MIDDAY_UTC)[region]
    created_second = (midday + rng.normal(0, 2.5 * 3600, n).astype(np.int64)) % 86400
    industry_weights = np.array(names.INDUSTRY_WEIGHTS)
    industry = rng.choice(
        len(names.INDUSTRIES), size=n, p=industry_weights / industry_weights.sum()
    )
    kind = rng.choice(4, size=n, p=KIND_WEIGHTS).astype(np.int8)
    trial_length = rng.choice(np.array([14, 30]), size=n, p=[0.4, 0.6])
    is_trial = (kind == TRIAL_TO_PAID) | (kind == TRIAL_TO_FREE)
    trial_end_day = np.where(is_trial, created_day + trial_length, created_day)
    paying = (kind == PAID) | (kind == TRIAL_TO_PAID)
    first_contract_day = np.where(paying, trial_end_day, NEVER)

    currency = np.zeros(n, dtype=np.int8)
    for r, mix in enumerate(REGION_CURRENCIES):
        members = np.flatnonzero(region == r)
        codes = [CURRENCIES.index(c) for c in mix]
        weights = np.array(list(mix.values()))
        currency[members] = rng.choice(codes, size=len(members), p=weights / weights.sum())

    trajectory = rng.choice(3, size=n, p=TRAJECTORY_WEIGHTS).astype(np.int8)
    trajectory_target = np.where(
        trajectory == GROWING,
        rng.uniform(1.6, 2.6, n),
        np.where(trajectory == DECLINING, rng.uniform(0.2, 0.55, n), 1.0),
    )
    trajectory_tau = rng.uniform(25, 75, n)

    arr_start = np.where(paying, _draw_arr_usd(rng, n), 0.0)
    # Strategic and complex flags: rare, and mostly on the bigger accounts.
    size_factor = np.clip(arr_start / 60_000.0, 0, 4) ** 0.5
    is_strategic = paying & (rng.random(n) < 0.018 * size_factor)
    complex_ = paying & (rng.random(n) < 0.02 * size_factor)
    complexity = np.where(complex_, 2, np.where(rng.random(n) < 0.3, 0, 1)).astype(np.int8)
    complexity[~paying] = 0

    # Contract chains ------------------------------------------------------------------
    term_years = rng.choice(np.array([1, 2, 3]), size=n, p=[0.85, 0.12, 0.03])
    uplift = np.where(
        trajectory == GROWING,
        rng.uniform(1.08, 1.30, n),
        np.where(trajectory == DECLINING, rng.uniform(0.80, 0.97, n), rng.uniform(1.0, 1.07, n)),
    )
    renew_probability = np.where(trajectory == DECLINING, 0.85, 0.98)
    seat_price = np.exp(np.log(750.0) + 0.35 * rng.standard_normal(n))

    # Churn: a few declining paying accounts leave inside the window.
    earliest_churn = np.maximum(np.maximum(created_day + 60, first_contract_day + 30), 1)
    candidates = np.flatnonzero(paying & (trajectory == DECLINING) & (earliest_churn <= last))
    churn_rate = min(CHURN_SHARE_MAX, CHURN_SHARE_PER_120_DAYS * math.sqrt(days / 120))
    n_churn = min(len(candidates), int(round(n * churn_rate)))
    if n_churn == 0 and len(candidates) and n >= 20:
        n_churn = 1
    churners = np.sort(rng.choice(candidates, size=n_churn, replace=False))
    is_churner = np.zeros(n, dtype=bool)
    is_churner[churners] = True

    rows: list[tuple[int, int, int, float, int]] = []  # account, start, end, usd, is_addon
    churn_day = np.full(n, NEVER, dtype=np.int64)
    addon_draw = rng.random(n)
    addon_share = rng.uniform(0.10, 0.35, n)
    addon_position = rng.random(n)
    addon_when = rng.uniform(0.15, 0.85, n)
    churn_at_renewal = rng.random(n) < 0.5
    churn_uniform = rng.random(n)
    renew_draws = rng.random((n, 8))
    jitter = rng.uniform(0.97, 1.03, (n, 8))

    first_l, term_l, uplift_l = first_contract_day.tolist(), term_years.tolist(), uplift.tolist()
    renew_p_l, churner_l, arr_l = (
        renew_probability.tolist(),
        is_churner.tolist(),
        arr_start.tolist(),
    )
    lo_l, at_renewal_l, uniform_l = (
        earliest_churn.tolist(),
        churn_at_renewal.tolist(),
        churn_uniform.tolist(),
    )
    addon_l, share_l = addon_draw.tolist(), addon_share.tolist()
    position_l, when_l = addon_position.tolist(), addon_when.tolist()
    for i in np.flatnonzero(paying).tolist():
        renew_l, jitter_l = renew_draws[i].tolist(), jitter[i].tolist()
        s = start + timedelta(days=first_l[i])
        chain: list[tuple[int, int]] = []
        renewals_in_window = 0
        while (s - start).days <= last:
            e = _add_years(s, term_l[i])
            cs, ce = (s - start).days, (e - start).days
            chain.append((cs, ce))
            if ce > last:
                break
            if ce >= 0:
                if not churner_l[i] and renew_l[renewals_in_window % 8] > renew_p_l[i]:
                    break
                renewals_in_window += 1
            s = e
        # The contract running on day 0 (or the first one) carries the drawn ARR.
        k0 = next((k for k, (cs, ce) in enumerate(chain) if cs <= 0 < ce), 0)
        usd = [arr_l[i] * uplift_l[i] ** (k - k0) * jitter_l[k % 8] for k in range(len(chain))]
        if churner_l[i]:
            lo = lo_l[i]
            renewal_days = [ce for _, ce in chain if lo <= ce <= last]
            if renewal_days and at_renewal_l[i]:
                c = renewal_days[0]
            else:
                c = lo + int(uniform_l[i] * (last - lo + 1))
            churn_day[i] = c
            keep = [k for k, (cs, _) in enumerate(chain) if cs < c]
            chain = [chain[k] for k in keep]
            usd = [usd[k] for k in keep]
        for (cs, ce), amount in zip(chain, usd, strict=True):
            rows.append((i, cs, ce, amount, 0))
        if arr_l[i] >= 15_000 and addon_l[i] < 0.15 and chain:
            ka = int(position_l[i] * len(chain))
            cs, ce = chain[ka]
            addon_start = cs + int(when_l[i] * (ce - cs))
            if addon_start <= last:
                for k in range(ka, len(chain)):
                    cs_k, ce_k = chain[k]
                    begins = addon_start if k == ka else cs_k
                    rows.append((i, begins, ce_k, usd[k] * share_l[i], 1))

    churn_reason = np.full(n, -1, dtype=np.int8)
    churned = churn_day < NEVER
    churn_reason[churned] = rng.choice(
        len(names.CHURN_REASONS),
        size=int(churned.sum()),
        p=np.array(names.CHURN_REASON_WEIGHTS) / sum(names.CHURN_REASON_WEIGHTS),
    )

    rows.sort(key=lambda r: (r[0], r[1], r[4]))
    c_account = np.array([r[0] for r in rows], dtype=np.int64)
    c_start = np.array([r[1] for r in rows], dtype=np.int64)
    c_end = np.array([r[2] for r in rows], dtype=np.int64)
    c_usd_raw = np.array([r[3] for r in rows], dtype=np.float64)
    c_addon = np.array([r[4] for r in rows], dtype=bool)
    c_currency = currency[c_account] if len(rows) else np.zeros(0, dtype=np.int8)
    rates = np.array(BASE_RATE_TO_USD)
    steps = np.array(AMOUNT_ROUNDING)
    c_amount = _round_amounts(c_usd_raw / rates[c_currency], steps[c_currency])
    c_usd = c_amount * rates[c_currency] if len(rows) else np.zeros(0)
    module_addon = rng.random(len(rows)) < 0.5
    c_seats = np.maximum(1, np.round(c_usd / seat_price[c_account])).astype(np.int64)
    c_seats[c_addon & module_addon] = 0
    c_cancel = np.full(len(rows), NEVER, dtype=np.int64)
    cancelled = (c_start < churn_day[c_account]) & (c_end >= churn_day[c_account])
    c_cancel[cancelled] = churn_day[c_account][cancelled]

    id_width = max(6, len(str(n)))
    account_id = [f"acc-{k:0{id_width}d}" for k in range(1, n + 1)]
    account_numbers = [f"{k:0{id_width}d}" for k in range(1, n + 1)]
    seq = np.zeros(len(rows), dtype=np.int64)
    if len(rows):
        first_of_account = np.r_[True, c_account[1:] != c_account[:-1]]
        run_start = np.maximum.accumulate(np.where(first_of_account, np.arange(len(rows)), 0))
        seq = np.arange(len(rows)) - run_start + 1
    contract_id = [
        f"ctr-{account_numbers[a]}-{s:02d}"
        for a, s in zip(c_account.tolist(), seq.tolist(), strict=True)
    ]

    # Usage parameters -------------------------------------------------------------------
    first_seats = np.zeros(n, dtype=np.int64)
    if len(rows):
        base_rows = ~c_addon
        # seats of the contract running at the window start, else the first one
        running = base_rows & (c_start <= 0) & (c_end > 0)
        first_seats[c_account[base_rows][::-1]] = c_seats[base_rows][::-1]
        first_seats[c_account[running]] = c_seats[running]
    base_seats = np.where(paying, np.maximum(first_seats, 1), rng.integers(1, 9, n))
    adoption = rng.beta(5, 4, n) * np.where(trajectory == DECLINING, 0.85, 1.0)
    breadth = np.where(paying, 3 + rng.binomial(5, 0.5, n), 1 + rng.binomial(3, 0.5, n))
    breadth = breadth.astype(np.int8)  # how many of the features the account uses

    # Some accounts get neglected: their CSM stops showing up for the last weeks.
    neglected = rng.random(n) < 0.06
    neglect_from_day = np.where(neglected, last - rng.integers(14, 45, n), NEVER).astype(np.int64)

    # Names --------------------------------------------------------------------------------
    account_name, slugs = _company_names(rng, region)
    eligible = np.flatnonzero(paying & (created_day < 0) & ~is_churner & (arr_start >= 5_000))
    if len(eligible) < len(names.SPECIAL_ACCOUNT_NAMES):
        eligible = np.flatnonzero(created_day < 0) if (created_day < 0).any() else np.arange(n)
    specials = rng.choice(
        eligible, size=min(len(eligible), len(names.SPECIAL_ACCOUNT_NAMES)), replace=False
    )
    for position, i in enumerate(np.sort(specials).tolist()):
        account_name[i] = names.SPECIAL_ACCOUNT_NAMES[position]
        slugs[i] = f"{names.slugify(account_name[i])}-{i + 1}"

    # Contacts ---------------------------------------------------------------------------
    size_p = np.clip((np.log10(np.maximum(arr_start, 1)) - 3.0) / 2.5, 0.1, 0.9)
    n_contacts = np.where(paying, 2 + rng.binomial(4, size_p), 2 + rng.binomial(1, 0.4, n))
    contacts_end = np.cumsum(n_contacts)
    total_contacts = int(contacts_end[-1]) if n else 0
    contact_account = np.repeat(np.arange(n), n_contacts)
    contact_k = np.arange(total_contacts) - np.repeat(contacts_end - n_contacts, n_contacts)
    first_pick = rng.integers(len(names.FIRST_NAMES), size=total_contacts)
    last_pick = rng.integers(len(names.LAST_NAMES), size=total_contacts)
    other_roles = rng.choice(
        len(names.CONTACT_ROLES), size=total_contacts, p=[0.15, 0.15, 0.15, 0.40, 0.15]
    )
    primary_roles = rng.choice(2, size=total_contacts)  # admin or champion
    contact_role = np.where(contact_k == 0, primary_roles, other_roles).astype(np.int8)
    # Two contacts of one account with the same name get jane.doe@ and jane.doe2@.
    name_key = first_pick * len(names.LAST_NAMES) + last_pick
    order = np.lexsort((contact_k, name_key, contact_account))
    same = np.r_[False, (np.diff(contact_account[order]) == 0) & (np.diff(name_key[order]) == 0)]
    serial_sorted = np.ones(total_contacts, dtype=np.int64)
    run = 1
    for position, repeat in enumerate(same.tolist()):
        run = run + 1 if repeat else 1
        serial_sorted[position] = run
    contact_email_serial = np.empty(total_contacts, dtype=np.int8)
    contact_email_serial[order] = serial_sorted

    book = Book(
        start=start,
        days=days,
        n=n,
        account_id=account_id,
        account_name=account_name,
        account_slug=slugs,
        created_day=created_day,
        created_second=created_second,
        kind=kind,
        trial_end_day=trial_end_day,
        is_strategic=is_strategic,
        complexity=complexity,
        industry=industry,
        region=region,
        currency=currency,
        trajectory=trajectory,
        trajectory_target=trajectory_target,
        trajectory_tau=trajectory_tau,
        first_contract_day=first_contract_day,
        churn_day=churn_day,
        churn_reason=churn_reason,
        neglect_from_day=neglect_from_day,
        base_seats=base_seats,
        adoption=adoption,
        breadth=breadth,
        contract_id=contract_id,
        contract_account=c_account,
        contract_start=c_start,
        contract_end=c_end,
        contract_cancel_day=c_cancel,
        contract_amount=c_amount,
        contract_usd=c_usd,
        contract_currency=c_currency,
        contract_seats=c_seats,
        contact_account=contact_account,
        contact_number=(contact_k + 1).astype(np.int8),
        contact_first_name=first_pick.astype(np.int16),
        contact_last_name=last_pick.astype(np.int16),
        contact_role=contact_role,
        contact_email_serial=contact_email_serial,
        contacts_end=contacts_end,
        csm_email=[],
        csm_name=[],
        csm_pod=[],
        csm_capacity=[],
        account_strategic_csm=np.zeros(n, dtype=np.int64),
        account_growth_csm=np.zeros(n, dtype=np.int64),
        account_scale_csm=np.zeros(n, dtype=np.int64),
    )
    _staff(book, rng)
    return book


def _pod_name(index: int) -> str:
    """growth-a ... growth-z, growth-aa, growth-ab, ..."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("a") + rest) + letters
    return f"growth-{letters}"


def _staff(book: Book, rng: np.random.Generator) -> None:
    """Size the CS team for the book at the end of the window and assign every account."""
    end_tier = book.tier_on(book.days - 1)
    counts = np.bincount(end_tier, minlength=4)
    n_strategic = max(1, math.ceil(counts[HIGH] / ACCOUNTS_PER_STRATEGIC_CSM))
    n_pods = max(1, round(counts[MEDIUM] / ACCOUNTS_PER_GROWTH_POD))
    pod_sizes = rng.choice(np.array([3, 4]), size=n_pods)
    n_scale = max(1, math.ceil(counts[LOW] / ACCOUNTS_PER_SCALE_CSM))

    pods = ["strategic"] * n_strategic
    for p, size in enumerate(pod_sizes.tolist()):
        pods += [_pod_name(p)] * size
    pods += ["scale"] * n_scale
    total = len(pods)

    combos = len(names.FIRST_NAMES) * len(names.LAST_NAMES)
    picks = rng.choice(combos, size=min(total, combos), replace=False)
    if total > combos:
        picks = np.r_[picks, rng.integers(combos, size=total - combos)]
    seen: dict[str, int] = {}
    for p, pick in zip(pods, picks.tolist(), strict=True):
        first = names.FIRST_NAMES[pick // len(names.LAST_NAMES)]
        last = names.LAST_NAMES[pick % len(names.LAST_NAMES)]
        local = names.email_local_part(first, last)
        count = seen.get(local, 0) + 1
        seen[local] = count
        book.csm_email.append(f"{local}{count if count > 1 else ''}@{CSM_DOMAIN}")
        book.csm_name.append(f"{first} {last}")
        book.csm_pod.append(p)
    book.csm_capacity = np.where(rng.random(total) < 0.8, 40, 32).tolist()

    # Round-robin over a shuffled book: every CSM gets an even share of each tier.
    order = rng.permutation(book.n)
    rank = np.empty(book.n, dtype=np.int64)
    rank[order] = np.arange(book.n)
    growth_first = n_strategic
    n_growth = int(pod_sizes.sum())
    book.account_strategic_csm = rank % n_strategic
    book.account_growth_csm = growth_first + rank % n_growth
    book.account_scale_csm = growth_first + n_growth + rank % n_scale
