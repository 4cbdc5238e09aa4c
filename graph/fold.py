"""Folding a page of interactions into per-pair tie rows, before one upsert.

Pure code: capture hands over person ids and facts, gets back tuples in the column order of
`syncd.store.ties.COLUMNS`, and merges them in SQL. Everything here is additive or a decayed
sum anchored at the pair's latest contribution, so the rows of any split of the interactions
into pages merge to the same tie (see graph.ties.decayed_add).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from graph.ties import pairs_for

# Slots of a pair's accumulator (a plain list: this runs for every pair of every new item).
A_TO_B, B_TO_A, MEETINGS, CALLS, CO, REPLIES_AB, REPLIES_BA, CALL_SECONDS = range(8)
LAT_AB_SUM, LAT_AB_N, LAT_BA_SUM, LAT_BA_N, FIRST, LAST, CONTRIBS = range(8, 15)
N_COUNTS = 12
# Decayed channels, in syncd.store.ties.DECAYED_COLUMNS order after `score`.
EMAIL_AB, EMAIL_BA, REPLY_AB, REPLY_BA, MEETING, CALL, COW = range(7)
N_CHANNELS = 7
_UNDIRECTED = {"meeting": MEETING, "call": CALL, "co": COW}
_COUNT_SLOT = {"meeting": MEETINGS, "call": CALLS, "co": CO}


class TieAccumulator:
    """Per-pair sums for one page. Pairs are (low id, high id)."""

    def __init__(self) -> None:
        self.pairs: dict[tuple[int, int], list[Any]] = {}

    def _slot(self, lo: int, hi: int, at: datetime) -> list[Any]:
        t = self.pairs.get((lo, hi))
        if t is None:
            t = self.pairs[(lo, hi)] = [0, 0, 0, 0, 0, 0, 0, 0.0, 0.0, 0, 0.0, 0, at, at, []]
        elif at < t[FIRST]:
            t[FIRST] = at
        elif at > t[LAST]:
            t[LAST] = at
        return t

    def add(self, kind: str, sender: str | None, recipients: list[tuple[str, str]],
            ids: dict[str, int], at: datetime, *, is_reply: bool = False,
            duration_s: float | None = None, excluded: frozenset[str] = frozenset()) -> None:
        """One new interaction: `recipients` are (address, role); `ids` maps addresses to
        person ids; addresses in `excluded` (opted out of the graph) form no tie."""
        ts = at.timestamp()
        if excluded:
            if sender in excluded:
                sender = None
            recipients = [(k, r) for k, r in recipients if k not in excluded]
        for c in pairs_for(kind, sender, recipients, is_reply=is_reply, duration_s=duration_s):
            a, b = ids[c.source], ids[c.target]
            if a == b:
                continue
            forward = a < b
            t = self._slot(a, b, at) if forward else self._slot(b, a, at)
            channel = c.channel
            if c.directed:
                reply = channel == "reply"
                if forward:
                    t[A_TO_B] += 1
                    if reply:
                        t[REPLIES_AB] += 1
                    t[CONTRIBS].append((REPLY_AB if reply else EMAIL_AB, c.weight, ts, at))
                else:
                    t[B_TO_A] += 1
                    if reply:
                        t[REPLIES_BA] += 1
                    t[CONTRIBS].append((REPLY_BA if reply else EMAIL_BA, c.weight, ts, at))
            else:
                t[_COUNT_SLOT[channel]] += 1
                if channel == "call" and duration_s:
                    t[CALL_SECONDS] += duration_s
                t[CONTRIBS].append((_UNDIRECTED[channel], c.weight, ts, at))

    def add_latency(self, responder: int, asker: int, seconds: float, at: datetime) -> None:
        """`responder` answered `asker`'s message after `seconds`; `at` is the reply's time
        (a time the pair already has, so first/last contact do not move)."""
        if responder == asker:
            return
        if responder < asker:
            t = self._slot(responder, asker, at)
            t[LAT_AB_SUM] += seconds
            t[LAT_AB_N] += 1
        else:
            t = self._slot(asker, responder, at)
            t[LAT_BA_SUM] += seconds
            t[LAT_BA_N] += 1

    def rows(self, half_life_days: float) -> list[tuple[Any, ...]]:
        """Tuples in syncd.store.ties.COLUMNS order, each pair's decayed sums anchored at the
        latest contribution (or, for a latency-only pair, at its reply's time with zero
        weights, which leaves the stored sums unchanged)."""
        half_life = half_life_days * 86400.0
        out: list[tuple[Any, ...]] = []
        # Sorted: concurrent upserts (PostgreSQL workers) then lock rows in one order and
        # cannot deadlock on each other.
        for (lo, hi), t in sorted(self.pairs.items(), key=lambda kv: kv[0]):
            channels = [0.0] * N_CHANNELS
            contribs: list[tuple[int, float, float, datetime]] = t[CONTRIBS]
            # Anchor at the latest *weighted* contribution: a latency may have stretched
            # LAST to a reply whose weight an earlier page already stored.
            if len(contribs) == 1:
                channels[contribs[0][0]] = contribs[0][1]
                at = contribs[0][3]
            elif contribs:
                latest = max(contribs, key=lambda c: c[2])
                top = latest[2]
                for slot, w, ts, _ in contribs:
                    channels[slot] += w * 0.5 ** ((top - ts) / half_life)
                at = latest[3]
            else:
                at = t[FIRST]
            out.append((lo, hi, *t[:N_COUNTS], t[FIRST], t[LAST], sum(channels), *channels, at))
        return out


def reply_latency(responder: int, recipients: Collection[int], reply_at: datetime,
                  asker: int | None, asked_at: datetime) -> float | None:
    """Seconds `responder` took to answer `asker`, or None when it does not count: no known
    asker, a reply to oneself, an asker not among the reply's To/Cc (the pair would have no
    tie from this reply), or a reply dated before its parent (clock skew)."""
    if asker is None or asker == responder or asker not in recipients:
        return None
    seconds = (reply_at - asked_at).total_seconds()
    return seconds if seconds >= 0 else None
