"""One page fetch with EWS's two in-place recoveries, shared by the mail and calendar streams:
an expired token is refreshed once, and ErrorServerBusy is waited out in this mailbox's thread
while the total wait stays under `max_retry_wait` (beyond it the ThrottledError goes up and the
runner defers this mailbox alone)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from connectors.base import AuthError, ThrottledError
from connectors.ews.session import named

log = logging.getLogger(__name__)

T = TypeVar("T")


def fetch_with_recovery(fetch: Callable[[], T], *, what: str, who: str,
                        reauthenticate: Callable[[], None], sleep: Callable[[float], None],
                        max_retry_wait: float,
                        forget: Callable[[], None] = lambda: None) -> T:
    """`fetch()`, retried as the module doc says. `forget` drops whatever half-read state
    the failed attempt left (a sync round's generator dies with its request)."""
    waited, refreshed = 0.0, False
    while True:
        try:
            return fetch()
        except AuthError as exc:
            forget()
            if refreshed:
                raise named(exc, what, who) from exc
            reauthenticate()  # an expired token: refresh once, then report
            refreshed = True
        except ThrottledError as exc:
            forget()
            if waited + exc.retry_after > max_retry_wait:
                raise
            log.info("%s: ErrorServerBusy, backing off %.1f s", what, exc.retry_after)
            sleep(exc.retry_after)
            waited += exc.retry_after
