"""The workflow part of `syncd status`: runs by state, dead letters, outbox backlog."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from syncd.store import models as m
from syncd.store.models_workflow import WorkflowRun


def workflow_status(session: Session, dead_limit: int = 10) -> dict[str, Any]:
    runs = {status: count for status, count in session.execute(
        select(WorkflowRun.status, func.count()).group_by(WorkflowRun.status))}
    dead = [{"id": r.id, "workflow": r.workflow, "error": r.last_error,
             "updated_at": r.updated_at.isoformat()}
            for r in session.scalars(select(WorkflowRun).where(WorkflowRun.status == "dead")
                                     .order_by(WorkflowRun.id.desc()).limit(dead_limit))]
    backlog = session.scalar(select(func.count()).select_from(m.Event)
                             .where(m.Event.processed_at.is_(None))) or 0
    return {"runs": runs, "dead": dead, "events_waiting": backlog}
