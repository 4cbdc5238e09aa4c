"""Folding a page's tie evidence into the tie table, in the database, in one statement.

Each row handed in is the page's own aggregate for one pair (counts, first/last contact, and a
decayed score anchored at `score_at`). Two decayed sums merge exactly:

    at     = max(at_old, at_new)
    score  = old * 0.5^((at - at_old) / half_life) + new * 0.5^((at - at_new) / half_life)

so the upsert does it in SQL (`ON CONFLICT DO UPDATE`) instead of reading every pair back into
Python first. Besides being faster (reading the pairs back cost more than writing them), the
merge is atomic per row, so two workers folding into the same tie on PostgreSQL cannot lose an
update. Raw SQL for the same reason as `syncd.store.bulk`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy.orm import Session

from graph.fold import TieAccumulator, reply_latency
from syncd.store.bulk import datetime_converter, select_in

# Additive columns: the merge adds them.
COUNT_COLUMNS = ("a_to_b", "b_to_a", "meetings", "calls", "co_recipient", "replies_ab",
                 "replies_ba", "call_seconds", "latency_ab_sum", "latency_ab_n",
                 "latency_ba_sum", "latency_ba_n")
# Decayed sums expressed at score_at: the merge re-expresses both sides at the later instant.
DECAYED_COLUMNS = ("score", "email_ab", "email_ba", "reply_ab", "reply_ba", "meeting_w",
                   "call_w", "co_w")
COLUMNS = ("person_a", "person_b", *COUNT_COLUMNS, "first_at", "last_at", *DECAYED_COLUMNS,
           "score_at")
FIRST_AT = COLUMNS.index("first_at")
LAST_AT = COLUMNS.index("last_at")
SCORE_AT = COLUMNS.index("score_at")


@lru_cache(maxsize=16)
def _merge_sql(dialect: str, half_life_days: float) -> str:
    if dialect == "sqlite":
        mark, least, greatest = "?", "min", "max"
        days = "(julianday({a}) - julianday({b}))"
    else:
        mark, least, greatest = "%s", "LEAST", "GREATEST"
        days = "(EXTRACT(EPOCH FROM ({a} - {b})) / 86400.0)"
    at = f"{greatest}(ties.score_at, excluded.score_at)"
    decay_old = f"power(0.5, {days.format(a=at, b='ties.score_at')} / {half_life_days!r})"
    decay_new = f"power(0.5, {days.format(a=at, b='excluded.score_at')} / {half_life_days!r})"
    sets = [f"{c} = ties.{c} + excluded.{c}" for c in COUNT_COLUMNS]
    sets += [
        f"first_at = {least}(ties.first_at, excluded.first_at)",
        f"last_at = {greatest}(ties.last_at, excluded.last_at)",
        *(f"{c} = ties.{c} * {decay_old} + excluded.{c} * {decay_new}" for c in DECAYED_COLUMNS),
        f"score_at = {at}",
    ]
    return (f"INSERT INTO ties ({', '.join(COLUMNS)}) "
            f"VALUES ({', '.join([mark] * len(COLUMNS))}) "
            f"ON CONFLICT (person_a, person_b) DO UPDATE SET {', '.join(sets)}")


def merge_ties(session: Session, rows: Sequence[tuple[Any, ...]], half_life_days: float) -> None:
    """Add each row's evidence (a tuple in COLUMNS order, as graph.fold.TieAccumulator.rows
    makes them; score_at is the latest contribution's time) to its pair, creating the pair
    when new."""
    if not rows:
        return
    conn = session.connection()
    dialect = conn.dialect.name
    convert = datetime_converter(dialect)
    # In pair order: concurrent transactions (mailbox threads on PostgreSQL) then lock the
    # same tie rows in the same order instead of deadlocking (found by issue 4's tests).
    params = [(*r[:FIRST_AT], convert(r[FIRST_AT]), convert(r[LAST_AT]), *r[LAST_AT + 1:SCORE_AT],
               convert(r[SCORE_AT])) for r in sorted(rows, key=lambda r: (r[0], r[1]))]
    conn.exec_driver_sql(_merge_sql(dialect, float(half_life_days)), params)



@dataclass(frozen=True, slots=True)
class NewEmail:
    """What capture knows of a new email for reply matching (person ids)."""

    key: str
    in_reply_to: str | None
    sender: int
    recipients: frozenset[int]
    at: datetime


def add_reply_latencies(session: Session, acc: TieAccumulator, new: dict[str, NewEmail],
                        excluded: frozenset[int], *, stored_replies: bool = True) -> None:
    """Add to `acc` the response latency of every (message, reply) pair of which one end is
    in `new` (this page's new emails, already inserted) and the other is new or stored.

    Each pair is counted exactly once, when its later-captured end arrives, whatever the
    arrival order: a new reply looks its parent up (in the page, else in the store); a new
    message looks up its replies stored by earlier pages (replies in this page found it
    already). `excluded` persons (robots, opted out) give no latency, as they give no tie.
    """
    parents: dict[str, tuple[int, datetime]] = {}
    wanted = sorted({e.in_reply_to for e in new.values()
                     if e.in_reply_to and e.in_reply_to not in new})
    for key, at, sender in select_in(
            session, "SELECT i.natural_key, i.occurred_at, pa.person_id FROM interactions i "
            "JOIN participants pa ON pa.interaction_id = i.id AND pa.role = 'from' "
            "WHERE i.natural_key IN ({in})", wanted):
        parents[key] = (sender, as_utc(at))
    for e in new.values():
        if not e.in_reply_to or e.sender in excluded:
            continue
        parent = new.get(e.in_reply_to)
        asker, asked_at = ((parent.sender, parent.at) if parent is not None
                           else parents.get(e.in_reply_to, (None, e.at)))
        seconds = reply_latency(e.sender, e.recipients, e.at, asker, asked_at)
        if seconds is not None and asker is not None:
            acc.add_latency(e.sender, asker, seconds, e.at)

    if not stored_replies:
        return
    children: dict[int, tuple[str, datetime, int]] = {}
    for iid, key, parent_key, at, sender in select_in(
            session, "SELECT i.id, i.natural_key, i.in_reply_to, i.occurred_at, pa.person_id "
            "FROM interactions i JOIN participants pa ON pa.interaction_id = i.id "
            "AND pa.role = 'from' JOIN persons p ON p.id = pa.person_id "
            "WHERE i.is_automated = {p} AND p.is_automated = {p} AND i.in_reply_to IN ({in})",
            sorted(new), params=(False, False)):
        if key not in new and sender not in excluded:
            children[iid] = (parent_key, as_utc(at), sender)
    if not children:
        return
    recipients: dict[int, set[int]] = {iid: set() for iid in children}
    for iid, pid in select_in(
            session, "SELECT interaction_id, person_id FROM participants "
            "WHERE role IN ('to', 'cc') AND interaction_id IN ({in})", sorted(children)):
        recipients[iid].add(pid)
    for iid, (parent_key, at, sender) in children.items():
        parent = new[parent_key]
        seconds = reply_latency(sender, recipients[iid], at, parent.sender, parent.at)
        if seconds is not None:
            acc.add_latency(sender, parent.sender, seconds, at)


def as_utc(value: Any) -> datetime:
    """Driver values of a UTCDateTime column read with raw SQL (SQLite gives text)."""
    at: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
