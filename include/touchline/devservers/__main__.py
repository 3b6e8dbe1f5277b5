"""Run the four local API servers for a demo: ``python -m touchline.devservers``.

HubSpot listens on ``--port-base``, Slack on +1, Customer.io on +2 and the webhook receiver
on +3 (``--port-base 0`` picks four free ports). The ``export`` lines printed on start point
touchline at them; on SIGINT or SIGTERM the servers stop and a one-line summary per server is
printed. ``GET /__state`` on any of them shows what has arrived so far.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence

from touchline.devservers.base import FakeServer
from touchline.devservers.customerio import CustomerIOServer
from touchline.devservers.hubspot import HubSpotServer
from touchline.devservers.slack import SlackServer
from touchline.devservers.webhook import WebhookServer


def build(host: str, port_base: int, verbose: bool = False) -> list[FakeServer]:
    """The four demo servers, not started, with their default credentials."""

    def port(offset: int) -> int:
        return port_base + offset if port_base else 0

    return [
        HubSpotServer(accept_any_email=True, host=host, port=port(0), verbose=verbose),
        SlackServer(accept_any_email=True, host=host, port=port(1), verbose=verbose),
        CustomerIOServer(host=host, port=port(2), verbose=verbose),
        WebhookServer(host=host, port=port(3), verbose=verbose),
    ]


def server_env(servers: Sequence[FakeServer]) -> dict[str, str]:
    """The env vars that point touchline at running servers, one group per server."""
    hubspot, slack, customerio, webhook = servers
    assert isinstance(hubspot, HubSpotServer)
    assert isinstance(slack, SlackServer)
    assert isinstance(customerio, CustomerIOServer)
    assert isinstance(webhook, WebhookServer)
    return {
        "TOUCHLINE_HUBSPOT_URL": hubspot.url,
        "TOUCHLINE_HUBSPOT_TOKEN": hubspot.token,
        "TOUCHLINE_SLACK_URL": f"{slack.url}/api/",
        "TOUCHLINE_SLACK_TOKEN": slack.token,
        "TOUCHLINE_CUSTOMERIO_URL": customerio.url,
        "TOUCHLINE_CUSTOMERIO_SITE_ID": customerio.site_id,
        "TOUCHLINE_CUSTOMERIO_API_KEY": customerio.api_key,
        "TOUCHLINE_WEBHOOK_URL": webhook.hook_url,
        "TOUCHLINE_WEBHOOK_SECRET": webhook.secret,
    }


def export_lines(servers: Sequence[FakeServer]) -> list[str]:
    """Shell lines that point touchline at running servers (one line per server)."""
    lines: dict[str, list[str]] = {}
    for name, value in server_env(servers).items():
        group = name.removeprefix("TOUCHLINE_").split("_")[0]
        lines.setdefault(group, []).append(f"{name}={value}")
    return ["export " + " ".join(pairs) for pairs in lines.values()]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m touchline.devservers",
        description="Run local HubSpot, Slack, Customer.io and webhook servers for a demo.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    parser.add_argument(
        "--port-base",
        type=int,
        default=8970,
        help="HubSpot port; Slack, Customer.io and webhook use the next three (0: any free)",
    )
    parser.add_argument("--verbose", action="store_true", help="log each request to stderr")
    args = parser.parse_args(argv)
    if args.port_base and not 1 <= args.port_base <= 65532:
        parser.error("--port-base must be 0 or between 1 and 65532")

    servers = build(args.host, args.port_base, verbose=args.verbose)
    started: list[FakeServer] = []
    try:
        for server in servers:
            started.append(server.start())
    except OSError as exc:
        for server in started:
            server.stop()
        print(f"cannot listen on {server.host}:{server.port}: {exc}", file=sys.stderr)
        return 1

    stop = threading.Event()

    def request_stop(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    for line in export_lines(servers):
        print(line)
    sys.stdout.flush()
    print("devservers running; GET /__state on any of them; Ctrl-C stops", file=sys.stderr)

    while not stop.wait(0.5):
        pass

    for server in servers:
        server.stop()
    for server in servers:
        print(server.summary())
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
