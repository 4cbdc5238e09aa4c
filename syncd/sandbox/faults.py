"""Fault injection and Outlook-style throttling for the Graph endpoints.

Limits follow Microsoft's published Outlook service limits (concepts/throttling-limits.md):
per app and mailbox, 10,000 requests per 10 minutes and 4 concurrent requests. They are plain
attributes, so a test or benchmark can change them. Everything is O(1) per request: a few dict
lookups under one lock.

Faults switch on per test (``sandbox.faults.throttle_next(2)``) or from the command line
(``--fault "429:next=2"``, see `FaultPlan.apply`).
"""

from __future__ import annotations

import contextlib
import math
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

from syncd.sandbox.wire import GraphError

ANY = "*"  # scope key: a fault that applies to every mailbox (and to tenant-wide requests)

MALFORMED_KINDS = ("missing_fields", "garbage_address")


@dataclass(slots=True)
class _Burst:
    remaining: int
    status: int
    code: str
    retry_after: float


def retry_after_header(seconds: float) -> str:
    # Graph normally sends whole seconds; the throttling docs' own example says "2.128", which
    # urllib3's Retry (O365's retry) rejects as an invalid header. Whole numbers stay whole so
    # clients work by default; a test may pass a fraction on purpose.
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"


def throttled(status: int, code: str, message: str, retry_after: float) -> GraphError:
    """A 429/503 in the documented shape (concepts/throttling.md example)."""
    inner = {"code": str(status), "message": "Please retry after", "status": str(status)}
    return GraphError(
        status, code, message, headers={"Retry-After": retry_after_header(retry_after)}, inner=inner
    )


class FaultPlan:
    """Throttling limits, one-shot faults and the counters tests assert on. Thread-safe."""

    def __init__(self, *, seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        # -- limits (configurable) --
        self.mailbox_budget = 10_000  # requests per app per mailbox per window
        self.budget_window = 600.0  # seconds
        self.mailbox_concurrency = 4  # in-flight requests per mailbox
        self.random_429_rate = 0.0
        self.random_retry_after = 1.0
        # -- observations --
        self.max_in_flight: dict[str, int] = {}  # mailbox -> highest attempted concurrency
        self.injected: Counter[str] = Counter()  # fault name -> times it fired
        # -- state --
        self._in_flight: dict[str, int] = {}
        self._windows: dict[tuple[str, str], tuple[float, int]] = {}
        self._bursts: dict[str, list[_Burst]] = {}
        self._delay_ms: dict[str, int] = {}
        self._malformed: dict[str, list[str]] = {}
        self._replay: dict[str, list[int]] = {}
        self._token_serial = 0
        self._expired_before: dict[str, tuple[int, str]] = {}
        self._revoked: dict[str, str] = {}
        self.tokens_valid_after = 0.0  # access tokens issued before this instant are expired

    # ---- switches ------------------------------------------------------------------------

    def throttle_next(
        self,
        n: int = 1,
        *,
        mailbox: str | None = None,
        retry_after: float = 1,
        code: str = "TooManyRequests",
    ) -> None:
        """Answer the next ``n`` Graph requests (for ``mailbox``, or any) with 429."""
        self._add_burst(mailbox, _Burst(n, 429, code, retry_after))

    def unavailable_next(
        self, n: int = 1, *, mailbox: str | None = None, retry_after: float = 1
    ) -> None:
        """Answer the next ``n`` Graph requests with 503 ServiceUnavailable + Retry-After."""
        self._add_burst(mailbox, _Burst(n, 503, "ServiceUnavailable", retry_after))

    def _add_burst(self, mailbox: str | None, burst: _Burst) -> None:
        with self._lock:
            self._bursts.setdefault(_scope(mailbox), []).append(burst)

    def set_random_429(self, rate: float, retry_after: float = 1) -> None:
        """Throttle a random fraction of Graph requests (global)."""
        self.random_429_rate, self.random_retry_after = rate, retry_after

    def slow(self, ms: int, *, mailbox: str | None = None) -> None:
        """Delay responses by ``ms`` (0 turns it off). The delay happens while the request
        holds its concurrency slot, as a slow server would."""
        with self._lock:
            self._delay_ms[_scope(mailbox)] = ms

    def expire_delta_tokens(
        self, mailbox: str | None = None, *, code: str = "syncStateNotFound"
    ) -> None:
        """Every nextLink/deltaLink issued so far (for ``mailbox``, or all) now gets 410 Gone
        with ``code`` (``syncStateNotFound`` or ``resyncRequired``)."""
        with self._lock:
            self._expired_before[_scope(mailbox)] = (self._token_serial + 1, code)

    def expire_delta_link(self, link: str, *, code: str = "syncStateNotFound") -> None:
        """Expire one nextLink/deltaLink (the URL or just its token)."""
        token = link.rpartition("token=")[2]
        with self._lock:
            self._revoked[token] = code

    def expire_access_tokens(self) -> None:
        """Every access token issued until now fails with 401 "Lifetime validation failed"."""
        self.tokens_valid_after = time.time()

    def malformed_next(
        self, n: int = 1, *, mailbox: str | None = None, kind: str = "mixed"
    ) -> None:
        """Inject ``n`` malformed items into the next message delta page(s): ``missing_fields``
        (no sender, dates or internetMessageId), ``garbage_address`` (unparseable sender, an
        X.500 recipient), or ``mixed`` (alternating)."""
        kinds = [MALFORMED_KINDS[i % 2] if kind == "mixed" else kind for i in range(n)]
        with self._lock:
            self._malformed.setdefault(_scope(mailbox), []).extend(kinds)

    def replay_next(self, n: int = 1, *, mailbox: str | None = None, count: int = 5) -> None:
        """The next ``n`` delta requests (for ``mailbox``) re-send up to ``count`` changes the
        client already received ("Replays" in concepts/delta-query-overview.md)."""
        with self._lock:
            self._replay.setdefault(_scope(mailbox), []).extend([count] * n)

    def reset(self) -> None:
        """Clear one-shot faults, delays, counters and observations (limits stay)."""
        with self._lock:
            for store in (self._bursts, self._delay_ms, self._malformed, self._replay):
                store.clear()
            self._windows.clear()
            self.max_in_flight.clear()
            self.injected.clear()
            self.random_429_rate = 0.0

    # ---- request path --------------------------------------------------------------------

    @contextlib.contextmanager
    def guard(self, client_id: str | None, mailbox: str | None) -> Iterator[None]:
        """Admit one Graph request or raise the GraphError (429/503) it should get."""
        delay = self._admit(client_id or "", mailbox)
        try:
            if delay:
                time.sleep(delay)
            yield
        finally:
            if mailbox is not None:
                with self._lock:
                    self._in_flight[mailbox] -= 1

    def _admit(self, client_id: str, mailbox: str | None) -> float:
        with self._lock:
            for scope in (mailbox, ANY):
                bursts = self._bursts.get(scope) if scope else None
                if bursts:
                    burst = bursts[0]
                    burst.remaining -= 1
                    if burst.remaining <= 0:
                        bursts.pop(0)
                    self.injected[f"{burst.status}"] += 1
                    message = (
                        "Please retry again later."
                        if burst.status == 429
                        else "The service is temporarily unavailable."
                    )
                    raise throttled(burst.status, burst.code, message, burst.retry_after)
            if self.random_429_rate and self._rng.random() < self.random_429_rate:
                self.injected["429-random"] += 1
                raise throttled(
                    429, "TooManyRequests", "Please retry again later.", self.random_retry_after
                )
            delay_ms = self._delay_ms.get(ANY, 0)
            if mailbox is None:
                return delay_ms / 1000
            delay_ms = self._delay_ms.get(mailbox, delay_ms)
            running = self._in_flight.get(mailbox, 0) + 1
            self._in_flight[mailbox] = running
            if running > self.max_in_flight.get(mailbox, 0):
                self.max_in_flight[mailbox] = running
            if running > self.mailbox_concurrency:
                self._in_flight[mailbox] -= 1
                self.injected["concurrency"] += 1
                raise throttled(
                    429,
                    "ApplicationThrottled",
                    "Application is over its MailboxConcurrency limit.",
                    1,
                )
            now = time.monotonic()
            key = (client_id, mailbox)
            started, count = self._windows.get(key, (now, 0))
            if now - started >= self.budget_window:
                started, count = now, 0
            if count >= self.mailbox_budget:
                self._in_flight[mailbox] -= 1
                self.injected["budget"] += 1
                wait = max(1, math.ceil(started + self.budget_window - now))
                raise throttled(
                    429,
                    "ApplicationThrottled",
                    f"Application is over its request rate limit for this mailbox "
                    f"({self.mailbox_budget} requests per {self.budget_window:g} seconds).",
                    wait,
                )
            self._windows[key] = (started, count + 1)
            return delay_ms / 1000

    # ---- delta tokens --------------------------------------------------------------------

    def next_token_serial(self) -> int:
        """A serial stamped into each issued paging token (so expiry can cut by issue time)."""
        with self._lock:
            self._token_serial += 1
            return self._token_serial

    def delta_token_error(self, token: str, mailbox: str | None, serial: int) -> str | None:
        """The error code if this paging token was expired by a fault, else None."""
        with self._lock:
            if token in self._revoked:
                return self._revoked[token]
            for scope in (mailbox, ANY):
                cut = self._expired_before.get(scope) if scope else None
                if cut and serial < cut[0]:
                    return cut[1]
            return None

    def take_malformed(self, mailbox: str) -> list[str]:
        with self._lock:
            kinds: list[str] = []
            for scope in (mailbox, ANY):
                kinds.extend(self._malformed.pop(scope, []))
            self.injected["malformed"] += len(kinds)
            return kinds

    def take_replay(self, mailbox: str) -> int:
        with self._lock:
            for scope in (mailbox, ANY):
                queue = self._replay.get(scope)
                if queue:
                    self.injected["replay"] += 1
                    return queue.pop(0)
            return 0

    # ---- command line --------------------------------------------------------------------

    def apply(self, spec: str) -> None:
        """Apply one ``--fault`` spec ``NAME[:key=value,...]``:

        ``429:rate=0.1[,retry=1]``  random throttling; ``429:next=5[,mailbox=..,retry=2,code=..]``;
        ``503:next=2[,retry=1]``; ``slow:ms=200[,mailbox=..]``; ``budget:limit=100[,window=60]``;
        ``concurrency:limit=2``; ``410[:mailbox=..,code=resyncRequired]`` (expire delta links
        issued so far); ``expire-tokens``; ``malformed:next=3[,mailbox=..,kind=..]``;
        ``replay:next=1[,count=5]``.

        Raises: ValueError for an unknown name or option.
        """
        name, _, rest = spec.strip().partition(":")
        opts = dict(part.split("=", 1) for part in rest.split(",") if "=" in part)
        mailbox = opts.pop("mailbox", None)
        if name == "429" and "rate" in opts:
            self.set_random_429(float(opts.pop("rate")), float(opts.pop("retry", 1)))
        elif name == "429":
            self.throttle_next(
                int(opts.pop("next", 1)),
                mailbox=mailbox,
                retry_after=float(opts.pop("retry", 1)),
                code=opts.pop("code", "TooManyRequests"),
            )
        elif name == "503":
            self.unavailable_next(
                int(opts.pop("next", 1)), mailbox=mailbox, retry_after=float(opts.pop("retry", 1))
            )
        elif name == "slow":
            self.slow(int(opts.pop("ms")), mailbox=mailbox)
        elif name == "budget":
            self.mailbox_budget = int(opts.pop("limit"))
            self.budget_window = float(opts.pop("window", self.budget_window))
        elif name == "concurrency":
            self.mailbox_concurrency = int(opts.pop("limit"))
        elif name == "410":
            self.expire_delta_tokens(mailbox, code=opts.pop("code", "syncStateNotFound"))
        elif name == "expire-tokens":
            self.expire_access_tokens()
        elif name == "malformed":
            self.malformed_next(
                int(opts.pop("next", 1)), mailbox=mailbox, kind=opts.pop("kind", "mixed")
            )
        elif name == "replay":
            self.replay_next(
                int(opts.pop("next", 1)), mailbox=mailbox, count=int(opts.pop("count", 5))
            )
        else:
            raise ValueError(f"unknown fault {name!r} in {spec!r}")
        if opts:
            raise ValueError(f"unknown option(s) {sorted(opts)} in fault {spec!r}")


def _scope(mailbox: str | None) -> str:
    return mailbox.lower() if mailbox else ANY
