"""The touch activity log: what CSMs and the automation actually did, day by day.

It follows the touch model of docs/touch-model.md (cadences per tier, the onboarding programme,
renewal outreach, event triggers) with realistic gaps: a share of touches is skipped, some
accounts are neglected for weeks, meetings have no-shows. Those gaps are what the pipeline
later turns into due and overdue touchpoints.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from touchline import schema
from touchline.demo import names
from touchline.demo.book import (
    DECLINING,
    FREE,
    GROWING,
    HIGH,
    LOW,
    MEDIUM,
    NEVER,
    PLAN_FREE,
    PLAN_PAID,
    PLAN_TRIAL,
    TECH,
    Book,
    DayState,
)
from touchline.demo.files import Clock, check_columns

ACTIVITY_COLUMNS = (
    "activity_id",
    "account_id",
    "activity_type",
    "occurred_at",
    "outcome",
    "channel",
    "csm_email",
)
check_columns("activities", ACTIVITY_COLUMNS)

CHANNELS = ("video", "phone", "email", "in_app", "webinar", "in_person")
OUTCOMES = schema.OUTCOMES  # completed, no_show, cancelled
HUMAN_TIERS = (HIGH, MEDIUM, LOW)
NO_SHOW_SHARE = 0.07
CANCELLED_SHARE = 0.04
EMAIL_OPEN_SHARE = 0.25
EMAIL_CLICK_SHARE_OF_OPENS = 0.16  # ~4% of sends
NEGLECTED_DONE_FACTOR = 0.1


@dataclass(frozen=True)
class Touch:
    """One kind of touch: who gets it, how often it is really done, through which channel."""

    code: str
    tiers: tuple[int, ...]
    done: float
    channels: tuple[tuple[str, float], ...]
    human: bool = True  # done by the account's CSM (else by automation, no csm_email)
    meeting: bool = False  # can end as no_show / cancelled
    period: int = 0  # business days between occurrences, for cadences
    offset: int = 0  # position inside the period (alternating touches share a phase group)
    group: str = ""  # cadences in one group share the per-account phase
    window: tuple[int, int] = (0, 0)  # days after the anchor, for one-off touches
    strategic_only: bool = False


VIDEO = (("video", 1.0),)
EMAIL = (("email", 1.0),)

# Recurring cadences after onboarding (docs/touch-model.md, "Cadences").
CADENCES = (
    Touch("check_in_call", (HIGH,), 0.85, (("video", 0.7), ("phone", 0.3)), meeting=True,
          period=10),
    Touch("qbr", (HIGH,), 0.93, (("video", 0.85), ("in_person", 0.15)), meeting=True, period=63),
    Touch("in_person_meeting", (HIGH,), 0.75, (("in_person", 1.0),), meeting=True, period=250,
          strategic_only=True),
    Touch("check_in_call", (MEDIUM,), 0.85, (("video", 0.5), ("phone", 0.5)), meeting=True,
          period=42, offset=0, group="monthly"),
    Touch("check_in_email", (MEDIUM,), 0.9, EMAIL, period=42, offset=21, group="monthly"),
    Touch("business_review", (MEDIUM,), 0.8, VIDEO, meeting=True, period=126),
    Touch("check_in_email", (LOW,), 0.97, EMAIL, human=False, period=63),
    Touch("health_check", (LOW,), 0.7, (("email", 0.6), ("phone", 0.4)), period=63),
    Touch("product_update_email", (TECH,), 0.98, EMAIL, human=False, period=21),
    Touch("webinar_invite", (TECH, LOW), 0.98, EMAIL, human=False, period=63),
)  # fmt: skip

# The onboarding programme, anchored on the first contract's start.
ONBOARDING = (
    Touch("kickoff_call", HUMAN_TIERS, 0.95, VIDEO, meeting=True, window=(2, 6)),
    Touch("success_milestone_review", (HIGH,), 0.85, VIDEO, meeting=True, window=(24, 30)),
    Touch("first_month_recap", (HIGH,), 0.85, (("video", 0.6), ("email", 0.4)), window=(55, 65)),
    Touch("qbr", (HIGH,), 0.9, VIDEO, meeting=True, window=(84, 89)),
    Touch("milestone_check_in", (MEDIUM,), 0.8, (("video", 0.5), ("email", 0.5)), window=(27, 33)),
    Touch("onboarding_email", (MEDIUM,), 0.99, EMAIL, human=False, window=(0, 2)),
    Touch("welcome_series", (LOW, TECH), 0.99, EMAIL, human=False, window=(0, 1)),
    Touch("milestone_celebration", (LOW,), 0.97, (("in_app", 1.0),), human=False, window=(29, 33)),
    Touch("welcome_webinar", HUMAN_TIERS + (TECH,), 0.45, (("webinar", 1.0),), human=False,
          window=(7, 21)),
)  # fmt: skip
IMPLEMENTATION_CHECK_IN = Touch(
    "implementation_check_in", HUMAN_TIERS, 0.8, (("video", 0.6), ("phone", 0.4)), meeting=True,
    period=5, window=(8, 45),
)  # fmt: skip
# Tech touch: activation campaigns 7, 14 and 30 days after signup.
ACTIVATION_CAMPAIGNS = tuple(
    (Touch(f"activation_campaign_{days}", (TECH,), 0.99, EMAIL, human=False), days)
    for days in (7, 14, 30)
)
RENEWAL_STAGES = (
    (60, "renewal_outreach_60"),
    (30, "renewal_outreach_30"),
    (14, "renewal_outreach_14"),
)
RENEWAL_REMINDER = Touch("renewal_reminder", (TECH,), 0.98, EMAIL, human=False)
COMMUNITY_INVITE = Touch("community_invite", (TECH,), 0.98, EMAIL, human=False)
UPGRADE_PROMPT = Touch("upgrade_prompt", (TECH,), 1.0, (("in_app", 1.0),), human=False)
UPGRADE_PROMPT_SHARE = 0.01  # free and trial accounts shown an in-app prompt, per day

# Event triggers (docs/touch-model.md, "Event triggers").
SUPPORT_CALL = Touch("support_call", (), 1.0, (("phone", 1.0),), human=False)  # support, no CSM
TICKET_ESCALATION = Touch("ticket_escalation", HUMAN_TIERS, 1.0, (("phone", 1.0),))
DETRACTOR_FOLLOW_UP = Touch(
    "detractor_follow_up", HUMAN_TIERS, 1.0, (("phone", 0.7), ("video", 0.3))
)
EXPANSION_CONVERSATION = Touch("expansion_conversation", HUMAN_TIERS, 1.0, VIDEO, meeting=True)
MILESTONE_CONGRATULATIONS = Touch("milestone_congratulations", HUMAN_TIERS, 1.0, EMAIL)
HEALTH_DROP_OUTREACH = Touch(
    "health_drop_outreach", HUMAN_TIERS, 1.0, (("phone", 0.6), ("email", 0.4))
)

ACTIVITY_TYPES = (
    "kickoff_call", "implementation_check_in", "success_milestone_review", "first_month_recap",
    "qbr", "check_in_call", "business_review", "onboarding_email", "milestone_check_in",
    "welcome_series", "check_in_email", "milestone_celebration", "health_check",
    "renewal_outreach_60", "renewal_outreach_30", "renewal_outreach_14", "renewal_reminder",
    "activation_campaign_7", "activation_campaign_14", "activation_campaign_30",
    "product_update_email", "webinar_invite", "community_invite", "welcome_webinar",
    "upgrade_prompt", "detractor_follow_up", "health_drop_outreach", "expansion_conversation",
    "milestone_congratulations", "ticket_escalation", "in_person_meeting",
) + schema.NON_TOUCH_ACTIVITY_TYPES  # fmt: skip
_TYPE = {code: k for k, code in enumerate(ACTIVITY_TYPES)}
_CHANNEL = {code: k for k, code in enumerate(CHANNELS)}
_EMAIL_CHANNEL = _CHANNEL["email"]
_NOT_SENDS = (_TYPE["email_open"], _TYPE["email_click"])


class _Batch:
    """Columns of activities under construction (absolute seconds)."""

    def __init__(self) -> None:
        self.parts: list[tuple[np.ndarray, ...]] = []

    def add(self, account, type_, second, outcome, channel, csm) -> None:
        size = len(account)
        if size == 0:
            return
        self.parts.append(
            tuple(
                np.broadcast_to(np.asarray(v, dtype=np.int64), (size,)).copy()
                for v in (account, type_, second, outcome, channel, csm)
            )
        )

    def extend(self, other: list[tuple[np.ndarray, ...]]) -> None:
        self.parts.extend(other)

    def columns(self) -> tuple[np.ndarray, ...]:
        if not self.parts:
            return tuple(np.zeros(0, dtype=np.int64) for _ in range(6))
        return tuple(np.concatenate([p[k] for p in self.parts]) for k in range(6))


class TouchLog:
    def __init__(self, book: Book, clock: Clock, rng: np.random.Generator) -> None:
        self.book = book
        self.clock = clock
        self.rng = rng
        n = book.n
        self.midday = np.array(names.REGION_MIDDAY_UTC)[book.region]
        groups: dict[str, np.ndarray] = {}
        self.phase = []
        for touch in CADENCES + (IMPLEMENTATION_CHECK_IN,):
            key = touch.group or f"{touch.code}/{touch.tiers}"
            if key not in groups:
                groups[key] = rng.integers(0, 10_000, size=n)
            self.phase.append(groups[key])
        # one-off touches: the day each account would get them
        self.onboarding_day = []
        for touch in ONBOARDING:
            low, high = touch.window
            target = book.first_contract_day + rng.integers(low, high + 1, size=n)
            if touch.human:
                target = self._next_weekday(target)
            self.onboarding_day.append(np.where(book.first_contract_day < NEVER, target, NEVER))
        self.renewal_tracked = np.full(n, -1, dtype=np.int64)
        self.renewal_level = np.zeros(n, dtype=np.int8)
        self.next_id = 1
        self.pending: dict[int, list[tuple[np.ndarray, ...]]] = {}

    def _next_weekday(self, day: np.ndarray) -> np.ndarray:
        weekday = (self.book.start.weekday() + day) % 7
        return day + np.where(weekday == 5, 2, np.where(weekday == 6, 1, 0))

    def _channel(self, touch: Touch, size: int) -> np.ndarray:
        codes = [_CHANNEL[c] for c, _ in touch.channels]
        weights = np.array([w for _, w in touch.channels])
        if len(codes) == 1:
            return np.full(size, codes[0], dtype=np.int64)
        return self.rng.choice(codes, size=size, p=weights / weights.sum())

    def _outcome(self, meeting: bool, size: int) -> np.ndarray:
        if not meeting:
            return np.zeros(size, dtype=np.int64)
        u = self.rng.random(size)
        return np.where(u < NO_SHOW_SHARE, 1, np.where(u < NO_SHOW_SHARE + CANCELLED_SHARE, 2, 0))

    def _human_second(self, day: int, account: np.ndarray) -> np.ndarray:
        """Meetings start on the quarter hour, in the account's working day."""
        spread = self.rng.normal(0, 2 * 3600, len(account)).astype(np.int64)
        second = ((self.midday[account] + spread) // 900 * 900) % 86400
        return day * 86400 + second

    def _automated_second(self, day: int, account: np.ndarray) -> np.ndarray:
        second = (
            self.midday[account] - 3 * 3600 + self.rng.integers(0, 3600, len(account))
        ) % 86400
        return day * 86400 + second

    def _emit(
        self,
        batch: _Batch,
        state: DayState,
        touch: Touch,
        account: np.ndarray,
        done_factor: np.ndarray | None = None,
    ) -> None:
        """Keep the touches that were actually done and add them to the batch."""
        probability = np.full(len(account), touch.done)
        if touch.human:
            neglected = state.day >= self.book.neglect_from_day[account]
            probability = probability * np.where(neglected, NEGLECTED_DONE_FACTOR, 1.0)
        if done_factor is not None:
            probability = probability * done_factor
        account = account[self.rng.random(len(account)) < probability]
        size = len(account)
        if touch.human:
            second = self._human_second(state.day, account)
            csm = state.owner[account]
        else:
            second = self._automated_second(state.day, account)
            csm = np.full(size, -1)
        batch.add(
            account,
            _TYPE[touch.code],
            second,
            self._outcome(touch.meeting, size),
            self._channel(touch, size),
            csm,
        )

    def day(
        self,
        state: DayState,
        snoozed_all: np.ndarray,
        urgent_accounts: list[int],
        detractor_accounts: list[int],
    ) -> list[list[str]]:
        rng, book, day = self.rng, self.book, state.day
        batch = _Batch()
        batch.extend(self.pending.pop(day, []))
        alive = state.alive
        human_ok = alive & (snoozed_all < day) & np.isin(state.tier, HUMAN_TIERS)
        paying = alive & (state.plan == PLAN_PAID)

        if state.is_weekday:
            for touch, phase in zip(CADENCES + (IMPLEMENTATION_CHECK_IN,), self.phase, strict=True):
                fires = (state.business_day + phase) % touch.period == touch.offset
                eligible = alive & fires & np.isin(state.tier, touch.tiers)
                if touch is IMPLEMENTATION_CHECK_IN:
                    since = day - book.first_contract_day
                    low, high = touch.window
                    eligible &= state.has_contract & (since >= low) & (since <= high) & human_ok
                elif touch.human:
                    eligible &= human_ok & ~state.onboarding
                if touch.strategic_only:
                    eligible &= book.is_strategic
                self._emit(batch, state, touch, np.flatnonzero(eligible))

        for touch, target in zip(ONBOARDING, self.onboarding_day, strict=True):
            eligible = paying & (target == day) & np.isin(state.tier, touch.tiers)
            if touch.human:
                eligible &= human_ok
            self._emit(batch, state, touch, np.flatnonzero(eligible))

        # Tech touch: activation campaigns after signup, community invitations for free plans.
        self_serve = alive & ((state.plan != PLAN_PAID) | (state.tier == TECH))
        for touch, offset in ACTIVATION_CAMPAIGNS:
            account = np.flatnonzero(self_serve & (book.created_day + offset == day))
            self._emit(batch, state, touch, account)
        became_free = np.where(book.kind == FREE, book.created_day + 2, book.trial_end_day + 1)
        account = np.flatnonzero(alive & (state.plan == PLAN_FREE) & (became_free == day))
        self._emit(batch, state, COMMUNITY_INVITE, account)
        account = np.flatnonzero(alive & np.isin(state.plan, (PLAN_FREE, PLAN_TRIAL)))
        account = account[rng.random(len(account)) < UPGRADE_PROMPT_SHARE]
        self._emit(batch, state, UPGRADE_PROMPT, account)

        self._renewals(batch, state, paying, human_ok)
        self._triggers(batch, state, human_ok, urgent_accounts, detractor_accounts)
        self._webinar(batch, state)
        self._email_engagement(batch, state)
        return self._rows(batch)

    def _renewals(
        self, batch: _Batch, state: DayState, paying: np.ndarray, human_ok: np.ndarray
    ) -> None:
        """Outreach at 60, 30 and 14 days before renewal; a reminder for tech touch."""
        day = state.day
        to_go = state.renewal_day - day
        level = sum((to_go <= days).astype(np.int8) for days, _ in RENEWAL_STAGES)
        renewing = paying & (state.renewal_day < NEVER)
        new_cycle = renewing & (self.renewal_tracked != state.renewal_day)
        self.renewal_tracked[new_cycle] = state.renewal_day[new_cycle]
        # stages already passed when a cycle is first seen happened before the window
        self.renewal_level[new_cycle] = level[new_cycle]
        crossing = renewing & (level > self.renewal_level)
        human = crossing & human_ok
        if state.is_weekday:
            for k, (_, code) in enumerate(RENEWAL_STAGES):
                account = np.flatnonzero(human & (level == k + 1))
                channels = (("email", 1.0),) if k == 0 else (("phone", 0.5), ("email", 0.5))
                self._emit(batch, state, Touch(code, HUMAN_TIERS, 0.85, channels), account)
            self.renewal_level[human] = level[human]
        tech = crossing & (state.tier == TECH)
        account = np.flatnonzero(tech & (level == 2))
        self._emit(batch, state, RENEWAL_REMINDER, account)
        self.renewal_level[tech] = level[tech]

    def _later(
        self,
        state: DayState,
        touch: Touch,
        account: np.ndarray,
        days_later: np.ndarray,
        done: float,
    ) -> None:
        """Schedule a human touch a few days from now, on a weekday, by today's owner."""
        done_mask = self.rng.random(len(account)) < done
        account = account[done_mask]
        when = self._next_weekday(state.day + days_later[done_mask])
        for target in np.unique(when).tolist():
            if target >= self.book.days:
                continue
            members = account[when == target]
            size = len(members)
            self.pending.setdefault(target, []).append(
                (
                    members,
                    np.full(size, _TYPE[touch.code]),
                    self._human_second(target, members),
                    self._outcome(touch.meeting, size),
                    self._channel(touch, size),
                    state.owner[members],
                )
            )

    def _triggers(
        self,
        batch: _Batch,
        state: DayState,
        human_ok: np.ndarray,
        urgent_accounts: list[int],
        detractor_accounts: list[int],
    ) -> None:
        rng, book = self.rng, self.book
        urgent = np.array(urgent_accounts, dtype=np.int64)
        # support phones back on some urgent tickets the same day (no CSM involved)
        calls = urgent[rng.random(len(urgent)) < 0.35]
        self._emit(batch, state, SUPPORT_CALL, calls)
        escalate = urgent[human_ok[urgent]] if len(urgent) else urgent
        self._later(state, TICKET_ESCALATION, escalate, rng.integers(0, 2, len(escalate)), 0.5)
        detractors = np.array(detractor_accounts, dtype=np.int64)
        follow = detractors[human_ok[detractors]] if len(detractors) else detractors
        self._later(state, DETRACTOR_FOLLOW_UP, follow, rng.integers(1, 4, len(follow)), 0.75)
        if not state.is_weekday:
            return
        growing = np.flatnonzero(human_ok & (book.trajectory == GROWING))
        declining = np.flatnonzero(human_ok & (book.trajectory == DECLINING))
        for touch, pool, share in (
            (EXPANSION_CONVERSATION, growing, 0.003),
            (MILESTONE_CONGRATULATIONS, growing, 0.002),
            (HEALTH_DROP_OUTREACH, declining, 0.004),
        ):
            self._emit(batch, state, touch, pool[rng.random(len(pool)) < share])

    def _webinar(self, batch: _Batch, state: DayState) -> None:
        """A live webinar every other Wednesday; a few accounts attend."""
        if state.weekday != 2 or (state.business_day // 5) % 2:
            return
        share = np.where(state.onboarding, 0.06, 0.02)
        account = np.flatnonzero(state.alive & (self.rng.random(self.book.n) < share))
        size = len(account)
        second = state.day * 86400 + 16 * 3600 + self.rng.integers(0, 600, size)
        batch.add(account, _TYPE["webinar_attended"], second, 0, _CHANNEL["webinar"], -1)

    def _email_engagement(self, batch: _Batch, state: DayState) -> None:
        """Opens and clicks on today's e-mails, some of them on later days."""
        account, type_, second, _, channel, csm = batch.columns()
        sends = (
            (channel == _EMAIL_CHANNEL)
            & ~np.isin(type_, _NOT_SENDS)
            & (second // 86400 == state.day)
        )
        account, second, csm = account[sends], second[sends], csm[sends]
        opened = self.rng.random(len(account)) < EMAIL_OPEN_SHARE
        account, second, csm = account[opened], second[opened], csm[opened]
        open_at = second + (3 * 3600 * np.exp(self.rng.standard_normal(len(account)))).astype(
            np.int64
        )
        clicked = self.rng.random(len(account)) < EMAIL_CLICK_SHARE_OF_OPENS
        click_at = open_at + self.rng.integers(20, 900, len(account))
        for code, when, keep in (
            ("email_open", open_at, np.ones(len(account), bool)),
            ("email_click", click_at, clicked),
        ):
            day_of = when // 86400
            for target in np.unique(day_of[keep]).tolist():
                members = keep & (day_of == target)
                part = (
                    account[members],
                    np.full(members.sum(), _TYPE[code]),
                    when[members],
                    np.zeros(members.sum(), dtype=np.int64),
                    np.full(members.sum(), _EMAIL_CHANNEL),
                    csm[members],
                )
                if target == state.day:
                    batch.extend([part])
                elif target < self.book.days:
                    self.pending.setdefault(target, []).append(part)

    def _rows(self, batch: _Batch) -> list[list[str]]:
        account, type_, second, outcome, channel, csm = batch.columns()
        order = np.lexsort((channel, type_, account, second))
        book, clock = self.book, self.clock
        rows = []
        for a, t, s, o, c, m in zip(
            account[order].tolist(),
            type_[order].tolist(),
            second[order].tolist(),
            outcome[order].tolist(),
            channel[order].tolist(),
            csm[order].tolist(),
            strict=True,
        ):
            rows.append(
                [
                    f"act-{self.next_id:08d}",
                    book.account_id[a],
                    ACTIVITY_TYPES[t],
                    clock.timestamp(s),
                    OUTCOMES[o],
                    CHANNELS[c],
                    book.csm_email[m] if m >= 0 else "",
                ]
            )
            self.next_id += 1
        return rows
