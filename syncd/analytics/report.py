"""One relationship (`syncd relationship TARGET`) and the list (`--list`), as plain data.

Both read the store with a fixed number of statements (see `touches`), then compute in
memory: the current and previous periods, their KPIs and health, and (for one record) the
day-by-day breakdown, last contact and next meeting.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from syncd.analytics.health import Health, health, trend
from syncd.analytics.kpis import (
    DayCounts,
    PeriodKpis,
    Touch,
    Window,
    daily,
    initiations,
    last_touch,
    next_meeting,
    pair_replies,
    period_kpis,
)
from syncd.analytics.targets import Record, records
from syncd.analytics.touches import last_contact_before, load_touches, next_meetings
from syncd.config import AnalyticsConfig
from syncd.queries import QueryError

SORTS = ("health", "last", "trend", "activity", "name")
TREND_ORDER = {"declining": 0, "steady": 1, "improving": 2}


@dataclass
class Assessment:
    """KPIs and health of one record in both periods."""

    record: Record
    window: Window
    current: PeriodKpis
    previous: PeriodKpis
    health: Health
    previous_health: Health
    trend: str
    last_at: datetime | None
    next_at: datetime | None

    def as_json(self) -> dict[str, Any]:
        h = self.health
        return {
            "target": self.record.as_json(),
            "health": {
                "score": h.score, "grade": h.grade, "trend": self.trend,
                "previous_score": self.previous_health.score,
                "components": [{"name": c.name, "value": round(c.value, 3),
                                "weight": c.weight, "detail": c.detail}
                               for c in h.components],
                "raising": [f.as_json() for f in h.raising],
                "lowering": [f.as_json() for f in h.lowering],
            },
            "current": self.current.as_json(),
            "previous": self.previous.as_json(),
            "last_contact_at": self.last_at.isoformat() if self.last_at else None,
            "next_meeting_at": self.next_at.isoformat() if self.next_at else None,
        }


def _days_since(at: datetime | None, now: datetime) -> float | None:
    return None if at is None else max(0.0, (now - at).total_seconds() / 86400.0)


def assess(record: Record, touches: Sequence[Touch], window: Window, cfg: AnalyticsConfig,
           *, last_before: datetime | None, next_at: datetime | None) -> Assessment:
    """`touches`: the record's touches since the previous period's start (future ones
    allowed); `last_before`: its latest contact before that start, if any."""
    past = [t for t in touches if t.at < window.as_of]
    replies = pair_replies(past)
    started = initiations(past)
    cur = period_kpis(past, window.current, cfg, replies=replies, started=started)
    # The previous period as it stood at its end: replies written later do not count.
    before_cur = [t for t in past if t.at < window.current.start]
    prev = period_kpis(before_cur, window.previous, cfg)
    last_prev_touch = last_touch(before_cur, window.current.start)
    last_prev = last_prev_touch.at if last_prev_touch else last_before
    last_cur_touch = last_touch(past, window.as_of)
    last_cur = last_cur_touch.at if last_cur_touch else last_prev
    span = float(window.days)
    h = health(cur, _days_since(last_cur, window.as_of), span, cfg)
    hp = health(prev, _days_since(last_prev, window.current.start), span, cfg)
    return Assessment(record, window, cur, prev, h, hp, trend(h.score, hp.score, cfg),
                      last_cur, next_at)


def _touch_json(t: Touch | None, now: datetime) -> dict[str, Any] | None:
    if t is None:
        return None
    return {"at": t.at.isoformat(), "kind": t.kind, "subject": t.subject,
            "side": t.side, "who": t.sender, "who_name": t.sender_name,
            "days_ago": round((now - t.at).total_seconds() / 86400.0, 1),
            "interaction_id": t.interaction_id}


def _next_json(t: Touch, now: datetime) -> dict[str, Any]:
    out = _touch_json(t, now) or {}
    del out["days_ago"]
    out["in_days"] = round((t.at - now).total_seconds() / 86400.0, 1)
    return out


@dataclass
class Relationship:
    """`syncd relationship TARGET`: the assessment plus what only one record shows."""

    assessment: Assessment
    last: Touch | None
    next: Touch | None
    days: list[DayCounts]

    def as_json(self) -> dict[str, Any]:
        a = self.assessment
        w = a.window
        out = a.as_json()
        out.update({
            "as_of": w.as_of.isoformat(),
            "days": w.days,
            "periods": {"current": {"start": w.current.start.isoformat(),
                                    "end": w.current.end.isoformat()},
                        "previous": {"start": w.previous.start.isoformat(),
                                     "end": w.previous.end.isoformat()}},
            "last_contact": _touch_json(self.last, w.as_of),
            "next_scheduled": None if self.next is None else _next_json(self.next, w.as_of),
            "daily": [d.as_json() for d in self.days],
        })
        return out


def relationship(session: Session, record: Record, cfg: AnalyticsConfig, *, days: int,
                 as_of: datetime) -> Relationship:
    window = Window(as_of, days)
    since = window.previous.start
    touches = load_touches(session, record.kind, [record.id], since=since).get(record.id, [])
    nxt = next_meeting(touches, as_of)  # the window query has no upper bound
    older = load_touches(session, record.kind, [record.id], until=since, newest_first=True,
                         limit=1, cancelled=False).get(record.id, [])
    last_before = older[0] if older else None
    a = assess(record, touches, window, cfg,
               last_before=last_before.at if last_before else None,
               next_at=nxt.at if nxt else None)
    last = last_touch(touches, as_of) or last_before
    return Relationship(a, last, nxt, daily(touches, window.current))


def relationship_list(session: Session, kind: str, cfg: AnalyticsConfig, *, days: int,
                      as_of: datetime, sort: str = "health", everyone: bool = False,
                      limit: int | None = None, descending: bool = False) -> list[Assessment]:
    """Every record of `kind` with its KPIs and health. Records never in contact are left
    out unless `everyone`. Default order: the relationships needing attention first (lowest
    health, then oldest last contact)."""
    if sort not in SORTS:
        raise QueryError(f"unknown sort {sort!r}: use one of {', '.join(SORTS)}")
    window = Window(as_of, days)
    since = window.previous.start
    touches = load_touches(session, kind, None, since=since)
    older = last_contact_before(session, kind, None, since)
    upcoming = next_meetings(session, kind, None, as_of)
    ids = set(touches) | set(older)
    recs = records(session, kind)  # all of them: an IN list of thousands of ids is no faster
    out = [assess(rec, touches.get(rid, []), window, cfg, last_before=older.get(rid),
                  next_at=upcoming.get(rid))
           for rid, rec in recs.items() if everyone or rid in ids]
    far = datetime.min.replace(tzinfo=as_of.tzinfo)
    keys: dict[str, Any] = {
        "health": lambda a: (a.health.score, a.last_at or far, a.record.name.lower()),
        "last": lambda a: (a.last_at or far, a.health.score),
        "trend": lambda a: (TREND_ORDER[a.trend], a.health.score - a.previous_health.score,
                            a.health.score),
        "activity": lambda a: (a.current.volume, a.health.score),
        "name": lambda a: (a.record.name.lower(), a.record.id),
    }
    out.sort(key=keys[sort], reverse=descending)
    return out[:limit] if limit else out


def end_of_day(day: datetime) -> datetime:
    """`--as-of 2026-03-01` means "at the end of that day": periods end at the next midnight."""
    start = day.replace(hour=0, minute=0, second=0, microsecond=0)
    return start + timedelta(days=1)
