"""Merge two contacts, leads or accounts: the survivor keeps everything the other had.

What moves onto the survivor: every activity link (an activity linked to both keeps one link),
opportunities, and for accounts their domains and contacts. Empty fields of the survivor are
filled from the merged record; nothing the survivor has is overwritten.

The merged record is not deleted: it becomes a tombstone (`merged_into_id`, lead status
"merged") that keeps its person, because persons carry the who-knows-whom ties and the address
mapping. Capture resolves a tombstone to its survivor, so mail from either address lands on the
survivor, and `person_ids` below returns both addresses' persons for tie queries. A merge is
recorded in `merges` with a snapshot of the merged record.

Merging A into B again is a no-op; a record already merged elsewhere, a tombstone as survivor,
different kinds or the same record twice are refused with a clear error.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from syncd.lifecycle import LifecycleError
from syncd.lifecycle.records import KINDS, activity_ids, emit, move_links
from syncd.store import models as m
from syncd.store.models_lifecycle import MergeRecord

_FILL = {
    "contact": ("name", "title", "phone", "account_id"),
    "lead": ("name", "company", "title", "phone", "owner_user_id"),
    "account": ("industry", "city"),
}


@dataclass
class MergeResult:
    kind: str
    survivor_id: int
    merged_id: int
    activities: int
    moved: dict[str, int]
    filled: list[str]
    already_merged: bool = False

    def as_json(self) -> dict[str, object]:
        return {"kind": self.kind, "survivor_id": self.survivor_id, "merged_id": self.merged_id,
                "activities": self.activities, "moved": self.moved, "filled": self.filled,
                "already_merged": self.already_merged}


def _snapshot(record: Any) -> dict[str, object]:
    out: dict[str, object] = {}
    for col in record.__table__.columns:
        value = getattr(record, col.key)
        if isinstance(value, datetime | date):
            value = value.isoformat()
        elif isinstance(value, Decimal):
            value = str(value)
        out[col.key] = value
    return out


def merge(session: Session, kind: str, survivor_id: int, merged_id: int,
          note: str = "") -> MergeResult:
    """Merge record `merged_id` into `survivor_id` (both of `kind`: contact, lead, account).
    Raises LifecycleError for impossible merges (see the module docstring)."""
    if kind not in KINDS:
        raise LifecycleError(f"cannot merge {kind!r}: only {', '.join(KINDS)}")
    if survivor_id == merged_id:
        raise LifecycleError(f"{kind} #{survivor_id} cannot be merged into itself")
    model: Any = KINDS[kind]
    survivor: Any = session.get(model, survivor_id)
    merged: Any = session.get(model, merged_id)
    for rid, rec in ((survivor_id, survivor), (merged_id, merged)):
        if rec is None:
            raise LifecycleError(f"no {kind} #{rid}")
    if merged.merged_into_id == survivor_id:
        return MergeResult(kind, survivor_id, merged_id,
                           len(activity_ids(session, kind, survivor_id)), {}, [], True)
    if merged.merged_into_id is not None:
        raise LifecycleError(f"{kind} #{merged_id} was already merged into "
                             f"#{merged.merged_into_id}")
    if survivor.merged_into_id is not None:
        raise LifecycleError(f"{kind} #{survivor_id} was merged into #{survivor.merged_into_id};"
                             f" merge into #{survivor.merged_into_id} instead")
    if kind == "contact" and survivor.person_id == merged.person_id:
        raise LifecycleError("both contacts are the same person")  # unique index forbids it
    now = datetime.now(UTC)
    snapshot = _snapshot(merged)
    filled = []
    for attr in _FILL[kind]:
        if not getattr(survivor, attr) and getattr(merged, attr):
            setattr(survivor, attr, getattr(merged, attr))
            filled.append(attr)
    if kind == "lead" and merged.fields:
        survivor.fields = {**merged.fields, **(survivor.fields or {})}
    expected = activity_ids(session, kind, survivor_id) | activity_ids(session, kind, merged_id)
    moved: dict[str, int] = {"activities": move_links(session, (kind, merged_id),
                                                      [(kind, survivor_id)])}
    opp_col = {"contact": m.Opportunity.contact_id, "lead": m.Opportunity.lead_id,
               "account": m.Opportunity.account_id}[kind]
    moved["opportunities"] = _rows(session.execute(
        update(m.Opportunity).where(opp_col == merged_id).values({opp_col: survivor_id})))
    if kind == "account":
        moved["contacts"] = _rows(session.execute(update(m.Contact).where(
            m.Contact.account_id == merged_id).values(account_id=survivor_id)))
        moved["domains"] = _rows(session.execute(update(m.AccountDomain).where(
            m.AccountDomain.account_id == merged_id).values(account_id=survivor_id)))
    # Earlier tombstones of the merged record now point at the survivor (one hop, always).
    session.execute(update(model).where(model.merged_into_id == merged_id)
                    .values(merged_into_id=survivor_id))
    merged.merged_into_id = survivor_id
    if kind == "lead":
        merged.status, merged.status_changed_at = "merged", now
    if kind == "contact":
        merged.account_id = survivor.account_id
    session.add(MergeRecord(kind=kind, survivor_id=survivor_id, merged_id=merged_id,
                            snapshot=snapshot, moved=moved, note=note, merged_at=now))
    emit(session, f"{kind}.merged", {"survivor_id": survivor_id, "merged_id": merged_id,
                                     "moved": moved}, now)
    session.flush()
    have = activity_ids(session, kind, survivor_id)
    if have != expected:  # cannot happen unless a link was lost: refuse rather than commit
        raise LifecycleError(f"merge would lose {len(expected - have)} activities; nothing done")
    return MergeResult(kind, survivor_id, merged_id, len(have), moved, filled)


def _rows(result: object) -> int:
    return result.rowcount if isinstance(result, CursorResult) else 0


def person_ids(session: Session, contact_id: int) -> list[int]:
    """Persons (addresses) of a contact: its own and those of contacts merged into it."""
    return list(session.scalars(select(m.Contact.person_id).where(
        (m.Contact.id == contact_id) | (m.Contact.merged_into_id == contact_id))
        .order_by(m.Contact.id)))
