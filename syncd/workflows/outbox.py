"""The outbox: events are appended in the transaction that produced them, and turned into
workflow runs in the transaction that marks them processed, so an event is matched exactly once
whatever crashes. PostgreSQL workers claim events with FOR UPDATE SKIP LOCKED; SQLite has one
writer at a time anyway (BEGIN IMMEDIATE), so one worker.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from syncd.store import models as m
from syncd.store.models_workflow import TrackedMessage, WorkflowRun
from syncd.workflows import conditions, context
from syncd.workflows.definitions import Workflow


def emit(session: Session, type_: str, payload: dict[str, Any],
         now: datetime | None = None) -> None:
    """Append one event; it commits (or not) with the caller's transaction."""
    session.add(m.Event(type=type_, payload=payload, created_at=now or datetime.now(UTC)))


def insert_ignore(session: Session, table: Table, row: dict[str, Any],
                  conflict: list[str]) -> bool:
    """INSERT ... ON CONFLICT DO NOTHING; True when the row was inserted."""
    dialect = session.get_bind().dialect.name
    make = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = make(table).values(**row).on_conflict_do_nothing(index_elements=conflict)
    result = session.execute(stmt)
    return bool(getattr(result, "rowcount", 0))


def dedupe_key(workflow: Workflow, event_id: int, ctx: dict[str, Any]) -> str | None:
    """``event:<id>``, or ``<once_per>:<value>``; None when once_per names a missing value
    (the workflow then does not run: it cannot tell whether it already ran)."""
    if workflow.once_per is None:
        return f"event:{event_id}"
    value = conditions.lookup(ctx, workflow.once_per)
    if value is None or isinstance(value, (dict, list)) or value == "" or not isinstance(
            value, (str, int, float, bool)):
        return None
    return f"{workflow.once_per}:{value}"


def dispatch(session: Session, workflows: list[Workflow], limit: int,
             now: datetime) -> tuple[int, int]:
    """Claim up to ``limit`` unprocessed events, create the runs they start, mark them
    processed. Returns (events processed, runs created)."""
    stmt = select(m.Event).where(m.Event.processed_at.is_(None)).order_by(m.Event.id).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    events = list(session.scalars(stmt))
    by_type: dict[str, list[Workflow]] = defaultdict(list)
    for wf in workflows:
        if wf.enabled:
            by_type[wf.on].append(wf)
    created = 0
    table = WorkflowRun.__table__
    assert isinstance(table, Table)
    for event in events:
        matching = by_type.get(event.type, [])
        if matching:
            ctx = context.build(session, event.id, event.type, event.created_at.isoformat(),
                                dict(event.payload or {}))
            for wf in matching:
                if not conditions.evaluate(wf.when, ctx):
                    continue
                key = dedupe_key(wf, event.id, ctx)
                if key is None:
                    continue
                created += insert_ignore(session, table, {
                    "workflow": wf.name, "dedupe_key": key, "event_id": event.id,
                    "event_type": event.type,
                    "definition": [s.as_json() for s in wf.steps], "context": ctx,
                    "status": "pending", "next_step": 0, "due_at": now,
                    "created_at": now, "updated_at": now,
                }, ["workflow", "dedupe_key"])
        if event.type == "activity.captured":
            _reply_received(session, event, now)
        event.processed_at = now
    session.flush()
    return len(events), created


def _reply_received(session: Session, event: m.Event, now: datetime) -> None:
    """An inbound email answering a tracked mail also emits ``reply.received`` (handled by
    the next dispatch)."""
    payload = event.payload or {}
    if payload.get("kind") != "email" or not isinstance(payload.get("interaction_id"), int):
        return
    interaction = session.get(m.Interaction, payload["interaction_id"])
    if interaction is None or interaction.direction != "inbound" or not interaction.in_reply_to:
        return
    tracked = session.scalar(select(TrackedMessage).where(
        TrackedMessage.internet_message_id == interaction.in_reply_to).limit(1))
    if tracked is None:
        return
    emit(session, "reply.received", {
        "interaction_id": interaction.id, "activity_id": payload.get("activity_id"),
        "message_id": tracked.id, "mailbox": tracked.mailbox, "recipient": tracked.recipient,
        "subject": interaction.subject, "lead_id": tracked.lead_id,
        "contact_id": tracked.contact_id, "links": payload.get("links") or []}, now)
