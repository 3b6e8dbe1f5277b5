"""One HTTP client for the API destinations: retries the way the public APIs ask for.

- 429: wait what ``Retry-After`` says (seconds or an HTTP date), then retry;
- 5xx, a timeout or a dropped connection: retry with exponential backoff and jitter;
- any other 4xx: no retry, an :class:`ExportError` naming the destination, the request and
  the API's message.

Request bodies and headers are never logged (they may carry personal data or a token); a
log line names the destination, the method, the path and the status.
"""

from __future__ import annotations

import email.utils
import logging
import random
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

log = logging.getLogger(__name__)


class ExportError(RuntimeError):
    """A destination refused a request, or kept failing past the retries."""


@dataclass
class RetryPolicy:
    attempts: int = 6
    backoff_seconds: float = 0.5  # first wait after a 5xx or a timeout; doubles each time
    max_wait_seconds: float = 60.0
    timeout_seconds: float = 10.0
    sleep: Any = field(default=time.sleep, repr=False)  # tests pass a recorder


def retry_after(value: str | None, default: float) -> float:
    """Seconds to wait from a ``Retry-After`` header (delta seconds or an HTTP date)."""
    if not value:
        return default
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return default
    return max(0.0, when.timestamp() - time.time())


class ApiClient:
    """JSON over HTTP to one destination, with its authentication and the retry policy."""

    def __init__(
        self,
        destination: str,
        base_url: str,
        *,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        policy: RetryPolicy | None = None,
    ) -> None:
        self.destination = destination
        self.policy = policy or RetryPolicy()
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers=headers or {},
            auth=auth,
            timeout=self.policy.timeout_seconds,
        )

    def close(self) -> None:
        self._client.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        content: bytes | None = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        policy = self.policy
        wait = policy.backoff_seconds
        problem = ""
        for attempt in range(1, policy.attempts + 1):
            try:
                response = self._client.request(
                    method, path, json=json, content=content, params=params, headers=headers
                )
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                problem = f"{type(exc).__name__}"
                log.warning(
                    "%s %s %s: %s (attempt %d of %d)",
                    self.destination,
                    method,
                    path,
                    problem,
                    attempt,
                    policy.attempts,
                )
            else:
                status = response.status_code
                log.info("%s %s %s -> %d", self.destination, method, path, status)
                if status < 400:
                    return response
                if status == 429:
                    delay = retry_after(response.headers.get("Retry-After"), wait)
                    problem = f"429 rate limited (Retry-After {delay:g}s)"
                    if attempt < policy.attempts:
                        policy.sleep(min(delay, policy.max_wait_seconds))
                    continue
                if status < 500:
                    raise ExportError(
                        f"{self.destination}: {method} {path} was refused with {status}: "
                        f"{_api_message(response)}"
                    )
                problem = f"{status} {_api_message(response)}"
            if attempt < policy.attempts:
                policy.sleep(min(wait * (1 + random.random() * 0.2), policy.max_wait_seconds))
                wait *= 2
        raise ExportError(
            f"{self.destination}: {method} {path} failed {policy.attempts} times; last: {problem}"
        )


def _api_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    if isinstance(body, dict):
        for key in ("message", "error", "meta"):
            if key in body:
                return str(body[key])[:300]
    return str(body)[:300]
