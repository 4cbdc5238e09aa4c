"""Tables for the lead lifecycle (issue 8): merge records and opportunity stage history.

Imported by the code that uses them (and by `syncd.store.models.all_models`
for Alembic), not by every command. The lifecycle columns of
existing records (lead status reason, opportunity stage fields, merge tombstones) live on their
classes in `models.py`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from syncd.store.models import Base, Id, UTCDateTime


class MergeRecord(Base):
    """One `syncd merge`: which record survived, which became its tombstone, and what moved.

    Invariant: at most one row per merged record (kind, merged_id); merging again is refused or a
    no-op, never a second row. `snapshot` is the merged record as it was, so a merge can be
    audited (and undone by hand) later.
    """

    __tablename__ = "merges"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # contact | lead | account
    survivor_id: Mapped[int] = mapped_column(Id, index=True)
    merged_id: Mapped[int] = mapped_column(Id)
    snapshot: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    moved: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    note: Mapped[str] = mapped_column(Text, default="")
    merged_at: Mapped[datetime] = mapped_column(UTCDateTime)
    __table_args__ = (UniqueConstraint("kind", "merged_id"),)


class OpportunityStageChange(Base):
    """Every stage or status change of an opportunity, oldest first (time in stage, audits)."""

    __tablename__ = "opportunity_stage_changes"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    opportunity_id: Mapped[int] = mapped_column(
        ForeignKey("opportunities.id", ondelete="CASCADE"), index=True
    )
    from_stage: Mapped[str | None] = mapped_column(String(20))
    to_stage: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(10))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)
