"""Store one pixel load or click and emit its event, in one transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from syncd.config import TrackingConfig
from syncd.store.models_workflow import TrackedMessage, TrackingHit
from syncd.tracking.classify import Rules, Verdict, classify
from syncd.tracking.tokens import Claim
from syncd.workflows import outbox


def rules_from(conf: TrackingConfig) -> Rules:
    return Rules(conf.machine_within_seconds, conf.burst_count, conf.burst_window_seconds,
                 conf.machine_user_agents)


def record_hit(session: Session, claim: Claim, user_agent: str, client_class: str,
               at: datetime, rules: Rules) -> tuple[TrackingHit, Verdict] | None:
    """Returns the stored hit and its verdict; None when the message is unknown (a genuine
    token for a message since erased)."""
    message = session.get(TrackedMessage, claim.message_id,
                          with_for_update=session.get_bind().dialect.name == "postgresql")
    if message is None:
        return None
    kind = claim.kind
    earlier = list(session.scalars(
        select(TrackingHit.at).where(TrackingHit.message_id == message.id,
                                     TrackingHit.kind == kind)
        .order_by(TrackingHit.at.desc()).limit(100)))
    verdict = classify(user_agent, client_class, at, message.sent_at, earlier, rules)
    first_human = not verdict.machine and session.scalar(
        select(TrackingHit.id).where(TrackingHit.message_id == message.id,
                                     TrackingHit.kind == kind,
                                     TrackingHit.machine.is_(False)).limit(1)) is None
    hit = TrackingHit(message_id=message.id, kind=kind, url=claim.url, at=at,
                      user_agent=user_agent[:500], ip_class=client_class,
                      machine=verdict.machine, reason=verdict.reason[:300])
    session.add(hit)
    session.flush()
    payload: dict[str, Any] = {
        "message_id": message.id, "hit_id": hit.id, "mailbox": message.mailbox,
        "recipient": message.recipient, "subject": message.subject,
        "lead_id": message.lead_id, "contact_id": message.contact_id,
        "human": not verdict.machine, "machine_reason": None if not verdict.machine
        else verdict.reason, "ip_class": client_class, "user_agent": user_agent[:500],
    }
    if kind == "open":
        payload.update(first_human_open=first_human, opened_at=at.isoformat())
        outbox.emit(session, "email.opened", payload, at)
    else:
        payload.update(url=claim.url, first_human_click=first_human, clicked_at=at.isoformat())
        outbox.emit(session, "link.clicked", payload, at)
    return hit, verdict
