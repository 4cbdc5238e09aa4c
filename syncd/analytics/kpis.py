"""Relationship KPIs over one period, computed in one pass from `Touch` rows (pure code).

Definitions (the README's "Relationship analytics" section says the same for users):

- *us* is a participant with an internal domain or a directory user; *them* is everyone else.
  A touch's side is the side of its sender: an email's From, a meeting's organizer, a call's
  caller. A touch without a known sender has no side: it counts in totals, not in directions.
- A period is half-open, `[start, end)`, in UTC. Cancelled meetings never count.
- *Initiated*: a meeting by its organizer's side, a call by its caller's side, an email thread
  by the side of its first message. A thread whose first message we hold is a reply to a
  message we do not hold (`In-Reply-To` outside the data) started earlier: it is not counted.
- *Replies*: the reply to an email is the first later email from the other side that names it
  in `In-Reply-To`; failing that, the first later email from the other side in the same thread
  (Graph conversationId, or the root of References). Several consecutive messages from one
  side are all answered by the other side's next message. Reply rate = share of a side's
  emails of the period that got a reply (at any time before the end of the analysis);
  response time = median delay of those replies, in hours.
- *Time invested*: the minutes of each meeting and call count for each side that took part
  (someone of that side attended and did not decline), once per side: hours of contact, not
  person-hours, or a 40-person webinar would dwarf everything else. A duration is capped at
  `MAX_MINUTES`. Each email adds `minutes_per_email` (configurable, default 5) to the side
  that wrote it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from statistics import median
from typing import Literal

from syncd.config import AnalyticsConfig

Side = Literal["us", "them"]
KINDS = ("email", "meeting", "call")
# An all-day event or a call record that never got its end would otherwise count for days.
MAX_MINUTES = 8 * 60.0


@dataclass(frozen=True, slots=True)
class Touch:
    """One captured interaction as a relationship sees it."""

    interaction_id: int
    kind: str  # email | meeting | call
    at: datetime
    side: Side | None
    key: str = ""  # the interaction's natural key (Message-ID for email)
    subject: str = ""
    ended_at: datetime | None = None
    sender: str | None = None
    sender_name: str = ""
    thread: str | None = None
    in_reply_to: str | None = None
    ours: int = 0  # participants on our side who did not decline
    theirs: int = 0
    cancelled: bool = False

    @property
    def minutes(self) -> float:
        if self.ended_at is None or self.ended_at <= self.at:
            return 0.0
        return min((self.ended_at - self.at).total_seconds() / 60.0, MAX_MINUTES)


@dataclass(frozen=True, slots=True)
class Period:
    start: datetime
    end: datetime

    def __contains__(self, at: datetime) -> bool:
        return self.start <= at < self.end

    @property
    def days(self) -> float:
        return (self.end - self.start).total_seconds() / 86400.0


@dataclass
class PeriodKpis:
    """What happened with one relationship in one period. Rates are None without a basis."""

    emails_sent: int = 0
    emails_received: int = 0
    meetings: int = 0
    meetings_ours: int = 0  # organised by us
    meetings_theirs: int = 0
    meeting_minutes: float = 0.0
    calls: int = 0
    calls_made: int = 0
    calls_received: int = 0
    call_minutes: float = 0.0
    initiated_us: int = 0
    initiated_them: int = 0
    minutes_ours: float = 0.0
    minutes_theirs: float = 0.0
    replied_by_us: int = 0  # their emails we answered
    replied_by_them: int = 0
    our_reply_rate: float | None = None
    their_reply_rate: float | None = None
    our_response_hours: float | None = None  # median time for us to answer them
    their_response_hours: float | None = None
    volume: float = 0.0  # activity-type-weighted count (see AnalyticsConfig.weights)
    touches: int = 0

    @property
    def emails(self) -> int:
        return self.emails_sent + self.emails_received

    def as_json(self) -> dict[str, object]:
        out: dict[str, object] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            out[name] = round(value, 3) if isinstance(value, float) else value
        return out


@dataclass
class DayCounts:
    day: date
    email_sent: int = 0
    email_received: int = 0
    meeting_sent: int = 0  # meeting requests we sent (we organise)
    meeting_received: int = 0
    call_made: int = 0
    call_received: int = 0

    SERIES = ("email_sent", "email_received", "meeting_sent", "meeting_received", "call_made",
              "call_received")

    @property
    def total(self) -> int:
        return sum(getattr(self, s) for s in self.SERIES)

    def as_json(self) -> dict[str, object]:
        return {"date": self.day.isoformat(), **{s: getattr(self, s) for s in self.SERIES}}


def _thread(t: Touch) -> str:
    return t.thread or t.key or f"#{t.interaction_id}"


def _emails(touches: Iterable[Touch]) -> list[Touch]:
    return sorted((t for t in touches if t.kind == "email" and t.side is not None),
                  key=lambda t: (t.at, t.interaction_id))


def pair_replies(touches: Iterable[Touch]) -> dict[int, Touch]:
    """{interaction id of an email: the email that answered it}. Give only touches that had
    happened at the time of the analysis: a reply written later must not count."""
    emails = _emails(touches)
    by_key = {t.key: t for t in emails if t.key}
    out: dict[int, Touch] = {}
    for r in emails:  # in time order: the first reply naming a parent wins
        parent = by_key.get(r.in_reply_to) if r.in_reply_to else None
        if (parent is not None and parent.side != r.side and r.at >= parent.at
                and parent.interaction_id not in out):
            out[parent.interaction_id] = r
    threads: dict[str, list[Touch]] = defaultdict(list)
    for t in emails:
        threads[_thread(t)].append(t)
    for msgs in threads.values():
        following: dict[str, Touch] = {}
        for t in reversed(msgs):
            assert t.side is not None
            other = "them" if t.side == "us" else "us"
            if t.interaction_id not in out and other in following:
                out[t.interaction_id] = following[other]
            following[t.side] = t
    return out


def initiations(touches: Iterable[Touch]) -> list[tuple[datetime, Side]]:
    """(when, who started) for every conversation: thread, meeting or call (see module doc)."""
    touches = list(touches)
    out: list[tuple[datetime, Side]] = []
    emails = _emails(touches)
    keys = {t.key for t in emails if t.key}
    first: dict[str, Touch] = {}
    for t in emails:
        first.setdefault(_thread(t), t)
    for t in first.values():
        if t.in_reply_to and t.in_reply_to not in keys:
            continue  # the thread began before (or outside) what we hold
        assert t.side is not None
        out.append((t.at, t.side))
    for t in touches:
        if t.kind in ("meeting", "call") and t.side is not None and not t.cancelled:
            out.append((t.at, t.side))
    return out


def period_kpis(touches: Sequence[Touch], period: Period, cfg: AnalyticsConfig, *,
                replies: dict[int, Touch] | None = None,
                started: Sequence[tuple[datetime, Side]] | None = None) -> PeriodKpis:
    """KPIs of `period`. `touches` may extend beyond the period (replies and thread starts are
    found across it); pass `replies`/`started` when computing several periods of one set."""
    if replies is None:
        replies = pair_replies(t for t in touches if t.at < period.end)
    if started is None:
        started = initiations(t for t in touches if t.at < period.end)
    k = PeriodKpis()
    answer_hours: dict[Side, list[float]] = {"us": [], "them": []}
    asked: dict[Side, int] = {"us": 0, "them": 0}
    w = cfg.weights
    for t in touches:
        if t.at not in period or t.cancelled:
            continue
        k.touches += 1
        if t.kind == "email":
            k.volume += w.email
            if t.side == "us":
                k.emails_sent += 1
                k.minutes_ours += cfg.minutes_per_email
            elif t.side == "them":
                k.emails_received += 1
                k.minutes_theirs += cfg.minutes_per_email
            if t.side is not None:
                asked[t.side] += 1
                reply = replies.get(t.interaction_id)
                if reply is not None:
                    # who answered: the other side
                    answer_hours["them" if t.side == "us" else "us"].append(
                        (reply.at - t.at).total_seconds() / 3600.0)
            continue
        minutes = t.minutes
        if t.ours:
            k.minutes_ours += minutes
        if t.theirs:
            k.minutes_theirs += minutes
        if t.kind == "meeting":
            k.volume += w.meeting
            k.meetings += 1
            k.meeting_minutes += minutes
            if t.side == "us":
                k.meetings_ours += 1
            elif t.side == "them":
                k.meetings_theirs += 1
        elif t.kind == "call":
            k.volume += w.call
            k.calls += 1
            k.call_minutes += minutes
            if t.side == "us":
                k.calls_made += 1
            elif t.side == "them":
                k.calls_received += 1
    for at, side in started:
        if at in period:
            if side == "us":
                k.initiated_us += 1
            else:
                k.initiated_them += 1
    k.replied_by_us = len(answer_hours["us"])
    k.replied_by_them = len(answer_hours["them"])
    if asked["them"]:
        k.our_reply_rate = k.replied_by_us / asked["them"]
    if asked["us"]:
        k.their_reply_rate = k.replied_by_them / asked["us"]
    if answer_hours["us"]:
        k.our_response_hours = median(answer_hours["us"])
    if answer_hours["them"]:
        k.their_response_hours = median(answer_hours["them"])
    return k


def daily(touches: Iterable[Touch], period: Period) -> list[DayCounts]:
    """One row per UTC day of the period, every day present (zeros included)."""
    first = period.start.date()
    last = (period.end - timedelta(microseconds=1)).date()
    days = [DayCounts(first + timedelta(days=i)) for i in range((last - first).days + 1)]
    index = {d.day: d for d in days}
    for t in touches:
        if t.at not in period or t.cancelled or t.side is None:
            continue
        row = index[t.at.date()]
        ours = t.side == "us"
        if t.kind == "email":
            name = "email_sent" if ours else "email_received"
        elif t.kind == "meeting":
            name = "meeting_sent" if ours else "meeting_received"
        else:
            name = "call_made" if ours else "call_received"
        setattr(row, name, getattr(row, name) + 1)
    return days


def last_touch(touches: Iterable[Touch], before: datetime) -> Touch | None:
    """The latest contact strictly before `before` (cancelled meetings are no contact)."""
    best: Touch | None = None
    for t in touches:
        if t.at < before and not t.cancelled and (best is None or t.at > best.at):
            best = t
    return best


def next_meeting(touches: Iterable[Touch], after: datetime) -> Touch | None:
    best: Touch | None = None
    for t in touches:
        if (t.kind == "meeting" and t.at >= after and not t.cancelled
                and (best is None or t.at < best.at)):
            best = t
    return best


@dataclass
class Window:
    """The current and previous periods ending at `as_of`, `days` long each."""

    as_of: datetime
    days: int
    current: Period = field(init=False)
    previous: Period = field(init=False)

    def __post_init__(self) -> None:
        span = timedelta(days=self.days)
        self.current = Period(self.as_of - span, self.as_of)
        self.previous = Period(self.as_of - 2 * span, self.as_of - span)
