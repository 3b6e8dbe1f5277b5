"""NPS surveys: every paying account is surveyed every 90-180 days; about 30% answer,
a few days later, with a score that follows the account's trajectory."""

from __future__ import annotations

import numpy as np

from touchline.demo import names
from touchline.demo.book import DECLINING, GROWING, PLAN_PAID, STABLE, Book
from touchline.demo.files import Clock, check_columns

NPS_COLUMNS = ("response_id", "account_id", "score", "responded_at", "contact_id", "comment")
check_columns("nps_responses", NPS_COLUMNS)

RESPONSE_RATE = 0.30
SURVEY_INTERVAL_DAYS = (90, 180)
MIN_ACCOUNT_AGE_DAYS = 30
COMMENT_SHARE = 0.25
# P(score = 0..10) by trajectory.
SCORE_WEIGHTS = {
    STABLE: (0.005, 0.005, 0.01, 0.01, 0.02, 0.03, 0.05, 0.14, 0.30, 0.25, 0.18),
    GROWING: (0.0, 0.0, 0.0, 0.0, 0.0, 0.01, 0.02, 0.05, 0.17, 0.35, 0.40),
    DECLINING: (0.04, 0.05, 0.07, 0.09, 0.11, 0.13, 0.14, 0.15, 0.12, 0.06, 0.04),
}


class Surveys:
    def __init__(self, book: Book, clock: Clock, rng: np.random.Generator) -> None:
        self.book = book
        self.clock = clock
        self.rng = rng
        low, high = SURVEY_INTERVAL_DAYS
        self.next_survey = rng.integers(0, high, size=book.n)  # spread the first wave
        self.midday = np.array(names.REGION_MIDDAY_UTC)[book.region]
        counts = np.bincount(book.contact_account, minlength=book.n)
        self.first_contact = book.contacts_end - counts
        self.contact_count = counts
        self.cumulative = {k: np.cumsum(v) / np.sum(v) for k, v in SCORE_WEIGHTS.items()}
        self.next_number = 1
        self.pending: dict[int, list[tuple[int, int, int, int, str]]] = {}
        self.detractors_today: list[int] = []

    def day(self, day: int, alive: np.ndarray, plan: np.ndarray) -> list[list[str]]:
        rng, book = self.rng, self.book
        low, high = SURVEY_INTERVAL_DAYS
        due = np.flatnonzero(
            alive
            & (plan == PLAN_PAID)
            & (day - book.created_day >= MIN_ACCOUNT_AGE_DAYS)
            & (self.next_survey <= day)
        )
        self.next_survey[due] = day + rng.integers(low, high + 1, size=len(due))
        answers = due[rng.random(len(due)) < RESPONSE_RATE]
        size = len(answers)
        delay = rng.geometric(0.35, size) - 1
        second = (self.midday[answers] + rng.normal(0, 3 * 3600, size).astype(np.int64)) % 86400
        trajectory = book.trajectory[answers]
        score_draw = rng.random(size)
        score = np.zeros(size, dtype=np.int64)
        for kind, cumulative in self.cumulative.items():
            members = trajectory == kind
            score[members] = np.searchsorted(cumulative, score_draw[members], "right")
        score = np.minimum(score, 10)
        first_contact = self.first_contact[answers]
        contact_count = self.contact_count[answers]
        contact = np.where(
            rng.random(size) < 0.4,
            first_contact,
            first_contact + rng.integers(0, np.maximum(contact_count, 1)),
        )
        with_comment = rng.random(size) < COMMENT_SHARE
        comment_pick = rng.random(size)
        for j in range(size):
            comment = ""
            if with_comment[j]:
                pool = (
                    names.NPS_COMMENTS_DETRACTOR
                    if score[j] <= 6
                    else names.NPS_COMMENTS_PASSIVE
                    if score[j] <= 8
                    else names.NPS_COMMENTS_PROMOTER
                )
                comment = pool[int(comment_pick[j] * len(pool))]
            answer_day = day + int(delay[j])
            if answer_day < book.days:
                self.pending.setdefault(answer_day, []).append(
                    (int(second[j]), int(answers[j]), int(score[j]), int(contact[j]), comment)
                )

        today = sorted(
            (s, a, sc, c, text)
            for s, a, sc, c, text in self.pending.pop(day, [])
            if day < book.churn_day[a]
        )
        self.detractors_today = [a for _, a, sc, _, _ in today if sc <= 6]
        rows = []
        for s, a, sc, c, text in today:
            rows.append(
                [
                    f"nps-{self.next_number:08d}",
                    book.account_id[a],
                    str(sc),
                    self.clock.timestamp(day * 86400 + s),
                    book.contact_id(c),
                    text,
                ]
            )
            self.next_number += 1
        return rows
