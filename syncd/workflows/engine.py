"""Run workflow steps durably: claim due runs, execute one step at a time, record each.

A run is leased to one worker while it executes (lease_owner/lease_until; PostgreSQL claims
with FOR UPDATE SKIP LOCKED, so several workers share the work; an expired lease frees a run
whose worker died). For each step:

- a delay moves ``due_at`` forward and is recorded done: the wait survives restarts;
- a store action runs in the transaction that records it done (exactly once);
- an outside action is recorded ``started`` (committed), run with tenacity retries outside
  any transaction, then recorded ``done`` with the next step. A step found ``started`` was
  interrupted: it runs again with the same idempotency key, which the mailer and webhook
  receivers use to avoid a second effect (see workflows.actions).

A step failing after its retries, or permanently, puts the run in ``dead`` (dead letter) with
the error; `syncd workflows retry` puts it back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import tenacity
from sqlalchemy import or_, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from syncd.store.db import session_scope
from syncd.store.models_workflow import WorkflowRun, WorkflowStep
from syncd.workflows import actions, context
from syncd.workflows.actions import ActionError, Services, StepInput
from syncd.workflows.definitions import Step
from syncd.workflows.metrics import RUNS_FINISHED, STEPS

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Engine:
    def __init__(self, sessions: sessionmaker[Session], services: Services, worker_id: str, *,
                 attempts: int, retry_seconds: float, lease_seconds: int,
                 now: Clock = _utc_now, sleep: Callable[[float], None] | None = None) -> None:
        self.sessions = sessions
        self.services = services
        self.worker_id = worker_id
        self.attempts = attempts
        self.retry_seconds = retry_seconds
        self.lease = timedelta(seconds=lease_seconds)
        self.now = now
        self._sleep = sleep

    # ---- claiming --------------------------------------------------------------------------

    def claim(self, limit: int) -> list[int]:
        """Lease up to ``limit`` due runs to this worker; returns their ids."""
        now = self.now()
        with session_scope(self.sessions) as s:
            stmt = (select(WorkflowRun).where(
                WorkflowRun.status == "pending", WorkflowRun.due_at <= now,
                or_(WorkflowRun.lease_until.is_(None), WorkflowRun.lease_until < now,
                    WorkflowRun.lease_owner == self.worker_id))
                .order_by(WorkflowRun.due_at, WorkflowRun.id).limit(limit))
            if s.get_bind().dialect.name == "postgresql":
                stmt = stmt.with_for_update(skip_locked=True)
            runs = list(s.scalars(stmt))
            for run in runs:
                run.lease_owner, run.lease_until = self.worker_id, now + self.lease
            return [run.id for run in runs]

    # ---- running ---------------------------------------------------------------------------

    def advance(self, run_id: int, max_steps: int) -> int:
        """Run the leased run's steps until it waits, ends or ``max_steps`` ran; returns how
        many steps were processed. The lease is released at the end."""
        done = 0
        while done < max_steps:
            outcome = self.step(run_id)
            if outcome is None:
                break
            done += 1
            if outcome != "next":
                break
        self._release(run_id)
        return done

    def _release(self, run_id: int) -> None:
        with session_scope(self.sessions) as s:
            run = s.get(WorkflowRun, run_id)
            if run is not None and run.lease_owner == self.worker_id:
                run.lease_owner, run.lease_until = None, None

    def _own(self, s: Session, run_id: int) -> WorkflowRun | None:
        run = s.get(WorkflowRun, run_id, with_for_update=s.get_bind().dialect.name
                    == "postgresql")
        if run is None or run.status != "pending" or run.lease_owner != self.worker_id:
            return None  # finished, or the lease expired and another worker took it
        if run.next_step >= len(run.definition):
            run.status = "done"
            return None
        return run

    def step(self, run_id: int) -> str | None:
        """Execute the run's next step. Returns "next" (more to do now), "wait" (a delay),
        "end" (done or dead), or None when there was nothing to do."""
        now = self.now()
        with session_scope(self.sessions) as s:
            run = self._own(s, run_id)
            if run is None:
                return None
            idx = run.next_step
            step = Step.from_json(run.definition[idx])
            record = s.get(WorkflowStep, (run_id, idx))
            if record is not None and record.status == "done":
                return self._finish_step(s, run, idx, now)  # recorded but not advanced
            run.lease_until = now + self.lease
            ctx = context.refresh(s, dict(run.context))
            inp = StepInput(run.id, idx, run.workflow, ctx, f"run:{run.id}:step:{idx}")
            if record is None:
                record = WorkflowStep(run_id=run_id, idx=idx, action=step.action,
                                      status="started", attempts=0, result={},
                                      started_at=now)
                s.add(record)
            record.attempts += 1
            record.worker = self.worker_id
            if step.action == "delay":
                until = now + step.delay
                self._done(record, {"until": until.isoformat()}, now)
                STEPS.labels("delay", "done").inc()
                outcome = self._finish_step(s, run, idx, now, due=until)
                return "wait" if outcome == "next" else outcome
            if step.action in actions.STORE_ACTIONS:
                try:
                    with s.begin_nested():
                        result = self._store_action(s, step, inp, now)
                except ActionError as exc:
                    if not exc.permanent:
                        raise  # the transaction rolls back; the run is retried after its lease
                    return self._dead(s, run, record, step, str(exc), now)
                self._done(record, result, now)
                STEPS.labels(step.action, "done").inc()
                return self._finish_step(s, run, idx, now)
            record.status = "started"
        # Outside action: the "started" record is committed before anything leaves.
        try:
            result = self._retrying(lambda: self._outside_action(step, inp))
            error = None
        except ActionError as exc:
            result, error = {}, str(exc)
        now = self.now()
        with session_scope(self.sessions) as s:
            run = self._own(s, run_id)
            record = s.get(WorkflowStep, (run_id, idx))
            if run is None or record is None or run.next_step != idx:
                # Lost the lease while acting; the new holder will find the step and its key.
                log.warning("run %s: lease lost during step %s", run_id, idx)
                return None
            if error is not None:
                return self._dead(s, run, record, step, error, now)
            self._done(record, result, now)
            STEPS.labels(step.action, "done").inc()
            return self._finish_step(s, run, idx, now)

    def _retrying(self, call: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        kwargs: dict[str, Any] = {}
        if self._sleep is not None:
            kwargs["sleep"] = self._sleep
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception(
                lambda e: isinstance(e, ActionError) and not e.permanent),
            stop=tenacity.stop_after_attempt(self.attempts),
            wait=tenacity.wait_exponential(multiplier=self.retry_seconds,
                                           max=max(self.retry_seconds * 16, 0.0)),
            reraise=True,
            before_sleep=lambda state: log.info("retrying step after: %s",
                                                state.outcome.exception() if state.outcome
                                                else "?"),
            **kwargs,
        )
        result: dict[str, Any] = retrying(call)
        return result

    def _outside_action(self, step: Step, inp: StepInput) -> dict[str, Any]:
        return _guard(lambda: self._dispatch_outside(step, inp))

    def _dispatch_outside(self, step: Step, inp: StepInput) -> dict[str, Any]:
        spec = step.spec()
        if step.action == "send_email":
            return actions.send_email(self.services, inp, spec)
        if step.action == "notify_owner":
            return actions.notify_owner(self.services, inp, spec)
        if step.action == "webhook":
            return actions.webhook(self.services, inp, spec)
        raise ActionError(f"unknown action {step.action!r}", permanent=True)

    def _store_action(self, s: Session, step: Step, inp: StepInput,
                      now: datetime) -> dict[str, Any]:
        def run() -> dict[str, Any]:
            spec = step.spec()
            if step.action == "create_task":
                return actions.create_task(s, inp, spec, now)
            return actions.update_lead(self.services, s, inp, spec, now)

        return _guard(run)

    @staticmethod
    def _done(record: WorkflowStep, result: dict[str, Any], now: datetime) -> None:
        record.status, record.result, record.error, record.finished_at = "done", result, None, now

    def _finish_step(self, s: Session, run: WorkflowRun, idx: int, now: datetime,
                     due: datetime | None = None) -> str:
        run.next_step = idx + 1
        run.updated_at = now
        run.last_error = None
        if due is not None:
            run.due_at = due
        if run.next_step >= len(run.definition):
            run.status = "done"
            run.lease_owner, run.lease_until = None, None
            RUNS_FINISHED.labels(run.workflow, "done").inc()
            return "end"
        return "next"

    def _dead(self, s: Session, run: WorkflowRun, record: WorkflowStep, step: Step, error: str,
              now: datetime) -> str:
        record.status, record.error, record.finished_at = "failed", error[:4000], now
        run.status = "dead"
        run.last_error = f"step {record.idx + 1} ({step.action}): {error}"[:4000]
        run.updated_at = now
        run.lease_owner, run.lease_until = None, None
        STEPS.labels(step.action, "failed").inc()
        RUNS_FINISHED.labels(run.workflow, "dead").inc()
        log.warning("workflow %s run %s is dead: %s", run.workflow, run.id, run.last_error)
        return "end"


def _guard(call: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Any failure of an action becomes an ActionError, so that a step always ends recorded
    (done, or failed and dead) instead of being retried for ever by lease expiry: database
    trouble is transient; anything else (a template using a forbidden attribute, a bad value
    in the context) is the definition's problem and will not heal by retrying."""
    try:
        return call()
    except ActionError:
        raise
    except SQLAlchemyError as exc:
        raise ActionError(f"database: {type(exc).__name__}") from exc
    except Exception as exc:
        raise ActionError(f"{type(exc).__name__}: {exc}"[:500], permanent=True) from exc
