"""Slack: one morning digest per CSM, a direct message with their top tasks (Block Kit).

Sent with slack-sdk's ``WebClient`` (``users.lookupByEmail``, then ``chat.postMessage`` to the
user; ``chat.update`` when a re-run changes the digest), which honours 429 ``Retry-After``
and retries server errors and dropped connections. Every piece of text that comes from the
data (account names, reasons) goes into ``plain_text`` objects with ``&``, ``<`` and ``>``
escaped, so an account called ``<!channel>`` or ``*urgent*`` is shown, never obeyed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from touchline.exports.base import Destination, Item
from touchline.exports.day import Day
from touchline.exports.http import ExportError
from touchline.exports.ledger import LedgerRow

TOP_TASKS = 10
PRIORITY_ICONS = {"p1": "P1", "p2": "P2", "p3": "P3", "p4": "P4"}


def escape(text: object) -> str:
    """Slack's three control characters, escaped (its documented rule for message text)."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def plain(text: object) -> dict:
    return {"type": "plain_text", "text": escape(text)[:3000], "emoji": False}


def digest_blocks(csm: str, tasks: list[dict], day: Day, link: str | None) -> tuple[str, list]:
    overdue = sum(1 for t in tasks if t["status"] == "overdue")
    headline = f"{len(tasks)} touchpoints for {day.run_date:%A %d %B} ({overdue} overdue)"
    blocks: list[dict] = [
        {"type": "header", "text": plain(headline)},
    ]
    for task in tasks[:TOP_TASKS]:
        when = f"overdue since {task['due_date']}" if task["status"] == "overdue" else "due today"
        title = (
            f"{PRIORITY_ICONS.get(task['priority'], task['priority'])} · "
            f"{day.label(task['touchpoint'])} · {task['account_name']} ({when})"
        )
        blocks.append({"type": "section", "text": plain(f"{title}\n{task['reason']}")})
    more = len(tasks) - TOP_TASKS
    footer = f"and {more} more" if more > 0 else "that is all"
    if link:
        blocks.append(
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": f"{footer}: <{link}|the full list>"}],
            }
        )
    else:
        blocks.append({"type": "context", "elements": [plain(footer)]})
    return escape(headline), blocks


class SlackDigests(Destination):
    name = "slack"
    batch_size = 10

    def __init__(
        self,
        token: str,
        base_url: str = "https://slack.com/api/",
        list_url: str | None = None,
        timeout: int = 10,
    ) -> None:
        self.client = WebClient(token=token, base_url=base_url, timeout=timeout)
        self.client.retry_handlers.extend(
            [
                RateLimitErrorRetryHandler(max_retry_count=5),
                ServerErrorRetryHandler(max_retry_count=4),
                ConnectionErrorRetryHandler(max_retry_count=4),
            ]
        )
        self.list_url = list_url.rstrip("/") if list_url else None
        self._users: dict[str, str | None] = {}

    def items(self, day: Day) -> list[Item]:
        per_csm: dict[str, list[dict]] = defaultdict(list)
        for task in day.worklist:
            if task["assignee_email"]:
                per_csm[task["assignee_email"]].append(task)
        items = []
        for csm, tasks in sorted(per_csm.items()):
            link = f"{self.list_url}/{day.run_date}/{csm}.html" if self.list_url else None
            text, blocks = digest_blocks(csm, tasks, day, link)
            items.append(
                Item(f"{csm}|{day.run_date}", {"csm": csm, "text": text, "blocks": blocks})
            )
        return items

    def _user(self, email: str) -> str | None:
        if email not in self._users:
            try:
                self._users[email] = self.client.users_lookupByEmail(email=email)["user"]["id"]
            except SlackApiError as exc:
                if exc.response.get("error") != "users_not_found":
                    raise ExportError(
                        f"slack: users.lookupByEmail failed: {exc.response.get('error')}"
                    ) from None
                self._users[email] = None
        return self._users[email]

    def create(self, items: Sequence[Item], day: Day) -> dict[str, str | None]:
        sent = {}
        for item in items:
            user = self._user(item.payload["csm"])
            if user is None:
                continue  # no Slack account for this CSM: stays pending, logged by the run
            try:
                answer = self.client.chat_postMessage(
                    channel=user,
                    text=item.payload["text"],
                    blocks=item.payload["blocks"],
                    unfurl_links=False,
                    unfurl_media=False,
                )
            except SlackApiError as exc:
                raise ExportError(
                    f"slack: chat.postMessage failed: {exc.response.get('error')}"
                ) from None
            sent[item.key] = f"{answer['channel']}|{answer['ts']}"
        return sent

    def update(self, items: Sequence[tuple[Item, LedgerRow]], day: Day) -> dict[str, str | None]:
        sent = {}
        for item, row in items:
            if not row.remote_id:
                sent.update(self.create([item], day))
                continue
            channel, ts = row.remote_id.split("|", 1)
            try:
                self.client.chat_update(
                    channel=channel, ts=ts, text=item.payload["text"], blocks=item.payload["blocks"]
                )
            except SlackApiError as exc:
                raise ExportError(
                    f"slack: chat.update failed: {exc.response.get('error')}"
                ) from None
            sent[item.key] = row.remote_id
        return sent
