"""Rank who knows a target, with evidence, from tie rows: no graph build for direct answers.

The store hands over `TieView`s (one per colleague-target tie, strength already computed by
graph.strength) and `Hop`s (colleague - intermediary - target, for indirect evidence) through
this narrow interface; nothing here knows about SQLAlchemy.

Direct colleagues (an email either way, a meeting or a call with the target) come first,
strongest first. Colleagues whose only link is indirect (they know the target's contacts, or
were co-recipients of the same mail or meeting) follow, marked `direct: false`: when nobody
knows the target, that is the whole answer, and when few do it fills the short list.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class TieView:
    """One tie seen from the colleague's side: `sent` are the colleague's emails to the
    target, `received` the target's to the colleague."""

    colleague: str
    colleague_name: str
    target: str
    sent: int
    received: int
    meetings: int
    calls: int
    co_recipient: int
    first_at: datetime
    last_at: datetime
    strength: float
    replies_sent: int = 0
    replies_received: int = 0
    call_seconds: float = 0.0
    latency_sum: float = 0.0  # the colleague answering the target
    latency_n: int = 0

    @property
    def direct(self) -> bool:
        return bool(self.sent or self.received or self.meetings or self.calls)


@dataclass(frozen=True, slots=True)
class Hop:
    """colleague - via - target: `strength` is the product of the two ties' strengths."""

    colleague: str
    colleague_name: str
    via: str
    strength: float


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


def ago(last: datetime, as_of: datetime) -> str:
    days = max(0, (as_of - last).days)
    if days == 0:
        return "today"
    if days < 60:
        return f"{days} days ago" if days > 1 else "yesterday"
    return f"{days // 30} months ago" if days < 730 else f"{days // 365} years ago"


def duration(seconds: float) -> str:
    if seconds < 3600:
        return f"{max(1, round(seconds / 60))} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.0f} days"


def noisy_or(values: list[float]) -> float:
    """Knowing several people at a place, or having several routes, adds up without ever
    passing 1: 1 - prod(1 - s)."""
    miss = 1.0
    for v in values:
        miss *= 1.0 - min(max(v, 0.0), 1.0)
    return 1.0 - miss


def describe(rows: list[TieView], as_of: datetime) -> tuple[dict[str, object], str]:
    """Evidence of one colleague's direct ties (several rows for a domain target)."""
    sent = sum(r.sent for r in rows)
    received = sum(r.received for r in rows)
    replies = sum(r.replies_sent + r.replies_received for r in rows)
    meetings = sum(r.meetings for r in rows)
    calls = sum(r.calls for r in rows)
    call_seconds = sum(r.call_seconds for r in rows)
    co = sum(r.co_recipient for r in rows)
    lat_n = sum(r.latency_n for r in rows)
    lat = sum(r.latency_sum for r in rows) / lat_n if lat_n else None
    last = max(r.last_at for r in rows)
    first = min(r.first_at for r in rows)
    people = sorted({r.target for r in rows if r.direct})
    parts = []
    if sent and received:
        reply_text = f", {replies} repl{'y' if replies == 1 else 'ies'}" if replies else ""
        parts.append(f"{sent + received} two-way emails ({sent} sent, {received} received"
                     f"{reply_text})")
    elif sent:
        parts.append(f"{_n(sent, 'email')} sent, none received")
    elif received:
        parts.append(f"{_n(received, 'email')} received, none sent")
    if meetings:
        parts.append(_n(meetings, "meeting"))
    if calls:
        parts.append(_n(calls, "call") + (f" ({duration(call_seconds)})" if call_seconds else ""))
    if lat is not None:
        parts.append(f"answers in {duration(lat)} on average")
    if len(people) > 1:
        parts.append(f"knows {len(people)} people there")
    parts.append(f"last contact {ago(last, as_of)}")
    evidence: dict[str, object] = {
        "emails_sent": sent, "emails_received": received, "replies": replies,
        "meetings": meetings, "calls": calls, "call_seconds": round(call_seconds),
        "co_recipient": co, "mean_reply_seconds": round(lat) if lat is not None else None,
        "people": people, "first_contact": first.isoformat(), "last_contact": last.isoformat(),
    }
    return evidence, ", ".join(parts)


def rank(ties: list[TieView], *, as_of: datetime, limit: int | None = None,
         hops: list[Hop] | None = None) -> list[Ranked]:
    """Direct colleagues by strength (noisy-or over a domain's people), then indirect ones.

    Ties are broken by last contact, then address, so output is deterministic.
    """
    per: dict[str, list[TieView]] = {}
    for t in ties:
        per.setdefault(t.colleague, []).append(t)
    direct: list[tuple[Ranked, float]] = []
    shared: dict[str, list[TieView]] = {}
    for colleague, rows in per.items():
        real = [r for r in rows if r.direct]
        if not real:
            shared[colleague] = rows
            continue
        evidence, summary = describe(real, as_of)
        last = max(r.last_at for r in real).timestamp()
        direct.append((Ranked(email=colleague, name=rows[0].colleague_name,
                              strength=noisy_or([r.strength for r in real]), direct=True,
                              evidence=evidence, summary=summary), last))
    direct.sort(key=lambda x: (-x[0].strength, -x[1], x[0].email))
    out = [r for r, _ in direct]
    if limit is not None and len(out) >= limit:
        return out[:limit]
    out.extend(_indirect(shared, hops or [], {r.email for r in out}))
    return out[:limit] if limit else out


def _indirect(shared: dict[str, list[TieView]], hops: list[Hop],
              skip: set[str]) -> list[Ranked]:
    via: dict[str, dict[str, float]] = {}
    names: dict[str, str] = {}
    for h in hops:
        if h.colleague in skip:
            continue
        names.setdefault(h.colleague, h.colleague_name)
        best = via.setdefault(h.colleague, {})
        best[h.via] = max(best.get(h.via, 0.0), h.strength)
    for colleague, rows in shared.items():
        names.setdefault(colleague, rows[0].colleague_name)
        via.setdefault(colleague, {})
    out: list[Ranked] = []
    for colleague, routes in via.items():
        co_rows = shared.get(colleague, [])
        co = sum(r.co_recipient for r in co_rows)
        values = list(routes.values()) + [r.strength for r in co_rows]
        top = sorted(routes, key=lambda k: (-routes[k], k))
        parts = []
        if top:
            shown = ", ".join(top[:3]) + (f" and {len(top) - 3} more" if len(top) > 3 else "")
            parts.append(f"indirect: knows {len(top)} of their contacts ({shown})")
        if co:
            parts.append(f"shares {_n(co, 'thread')} or meeting{'s' if co > 1 else ''} with them")
        out.append(Ranked(
            email=colleague, name=names[colleague], strength=noisy_or(values), direct=False,
            evidence={"via": [{"email": k, "strength": round(routes[k], 4)} for k in top[:10]],
                      "co_recipient": co},
            summary="; ".join(parts)))
    out.sort(key=lambda r: (-r.strength, r.email))
    return out
