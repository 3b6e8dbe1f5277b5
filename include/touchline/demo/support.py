"""Support tickets: created at a rate that grows with seats (and trouble), then answered,
solved and closed over the following hours and days.

A ticket's whole life is drawn when it is created; each day it changes, one version (state
at that day's last change) goes into that day's file. Only tickets still in flight are kept.
"""

from __future__ import annotations

import numpy as np

from touchline import schema
from touchline.demo import names
from touchline.demo.book import DECLINING, GROWING, NEVER, PLAN_PAID, Book
from touchline.demo.files import Clock, check_columns

TICKET_COLUMNS = (
    "ticket_id",
    "account_id",
    "created_at",
    "status",
    "priority",
    "first_reply_at",
    "solved_at",
    "updated_at",
    "tags",
    "csat_score",
)
check_columns("tickets", TICKET_COLUMNS)

TICKETS_PER_PAID_ACCOUNT_DAY = 0.012
WEEKEND_FACTOR = 0.3
PRIORITIES = schema.TICKET_PRIORITIES  # low, normal, high, urgent
PRIORITY_WEIGHTS = {"calm": (0.15, 0.67, 0.14, 0.04), "troubled": (0.08, 0.55, 0.26, 0.11)}
# Median hours to first reply and days to solve, by priority.
FIRST_REPLY_HOURS = (12.0, 5.0, 2.0, 0.7)
SOLVE_DAYS = (4.0, 2.5, 1.5, 0.8)
SLOW_SHARE = (0.06, 0.06, 0.06, 0.06)  # stuck for weeks (solve time x SLOW_FACTOR)
SLOW_FACTOR = 12.0
NEVER_SOLVED = (0.010, 0.008, 0.008, 0.015)  # still open/pending long after the window
PENDING_SHARE = 0.3
CLOSE_AFTER_SOLVED_DAYS = 4
CSAT_SHARE = 0.35
CSAT_WEIGHTS = {"calm": (0.03, 0.05, 0.12, 0.30, 0.50), "troubled": (0.20, 0.22, 0.25, 0.20, 0.13)}
TAG_WEIGHTS = (0.25, 0.10, 0.30, 0.15, 0.12, 0.08)  # names.TICKET_TAGS order


class SupportDesk:
    def __init__(self, book: Book, clock: Clock, rng: np.random.Generator) -> None:
        self.book = book
        self.clock = clock
        self.rng = rng
        seats = np.sqrt(np.maximum(book.base_seats, 1).astype(float))
        factor = np.where(book.trajectory == DECLINING, 1.8, 1.0)
        factor = factor * np.where(book.trajectory == GROWING, 1.1, 1.0)
        mean_weekday = (5 + 2 * WEEKEND_FACTOR) / 7
        paying = book.first_contract_day < NEVER
        scale = TICKETS_PER_PAID_ACCOUNT_DAY / (seats[paying].mean() if paying.any() else 1.0)
        self.rate = seats * factor * scale / mean_weekday
        self.midday = np.array(names.REGION_MIDDAY_UTC)[book.region]
        self.next_number = 1
        self.pending: dict[int, list[tuple[int, list[str]]]] = {}  # day -> (number, row)
        self.urgent_today: list[int] = []  # accounts that opened an urgent ticket today

    def day(self, day: int, weekday: int, alive: np.ndarray, plan: np.ndarray) -> list[list[str]]:
        rng, book, clock = self.rng, self.book, self.clock
        live = np.flatnonzero(alive)
        rate = self.rate[live] * np.where(plan[live] == PLAN_PAID, 1.0, 0.25)
        rate = rate * (WEEKEND_FACTOR if weekday >= 5 else 1.0)
        counts = rng.poisson(rate)
        account = np.repeat(live, counts)
        size = len(account)
        second = (self.midday[account] + rng.normal(0, 2.5 * 3600, size).astype(np.int64)) % 86400
        order = np.lexsort((account, second))
        account, second = account[order], second[order]
        troubled = book.trajectory[account] == DECLINING
        draws = rng.random((size, 8))
        normals = rng.standard_normal((size, 2))
        first_tag = rng.choice(len(names.TICKET_TAGS), size=size, p=TAG_WEIGHTS)
        second_tag = rng.choice(len(names.TICKET_TAGS), size=size, p=TAG_WEIGHTS)

        priority = np.where(
            troubled,
            np.searchsorted(np.cumsum(PRIORITY_WEIGHTS["troubled"]), draws[:, 0], "right"),
            np.searchsorted(np.cumsum(PRIORITY_WEIGHTS["calm"]), draws[:, 0], "right"),
        ).clip(0, 3)
        created = day * 86400 + second
        reply_hours = np.array(FIRST_REPLY_HOURS)[priority] * np.exp(0.8 * normals[:, 0])
        reply = created + (3600 * reply_hours).astype(np.int64) + 300
        solve_days = np.array(SOLVE_DAYS)[priority] * np.exp(0.9 * normals[:, 1])
        solve_days = np.where(
            draws[:, 1] < np.array(SLOW_SHARE)[priority], solve_days * SLOW_FACTOR, solve_days
        )
        solved = np.maximum(reply + 600, created + (86400 * solve_days).astype(np.int64))
        is_solved = rng.random(size) >= np.array(NEVER_SOLVED)[priority]
        is_closed = is_solved & (draws[:, 2] < 0.9)
        closed = solved + CLOSE_AFTER_SOLVED_DAYS * 86400 + (draws[:, 3] * 7200).astype(np.int64)
        pending_after_reply = draws[:, 4] < PENDING_SHARE
        two_tags = (draws[:, 5] < 0.25) & (second_tag != first_tag)
        onboarding = (book.first_contract_day[account] <= day) & (
            day < book.first_contract_day[account] + 60
        )
        onboarding_tag = onboarding & (draws[:, 6] < 0.3)
        csat = (
            np.where(
                troubled,
                np.searchsorted(np.cumsum(CSAT_WEIGHTS["troubled"]), draws[:, 7], "right"),
                np.searchsorted(np.cumsum(CSAT_WEIGHTS["calm"]), draws[:, 7], "right"),
            ).clip(0, 4)
            + 1
        )
        rated = is_solved & (rng.random(size) < CSAT_SHARE)
        self.urgent_today = account[priority == 3].tolist()

        last = book.days - 1
        onboarding_index = names.TICKET_TAGS.index("onboarding")
        columns = zip(
            account.tolist(),
            priority.tolist(),
            created.tolist(),
            reply.tolist(),
            solved.tolist(),
            closed.tolist(),
            is_solved.tolist(),
            is_closed.tolist(),
            pending_after_reply.tolist(),
            first_tag.tolist(),
            second_tag.tolist(),
            two_tags.tolist(),
            onboarding_tag.tolist(),
            csat.tolist(),
            rated.tolist(),
            strict=True,
        )
        for (
            a,
            p,
            t_created,
            t_reply,
            t_solved,
            t_closed,
            solved_ok,
            closed_ok,
            pending,
            tag1,
            tag2,
            has_tag2,
            onboarding_ok,
            score,
            rated_ok,
        ) in columns:
            tags = [tag1]
            if has_tag2:
                tags.append(tag2)
            if onboarding_ok and onboarding_index not in tags:
                tags.append(onboarding_index)
            tag_text = ";".join(names.TICKET_TAGS[t] for t in sorted(tags))
            number = self.next_number
            self.next_number += 1
            ticket_id = f"tkt-{number:08d}"
            changes = [(t_created, "new"), (t_reply, "pending" if pending else "open")]
            if solved_ok:
                changes.append((t_solved, "solved"))
            if closed_ok:
                changes.append((t_closed, "closed"))
            created_text = clock.timestamp(t_created)
            for k, (moment, status) in enumerate(changes):
                change_day = moment // 86400
                if change_day > last:
                    break
                if k + 1 < len(changes) and changes[k + 1][0] // 86400 == change_day:
                    continue  # a later change the same day supersedes this version
                is_past_solve = solved_ok and moment >= t_solved
                row = [
                    ticket_id,
                    book.account_id[a],
                    created_text,
                    status,
                    PRIORITIES[p],
                    clock.timestamp(t_reply) if moment >= t_reply else "",
                    clock.timestamp(t_solved) if is_past_solve else "",
                    clock.timestamp(moment),
                    tag_text,
                    str(score) if is_past_solve and rated_ok else "",
                ]
                self.pending.setdefault(change_day, []).append((number, row))

        rows = self.pending.pop(day, [])
        rows.sort(key=lambda item: item[0])
        return [row for _, row in rows]
