"""Tables for the service: scheduling leases and the worker registry (issue 7).

Imported by the code that uses them (and by `syncd.store.models.all_models`
for Alembic), not by every command.

The unit of work a worker leases is a *mailbox* (all its streams), not a single stream: a
mailbox's streams share its Graph/EWS limits (4 requests in flight, the 10-minute budget), so
two workers on two streams of one mailbox would each spend the whole budget. A tenant-wide
stream (call records) and a files connector are units of their own. A unit row exists before
its streams do (a new mailbox has no stream rows until its first poll), which is why leases
live here rather than on `streams`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from syncd.store.models import Base, UTCDateTime


class ServiceLease(Base):
    """One schedulable unit and who holds it.

    Invariant: a unit is worked on only by `owner`, and only while `lease_until` (database
    clock) is in the future; the owner's heartbeat pushes `lease_until` forward. A unit whose
    lease expired is free to take (its worker died or lost the database).
    """

    __tablename__ = "service_leases"
    # "{connector}|{mailbox address}", "{connector}|#tenant" or "{connector}|#files"
    unit: Mapped[str] = mapped_column(String(500), primary_key=True)
    connector: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))  # mailbox | tenant | files
    owner: Mapped[str | None] = mapped_column(String(200))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The earliest instant one of the unit's streams is due (poll interval or back-off).
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Failed unit runs in a row (listing the mailbox's folders, credentials); drives back-off.
    failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_run_by: Mapped[str | None] = mapped_column(String(200))
    last_error: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (Index("ix_service_leases_due", "connector", "due_at"),)


class ServiceWorker(Base):
    """One `syncd run` process, for `syncd status` and `syncd doctor` (not for correctness:
    correctness rests on the lease rows alone)."""

    __tablename__ = "service_workers"
    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime)
    state: Mapped[str] = mapped_column(String(20))  # running | stopping | stopped
    summary: Mapped[str] = mapped_column(Text, default="")
