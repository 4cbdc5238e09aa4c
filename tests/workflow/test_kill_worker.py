"""`syncd workflows work` as a real process, killed with SIGKILL between steps and inside a
step, then restarted: every step ran exactly once (no mail sent twice, none lost)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update
from workflow_helpers import JANE, MakeApp, add_lead, inbox, wait_for

from syncd.app import App
from syncd.sandbox import Sandbox
from syncd.store.db import session_scope
from syncd.store.models_workflow import WorkflowRun, WorkflowStep

REPO = Path(__file__).resolve().parents[2]


def start_worker(app: App, worker_id: str, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:  # the child keeps its own descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "syncd", "--config", str(app.settings.source), "workflows",
             "work", "--worker-id", worker_id, "--interval", "0.1"],
            cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": str(REPO)})


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def subjects(box: Sandbox) -> list[str]:
    return [mail.subject for mail in box.state.outbox]


def kill(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)


BETWEEN = """on: lead.created
do:
  - send_email: {subject: "Étape 1", body: "<p>un</p>"}
  - delay: 1h
  - send_email: {subject: "Étape 2", body: "<p>deux</p>"}
"""


def test_killed_between_steps(db_url: str, make_app: MakeApp, sandbox: Sandbox,
                              tmp_path: Path, processes: list[subprocess.Popen[bytes]]) -> None:
    app = make_app(db_url, sandbox=sandbox, workflows={"steps.yaml": BETWEEN})
    add_lead(app, JANE)
    log = tmp_path / "worker.log"
    first = start_worker(app, "worker-a", log)
    processes.append(first)

    def waiting() -> bool:
        with app.sessions() as s:
            run = s.scalars(select(WorkflowRun)).first()
            return run is not None and run.next_step == 2

    wait_for(waiting, f"step 1 and the delay recorded ({log.read_text(errors='replace')})")
    kill(first)
    assert subjects(sandbox) == ["Étape 1"]
    with session_scope(app.sessions) as s:  # the hour passes while no worker runs
        s.execute(update(WorkflowRun).values(due_at=datetime.now(UTC) - timedelta(seconds=1)))
    processes.append(start_worker(app, "worker-a", log))
    wait_for(lambda: len(subjects(sandbox)) >= 2, "step 2 sent after the restart")

    def finished() -> bool:
        with app.sessions() as s:
            return s.scalars(select(WorkflowRun.status)).one() == "done"

    wait_for(finished, "run done")
    assert subjects(sandbox) == ["Étape 1", "Étape 2"]
    with app.sessions() as s:
        steps = s.execute(select(WorkflowStep.idx, WorkflowStep.status, WorkflowStep.attempts)
                          .order_by(WorkflowStep.idx)).all()
    assert [tuple(x) for x in steps] == [(0, "done", 1), (1, "done", 1), (2, "done", 1)]
    assert [x["subject"] for x in inbox(sandbox, JANE)] == ["Étape 1", "Étape 2"]


BACK_TO_BACK = """on: lead.created
do:
  - send_email: {subject: "A", body: "<p>a</p>"}
  - send_email: {subject: "B", body: "<p>b</p>"}
  - send_email: {subject: "C", body: "<p>c</p>"}
"""


def test_killed_inside_a_step(sqlite_url: str, make_app: MakeApp, sandbox: Sandbox,
                              tmp_path: Path, processes: list[subprocess.Popen[bytes]]) -> None:
    """Killed the moment the first mail reached Graph: wherever the worker was (recording A,
    or sending B), the restarted worker neither repeats nor skips a mail."""
    app = make_app(sqlite_url, sandbox=sandbox, workflows={"abc.yaml": BACK_TO_BACK})
    add_lead(app, JANE)
    log = tmp_path / "worker.log"
    first = start_worker(app, "worker-b", log)
    processes.append(first)
    wait_for(lambda: subjects(sandbox), f"mail A sent ({log.read_text(errors='replace')})")
    kill(first)
    processes.append(start_worker(app, "worker-b", log))

    def finished() -> bool:
        with app.sessions() as s:
            return s.scalars(select(WorkflowRun.status)).one() == "done"

    wait_for(finished, f"run done after the restart ({log.read_text(errors='replace')})")
    assert subjects(sandbox) == ["A", "B", "C"]
    assert [x["subject"] for x in inbox(sandbox, JANE)] == ["A", "B", "C"]
