"""Tables for workflows, tracked mail and forms (issue 6).

Imported by the code that uses them (and by `syncd.store.models.all_models`
for Alembic), not by every command. The outbox itself is
`models.Event`; a run is created from an event in the transaction that marks it processed.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from syncd.store.models import Base, Id, UTCDateTime


class WorkflowRun(Base):
    """One workflow reacting to one event (or to one `once_per` value).

    Invariant: `definition` is the workflow's step list as it was when the run was created, so
    editing a YAML file never shifts the steps of a run in flight; `next_step` indexes it.
    status: pending (due at `due_at`) -> done | dead (a step failed after its retries) |
    skipped (its `when` did not hold once the context was resolved).
    """

    __tablename__ = "workflow_runs"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    workflow: Mapped[str] = mapped_column(String(200))
    # "event:<id>" by default; a workflow's `once_per` makes it e.g. "lead_id:42".
    dedupe_key: Mapped[str] = mapped_column(String(500))
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id"), index=True)
    event_type: Mapped[str] = mapped_column(String(50))
    definition: Mapped[list[object]] = mapped_column(JSON, default=list)
    context: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    next_step: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    # A worker holds a run only while it executes one step; an expired lease is free again.
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    __table_args__ = (
        UniqueConstraint("workflow", "dedupe_key"),
        Index("ix_workflow_runs_due", "status", "due_at"),
    )


class WorkflowStep(Base):
    """The record of one step of a run. Invariant: a step with status `done` is never run
    again; `started` without `done` means a worker died inside it (see workflows.engine)."""

    __tablename__ = "workflow_steps"
    run_id: Mapped[int] = mapped_column(
        ForeignKey("workflow_runs.id", ondelete="CASCADE"), primary_key=True
    )
    idx: Mapped[int] = mapped_column(Integer, primary_key=True)
    action: Mapped[str] = mapped_column(String(30))
    status: Mapped[str] = mapped_column(String(20))  # started | done | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    result: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    worker: Mapped[str | None] = mapped_column(String(200))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WorkflowTask(Base):
    """A to-do for a rep, made by the create_task action."""

    __tablename__ = "workflow_tasks"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    title: Mapped[str] = mapped_column(String(500))
    notes: Mapped[str] = mapped_column(Text, default="")
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id"), index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    owner_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("workflow_runs.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(20), default="open")
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class TrackedMessage(Base):
    """A mail sent by syncd with a pixel and rewritten links.

    Invariant: `idem_key` names the intent (a workflow step, a CLI invocation) and is unique,
    so a retried step finds its row instead of sending again; `uid` travels in the
    X-Syncd-Track header, which is how an interrupted send is found in Sent Items.
    status: sending -> sent | failed.
    """

    __tablename__ = "tracked_messages"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    uid: Mapped[str] = mapped_column(String(40), unique=True)
    idem_key: Mapped[str] = mapped_column(String(300), unique=True)
    mailbox: Mapped[str] = mapped_column(String(320))
    recipient: Mapped[str] = mapped_column(String(320), index=True)
    subject: Mapped[str] = mapped_column(Text, default="")
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id"), index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"), index=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("workflow_runs.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(20), default="sending")
    # Normalised Message-ID (connectors.normalize.normalize_message_id), as interactions'
    # natural_key and in_reply_to hold it.
    internet_message_id: Mapped[str | None] = mapped_column(String(1000), index=True)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class TrackingHit(Base):
    """One pixel load or link click, with how it was classed (machine or human, and why)."""

    __tablename__ = "tracking_hits"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    message_id: Mapped[int] = mapped_column(
        ForeignKey("tracked_messages.id", ondelete="CASCADE")
    )
    kind: Mapped[str] = mapped_column(String(10))  # open | click
    url: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    user_agent: Mapped[str] = mapped_column(String(500), default="")
    ip_class: Mapped[str] = mapped_column(String(40), default="")
    machine: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str] = mapped_column(String(300), default="")
    __table_args__ = (Index("ix_tracking_hits_message", "message_id", "kind", "at"),)


class FormSubmission(Base):
    """One accepted form post. Rejected posts are not stored (bad input is answered 4xx)."""

    __tablename__ = "form_submissions"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    form: Mapped[str] = mapped_column(String(100), index=True)
    email: Mapped[str] = mapped_column(String(320))
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    data: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    ip_class: Mapped[str] = mapped_column(String(40), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
