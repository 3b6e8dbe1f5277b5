"""Product usage: one day of events for every live account, fully vectorised.

Each account has a latent trajectory (stable, growing or declining), a pool of users drawn
from its seats and an adoption rate; the day's event count is Poisson around a rate that
grows with the account's active users, falls at weekends and follows the trajectory.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from touchline.demo import names
from touchline.demo.book import Book
from touchline.demo.files import USAGE_COLUMNS, Clock, check_columns, timestamps_of_day

check_columns("usage_events", USAGE_COLUMNS)

EVENTS_PER_ACCOUNT_DAY = 1.5  # the book-wide average the rates are scaled to
WEEKEND_FACTOR = 0.2
ACTIVE_USER_EXPONENT = 0.6  # rate ~ active users ** 0.6: bigger accounts more, not linearly
TIME_SPREAD_SECONDS = 2.6 * 3600
_CUMULATIVE_FEATURE_WEIGHTS = np.cumsum(names.FEATURE_WEIGHTS)


def weekday_factor(weekday: int) -> float:
    return WEEKEND_FACTOR if weekday >= 5 else 1.0


def average_weekday_factor() -> float:
    return (5 + 2 * WEEKEND_FACTOR) / 7


def trajectory_multiplier(book: Book, day: int, has_contract: np.ndarray) -> np.ndarray:
    """How active each account is on `day` relative to its baseline."""
    origin = np.maximum(book.created_day, 0)
    elapsed = np.maximum(day - origin, 0)
    progress = -np.expm1(-elapsed / book.trajectory_tau)
    multiplier = 1.0 + (book.trajectory_target - 1.0) * progress
    age = day - book.created_day
    multiplier *= np.clip(0.3 + 0.7 * age / 30.0, 0.3, 1.0)  # new accounts ramp up
    multiplier *= np.clip((book.churn_day - day) / 45.0, 0.05, 1.0)  # leavers fade out
    lapsed = (book.first_contract_day <= day) & ~has_contract
    multiplier[lapsed] *= 0.3
    return multiplier


class UsageModel:
    """Per-account usage parameters, fixed for the run, plus one day's event generator."""

    def __init__(self, book: Book, clock: Clock, rng: np.random.Generator) -> None:
        self.book = book
        self.clock = clock
        self.rng = rng
        self.active_users = np.maximum(book.base_seats * book.adoption, 1.0)
        weight = self.active_users**ACTIVE_USER_EXPONENT
        self.rate = weight * (EVENTS_PER_ACCOUNT_DAY / (weight.mean() * average_weekday_factor()))
        self.midday = np.array(names.REGION_MIDDAY_UTC)[book.region]
        self.account_ids = pa.array(book.account_id, type=pa.string())
        self.user_prefix = pa.array([f"usr-{a[4:]}-" for a in book.account_id], type=pa.string())
        self.features = pa.array(names.FEATURES, type=pa.string())

    def day(
        self, day: int, weekday: int, alive: np.ndarray, multiplier: np.ndarray
    ) -> tuple[pa.Table, pa.Array]:
        """The day's events (occurred_at as a timestamp) and occurred_at as ISO 8601 text."""
        rng = self.rng
        live = np.flatnonzero(alive)
        m = multiplier[live]
        noise = rng.gamma(8.0, 1 / 8.0, size=len(live))  # day-to-day wobble per account
        counts = rng.poisson(self.rate[live] * m * noise * weekday_factor(weekday))
        account = np.repeat(live, counts)
        size = len(account)
        m_event = np.repeat(m, counts)

        pool = np.maximum(1, np.round(self.active_users[account] * np.minimum(m_event, 2.5)))
        user = (pool * rng.random(size) ** 1.8).astype(np.int64) + 1  # a few power users
        breadth = np.clip(
            np.round(self.book.breadth[account] * (0.6 + 0.4 * np.minimum(m_event, 1.5))), 1, 8
        ).astype(np.int64)
        reach = _CUMULATIVE_FEATURE_WEIGHTS[breadth - 1]
        feature = np.searchsorted(_CUMULATIVE_FEATURE_WEIGHTS, rng.random(size) * reach, "right")
        feature = np.minimum(feature, breadth - 1)
        spread = rng.normal(0.0, TIME_SPREAD_SECONDS, size).astype(np.int64)
        second = (self.midday[account] + spread) % 86400

        order = np.lexsort((feature, user, account, second))
        account, user, feature, second = account[order], user[order], feature[order], second[order]
        stamp = self.clock.epoch(second + day * 86400)
        day_text = self.clock.date(day).replace("-", "")
        serial = pc.utf8_lpad(pc.cast(pa.array(np.arange(1, size + 1)), pa.string()), 7, "0")
        user_serial = pc.utf8_lpad(pc.cast(pa.array(user), pa.string()), 4, "0")
        account_index = pa.array(account, type=pa.int64())
        table = pa.table(
            {
                "account_id": pc.take(self.account_ids, account_index),
                "user_id": pc.binary_join_element_wise(
                    pc.take(self.user_prefix, account_index), user_serial, ""
                ),
                "feature": pc.take(self.features, pa.array(feature, type=pa.int64())),
                "occurred_at": pa.array(stamp, type=pa.timestamp("s", tz="UTC")),
                "event_id": pc.binary_join_element_wise(f"ev-{day_text}-", serial, ""),
            }
        )
        return table, timestamps_of_day(self.clock.date(day), second)
