"""`WorkflowWorker`: one unit of workflow work, safe to call from any loop.

`run_once` turns due outbox events into runs, then executes due steps. `syncd workflows work`
loops around it; the issue-7 scheduler calls it from `syncd run`.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import requests

from syncd.config import MsGraphConnector
from syncd.store.db import session_scope
from syncd.workflows import outbox
from syncd.workflows.actions import Services
from syncd.workflows.definitions import Workflow, WorkflowError, load_dir
from syncd.workflows.engine import Engine
from syncd.workflows.metrics import RUNS_CREATED

if TYPE_CHECKING:
    from syncd.app import App

log = logging.getLogger(__name__)
BACKFILL_EVERY_SECONDS = 60.0


def workflows_dir(app: App) -> Path | None:
    """``[workflows] dir``, else ``workflows/`` beside the configuration file."""
    settings = app.settings
    if settings.workflows.dir is not None:
        return settings.workflows.dir
    if settings.source is not None:
        return settings.source.parent / "workflows"
    return None


class WorkflowWorker:
    """Claims due outbox events and due steps and runs them.

    Raises (from the constructor): WorkflowError when the definitions are invalid (every
    problem listed).
    """

    def __init__(self, app: App, worker_id: str) -> None:
        self.app = app
        self.worker_id = worker_id
        self.directory = workflows_dir(app)
        self.workflows: list[Workflow] = load_dir(self.directory)
        self._stamp = self._files_stamp()
        self._sends_mail = any(isinstance(c, MsGraphConnector) for c in app.settings.connectors)
        self._next_backfill = 0.0
        conf = app.settings.workflows
        self.services = Services(app, self.directory, requests.Session())
        self.engine = Engine(app.sessions, self.services, worker_id, attempts=conf.step_attempts,
                             retry_seconds=conf.step_retry_seconds,
                             lease_seconds=conf.lease_seconds)

    def _files_stamp(self) -> tuple[tuple[str, int, int], ...]:
        if self.directory is None or not self.directory.is_dir():
            return ()
        out = []
        for path in self.directory.rglob("*"):
            if path.is_file():
                st = path.stat()
                out.append((str(path), st.st_mtime_ns, st.st_size))
        return tuple(sorted(out))

    def reload_if_changed(self) -> None:
        """Pick up edited definitions without a restart. An invalid edit is logged and the
        definitions in force are kept (runs already created keep their own steps anyway)."""
        stamp = self._files_stamp()
        if stamp == self._stamp:
            return
        self._stamp = stamp
        try:
            self.workflows = load_dir(self.directory)
        except WorkflowError as exc:
            log.error("workflow definitions not reloaded: %s", "; ".join(exc.problems))
            return
        log.info("workflow definitions reloaded: %d workflow(s)", len(self.workflows))

    def dispatch(self, limit: int = 100) -> int:
        """Turn up to ``limit`` unprocessed events into runs; returns events processed. Events
        no workflow matches are marked processed too, so the outbox never piles up."""
        with session_scope(self.app.sessions) as s:
            seen, created = outbox.dispatch(s, self.workflows, limit, datetime.now(UTC))
        if created:
            RUNS_CREATED.inc(created)
        return seen

    def run_once(self, limit: int = 100) -> int:
        """Dispatch due events, then run due steps (at most ``limit``); returns how many steps
        were processed."""
        self.reload_if_changed()
        if self._sends_mail and time.monotonic() >= self._next_backfill:
            # At most once a minute: a copy that never shows up costs a few Graph reads a
            # minute for a day, not one per pass.
            self._next_backfill = time.monotonic() + BACKFILL_EVERY_SECONDS
            self.services.mailer().backfill_message_ids()
        self.dispatch(limit)
        processed = 0
        for run_id in self.engine.claim(limit):
            try:
                processed += self.engine.advance(run_id, max(limit - processed, 0))
            except Exception:
                # A database failure inside a step: its transaction rolled back, the run keeps
                # its lease and is taken again when the lease expires; the others go on.
                log.exception("workflow run %s: step failed unexpectedly", run_id)
        return processed

    def close(self) -> None:
        self.services.http.close()
