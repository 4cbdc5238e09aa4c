"""Small shared helpers over CRM records: lookups that follow merges, links, events."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session

from connectors.normalize import normalize_address
from syncd.lifecycle import LifecycleError
from syncd.store import models as m

KINDS = {"contact": m.Contact, "lead": m.Lead, "account": m.Account}


def emit(session: Session, type_: str, payload: dict[str, Any], now: datetime) -> None:
    """Append an outbox event in the caller's transaction (never committed alone)."""
    session.add(m.Event(type=type_, payload=payload, created_at=now))


def lock_id(key: str) -> int:
    """The signed 64-bit PostgreSQL advisory-lock id of a lifecycle key (stable across
    processes and versions: a hash of the text, not Python's salted hash())."""
    digest = hashlib.blake2b(f"syncd.lifecycle:{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def lock_keys(session: Session, keys: Iterable[str]) -> None:
    """Take a transaction-scoped advisory lock on each key (PostgreSQL; released at commit or
    rollback). Locks are taken in ascending id order, one global order for every caller, so
    two transactions locking overlapping sets queue instead of deadlocking (each transaction
    takes all its keys in this one call, as qualify_lead does, and once). A hash collision
    only makes two unrelated transactions wait for each other. SQLite needs nothing: every
    transaction begins IMMEDIATE, holding the database's one write lock (syncd.store.db)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    for lid in sorted({lock_id(k) for k in keys if k}):
        session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": lid})


def wait_for_keys(session: Session, keys: Iterable[str]) -> None:
    """Wait until no transaction holds these keys' `lock_keys` locks, without keeping them
    (PostgreSQL; SQLite needs nothing, see lock_keys).

    For callers that only need to see what a running qualification creates, and that may run
    thousands of times in one transaction (a CSV import through upsert_lead): transaction
    locks would stay in PostgreSQL's shared lock table until the commit, ~4 per row, and an
    import of 12,000 leads failed with "out of shared memory". Each key is taken and released
    in one statement (the subquery runs first), so no session-level lock can outlive it on a
    pooled connection, and waiting holds nothing another transaction could wait for."""
    if session.get_bind().dialect.name != "postgresql":
        return
    for lid in sorted({lock_id(k) for k in keys if k}):
        session.execute(text("SELECT pg_advisory_unlock(:id) "
                             "FROM (SELECT pg_advisory_lock(:id)) AS taken"), {"id": lid})


def get_lead(session: Session, lead_id: int, lock: bool = False) -> m.Lead:
    """The lead, locked for the transaction when `lock` (PostgreSQL: FOR UPDATE, so that two
    simultaneous qualifications run one after the other; SQLite serialises writers anyway)."""
    pg = lock and session.get_bind().dialect.name == "postgresql"
    lead = session.get(m.Lead, lead_id, with_for_update=pg, populate_existing=pg)
    if lead is None:
        raise LifecycleError(f"no lead #{lead_id} (see `syncd leads list`)")
    return lead


def lead_id_of(session: Session, ref: str) -> int:
    """A lead id from what a user typed: the id, or an address (its open lead, else its newest).
    Raises LifecycleError when nothing matches."""
    ref = ref.strip().removeprefix("lead:").removeprefix("#")
    if ref.isdigit():
        return int(ref)
    key = normalize_address(ref)
    lead_id = session.scalar(
        select(m.Lead.id).join(m.Person, m.Person.id == m.Lead.person_id)
        .where(m.Person.email == key, m.Lead.merged_into_id.is_(None))
        .order_by((m.Lead.status == "open").desc(), m.Lead.id.desc()).limit(1)) if key else None
    if lead_id is None:
        raise LifecycleError(f"no lead {ref!r}: give a lead id or the lead's address")
    return lead_id


def get_opportunity(session: Session, opp_id: int) -> m.Opportunity:
    opp = session.get(m.Opportunity, opp_id)
    if opp is None:
        raise LifecycleError(f"no opportunity #{opp_id} (see `syncd opportunity list`)")
    return opp


def email_of(session: Session, person_id: int) -> str:
    return session.get_one(m.Person, person_id).email


def move_links(session: Session, src: tuple[str, int], dests: list[tuple[str, int]]) -> int:
    """Re-point every activity linked to `src` onto each of `dests` (adding only the links that
    are missing) and drop the links to `src`. Returns how many activities were moved."""
    activity_ids = list(session.scalars(select(m.ActivityLink.activity_id).where(
        m.ActivityLink.target_type == src[0], m.ActivityLink.target_id == src[1])))
    if not activity_ids:
        return 0
    for target_type, target_id in dests:
        have = set(session.scalars(select(m.ActivityLink.activity_id).where(
            m.ActivityLink.target_type == target_type, m.ActivityLink.target_id == target_id,
            m.ActivityLink.activity_id.in_(activity_ids))))
        session.add_all(m.ActivityLink(activity_id=aid, target_type=target_type,
                                       target_id=target_id)
                        for aid in activity_ids if aid not in have)
    session.flush()
    session.execute(delete(m.ActivityLink).where(
        m.ActivityLink.target_type == src[0], m.ActivityLink.target_id == src[1]))
    return len(activity_ids)


def activity_ids(session: Session, target_type: str, target_id: int) -> set[int]:
    return set(session.scalars(select(m.ActivityLink.activity_id).where(
        m.ActivityLink.target_type == target_type, m.ActivityLink.target_id == target_id)))
