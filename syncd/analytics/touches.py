"""The store edge of the analytics: activities of CRM records as `Touch` rows.

A few statements per question, for one record or for every record of a kind at once (so
that `syncd relationship --list` over thousands of contacts costs a few queries, not
thousands): the activities linked to the records, then one aggregate of their participants
(the sender and its side, how many people of each side attended). Which activities belong to
a record:

- contact, lead, account: the activities linked to it (`activity_links`; capture links an
  activity to the contact's account too);
- opportunity: the activities linked to it, plus those of its primary contact.

"Us" is a person with an internal domain (`persons.is_internal`, set by the policy when the
person was first seen) or a directory user (`users`).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CTE,
    ColumnElement,
    Select,
    and_,
    case,
    distinct,
    false,
    func,
    not_,
    or_,
    select,
    true,
    union,
)
from sqlalchemy.orm import Session

from syncd.analytics.kpis import Side, Touch
from syncd.store import models as m

RECORD_KINDS = ("contact", "lead", "account", "opportunity")
SENDER_ROLES = ("from", "organizer", "caller")
CHUNK = 500  # bound on explicit IN lists (SQLite's variable limit)


def _pairs(kind: str, ids: list[int] | None) -> CTE:
    """(target_id, activity_id) for the records of `kind` (all of them when `ids` is None)."""
    al = m.ActivityLink
    if kind == "opportunity":
        o = m.Opportunity
        direct = select(al.target_id.label("target_id"), al.activity_id.label("activity_id")).where(
            al.target_type == "opportunity")
        via_contact = select(o.id.label("target_id"), al.activity_id.label("activity_id")).join(
            al, and_(al.target_type == "contact", al.target_id == o.contact_id))
        if ids is not None:
            direct = direct.where(al.target_id.in_(ids))
            via_contact = via_contact.where(o.id.in_(ids))
        return union(direct, via_contact).cte("pairs")
    if kind not in RECORD_KINDS:
        raise ValueError(f"unknown record kind {kind!r}")
    q = select(al.target_id.label("target_id"), al.activity_id.label("activity_id")).where(
        al.target_type == kind)
    if ids is not None:
        q = q.where(al.target_id.in_(ids))
    return q.cte("pairs")


def _window(since: datetime | None, until: datetime | None,
            kinds: tuple[str, ...] | None) -> list[ColumnElement[bool]]:
    i = m.Interaction
    cond: list[ColumnElement[bool]] = []
    if since is not None:
        cond.append(i.occurred_at >= since)
    if until is not None:
        cond.append(i.occurred_at < until)
    if kinds is not None:
        cond.append(i.kind.in_(kinds))
    return cond


def _participants(session: Session, interaction_ids: Select[Any] | list[int]
                  ) -> dict[int, tuple[str | None, str, bool, int, int]]:
    """{interaction id: (sender address, sender name, sender is ours, attendees of ours,
    attendees of theirs)}; attendees leave out those who declined."""
    pa, p, u = m.Participant, m.Person, m.User
    internal = or_(p.is_internal == true(), u.id.is_not(None))
    sender = pa.role.in_(SENDER_ROLES)
    attending = or_(pa.response.is_(None), pa.response != "declined")
    q = (
        select(
            pa.interaction_id,
            func.max(case((sender, p.email))),
            func.max(case((sender, p.name))),
            func.max(case((and_(sender, internal), 1), else_=0)),
            func.count(distinct(case((and_(internal, attending), pa.person_id)))),
            func.count(distinct(case((and_(not_(internal), attending), pa.person_id)))),
        )
        .join(p, p.id == pa.person_id)
        .outerjoin(u, u.person_id == p.id)
        .group_by(pa.interaction_id)
    )
    parts: list[Select[Any]] | list[list[int]]
    if isinstance(interaction_ids, list):
        parts = [interaction_ids[i:i + CHUNK] for i in range(0, len(interaction_ids), CHUNK)]
    else:
        parts = [interaction_ids]
    out: dict[int, tuple[str | None, str, bool, int, int]] = {}
    for part in parts:
        for iid, email, name, ours_sent, ours, theirs in session.execute(
                q.where(pa.interaction_id.in_(part))):
            out[iid] = (email, name or "", bool(ours_sent), int(ours or 0), int(theirs or 0))
    return out


def load_touches(session: Session, kind: str, ids: list[int] | None, *,
                 since: datetime | None = None, until: datetime | None = None,
                 kinds: tuple[str, ...] | None = None, newest_first: bool = False,
                 limit: int | None = None, cancelled: bool = True) -> dict[int, list[Touch]]:
    """{record id: its touches with `since <= occurred_at < until`}, in no particular order
    (the KPIs do not need one). With `limit` (one record): the oldest (or newest) first.
    `cancelled=False` leaves cancelled meetings out."""
    i, a = m.Interaction, m.Activity
    pairs = _pairs(kind, ids)
    cond = _window(since, until, kinds)
    if not cancelled:
        cond.append(i.is_cancelled == false())
    q = (
        select(pairs.c.target_id, i.id, i.kind, i.occurred_at, i.ended_at, i.subject,
               i.thread_key, i.natural_key, i.in_reply_to, i.is_cancelled)
        .select_from(pairs)
        .join(a, a.id == pairs.c.activity_id)
        .join(i, i.id == a.interaction_id)
        .where(*cond)
    )
    if limit is not None:
        q = q.order_by(i.occurred_at.desc() if newest_first else i.occurred_at, i.id).limit(limit)
    rows = session.execute(q).all()
    # The participants' aggregate is a second statement, not a join: SQLite scans a joined
    # aggregate subquery once per outer row (quadratic; 8 s for 2,400 contacts).
    if limit is None:
        who = _participants(session, select(a.interaction_id).join(
            pairs, pairs.c.activity_id == a.id).join(i, i.id == a.interaction_id).where(*cond))
    else:
        who = _participants(session, sorted({row[1] for row in rows}))
    out: dict[int, list[Touch]] = defaultdict(list)
    for tid, iid, ikind, at, ended, subject, thread, key, parent, cancelled in rows:
        sender, sender_name, ours_sent, ours, theirs = who.get(iid, (None, "", False, 0, 0))
        side: Side | None = None
        if sender is not None:
            side = "us" if ours_sent else "them"
        out[tid].append(Touch(
            interaction_id=iid, kind=ikind, at=at, side=side, key=key, subject=subject or "",
            ended_at=ended, sender=sender, sender_name=sender_name, thread=thread,
            in_reply_to=parent, ours=ours, theirs=theirs, cancelled=bool(cancelled)))
    return out


def last_contact_before(session: Session, kind: str, ids: list[int] | None,
                        before: datetime) -> dict[int, datetime]:
    """{record id: when its latest non-cancelled activity before `before` happened}."""
    i, a = m.Interaction, m.Activity
    pairs = _pairs(kind, ids)
    q = (select(pairs.c.target_id, func.max(i.occurred_at))
         .select_from(pairs)
         .join(a, a.id == pairs.c.activity_id)
         .join(i, i.id == a.interaction_id)
         .where(i.occurred_at < before, i.is_cancelled == false())
         .group_by(pairs.c.target_id))
    return {tid: at for tid, at in session.execute(q) if at is not None}


def next_meetings(session: Session, kind: str, ids: list[int] | None,
                  after: datetime) -> dict[int, datetime]:
    """{record id: the start of its next non-cancelled meeting at or after `after`}."""
    i, a = m.Interaction, m.Activity
    pairs = _pairs(kind, ids)
    q = (select(pairs.c.target_id, func.min(i.occurred_at))
         .select_from(pairs)
         .join(a, a.id == pairs.c.activity_id)
         .join(i, i.id == a.interaction_id)
         .where(i.occurred_at >= after, i.kind == "meeting", i.is_cancelled == false())
         .group_by(pairs.c.target_id))
    return {tid: at for tid, at in session.execute(q) if at is not None}
