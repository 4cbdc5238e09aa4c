"""The tie model: which pairs of persons an interaction relates, with what weight.

Pure functions only: capture calls `pairs_for` for every new interaction and folds the result
into the tie table with `decayed_add`, so the graph is always current and loading it never
replays history.

Weights (first version; the who-knows-whom issue refines them and documents the evaluation):
- email: sender -> each To recipient 1.0, -> each Cc 0.5; a reply (in_reply_to set, which every
  copy shows) counts 1.5x and goes to the `reply` channel; a broadcast (more than 10
  recipients) 1/sqrt(n) of that.
- co-recipients of the same email or meeting: 0.1 each pair, only for <= 10 participants
  (beyond that the pairs are O(n^2) and say little).
- meeting: organizer <-> each attendee, 2.0 / (attendees - 1) scaled so a 1:1 counts 2.0 and a
  40-person meeting about 0.05.

- call: caller <-> callee like a meeting, times a duration factor 0.5 + minutes/20 (capped at
  an hour): a 10-minute 1:1 call counts 2.0, an hour 3.5, a missed or 30-second call 0.5.

Only what every copy of an interaction shows may shape its ties, or the graph would depend on
which mailbox happened to be synced first: so Bcc recipients (only in the sender's copy) and
meeting responses (each calendar holds its own view of them) do not count here.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

CO_RECIPIENT_LIMIT = 10
STRENGTH_SCALE = 5.0  # score at which strength reaches 1 - 1/e


@dataclass(frozen=True, slots=True)
class PairContribution:
    """What one interaction adds to the tie between `source` and `target` (person keys)."""

    source: str
    target: str
    weight: float
    channel: str  # email | reply | meeting | call | co
    directed: bool  # True: an email from source to target


def decayed_add(
    score: float, score_at: datetime, weight: float, at: datetime, half_life_days: float
) -> tuple[float, datetime]:
    """Add `weight` observed at `at` to a score last expressed at `score_at`.

    Returns the new (score, score_at) with score_at = max(score_at, at). The result is
    independent of the order contributions arrive in, which is what lets imports of unsorted
    mail and several mailboxes in parallel agree.
    """
    half_life = half_life_days * 86400.0
    if at >= score_at:
        factor = 0.5 ** ((at - score_at).total_seconds() / half_life)
        return score * factor + weight, at
    factor = 0.5 ** ((score_at - at).total_seconds() / half_life)
    return score + weight * factor, score_at


def decay_to(score: float, score_at: datetime, now: datetime, half_life_days: float) -> float:
    if now <= score_at:
        return score
    factor: float = 0.5 ** ((now - score_at).total_seconds() / (half_life_days * 86400.0))
    return score * factor


def strength(score: float) -> float:
    """Map an unbounded decayed score onto [0, 1): saturating, monotone."""
    return 1.0 - math.exp(-max(score, 0.0) / STRENGTH_SCALE)


def pairs_for(
    kind: str,
    sender: str | None,
    recipients: Iterable[tuple[str, str]],
    *,
    is_reply: bool = False,
    duration_s: float | None = None,
) -> list[PairContribution]:
    """Pairs related by one interaction.

    `recipients` are (key, role) with role to/cc for email (bcc is ignored), attendee for
    meetings, callee for calls; `sender` is the from/organizer/caller key. `duration_s` is a
    call's length (None: unknown, counted as a 10-minute call).
    """
    recips = [(k, r) for k, r in recipients if k != sender and r != "bcc"]
    out: list[PairContribution] = []
    if kind == "email":
        n = len(recips)
        scale = (1.5 if is_reply else 1.0) * (1.0 if n <= 10 else 1.0 / math.sqrt(n))
        role_weight = {"to": 1.0, "cc": 0.5}
        channel = "reply" if is_reply else "email"
        if sender:
            for key, role in recips:
                w = role_weight.get(role, 0.5) * scale
                out.append(PairContribution(sender, key, w, channel, True))
        _co_pairs(out, [k for k, _ in recips])
    else:
        present = [k for k, _ in recips]
        n = len(present) + (1 if sender else 0)
        base = 2.0 if n <= 2 else 2.0 / (n - 1)
        if kind == "call":
            base *= call_duration_factor(duration_s)
        if sender:
            for key in present:
                out.append(PairContribution(sender, key, base, kind, False))
        _co_pairs(out, present)
    return out


def call_duration_factor(duration_s: float | None) -> float:
    if duration_s is None:
        return 1.0
    return 0.5 + min(max(duration_s, 0.0), 3600.0) / 1200.0


def _co_pairs(out: list[PairContribution], keys: list[str]) -> None:
    unique = sorted(set(keys))
    if len(unique) > CO_RECIPIENT_LIMIT:
        return
    for i, a in enumerate(unique):
        for b in unique[i + 1 :]:
            out.append(PairContribution(a, b, 0.1, "co", False))
