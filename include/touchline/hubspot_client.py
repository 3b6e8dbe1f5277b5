"""The official HubSpot client as touchline builds it, for the HubSpot source and the CRM export.

:func:`client` gives a ``hubspot.HubSpot`` whose urllib3 :class:`Retry` waits out 429s for
their ``Retry-After``, backs off on 5xx, timeouts and dropped connections, and never retries
other refusals. :func:`search_in_slices` reads every result of a search over a time window:
the search API answers at most 10,000 results per query, so a window holding that many is
halved until every part fits.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

from urllib3.util.retry import Retry

log = logging.getLogger(__name__)

DEFAULT_URL = "https://api.hubapi.com"
SEARCH_RESULTS_MAX = 10_000
RETRIED_STATUSES = (429, 500, 502, 503, 504)


class HubSpotRetry(Retry):
    """urllib3's :class:`Retry` with its waits going through ``sleep`` (tests record them)."""

    def __init__(self, *args: Any, sleep: Callable[[float], None] = time.sleep, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.wait = sleep

    def new(self, **kw: Any) -> HubSpotRetry:
        retry = super().new(**kw)
        retry.wait = self.wait
        return retry

    def sleep_for_retry(self, response: Any) -> bool:
        seconds = self.get_retry_after(response)
        if seconds:
            self.wait(seconds)
            return True
        return False

    def _sleep_backoff(self) -> None:
        seconds = self.get_backoff_time()
        if seconds > 0:
            self.wait(seconds)


def retry(
    max_retries: int = 6,
    backoff_factor: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
) -> Retry:
    """429 (after its Retry-After) and 5xx are retried with backoff; other refusals are not.

    Every method is retried: the searches and batch reads are POSTs that change nothing, and
    the batch writes address tasks by id or by their unique key, so a repeat changes nothing.
    """
    return HubSpotRetry(
        total=max_retries,
        backoff_factor=backoff_factor,
        status_forcelist=RETRIED_STATUSES,
        allowed_methods=None,
        respect_retry_after_header=True,
        raise_on_status=False,
        sleep=sleep,
    )


def client(base_url: str | None, token: str, retries: Retry | None = None) -> Any:
    """A ``hubspot.HubSpot`` for the private-app ``token`` at ``base_url`` (HubSpot's own)."""
    from hubspot import HubSpot

    url = (base_url or DEFAULT_URL).rstrip("/")
    return HubSpot(access_token=token, retry=retries or retry(), host=url)


def search_in_slices(
    search: Callable[[int, int, str | None], dict[str, Any]],
    lo: int,
    hi: int,
    *,
    what: str,
    error: type[Exception] = RuntimeError,
) -> Iterator[dict[str, Any]]:
    """Every result of ``search(lo, hi, after)`` over the window (lo, hi], in epoch ms.

    ``search`` answers one page (HubSpot's JSON: ``total``, ``results``, ``paging``). A
    window whose ``total`` reaches the 10,000 the API pages to is read in halves; one that
    cannot be halved (a single millisecond) raises ``error`` naming ``what``.
    """
    page = search(lo, hi, None)
    total = page.get("total") or 0
    if total >= SEARCH_RESULTS_MAX:
        if hi - lo <= 1:
            raise error(
                f"HubSpot {what}: {total} records were modified within one millisecond "
                f"({lo + 1}); the search API cannot page past {SEARCH_RESULTS_MAX}"
            )
        mid = lo + (hi - lo) // 2
        log.info("HubSpot %s: %d results in one window; reading it in halves", what, total)
        yield from search_in_slices(search, lo, mid, what=what, error=error)
        yield from search_in_slices(search, mid, hi, what=what, error=error)
        return
    while True:
        yield from page.get("results") or []
        after = ((page.get("paging") or {}).get("next") or {}).get("after")
        if not after:
            return
        page = search(lo, hi, after)
