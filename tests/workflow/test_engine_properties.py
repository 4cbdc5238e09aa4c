"""Property test of the outbox and the engine (a Hypothesis state machine on SQLite): events
arrive, workers run, die holding leases, and time passes, in any order; a store step never
takes effect twice, and once the work is drained every run has done each step exactly once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from sqlalchemy import func, select, update
from workflow_helpers import write_config

from syncd.app import App
from syncd.config import load_settings
from syncd.store import models as m
from syncd.store.db import session_scope
from syncd.store.models_workflow import WorkflowRun, WorkflowStep, WorkflowTask
from syncd.workflows import outbox
from syncd.workflows.worker import WorkflowWorker

WORKFLOW = """on: lead.created
when: {field: flag, eq: true}
do:
  - create_task: {title: "un {{ n }}"}
  - delay: 1d
  - create_task: {title: "deux {{ n }}"}
"""


@pytest.fixture(scope="module")
def machine_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    tmp = tmp_path_factory.mktemp("props")
    path = write_config(tmp, f"sqlite:///{tmp / 'p.db'}", workflows={"w.yaml": WORKFLOW})
    app = App(load_settings(path))
    yield app
    app.close()


class Outbox(RuleBasedStateMachine):
    app: App

    def __init__(self) -> None:
        super().__init__()
        with session_scope(self.app.sessions) as s:
            for model in (WorkflowTask, WorkflowStep, WorkflowRun, m.Event):
                s.execute(model.__table__.delete())  # type: ignore[attr-defined]
        self.matching = 0
        self.n = 0

    @rule(flag=st.booleans())
    def event(self, flag: bool) -> None:
        self.n += 1
        with session_scope(self.app.sessions) as s:
            outbox.emit(s, "lead.created", {"flag": flag, "n": self.n})
        self.matching += flag

    @rule(worker=st.sampled_from(["a", "b"]), limit=st.integers(1, 4))
    def work(self, worker: str, limit: int) -> None:
        WorkflowWorker(self.app, worker).run_once(limit)

    @rule(worker=st.sampled_from(["a", "b", "ghost"]))
    def die_holding_leases(self, worker: str) -> None:
        """A worker claims runs and is killed before it runs any step."""
        WorkflowWorker(self.app, worker).engine.claim(3)

    @rule()
    def leases_expire(self) -> None:
        past = datetime.now(UTC) - timedelta(seconds=1)
        with session_scope(self.app.sessions) as s:
            s.execute(update(WorkflowRun).where(WorkflowRun.lease_owner.is_not(None))
                      .values(lease_until=past))

    @rule()
    def a_day_passes(self) -> None:
        with session_scope(self.app.sessions) as s:
            for run in s.scalars(select(WorkflowRun)):
                run.due_at -= timedelta(days=1, seconds=1)

    @invariant()
    def no_step_took_effect_twice(self) -> None:
        with self.app.sessions() as s:
            per_run = s.execute(select(WorkflowTask.run_id, WorkflowTask.title, func.count())
                                .group_by(WorkflowTask.run_id, WorkflowTask.title)).all()
            assert all(c == 1 for _, _, c in per_run)
            runs = s.scalar(select(func.count()).select_from(WorkflowRun)) or 0
            assert runs <= self.matching
            assert set(s.scalars(select(WorkflowStep.attempts))) <= {1}

    def teardown(self) -> None:
        """Drain: every lease expires, time passes, one worker runs everything left."""
        self.leases_expire()
        self.a_day_passes()
        worker = WorkflowWorker(self.app, "final")
        while worker.run_once(100):
            self.a_day_passes()
        with self.app.sessions() as s:
            statuses = list(s.scalars(select(WorkflowRun.status)))
            tasks = s.scalar(select(func.count()).select_from(WorkflowTask))
        assert statuses == ["done"] * self.matching
        assert tasks == 2 * self.matching


def test_outbox_state_machine(machine_app: App) -> None:
    Outbox.app = machine_app
    runner = settings(max_examples=10, stateful_step_count=20, deadline=None)(Outbox)
    runner.TestCase().runTest()
