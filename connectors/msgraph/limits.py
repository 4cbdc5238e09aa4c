"""Per-mailbox request limits, enforced on our side before Graph has to.

Outlook's published limits (concepts/throttling-limits.md) are per app and mailbox: 4 requests in
flight and 10,000 requests per 10 minutes. Every stream of a mailbox (each folder, the calendar)
shares one `MailboxLimiter`, whatever thread it runs in. Tenant-wide requests (directory, call
records) share the limiter named `TENANT`.
"""

from __future__ import annotations

import collections
import contextlib
import math
import threading
import time
from collections.abc import Callable, Iterator

from connectors.base import ThrottledError, TransientError

TENANT = "(tenant)"  # limiter key of requests that touch no mailbox
WINDOW_SECONDS = 600.0
SLOT_TIMEOUT = 300.0  # seconds to wait for a free concurrency slot before giving up


class MailboxLimiter:
    """A concurrency cap (semaphore) plus a sliding-window request budget for one mailbox."""

    def __init__(
        self,
        key: str,
        concurrency: int,
        budget: int,
        *,
        window: float = WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.key = key
        self.concurrency = max(1, concurrency)
        self.budget = max(1, budget)
        self.window = window
        self._clock = clock
        self._slots = threading.BoundedSemaphore(self.concurrency)
        self._sent: collections.deque[float] = collections.deque()
        self._lock = threading.Lock()

    def spend(self) -> None:
        """Count one request against the budget.

        Raises: ThrottledError with the seconds until the oldest request leaves the window.
        """
        with self._lock:
            now = self._clock()
            while self._sent and self._sent[0] <= now - self.window:
                self._sent.popleft()
            if len(self._sent) >= self.budget:
                wait = max(1.0, math.ceil(self._sent[0] + self.window - now))
                raise ThrottledError(
                    f"{self.key}: request budget of {self.budget} per "
                    f"{self.window / 60:g} minutes is used up; retry in {wait:g} s",
                    wait,
                )
            self._sent.append(now)

    @contextlib.contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one of the ``concurrency`` in-flight slots for the duration of a request.

        Raises: TransientError when no slot frees up within `SLOT_TIMEOUT`.
        """
        if not self._slots.acquire(timeout=SLOT_TIMEOUT):
            raise TransientError(f"{self.key}: no free request slot after {SLOT_TIMEOUT:g} s")
        try:
            yield
        finally:
            self._slots.release()

    @property
    def used(self) -> int:
        """Requests counted in the current window."""
        with self._lock:
            now = self._clock()
            return sum(1 for t in self._sent if t > now - self.window)


class LimiterRegistry:
    """One `MailboxLimiter` per mailbox (normalised address), created on first use."""

    def __init__(self, concurrency: int, budget: int) -> None:
        self.concurrency = concurrency
        self.budget = budget
        self._limiters: dict[str, MailboxLimiter] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> MailboxLimiter:
        with self._lock:
            limiter = self._limiters.get(key)
            if limiter is None:
                limiter = MailboxLimiter(key, self.concurrency, self.budget)
                self._limiters[key] = limiter
            return limiter
