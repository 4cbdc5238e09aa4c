"""Rank who knows a target from tie rows, without building a graph.

The store hands over `TieView`s (one per colleague-target pair) through this narrow interface;
nothing here knows about SQLAlchemy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from graph.ties import decay_to, strength


@dataclass(frozen=True, slots=True)
class TieView:
    colleague: str
    colleague_name: str
    target: str
    sent: int  # emails from the colleague to the target
    received: int  # emails from the target to the colleague
    meetings: int
    calls: int
    co_recipient: int
    first_at: datetime
    last_at: datetime
    score: float
    score_at: datetime


@dataclass
class Ranked:
    email: str
    name: str
    strength: float
    direct: bool
    evidence: dict[str, object] = field(default_factory=dict)
    summary: str = ""

    def as_json(self) -> dict[str, object]:
        return {"email": self.email, "name": self.name, "strength": round(self.strength, 4),
                "direct": self.direct, "evidence": self.evidence, "summary": self.summary}


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _ago(last: datetime, as_of: datetime) -> str:
    days = max(0, (as_of - last).days)
    if days == 0:
        return "today"
    if days < 60:
        return f"{days} days ago"
    return f"{days // 30} months ago" if days < 730 else f"{days // 365} years ago"


def rank(ties: list[TieView], *, as_of: datetime, half_life_days: float,
         limit: int | None = None) -> list[Ranked]:
    """Aggregate per colleague (a domain target has several persons), strongest first.

    Strength is the saturating map of the summed decayed scores as of `as_of`; ties broken by
    last contact, then address, so output is deterministic.
    """
    per: dict[str, list[TieView]] = {}
    for t in ties:
        per.setdefault(t.colleague, []).append(t)
    out: list[Ranked] = []
    for colleague, rows in per.items():
        score = sum(decay_to(r.score, r.score_at, as_of, half_life_days) for r in rows)
        sent = sum(r.sent for r in rows)
        received = sum(r.received for r in rows)
        meetings = sum(r.meetings for r in rows)
        calls = sum(r.calls for r in rows)
        co = sum(r.co_recipient for r in rows)
        last = max(r.last_at for r in rows)
        first = min(r.first_at for r in rows)
        direct = bool(sent or received or meetings or calls)
        parts = []
        if sent or received:
            parts.append(f"{_n(sent, 'email')} sent, {received} received")
        if meetings:
            parts.append(_n(meetings, "meeting"))
        if calls:
            parts.append(_n(calls, "call"))
        if co and not direct:
            parts.append(f"{_n(co, 'shared thread')} or meeting")
        people = sorted({r.target for r in rows})
        if len(people) > 1:
            parts.append(f"knows {len(people)} people there")
        parts.append(f"last contact {_ago(last, as_of)}")
        out.append(Ranked(
            email=colleague,
            name=rows[0].colleague_name,
            strength=strength(score),
            direct=direct,
            evidence={"emails_sent": sent, "emails_received": received, "meetings": meetings,
                      "calls": calls, "co_recipient": co, "people": people,
                      "first_contact": first.isoformat(), "last_contact": last.isoformat()},
            summary=", ".join(parts),
        ))
    out.sort(key=lambda r: (-r.direct, -r.strength, -_ts(r), r.email))
    return out[:limit] if limit else out


def _ts(r: Ranked) -> float:
    last = r.evidence.get("last_contact")
    return datetime.fromisoformat(last).timestamp() if isinstance(last, str) else 0.0
