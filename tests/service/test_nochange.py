"""The scheduler's no-change fast path (`syncd.service.nochange`), against the sandbox and a
real SQLite store: a quiet mailbox costs one request per stream and no per-stream
transaction, and whatever is not a quiet poll still goes the full way, fetched once."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select, update

from connectors.base import Page
from syncd.app import App
from syncd.config import load_settings
from syncd.demo import DemoCompany
from syncd.demo_job import sandbox_config_toml
from syncd.sandbox import Sandbox
from syncd.service.nochange import empty_page_values
from syncd.service.scheduler import Scheduler
from syncd.store import models as m
from syncd.store.db import session_scope
from syncd.store.models_service import ServiceLease

SECRET_ENV = "SYNCD_TEST_NOCHANGE_SECRET"


@pytest.fixture
def app(box: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[App]:
    monkeypatch.setenv(SECRET_ENV, "demo-secret")
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "NOTIFY_SOCKET", "WATCHDOG_USEC"):
        monkeypatch.delenv(name, raising=False)
    body = sandbox_config_toml(box, f"sqlite:///{tmp_path / 'store.db'}", "contoso-demo.fr",
                               SECRET_ENV, call_records=False)
    body += "\n[service]\nmail_interval = 3600\ncalendar_interval = 3600\njitter = 0\n"
    config = tmp_path / "syncd.toml"
    config.write_text(body, encoding="utf-8")
    application = App(load_settings(config))
    yield application
    application.close()


def scheduler_pass(app: App) -> None:
    """Run a real scheduler until every unit has run once since now, then stop it."""
    since = datetime.now(UTC)
    sched = Scheduler(app, worker_id=f"test-{uuid.uuid4().hex[:6]}")
    thread = threading.Thread(target=sched.run)
    thread.start()
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            time.sleep(0.1)
            with session_scope(app.sessions) as s:
                total = s.scalar(select(func.count()).select_from(ServiceLease)) or 0
                done = s.scalar(select(func.count()).select_from(ServiceLease).where(
                    ServiceLease.last_run_at > since, ServiceLease.owner.is_(None))) or 0
            if total and done == total:
                return
        raise AssertionError("the scheduler did not run every unit within 120 s")
    finally:
        sched.request_stop()
        thread.join()


def make_all_due(app: App) -> None:
    with session_scope(app.sessions) as s:
        s.execute(update(m.Stream).values(poll_due_at=None))
        s.execute(update(ServiceLease).values(due_at=datetime.now(UTC) - timedelta(seconds=1)))


def stream_rows(app: App) -> dict[str, dict[str, Any]]:
    with session_scope(app.sessions) as s:
        return {row.key: {c.name: getattr(row, c.name) for c in m.Stream.__table__.columns}
                for row in s.scalars(select(m.Stream))}


class StatementLog:
    """Every SQL statement the app's engine runs while active (SQLAlchemy's own events)."""

    def __init__(self, app: App) -> None:
        self.engine = app.engine
        self.statements: list[str] = []

    def _record(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        self.statements.append(statement)

    def __enter__(self) -> StatementLog:
        event.listen(self.engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._record)


def test_a_no_change_pass_is_one_request_and_no_per_stream_transaction(
    app: App, box: Sandbox
) -> None:
    scheduler_pass(app)  # the first full sync
    before = stream_rows(app)
    captured = len(stream_rows(app))
    make_all_due(app)
    started = time.time()
    with StatementLog(app) as log:
        scheduler_pass(app)
    requests = [r for r in box.request_log if r.time >= started and r.mailbox]
    assert len(requests) == len(before) == captured
    # Before the fast path every stream re-read its mailbox and owner (persons, users) and
    # wrote its empty page in a transaction of its own (the internal users read by capture).
    touched = [s for s in log.statements
               if any(t in s for t in ("persons", "users", "interactions", "sightings"))]
    assert touched == []
    # One UPDATE of the streams table per unit (its empty pages' cursors and next polls).
    units = len({key.split("/", 1)[0] for key in before})
    assert sum(s.startswith("UPDATE streams") for s in log.statements) == units
    after = stream_rows(app)
    for key, old in before.items():
        new = after[key]
        assert new["last_success_at"] > old["last_success_at"]
        assert new["poll_due_at"] is not None and new["poll_due_at"] > datetime.now(UTC)
        assert (new["phase"], new["round_complete"], new["items_total"],
                new["consecutive_failures"], new["last_error"]) == (
            "incremental", True, old["items_total"], 0, None)
        assert box.graph_url in (new["cursor"] or "")  # a deltaLink (in JSON for calendars)


def test_a_change_found_by_the_probe_is_captured_from_the_same_response(
    app: App, box: Sandbox, small_company: DemoCompany
) -> None:
    scheduler_pass(app)
    owner = small_company.users[0].email
    with session_scope(app.sessions) as s:
        interactions = s.scalar(select(func.count()).select_from(m.Interaction))
    raw = (f"From: jane@fabrikam.example\r\nTo: {owner}\r\nSubject: New deal\r\n"
           "Message-ID: <nochange-probe@fabrikam.example>\r\n"
           "Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n\r\nHello\r\n").encode()
    box.state.add_message(owner, "inbox", raw)
    make_all_due(app)
    started = time.time()
    scheduler_pass(app)
    requests = [r for r in box.request_log if r.time >= started and r.mailbox == owner]
    streams = [k for k in stream_rows(app) if k.startswith(owner)]
    assert len(requests) == len(streams)  # the probe's page was captured, not fetched again
    with session_scope(app.sessions) as s:
        assert s.scalar(select(func.count()).select_from(m.Interaction)) == interactions + 1
        assert s.scalar(select(m.Interaction.id).where(
            m.Interaction.natural_key.contains("nochange-probe"))) is not None


def test_a_probe_that_fails_is_recorded_and_resyncs_as_before(
    app: App, box: Sandbox, small_company: DemoCompany
) -> None:
    scheduler_pass(app)
    owner = small_company.users[0].email
    before = stream_rows(app)
    box.faults.expire_delta_tokens(owner)  # 410 syncStateNotFound for the stored cursors
    make_all_due(app)
    scheduler_pass(app)
    after = stream_rows(app)
    for key, row in after.items():
        if key.startswith(owner):
            assert row["resync_count"] == before[key]["resync_count"] + 1
            assert row["phase"] == "incremental" and row["resync_started_at"] is None
            assert "full resync" in (row["last_error"] or "") or row["last_error"] is None
        else:
            assert row["resync_count"] == before[key]["resync_count"]
    with session_scope(app.sessions) as s:  # the re-read duplicated nothing
        keys = s.execute(select(m.Sighting.stream_id, m.Sighting.provider_id)).all()
    assert len(keys) == len(set(keys))


def test_empty_page_values_match_what_capture_writes(app: App) -> None:
    """The fast path writes, for an empty page, the stream row `Capturer.capture_page` and
    `runner._write_page` would: both ways on two identical rows must agree."""
    now = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)
    due = now + timedelta(hours=1)
    page = Page(interactions=[], cursor="https://graph.example/delta?$deltatoken=2",
                complete=True, items_seen=0)
    with session_scope(app.sessions) as s:
        rows = []
        for key in ("a/mail/inbox", "b/mail/inbox"):
            row = m.Stream(connector="m365", key=key, phase="initial", round_complete=False,
                           resync_count=0, items_total=7, cursor="https://graph.example/n=1",
                           last_error="HTTP 503 earlier", consecutive_failures=2)
            s.add(row)
            rows.append(row)
        s.flush()
        full, fast = rows
        app.capturer.capture_page(s, full, page, now=now)
        full.consecutive_failures = 0  # what runner._write_page adds
        full.poll_due_at = due  # what the scheduler stores after the poll
        s.flush()
        s.execute(update(m.Stream), [empty_page_values(fast.id, page, now, due)])
    got = stream_rows(app)
    ignore = {"id", "key"}
    assert ({k: v for k, v in got["a/mail/inbox"].items() if k not in ignore}
            == {k: v for k, v in got["b/mail/inbox"].items() if k not in ignore})


def test_run_once_takes_the_same_fast_path(app: App, box: Sandbox) -> None:
    """`syncd run --once` (`run_pass`): a quiet stream costs one request, and the mailbox's
    empty pages are written in one transaction, not one per stream with the owner re-read."""
    from syncd.sync import run_pass

    first = run_pass(app)
    assert not first.errors
    before = stream_rows(app)
    started = time.time()
    with StatementLog(app) as log:
        report = run_pass(app)
    assert not report.errors and report.streams == len(before)
    requests = [r for r in box.request_log if r.time >= started and r.mailbox]
    assert len(requests) == len(before)
    assert [s for s in log.statements
            if any(t in s for t in ("persons", "users", "interactions", "sightings"))] == []
    units = len({key.split("/", 1)[0] for key in before})
    assert sum(s.startswith("UPDATE streams") for s in log.statements) == units
    after = stream_rows(app)
    for key, old in before.items():
        assert after[key]["last_success_at"] > old["last_success_at"]
        assert after[key]["poll_due_at"] == old["poll_due_at"]  # run --once plans no poll
