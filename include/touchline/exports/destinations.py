"""Which destinations a deployment sends to, configured by Airflow Connections or env vars.

- files: ``TOUCHLINE_OUTBOX`` (a folder or an fsspec URL); ``TOUCHLINE_OUTBOX_PUBLIC_URL``
  (where readers reach it, for the link in the Slack digest).
- crm: Connection ``touchline_hubspot`` (host = API base URL, password = private-app
  token), or ``TOUCHLINE_HUBSPOT_URL`` and ``TOUCHLINE_HUBSPOT_TOKEN``.
- slack: Connection ``touchline_slack`` (password = bot token, host = API base URL if not
  Slack's), or ``TOUCHLINE_SLACK_TOKEN`` and optionally ``TOUCHLINE_SLACK_URL``.
- email: Connection ``touchline_customerio`` (host = Track API base URL, login = site id,
  password = API key), or ``TOUCHLINE_CUSTOMERIO_URL``, ``TOUCHLINE_CUSTOMERIO_SITE_ID`` and
  ``TOUCHLINE_CUSTOMERIO_API_KEY``.
- webhook: Connection ``touchline_webhook`` (host = URL, password = signing secret), or
  ``TOUCHLINE_WEBHOOK_URL`` and ``TOUCHLINE_WEBHOOK_SECRET``.

A destination without its settings is not enabled (its task skips). A Connection wins over
the variables. Every secret read here is registered with Airflow's log masker.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the DAG reads NAMES when Airflow parses it: no DuckDB for that
    from touchline.exports.base import Destination

log = logging.getLogger(__name__)

NAMES = ("files", "crm", "slack", "email", "webhook")
CONNECTIONS = {
    "crm": "touchline_hubspot",
    "slack": "touchline_slack",
    "email": "touchline_customerio",
    "webhook": "touchline_webhook",
}


@dataclass(frozen=True)
class Credentials:
    url: str | None
    login: str | None
    secret: str | None


def _in_airflow() -> bool:
    """Inside an Airflow process (a task): never import Airflow into a plain command."""
    return "airflow.sdk" in sys.modules


def _mask(secret: str | None) -> None:
    if not secret or not _in_airflow():
        return
    try:
        from airflow.sdk.log import mask_secret

        mask_secret(secret)
    except Exception:  # outside Airflow there is no task log to mask
        pass


def _connection(conn_id: str) -> Credentials | None:
    if not os.environ.get("AIRFLOW_HOME") and not os.environ.get(f"AIRFLOW_CONN_{conn_id.upper()}"):
        return None
    try:
        from airflow.sdk import Connection

        connection = Connection.get(conn_id)
    except Exception:
        return None
    url = connection.host or None
    if url and connection.schema and "://" not in url:
        url = f"{connection.schema}://{url}"
    if url and connection.port and "://" in url:
        scheme, rest = url.split("://", 1)
        host, _, path = rest.partition("/")
        if ":" not in host:
            url = f"{scheme}://{host}:{connection.port}" + (f"/{path}" if path else "")
    return Credentials(url, connection.login or None, connection.password or None)


def credentials(name: str) -> Credentials:
    """The destination's URL, login and secret, from its Connection or the env vars."""
    env = os.environ.get
    found = _connection(CONNECTIONS[name]) if name in CONNECTIONS else None
    if found is None:
        found = {
            "files": Credentials(env("TOUCHLINE_OUTBOX"), None, None),
            "crm": Credentials(env("TOUCHLINE_HUBSPOT_URL"), None, env("TOUCHLINE_HUBSPOT_TOKEN")),
            "slack": Credentials(
                env("TOUCHLINE_SLACK_URL", "https://slack.com/api/"),
                None,
                env("TOUCHLINE_SLACK_TOKEN"),
            ),
            "email": Credentials(
                env("TOUCHLINE_CUSTOMERIO_URL", "https://track.customer.io"),
                env("TOUCHLINE_CUSTOMERIO_SITE_ID"),
                env("TOUCHLINE_CUSTOMERIO_API_KEY"),
            ),
            "webhook": Credentials(
                env("TOUCHLINE_WEBHOOK_URL"), None, env("TOUCHLINE_WEBHOOK_SECRET")
            ),
        }[name]
    _mask(found.secret)
    return found


def _files(c: Credentials) -> Destination:
    from touchline.exports.outbox import Outbox

    return Outbox(c.url)


def _crm(c: Credentials) -> Destination:
    from touchline.exports.crm import HubSpotTasks

    return HubSpotTasks(c.url, c.secret)


def _slack(c: Credentials) -> Destination:
    from touchline.exports.slack import SlackDigests

    return SlackDigests(
        c.secret,
        base_url=c.url or "https://slack.com/api/",
        list_url=os.environ.get("TOUCHLINE_OUTBOX_PUBLIC_URL"),
    )


def _email(c: Credentials) -> Destination:
    from touchline.exports.email import CustomerIOCampaigns

    return CustomerIOCampaigns(c.url, c.login, c.secret)


def _webhook(c: Credentials) -> Destination:
    from touchline.exports.webhook import Webhook

    return Webhook(c.url, c.secret)


FACTORIES: dict[str, Callable[[Credentials], Destination]] = {
    "files": _files,
    "crm": _crm,
    "slack": _slack,
    "email": _email,
    "webhook": _webhook,
}


def destination(name: str) -> Destination | None:
    """The configured destination ``name``, or None when this deployment does not use it."""
    if name not in FACTORIES:
        raise KeyError(f"unknown destination {name!r}; known: {', '.join(NAMES)}")
    found = credentials(name)
    return FACTORIES[name](found) if _is_configured(found, name) else None


def enabled() -> list[str]:
    return [name for name in NAMES if _is_configured(credentials(name), name)]


def _is_configured(c: Credentials, name: str) -> bool:
    if name == "files":
        return bool(c.url)
    if name == "email":
        return bool(c.url and c.login and c.secret)
    if name == "slack":
        return bool(c.secret)
    return bool(c.url and c.secret)
