"""Pure scheduling decisions: which streams are due, when a unit is next due, how long to wait.

No database, no network, no clock of its own (``now`` is passed in), so the rules are
property-tested (tests/service/test_plan.py). The scheduler applies them.
"""

from __future__ import annotations

import enum
import random
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from syncd.config import ServiceConfig


class StreamKind(enum.StrEnum):
    MAIL = "mail"
    CALENDAR = "calendar"
    CALLS = "calls"
    FILES = "files"


def stream_kind(key: str) -> StreamKind:
    """From the connector's stream key: ``{address}/mail/{folder}``, ``{address}/calendar``,
    ``tenant/callRecords`` (Graph, EWS alike); anything else is a mail-like stream."""
    if "/calendar" in key:
        return StreamKind.CALENDAR
    if key.endswith("/callRecords") or "/calls" in key:
        return StreamKind.CALLS
    return StreamKind.MAIL


def interval_for(kind: StreamKind, conf: ServiceConfig) -> float:
    return {
        StreamKind.MAIL: conf.mail_interval,
        StreamKind.CALENDAR: conf.calendar_interval,
        StreamKind.CALLS: conf.calls_interval,
        StreamKind.FILES: conf.files_interval,
    }[kind]


def jittered(interval: float, jitter: float, rnd: random.Random) -> float:
    """``interval`` +/- ``jitter`` (a share of it): mailboxes added together drift apart
    instead of polling in lock-step forever."""
    return interval * (1.0 + rnd.uniform(-jitter, jitter))


@dataclass(frozen=True, slots=True)
class StreamState:
    """What the scheduler knows of a stream: its planned poll and its back-off."""

    key: str
    poll_due_at: datetime | None = None  # None: never polled, due now
    backoff_until: datetime | None = None  # `streams.next_due_at`, set after failures
    stopped: bool = False  # waits for an operator (mass deletion, resync loop)

    def due_at(self) -> datetime | None:
        """When the stream may be polled next; None means now. Back-off wins over schedule."""
        times = [t for t in (self.poll_due_at, self.backoff_until) if t is not None]
        return max(times) if times else None

    def is_due(self, now: datetime) -> bool:
        due = self.due_at()
        return not self.stopped and (due is None or due <= now)


def unit_due_at(states: Iterable[StreamState], now: datetime, idle: float) -> datetime:
    """When a unit (a mailbox) is next worth claiming: its earliest due, not stopped stream.
    A unit with no live stream is looked at again after ``idle`` seconds (new folders,
    an operator restarting a stopped stream)."""
    dues = [s.due_at() or now for s in states if not s.stopped]
    return min(dues) if dues else now + timedelta(seconds=idle)


def next_poll(kind: StreamKind, conf: ServiceConfig, now: datetime,
              rnd: random.Random) -> datetime:
    return now + timedelta(seconds=jittered(interval_for(kind, conf), conf.jitter, rnd))


class PollBudget:
    """A token bucket of stream polls per minute for one connector (tenant), shared by the
    threads of one process. ``take`` returns 0 when a poll may start, else the seconds to wait.

    It counts polls, not HTTP requests: a no-change poll is one request, a poll with changes a
    few more; per-mailbox request limits are enforced by the connector itself.
    """

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self._tokens = self.capacity
        self._clock = clock
        self._at = clock()
        self._lock = threading.Lock()

    def take(self) -> float:
        with self._lock:
            now = self._clock()
            self._tokens = min(self.capacity, self._tokens + (now - self._at) * self.rate)
            self._at = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return 0.0
            return (1.0 - self._tokens) / self.rate
