"""A local receiver of signed JSON webhooks, the kind a generic "POST to my URL" export feeds.

The sender POSTs JSON to the configured path with two headers:

* ``X-Touchline-Timestamp``: Unix seconds when the request was signed,
* ``X-Touchline-Signature``: ``sha256=<hex>``, the HMAC-SHA256 under the shared secret of
  ``f"{timestamp}.".encode() + raw_body`` (see :func:`sign`).

The receiver checks the signature in constant time (bad or missing: 401 ``bad signature``),
then the timestamp (further than ``tolerance_seconds`` from now, in either direction: 401
``stale timestamp``), then the JSON body (400 ``invalid json``). An optional
``Idempotency-Key`` header makes retries safe: a key seen before is answered
``{"ok": true, "duplicate": true}`` and not stored again.

It follows no particular vendor; it is the contract a receiver of touchline's webhook export
is expected to implement. It does not answer anything but POST to its path.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import time
from collections.abc import Callable
from typing import Any

from touchline.devservers.base import FakeServer, Reply, Request

SIGNATURE_HEADER = "X-Touchline-Signature"
TIMESTAMP_HEADER = "X-Touchline-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """``"sha256=<hex>"``: HMAC-SHA256 of ``f"{timestamp}.".encode() + body`` under ``secret``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


class WebhookServer(FakeServer):
    """Signed-webhook receiver; see the module docstring. ``clock`` gives epoch seconds."""

    name = "webhook"

    def __init__(
        self,
        secret: str = "whsec-test",
        path: str = "/hooks/touchline",
        *,
        tolerance_seconds: float = 300,
        clock: Callable[[], float] = time.time,
        host: str = "127.0.0.1",
        port: int = 0,
        verbose: bool = False,
    ) -> None:
        self.secret = secret
        self.path = "/" + path.strip("/")
        self.tolerance_seconds = tolerance_seconds
        self.clock = clock
        super().__init__(host, port, verbose=verbose)

    @property
    def hook_url(self) -> str:
        """The full URL senders POST to."""
        return self.url + self.path

    # ------------------------------------------------------------------ state

    def _reset_state(self) -> None:
        self._deliveries: list[dict[str, Any]] = []
        self._keys: set[str] = set()

    def _snapshot_state(self) -> dict[str, Any]:
        return {"deliveries": self._deliveries}

    def summary(self) -> str:
        with self.lock:
            return f"{self.name}: {len(self._deliveries)} deliveries, {len(self.requests)} requests"

    # ------------------------------------------------------------------ test helpers

    def deliveries(self) -> list[dict[str, Any]]:
        """Stored deliveries ``{"idempotency_key", "body", "received_at"}`` in arrival order."""
        with self.lock:
            return self.copy(self._deliveries)

    # ------------------------------------------------------------------ HTTP

    def error_payload(self, status: int, message: str) -> Any:
        return {"error": message}

    def handle(self, request: Request) -> Reply:
        if request.path.rstrip("/") != self.path:
            return self.not_found()
        if request.method != "POST":
            return self.method_not_allowed()

        raw_timestamp = request.headers.get(TIMESTAMP_HEADER.lower(), "").strip()
        signature = request.headers.get(SIGNATURE_HEADER.lower(), "").strip()
        try:
            timestamp = int(raw_timestamp)
        except ValueError:
            return self.error(401, "bad signature")
        expected = sign(self.secret, timestamp, request.body)
        if not signature or not hmac.compare_digest(signature.encode(), expected.encode()):
            return self.error(401, "bad signature")
        if abs(self.clock() - timestamp) > self.tolerance_seconds:
            return self.error(401, "stale timestamp")
        if not request.json_valid or not request.body.strip():
            return self.error(400, "invalid json")

        key = request.headers.get(IDEMPOTENCY_HEADER.lower())
        if key is not None and key in self._keys:
            return Reply(200, {"ok": True, "duplicate": True})
        if key is not None:
            self._keys.add(key)
        received = dt.datetime.fromtimestamp(self.clock(), tz=dt.UTC)
        self._deliveries.append(
            {
                "idempotency_key": key,
                "body": self.copy(request.json),
                "received_at": received.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            }
        )
        return Reply(200, {"ok": True}, applied=True)
