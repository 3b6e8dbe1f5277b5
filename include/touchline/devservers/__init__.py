"""Local HTTP servers that behave like the APIs touchline exports to.

Each server runs on a loopback port in a background thread, keeps its state in memory,
records every request, and can be told to fail, stall or trigger a callback, so export code
can be tested against real HTTP::

    from touchline.devservers import HubSpotServer

    with HubSpotServer() as hubspot:
        hubspot.fail_next(429, retry_after=1)
        run_export(base_url=hubspot.url, token=hubspot.token)
        assert max(hubspot.count_by_key().values()) == 1

``python -m touchline.devservers`` starts all four for a demo.
"""

from touchline.devservers.base import FakeServer, Recorded, Reply, Request
from touchline.devservers.customerio import CustomerIOServer
from touchline.devservers.hubspot import HubSpotServer
from touchline.devservers.slack import SlackServer
from touchline.devservers.webhook import WebhookServer, sign

__all__ = [
    "CustomerIOServer",
    "FakeServer",
    "HubSpotServer",
    "Recorded",
    "Reply",
    "Request",
    "SlackServer",
    "WebhookServer",
    "sign",
]
