"""Telling the team: a notice when a task fails for good, an alert when the lists are late.

Both post to Slack through the Slack provider's hook, on the Airflow Connection
``touchline_alerts`` (type ``slack``: the bot token as password; ``base_url`` in the extra
for a Slack-compatible server), in the channel ``TOUCHLINE_ALERT_CHANNEL``. Without that
Connection nothing is posted and the task log says so: the failure itself is in Airflow
either way.

- :class:`FailureNotice` is each task's ``on_failure_callback`` (a notifier: it runs once
  the task has failed with no retry left) and names the task, the date, the error and the
  log.
- :func:`lists_late` is the DAG's deadline alert callback: the triggerer calls it when a run
  has not finished ``TOUCHLINE_LISTS_DEADLINE_MINUTES`` after it was queued.
"""

from __future__ import annotations

import logging
from typing import Any

from airflow.sdk import BaseNotifier

from touchline.config import ALERTS_CONN_ID, alert_channel

log = logging.getLogger(__name__)

MAX_ERROR_CHARS = 1500  # Slack shows long messages folded; the log has the rest


def _not_configured(exc: Exception) -> bool:
    return type(exc).__name__ in {"AirflowNotFoundException", "ConnectionNotFound"}


def failure_text(context: dict[str, Any]) -> str:
    """The notice for a failed task: what failed, for which date, why, where the log is."""
    ti = context.get("ti") or context.get("task_instance")
    logical = context.get("logical_date")
    day = logical.date().isoformat() if logical is not None else "an unknown date"
    error = str(context.get("exception") or "no error message")
    if len(error) > MAX_ERROR_CHARS:
        error = error[:MAX_ERROR_CHARS] + " ..."
    lines = [
        f":red_circle: touchline: {getattr(ti, 'task_id', 'a task')} failed for {day} "
        f"(run {getattr(ti, 'run_id', '?')}, try {getattr(ti, 'try_number', '?')})",
        error,
    ]
    log_url = getattr(ti, "log_url", None)
    if log_url:
        lines.append(f"log: {log_url}")
    return "\n".join(lines)


class FailureNotice(BaseNotifier):
    """Posts :func:`failure_text` to the alerts channel (a task's ``on_failure_callback``)."""

    def notify(self, context: dict[str, Any]) -> None:
        from airflow.providers.slack.hooks.slack import SlackHook

        text = failure_text(context)
        try:
            SlackHook(slack_conn_id=ALERTS_CONN_ID).call(
                "chat.postMessage", json={"channel": alert_channel(), "text": text}
            )
        except Exception as exc:
            if not _not_configured(exc):
                raise
            log.warning("no Connection %s: the failure notice was not posted", ALERTS_CONN_ID)


def late_text(context: dict[str, Any] | None) -> str:
    """The deadline alert: which day's lists are late, since when, and the run's state."""
    run = (context or {}).get("dag_run") or {}
    deadline = ((context or {}).get("deadline") or {}).get("deadline_time", "its deadline")
    logical = str(run.get("logical_date") or "?")[:10]
    return (
        f":alarm_clock: touchline: the work lists for {logical} were not ready by {deadline} "
        f"(run {run.get('dag_run_id', '?')} is {run.get('state', '?')}); CSMs will find "
        f"yesterday's lists until it finishes"
    )


async def lists_late(context: dict[str, Any] | None = None, **_: Any) -> None:
    """The deadline alert's callback (run by the triggerer, so it is async)."""
    from airflow.providers.slack.hooks.slack import SlackHook

    text = late_text(context)
    log.warning("%s", text)
    try:
        await SlackHook(slack_conn_id=ALERTS_CONN_ID).async_call(
            "chat.postMessage", json={"channel": alert_channel(), "text": text}
        )
    except Exception as exc:
        if not _not_configured(exc):
            raise
        log.warning("no Connection %s: the deadline alert was not posted", ALERTS_CONN_ID)
