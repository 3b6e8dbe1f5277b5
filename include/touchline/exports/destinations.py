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

Each destination is stated once, in :data:`DESTINATIONS`; :data:`NAMES` (the DAG's
``send_*`` tasks, the command line's ``--destination``) is its keys. Importing this module
is cheap: a destination's code is imported only when it is built.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from touchline.config import outbox_public_url

if TYPE_CHECKING:
    from touchline.exports.base import Destination

log = logging.getLogger(__name__)

SLACK_API_URL = "https://slack.com/api/"


@dataclass(frozen=True)
class Credentials:
    url: str | None
    login: str | None
    secret: str | None


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
        base_url=c.url or SLACK_API_URL,
        list_url=outbox_public_url(),
    )


def _email(c: Credentials) -> Destination:
    from touchline.exports.email import CustomerIOCampaigns

    return CustomerIOCampaigns(c.url, c.login, c.secret)


def _webhook(c: Credentials) -> Destination:
    from touchline.exports.webhook import Webhook

    return Webhook(c.url, c.secret)


@dataclass(frozen=True)
class Kind:
    """One destination: where its settings are, which of them it needs, how it is built."""

    build: Callable[[Credentials], Destination]
    needs: tuple[str, ...]  # of "url", "login", "secret": all set, or it is not enabled
    connection: str | None = None  # the Airflow Connection id
    url_env: str | None = None  # the env vars, when there is no Connection
    login_env: str | None = None
    secret_env: str | None = None
    default_url: str | None = None


DESTINATIONS: dict[str, Kind] = {
    "files": Kind(_files, ("url",), url_env="TOUCHLINE_OUTBOX"),
    "crm": Kind(
        _crm,
        ("url", "secret"),
        connection="touchline_hubspot",
        url_env="TOUCHLINE_HUBSPOT_URL",
        secret_env="TOUCHLINE_HUBSPOT_TOKEN",
    ),
    "slack": Kind(
        _slack,
        ("secret",),
        connection="touchline_slack",
        url_env="TOUCHLINE_SLACK_URL",
        secret_env="TOUCHLINE_SLACK_TOKEN",
        default_url=SLACK_API_URL,
    ),
    "email": Kind(
        _email,
        ("url", "login", "secret"),
        connection="touchline_customerio",
        url_env="TOUCHLINE_CUSTOMERIO_URL",
        login_env="TOUCHLINE_CUSTOMERIO_SITE_ID",
        secret_env="TOUCHLINE_CUSTOMERIO_API_KEY",
        default_url="https://track.customer.io",
    ),
    "webhook": Kind(
        _webhook,
        ("url", "secret"),
        connection="touchline_webhook",
        url_env="TOUCHLINE_WEBHOOK_URL",
        secret_env="TOUCHLINE_WEBHOOK_SECRET",
    ),
}
NAMES = tuple(DESTINATIONS)


def _kind(name: str) -> Kind:
    if name not in DESTINATIONS:
        raise KeyError(f"unknown destination {name!r}; known: {', '.join(NAMES)}")
    return DESTINATIONS[name]


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
    kind = _kind(name)
    env = os.environ.get
    found = _connection(kind.connection) if kind.connection else None
    if found is None:
        found = Credentials(
            (env(kind.url_env, kind.default_url) if kind.url_env else kind.default_url),
            env(kind.login_env) if kind.login_env else None,
            env(kind.secret_env) if kind.secret_env else None,
        )
    _mask(found.secret)
    return found


def destination(name: str) -> Destination | None:
    """The configured destination ``name``, or None when this deployment does not use it."""
    kind = _kind(name)
    found = credentials(name)
    return kind.build(found) if _is_configured(found, kind) else None


def enabled() -> list[str]:
    return [name for name in NAMES if _is_configured(credentials(name), DESTINATIONS[name])]


def _is_configured(c: Credentials, kind: Kind) -> bool:
    return all(getattr(c, setting) for setting in kind.needs)
