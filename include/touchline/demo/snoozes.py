"""Snoozes: now and then a CSM silences an account, or one touchpoint of it, for a while."""

from __future__ import annotations

import numpy as np

from touchline.demo import names
from touchline.demo.book import HIGH, LOW, MEDIUM, NEVER, Book, DayState
from touchline.demo.files import Clock, check_columns

SNOOZE_COLUMNS = ("account_id", "touchpoint", "snoozed_until", "reason", "created_by")
check_columns("snoozes", SNOOZE_COLUMNS)

SNOOZES_PER_ACCOUNT_DAY = 0.0008
SNOOZE_DAYS = (7, 45)
KEEP_EXPIRED_DAYS = 14  # the CRM keeps a lapsed snooze around for a while
WARM_UP_DAYS = 60
TOUCHPOINTS = {  # "" = the whole account
    HIGH: ("", "", "qbr", "check_in_call", "in_person_meeting"),
    MEDIUM: ("", "", "check_in_call", "business_review", "check_in_email"),
    LOW: ("", "", "health_check", "renewal_outreach_60"),
}


class Snoozes:
    def __init__(self, book: Book, clock: Clock, rng: np.random.Generator) -> None:
        self.book = book
        self.clock = clock
        self.rng = rng
        # (account, touchpoint) -> (snoozed_until day, reason, created_by csm index)
        self.rows: dict[tuple[int, str], tuple[int, str, int]] = {}
        self.account_until = np.full(book.n, -NEVER, dtype=np.int64)

    def warm_up(self, state: DayState) -> None:
        """Snoozes created in the weeks before the window, so day 0 is not empty."""
        for day in range(-WARM_UP_DAYS, 0):
            self._create(day, state, visible_by=day)

    def _create(self, day: int, state: DayState, visible_by: int) -> None:
        rng, book = self.rng, self.book
        eligible = state.alive & (state.owner >= 0) & (book.created_day <= visible_by)
        account = np.flatnonzero(eligible)
        account = account[rng.random(len(account)) < SNOOZES_PER_ACCOUNT_DAY]
        length = rng.integers(SNOOZE_DAYS[0], SNOOZE_DAYS[1] + 1, len(account))
        pick = rng.random(len(account))
        reason = rng.integers(0, len(names.SNOOZE_REASONS), len(account))
        for a, days, u, r in zip(
            account.tolist(), length.tolist(), pick.tolist(), reason.tolist(), strict=True
        ):
            options = TOUCHPOINTS[int(state.tier[a])]
            touchpoint = options[int(u * len(options))]
            until = day + days
            self.rows[(a, touchpoint)] = (until, names.SNOOZE_REASONS[r], int(state.owner[a]))
            if touchpoint == "":
                self.account_until[a] = max(self.account_until[a], until)

    def day(self, state: DayState) -> list[list[str]]:
        day = state.day
        self._create(day, state, visible_by=day)
        expired = [
            key for key, (until, _, _) in self.rows.items() if until + KEEP_EXPIRED_DAYS < day
        ]
        for key in expired:
            del self.rows[key]
        book, clock = self.book, self.clock
        return [
            [book.account_id[a], touchpoint, clock.date(until), reason, book.csm_email[csm]]
            for (a, touchpoint), (until, reason, csm) in sorted(self.rows.items())
        ]
