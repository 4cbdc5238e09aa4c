"""SQLAlchemy models: the one schema shared by SQLite (embedded) and PostgreSQL (scale-out).

Invariants worth knowing before touching a column are written beside it. Schema changes go
through an Alembic migration in `syncd/migrations/versions/`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

# SQLite has no 64-bit autoincrement other than INTEGER PRIMARY KEY; PostgreSQL wants BIGINT.
Id = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out, whatever the backend (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class Mailbox(Base):
    __tablename__ = "mailboxes"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    connector: Mapped[str] = mapped_column(String(100))
    address: Mapped[str] = mapped_column(String(320))
    display_name: Mapped[str] = mapped_column(String(200), default="")
    # active | disabled | gone; a disabled mailbox keeps its data but is not polled
    status: Mapped[str] = mapped_column(String(20), default="active")
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    __table_args__ = (UniqueConstraint("connector", "address"),)


class Stream(Base):
    __tablename__ = "streams"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    connector: Mapped[str] = mapped_column(String(100))
    mailbox_id: Mapped[int | None] = mapped_column(ForeignKey("mailboxes.id"))
    key: Mapped[str] = mapped_column(String(1000))
    # Invariant: `cursor` describes exactly the data committed with it (contract 2); it is only
    # ever written in the transaction that writes the page it follows.
    cursor: Mapped[str | None] = mapped_column(Text)
    # True once a full round has been read: the next poll asks only for changes.
    round_complete: Mapped[bool] = mapped_column(Boolean, default=False)
    # initial -> incremental; any -> resync (cursor rejected) -> incremental; any -> stopped
    phase: Mapped[str] = mapped_column(String(20), default="initial")
    resync_count: Mapped[int] = mapped_column(Integer, default=0)
    # Set when a rejected cursor forces a full re-read; when that round completes, sightings
    # of this stream not seen since are the items deleted while the cursor was invalid.
    resync_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    items_total: Mapped[int] = mapped_column(BigInteger, default=0)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Failed polls in a row; drives this stream's own back-off (others keep their pace).
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the scheduler next polls this stream (its kind's interval plus jitter); back-off
    # after failures is `next_due_at`, and the stream waits for whichever is later. None: now.
    poll_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    __table_args__ = (UniqueConstraint("connector", "key"),)


class Person(Base):
    """One address owner. `email` is the normalised key (or `x500:<dn>` until resolved)."""

    __tablename__ = "persons"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    email: Mapped[str] = mapped_column(String(1000), unique=True)
    name: Mapped[str] = mapped_column(String(300), default="")
    domain: Mapped[str] = mapped_column(String(255), default="", index=True)
    is_internal: Mapped[bool] = mapped_column(Boolean, default=False)
    is_automated: Mapped[bool] = mapped_column(Boolean, default=False)
    is_unresolved: Mapped[bool] = mapped_column(Boolean, default=False)
    # set by `forget`: the row stays as a tombstone so that a later import does not re-add it
    forgotten: Mapped[bool] = mapped_column(Boolean, default=False)
    first_seen: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_seen: Mapped[datetime | None] = mapped_column(UTCDateTime)


class User(Base):
    """An internal user (a colleague), from the directory or a mailbox owner."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), unique=True)
    display_name: Mapped[str] = mapped_column(String(300), default="")
    title: Mapped[str] = mapped_column(String(300), default="")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)


class Account(Base):
    __tablename__ = "accounts"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    normalized_name: Mapped[str] = mapped_column(String(300), index=True)
    industry: Mapped[str] = mapped_column(String(200), default="")
    city: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Set by `syncd merge`: this row is a tombstone and lookups follow the pointer (always to a
    # live record: merging the survivor later re-points its tombstones too).
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))


class AccountDomain(Base):
    __tablename__ = "account_domains"
    domain: Mapped[str] = mapped_column(String(255), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))


class Contact(Base):
    __tablename__ = "contacts"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), unique=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    name: Mapped[str] = mapped_column(String(300), default="")
    title: Mapped[str] = mapped_column(String(300), default="")
    phone: Mapped[str] = mapped_column(String(50), default="")
    origin: Mapped[str] = mapped_column(String(20), default="import")  # import|auto|form|lead
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Set by `syncd merge` (see Account.merged_into_id); the tombstone keeps its person so that
    # mail from the merged address still reaches the survivor.
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))


class Lead(Base):
    __tablename__ = "leads"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    name: Mapped[str] = mapped_column(String(300), default="")
    company: Mapped[str] = mapped_column(String(300), default="")
    title: Mapped[str] = mapped_column(String(300), default="")
    phone: Mapped[str] = mapped_column(String(50), default="")
    source: Mapped[str] = mapped_column(String(50), default="import")
    # open | qualified | disqualified | merged
    status: Mapped[str] = mapped_column(String(20), default="open")
    owner_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The disqualification reason (one of [lifecycle] disqualify_reasons), else None.
    status_reason: Mapped[str | None] = mapped_column(String(100))
    status_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Form answers and other fields without a column of their own.
    fields: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id"))


class Opportunity(Base):
    __tablename__ = "opportunities"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id"), index=True)
    # qualify -> develop -> propose -> close; `status` says whether it is still open.
    # The per-stage columns below are the Dynamics 365 sales-process fields
    # (syncd.lifecycle.stages says which are required to leave each stage); None is "not set".
    stage: Mapped[str] = mapped_column(String(20), default="qualify")
    status: Mapped[str] = mapped_column(String(10), default="open")  # open | won | lost
    owner_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    stage_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    purchase_timeframe: Mapped[str | None] = mapped_column(String(20))
    estimated_budget: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    purchase_process: Mapped[str | None] = mapped_column(String(20))
    decision_maker_identified: Mapped[bool | None] = mapped_column(Boolean)
    customer_need: Mapped[str | None] = mapped_column(Text)
    proposed_solution: Mapped[str | None] = mapped_column(Text)
    stakeholders: Mapped[str | None] = mapped_column(Text)
    competitors: Mapped[str | None] = mapped_column(Text)
    sales_team: Mapped[str | None] = mapped_column(Text)
    proposal_presented: Mapped[bool | None] = mapped_column(Boolean)
    internal_review_done: Mapped[bool | None] = mapped_column(Boolean)
    final_proposal_presented: Mapped[bool | None] = mapped_column(Boolean)
    decision_date: Mapped[date | None] = mapped_column(Date)
    actual_revenue: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    close_reason: Mapped[str | None] = mapped_column(Text)


class Interaction(Base):
    """One email, meeting occurrence or call, whichever mailboxes saw it (contract 3)."""

    __tablename__ = "interactions"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    natural_key: Mapped[str] = mapped_column(String(1000), unique=True)
    # Second key for email copies whose Message-ID differs (see connectors.normalize
    # .email_fingerprint); not unique: two different keys may share it only in that case.
    fingerprint: Mapped[str | None] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    subject: Mapped[str] = mapped_column(Text, default="")
    thread_key: Mapped[str | None] = mapped_column(String(1000), index=True)
    in_reply_to: Mapped[str | None] = mapped_column(String(1000))
    # inbound | outbound | internal | external, relative to the internal domains
    direction: Mapped[str] = mapped_column(String(10))
    is_private: Mapped[bool] = mapped_column(Boolean, default=False)
    is_automated: Mapped[bool] = mapped_column(Boolean, default=False)
    is_cancelled: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(Integer, default=0)
    participant_count: Mapped[int] = mapped_column(Integer, default=0)
    # The capture decision and its reasons, as decided when first seen (explain reads it).
    captured: Mapped[bool] = mapped_column(Boolean, default=False)
    decision: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Sighting(Base):
    """Which stream holds a copy of an interaction, under which provider id."""

    __tablename__ = "sightings"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    interaction_id: Mapped[int] = mapped_column(
        ForeignKey("interactions.id", ondelete="CASCADE"), index=True
    )
    stream_id: Mapped[int] = mapped_column(ForeignKey("streams.id"))
    provider_id: Mapped[str] = mapped_column(String(1000))
    folder: Mapped[str] = mapped_column(String(200), default="")
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    __table_args__ = (UniqueConstraint("stream_id", "provider_id"),)


class Participant(Base):
    __tablename__ = "participants"
    interaction_id: Mapped[int] = mapped_column(
        ForeignKey("interactions.id", ondelete="CASCADE"), primary_key=True
    )
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), primary_key=True, index=True)
    role: Mapped[str] = mapped_column(String(10), primary_key=True)
    response: Mapped[str | None] = mapped_column(String(20))


class Activity(Base):
    """An interaction captured into the CRM. At most one per interaction."""

    __tablename__ = "activities"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    interaction_id: Mapped[int] = mapped_column(
        ForeignKey("interactions.id", ondelete="CASCADE"), unique=True
    )
    captured_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ActivityLink(Base):
    """What an activity is regarding: a contact, lead, account, opportunity or user."""

    __tablename__ = "activity_links"
    activity_id: Mapped[int] = mapped_column(
        ForeignKey("activities.id", ondelete="CASCADE"), primary_key=True
    )
    target_type: Mapped[str] = mapped_column(String(20), primary_key=True)
    target_id: Mapped[int] = mapped_column(Id, primary_key=True)
    __table_args__ = (Index("ix_activity_links_target", "target_type", "target_id"),)


class RejectedItem(Base):
    __tablename__ = "rejected_items"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    stream_id: Mapped[int] = mapped_column(ForeignKey("streams.id"))
    provider_id: Mapped[str] = mapped_column(String(1000))
    reason: Mapped[str] = mapped_column(Text)
    excerpt: Mapped[str] = mapped_column(Text, default="")
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    __table_args__ = (UniqueConstraint("stream_id", "provider_id"),)


class Tie(Base):
    """The relationship between two persons, maintained incrementally at capture time.

    Invariant: person_a < person_b. `score` is the sum over contributing interactions of
    weight * 2^-((score_at - t) / half_life); adding one interaction is O(1) whatever order
    interactions arrive in (see graph.ties.decayed_add). Counts are by direction: `a_to_b` counts
    emails from a with b as a recipient.

    The per-channel decayed weights (`email_ab` ... `co_w`) follow the same algebra and share
    `score_at`; `score` is their sum. Reply latencies are sums and counts (a mean is then
    order-independent); a latency is added once, when the later of a (parent, reply) pair is
    captured. graph.strength turns these features into a strength between 0 and 1.
    """

    __tablename__ = "ties"
    person_a: Mapped[int] = mapped_column(ForeignKey("persons.id"), primary_key=True)
    person_b: Mapped[int] = mapped_column(ForeignKey("persons.id"), primary_key=True, index=True)
    a_to_b: Mapped[int] = mapped_column(Integer, default=0)
    b_to_a: Mapped[int] = mapped_column(Integer, default=0)
    meetings: Mapped[int] = mapped_column(Integer, default=0)
    calls: Mapped[int] = mapped_column(Integer, default=0)
    co_recipient: Mapped[int] = mapped_column(Integer, default=0)
    first_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_at: Mapped[datetime] = mapped_column(UTCDateTime)
    score: Mapped[float] = mapped_column(Float, default=0.0)
    score_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Replies (emails with In-Reply-To) among a_to_b / b_to_a; call length in seconds.
    replies_ab: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    replies_ba: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    call_seconds: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    # a answering b: sum of seconds between b's message and a's reply, and how many replies.
    latency_ab_sum: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    latency_ab_n: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    latency_ba_sum: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    latency_ba_n: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Decayed weights by channel and direction, all expressed at score_at.
    email_ab: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    email_ba: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    reply_ab: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    reply_ba: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    meeting_w: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    call_w: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    co_w: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")


class Event(Base):
    """The workflow outbox: appended in the transaction that produced the event."""

    __tablename__ = "events"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    type: Mapped[str] = mapped_column(String(50), index=True)
    payload: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Set in the transaction that creates the workflow runs for this event (workflows.outbox).
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)


def all_models() -> MetaData:
    """`Base.metadata` with every capability's tables registered. The later capabilities'
    tables live in their own modules, imported by the code that uses them; only Alembic's
    autogenerate and the migration test need all of them at once. Not importing them here
    keeps them out of every query command's start-up (issue 5: `who-knows` as a process)."""
    from syncd.store import (  # noqa: F401
        models_ews,
        models_graph,
        models_lifecycle,
        models_service,
        models_workflow,
    )

    return Base.metadata
