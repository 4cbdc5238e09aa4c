"""The scheduler: one loop per `syncd run` process that keeps every stream polled on time.

Loop shape (STYLE habit 11): the outer loop owns shutdown, reload, heartbeat and the watchdog;
a pool of threads runs *units* (a mailbox's due streams, a tenant stream, a files connector).
A unit is claimed through `Leases` before it runs, so with PostgreSQL several processes (on
several machines) share the units and no mailbox is ever polled by two workers at once.

Per unit: streams are polled one after another (a mailbox's streams share its request limits;
the connector itself keeps at most 4 requests in flight and the 10-minute budget per mailbox),
each stream only when due: its kind's interval with jitter has passed (`plan`) and it is not
backing off (`runner.record_failure`: exponential, capped, never shorter than Retry-After).
A per-connector poll budget (`plan.PollBudget`) caps the tenant's rate. A poll that finds
nothing new costs one request and no transaction of its own: the unit's rows are read in one
query and its empty pages' cursors written with its lease release (`nochange`).

Stopping: `request_stop` makes every unit stop at the next page boundary (a page is committed
with its cursor or not at all, DESIGN.md contract 2); the loop waits `stop_timeout` for them,
then abandons what is still fetching (nothing of it is committed) and exits.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Protocol, cast

from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from connectors.base import AuthError, ConnectorError, Page, Stream, ThrottledError
from syncd.app import App
from syncd.capture import PageResult
from syncd.config import (
    ConfigError,
    ConnectorConfig,
    EwsConnector,
    FilesConnector,
    MsGraphConnector,
    Settings,
)
from syncd.runner import StreamRun, backoff_seconds, run_stream
from syncd.service import plan
from syncd.service.leases import FILES, TENANT, Claim, Leases, unit_name, unit_target
from syncd.service.logjson import fields, redact
from syncd.service.metrics import Metrics
from syncd.service.nochange import (
    Prefetched,
    StoredStream,
    empty_page_values,
    is_empty_round_end,
    probe,
    store_rows,
)
from syncd.service.sdnotify import Notifier
from syncd.store import models as m
from syncd.store.db import session_scope

log = logging.getLogger("syncd.service")

TICK_SECONDS = 0.5
DB_RETRIES = 5
RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})  # deadlock_detected, serialization_failure


class Abandoned(Exception):
    """Raised between pages to stop a unit: shutdown, reload, or the lease is at risk."""


class MailboxConnector(Protocol):
    """What the scheduler needs from a mailbox connector (msgraph, ews): the common interface
    of `connectors.msgraph.GraphConnector` and the EWS connector."""

    def list_mailboxes(self) -> list[Any]: ...
    def mailbox_streams(self, mailbox: Any) -> list[Stream]: ...
    def tenant_streams(self) -> list[Stream]: ...


def mailbox_connector(app: App, conf: ConnectorConfig) -> MailboxConnector:
    """Dispatch per connector kind. Raises ConnectorError/ConfigError when unusable."""
    if isinstance(conf, MsGraphConnector):
        return app.graph_connector(conf)
    if isinstance(conf, EwsConnector):
        return app.ews_connector(conf)
    raise ConnectorError(f"connector kind {conf.kind!r} has no mailboxes")


@dataclass
class Totals:
    """Since start, for the STATUS line and the worker row."""

    units: int = 0
    streams: int = 0
    items: int = 0
    captured: int = 0
    errors: int = 0
    last_error: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


@dataclass
class _Directory:
    """A connector's mailbox list as this worker last read it."""

    mailboxes: dict[str, Any] = field(default_factory=dict)
    refreshed_at: float = float("-inf")  # monotonic
    error: str | None = None


class Scheduler:
    def __init__(self, app: App, *, worker_id: str, notifier: Notifier | None = None,
                 metrics: Metrics | None = None, only: str | None = None,
                 allow_mass_deletion: bool = False,
                 reload_settings: Callable[[], Settings] | None = None,
                 workflow_factory: Callable[[App, str], Any] | None = None,
                 rnd: random.Random | None = None) -> None:
        self.app = app
        self.worker_id = worker_id
        self.notifier = notifier or Notifier({})
        self.metrics = metrics or Metrics()
        self.only = only
        self.allow_mass_deletion = allow_mass_deletion
        self.reload_settings = reload_settings
        self.workflow_factory = workflow_factory
        self.rnd = rnd or random.Random()
        self.totals = Totals()
        self._stop = threading.Event()
        self._wake = threading.Event()  # a unit finished: claim the next one now
        self._reload = threading.Event()
        self._abandon = threading.Event()  # units stop at the next page boundary
        self._init_app()

    def _init_app(self) -> None:
        conf = self.app.settings.service
        self.conf = conf
        self.leases = Leases(self.app.sessions, self.worker_id, conf.lease_seconds)
        self.connectors = [c for c in self.app.settings.connectors
                           if self.only is None or c.name == self.only]
        self._dirs: dict[str, _Directory] = {c.name: _Directory() for c in self.connectors}
        self._budgets = {c.name: plan.PollBudget(conf.tenant_polls_per_minute)
                         for c in self.connectors}
        self._refreshing: dict[str, Future[None]] = {}
        self._running: dict[str, Future[None]] = {}
        self._workflow: Future[None] | None = None
        self._workflow_worker: Any = None  # built on first use, per configuration
        self._workflow_idle_until = 0.0

    # ---- control (signal handlers call these) --------------------------------------------

    def request_stop(self) -> None:
        self._stop.set()
        self._abandon.set()
        self._wake.set()

    def request_reload(self) -> None:
        self._reload.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    # ---- the loop ------------------------------------------------------------------------

    def run(self) -> list[str]:
        """Run until `request_stop`. Returns the units abandoned mid-fetch (their threads
        still run: the caller must end the process without waiting for them)."""
        self.leases.register()
        pool = ThreadPoolExecutor(max_workers=self.conf.threads + len(self.connectors),
                                  thread_name_prefix="unit")
        workflow_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="workflow")
        self._log_start()
        self.notifier.ready(self.summary())
        last_renew = time.monotonic()
        last_status = 0.0
        try:
            while not self._stop.is_set():
                self.notifier.watchdog()
                self.metrics.last_tick.set_to_current_time()
                if self._reload.is_set():
                    self._do_reload(pool)
                self._reap()
                mono = time.monotonic()
                if mono - last_renew >= self.conf.lease_seconds / 3:
                    last_renew = mono
                    self._renew()
                self._refresh_directories(pool)
                self._claim_and_submit(pool)
                self._run_workflows(workflow_pool)
                if mono - last_status >= 5:
                    last_status = mono
                    self._publish_status()
                self._wake.wait(TICK_SECONDS)
                self._wake.clear()
        finally:
            abandoned = self._shutdown(pool, workflow_pool)
        return abandoned

    def _log_start(self) -> None:
        log.info("scheduler started", extra=fields(
            worker=self.worker_id, connectors=[c.name for c in self.connectors],
            threads=self.conf.threads, mail_interval=self.conf.mail_interval,
            database=self.app.engine.dialect.name))

    def summary(self) -> str:
        t = self.totals
        known = sum(len(d.mailboxes) for d in self._dirs.values())
        text = (f"{len(self._running)} polling, {known} mailboxes; since start: {t.units} "
                f"units, {t.streams} streams, {t.items} items, {t.captured} captured, "
                f"{t.errors} errors")
        if t.last_error:
            text += f"; last error: {redact(t.last_error)[:120]}"
        return text

    def _publish_status(self) -> None:
        text = self.summary()
        self.notifier.status(text)
        self.metrics.running.set(len(self._running))
        try:
            self.leases.set_state("running", text)
        except Exception:
            log.warning("could not update the worker row", exc_info=True)

    def _renew(self) -> None:
        try:
            held = self.leases.renew()
        except Exception as exc:
            log.error("lease heartbeat failed; units stop at their next page if it keeps "
                      "failing", extra=fields(error=type(exc).__name__, detail=str(exc)))
            return
        self.metrics.leases.set(held)

    def _reap(self) -> None:
        for table in (self._running, self._refreshing):
            for key, fut in list(table.items()):
                if fut.done():
                    del table[key]
                    exc = fut.exception()
                    if exc is not None:  # units catch their errors; this is a bug
                        log.error("unit crashed", exc_info=exc, extra=fields(unit=key))

    # ---- mailbox lists -------------------------------------------------------------------

    def _refresh_directories(self, pool: ThreadPoolExecutor) -> None:
        mono = time.monotonic()
        for conf in self.connectors:
            d = self._dirs[conf.name]
            due = d.refreshed_at + (self.conf.mailbox_refresh_interval if d.error is None
                                    else min(60.0, self.conf.mailbox_refresh_interval))
            if mono >= due and conf.name not in self._refreshing:
                d.refreshed_at = mono  # also marks "in progress" against re-submission
                self._refreshing[conf.name] = pool.submit(self._refresh, conf)

    def _refresh(self, conf: ConnectorConfig) -> None:
        """Read the connector's mailbox list and make sure every unit has a lease row."""
        d = self._dirs[conf.name]
        if isinstance(conf, FilesConnector):
            self.leases.ensure(conf.name, [(unit_name(conf.name, FILES), "files")])
            d.error = None
            return
        try:
            connector = mailbox_connector(self.app, conf)
            boxes = connector.list_mailboxes()
            units = [(unit_name(conf.name, mb.address), "mailbox") for mb in boxes]
            if connector.tenant_streams():
                units.append((unit_name(conf.name, TENANT), "tenant"))
            new = self.leases.ensure(conf.name, units)
        except (ConnectorError, ConfigError, ValueError) as exc:
            d.error = _plain(exc)
            self._count_error(conf.name, exc)
            log.error("could not list mailboxes", extra=fields(connector=conf.name,
                                                                error=type(exc).__name__,
                                                                detail=d.error))
            return
        d.mailboxes = {mb.address: mb for mb in boxes}
        d.error = None
        d.refreshed_at = time.monotonic()
        log.info("mailbox list refreshed", extra=fields(connector=conf.name,
                                                        mailboxes=len(boxes), new_units=new))

    # ---- claiming ------------------------------------------------------------------------

    def _claim_and_submit(self, pool: ThreadPoolExecutor) -> None:
        free = self.conf.threads - len(self._running)
        names = [c.name for c in self.connectors if self._dirs[c.name].refreshed_at
                 > float("-inf") and c.name not in self._refreshing]
        # Claim in batches (half the threads at a time): one claim query per unit would cost
        # more than a no-change poll of the unit itself.
        if free < max(1, self.conf.threads // 2) or not names:
            return
        rows: dict[str, list[_StreamRow]] = {}
        try:
            claims = self.leases.claim(names, free, exclude=self._running.keys(),
                                       then=lambda s, found: rows.update(
                                           self._claimed_stream_rows(s, found)))
        except Exception as exc:
            log.error("could not claim work", extra=fields(error=type(exc).__name__,
                                                           detail=str(exc)))
            return
        for claim in claims:
            self._running[claim.unit] = pool.submit(self._run_unit, claim, rows.get(claim.unit))

    def _claimed_stream_rows(self, s: Session, claims: list[Claim]
                             ) -> dict[str, list[_StreamRow]]:
        """The stored stream rows of the claimed mailbox units, read in the claim's
        transaction (a unit otherwise opens one of its own to read them). Nobody else writes
        them until the unit runs: the lease is ours.

        A mailbox's stream keys start with its address and a slash (`plan.stream_kind`), so
        each unit is a range of the (connector, key) unique index. A stream not found here
        (another key shape, or new) is polled the full way, as a new one is."""
        out: dict[str, list[_StreamRow]] = {}
        for connector in {c.connector for c in claims if c.kind == "mailbox"}:
            units = {unit_target(c.unit) + "/": c.unit for c in claims
                     if c.kind == "mailbox" and c.connector == connector}
            # "0" follows "/" in code point order: [prefix, prefix with "0") is the range.
            ranges = [and_(m.Stream.key >= prefix, m.Stream.key < prefix[:-1] + "0")
                      for prefix in units]
            query = select(*_STREAM_COLUMNS).where(m.Stream.connector == connector,
                                                   or_(*ranges))
            for unit in units.values():
                out[unit] = []
            for row in s.execute(query):
                prefix = row[0].split("/", 1)[0] + "/"
                if prefix in units:
                    out[units[prefix]].append(cast(_StreamRow, tuple(row)))
        return out

    # ---- one unit ------------------------------------------------------------------------

    def _run_unit(self, claim: Claim, rows: list[_StreamRow] | None = None) -> None:
        started = time.perf_counter()
        conf = next((c for c in self.connectors if c.name == claim.connector), None)
        failures, error = 0, None
        due: datetime | _Released | None = None
        ran = True
        try:
            if conf is None:
                due = self.leases.now() + timedelta(seconds=self.conf.mailbox_refresh_interval)
                ran = False
            elif isinstance(conf, FilesConnector):
                due = self._run_files(conf)
            else:
                due = self._run_mailbox_unit(conf, claim, rows)
        except Abandoned:
            ran = False
            due = self.leases.now()  # free for another worker right away
        except _UnitFailure as exc:
            failures = claim.failures + 1
            error = exc.message
            wait = backoff_seconds(failures, exc.retry_after)
            due = self.leases.now() + timedelta(seconds=wait)
        except Exception as exc:  # a bug or the database: log it, back off, keep serving
            failures = claim.failures + 1
            error = _plain(exc)
            self._count_error(claim.connector, exc)
            log.exception("unit failed", extra=fields(unit=claim.unit))
            due = self.leases.now() + timedelta(seconds=backoff_seconds(failures, None))
        finally:
            self.metrics.unit_seconds.labels(claim.connector).observe(
                time.perf_counter() - started)
            self._wake.set()
        with self.totals.lock:
            self.totals.units += ran
        if isinstance(due, _Released):
            return
        if due is None:
            self.leases.drop(claim.unit)
            return
        if not self.leases.lease_valid():
            return  # someone may hold it now; our row is theirs to update
        try:
            self.leases.release(claim.unit, due, failures=failures, error=error, ran=ran)
        except Exception:
            log.exception("could not release a unit (its lease will expire)",
                          extra=fields(unit=claim.unit))

    def _run_files(self, conf: FilesConnector) -> datetime:
        from syncd.importer import run_import

        try:
            rep = run_import(self.app, list(conf.paths), mailbox=conf.mailbox,
                             connector=conf.name)
        except (ValueError, ConnectorError) as exc:
            raise _UnitFailure(_plain(exc)) from exc
        self.metrics.page_result(conf.name, rep.totals)
        self._add_totals(rep.totals, rep.streams)
        return self.leases.now() + timedelta(
            seconds=plan.jittered(self.conf.files_interval, self.conf.jitter, self.rnd))

    def _run_mailbox_unit(self, conf: ConnectorConfig, claim: Claim,
                          rows: list[_StreamRow] | None = None) -> datetime | _Released | None:
        try:
            connector = mailbox_connector(self.app, conf)
        except (ConnectorError, ConfigError, ValueError) as exc:
            self._count_error(conf.name, exc)
            raise _UnitFailure(_plain(exc)) from exc
        target = unit_target(claim.unit)
        mailbox = None
        display = ""
        try:
            if claim.kind == "tenant":
                streams = connector.tenant_streams()
            else:
                mailbox = self._dirs[conf.name].mailboxes.get(target)
                if mailbox is None:
                    return self._unknown_mailbox(conf.name, target)
                display = getattr(mailbox, "display_name", "")
                streams = connector.mailbox_streams(mailbox)
        except ThrottledError as exc:
            self._count_error(conf.name, exc)
            self.metrics.throttled.labels(conf.name).inc()
            raise _UnitFailure(_plain(exc), exc.retry_after) from exc
        except ConnectorError as exc:
            self._count_error(conf.name, exc)
            raise _UnitFailure(_plain(exc)) from exc
        return self._run_streams(claim.unit, conf.name, streams,
                                 target if mailbox is not None else None, display, rows)

    def _unknown_mailbox(self, connector: str, address: str) -> datetime | None:
        """A unit whose mailbox is not in our list: gone from the group (drop it), or added
        by a worker with a fresher list (look again after our next refresh)."""
        d = self._dirs[connector]
        if d.error is None and time.monotonic() - d.refreshed_at < 60:
            log.info("mailbox left the connector's list; no longer polled",
                     extra=fields(connector=connector, mailbox=address))
            return None
        d.refreshed_at = float("-inf") + 1  # refresh at the next tick
        return self.leases.now() + timedelta(seconds=30)

    def _stream_states(self, connector: str, keys: list[str], session: Session | None = None,
                       rows: list[_StreamRow] | None = None
                       ) -> tuple[dict[str, plan.StreamState], dict[str, StoredStream]]:
        """The schedule of each stream (`plan`) and what the no-change fast path needs of
        its row, in one query (none when the claim already read the ``rows``)."""
        if rows is None:
            query = select(*_STREAM_COLUMNS).where(m.Stream.connector == connector,
                                                   m.Stream.key.in_(keys))
            if session is not None:
                rows = [cast(_StreamRow, tuple(r)) for r in session.execute(query)]
            else:
                with session_scope(self.app.sessions) as s:
                    rows = [cast(_StreamRow, tuple(r)) for r in s.execute(query)]
        wanted = set(keys)
        include_stopped = self.allow_mass_deletion
        states, stored = {}, {}
        for key, poll, backoff, phase, sid, cursor, mailbox_id, resync in rows:
            if key not in wanted:
                continue
            states[key] = plan.StreamState(key, poll, backoff,
                                           phase == "stopped" and not include_stopped)
            stored[key] = StoredStream(sid, cursor, mailbox_id is not None, resync is not None)
        return states, stored

    def _check_continue(self) -> None:
        if self._abandon.is_set():
            raise Abandoned("stopping")
        if not self.leases.lease_valid():
            raise Abandoned("lease renewals are failing")

    def _run_streams(self, unit: str, connector: str, streams: list[Stream],
                     mailbox: str | None, display_name: str,
                     rows: list[_StreamRow] | None = None) -> _Released:
        """Poll the unit's due streams, then, in one transaction, store their next polls
        and the cursors of their empty pages (`nochange`), work out when the unit is next
        due and give the lease back."""
        keys = [s.key for s in streams]
        states, stored = self._stream_states(connector, keys, rows=rows)
        now = self.leases.now()
        polled: dict[str, datetime] = {}
        empty: dict[str, dict[str, Any]] = {}  # key -> stream row values (empty pages)
        attempted = 0
        try:
            for stream in streams:
                self._check_continue()
                state = states.get(stream.key, plan.StreamState(stream.key))
                if not state.is_due(now):
                    continue
                wait = self._budgets[connector].take()
                if wait:
                    self.metrics.throttled.labels(connector).inc()
                    break  # the tenant's budget is spent: the unit returns when it refills
                attempted += 1
                next_poll = self._poll_stream(connector, stream, mailbox, display_name,
                                              stored.get(stream.key), empty)
                if next_poll is not None:
                    polled[stream.key] = next_poll
        except BaseException:
            if polled:  # the schedule of what was polled, even when stopping
                with session_scope(self.app.sessions) as s:
                    self._store_polls(s, connector, polled, empty, stored)
            raise
        with session_scope(self.app.sessions) as s:
            self._store_polls(s, connector, polled, empty, stored)
            if len(empty) == attempted:
                # Every poll took the fast path: nothing else wrote the rows since they were
                # read (run_stream did not run: no back-off, no new row).
                states = {k: (replace(st, poll_due_at=polled[k]) if k in polled else st)
                          for k, st in states.items()}
            else:
                states, _ = self._stream_states(connector, keys, s)
            due = plan.unit_due_at(states.values(), self.leases.now(), self.conf.mail_interval)
            if self.leases.lease_valid():
                self.leases.release_in(s, unit, due)
        return _Released()

    def _store_polls(self, s: Session, connector: str, polled: dict[str, datetime],
                     empty: dict[str, dict[str, Any]], stored: dict[str, StoredStream]) -> None:
        """Next polls, and the empty pages' cursors (only while our lease holds: else the
        stream may already be another worker's, and the old cursor stays valid)."""
        by_id: list[dict[str, Any]] = []
        lease_valid = self.leases.lease_valid()
        for key, when in polled.items():
            if key in empty and lease_valid:
                by_id.append(empty[key])
            elif key in stored:
                by_id.append({"id": stored[key].id, "poll_due_at": when})
            else:  # a stream first polled now: its row is new
                s.execute(update(m.Stream).where(m.Stream.connector == connector,
                                                 m.Stream.key == key).values(poll_due_at=when))
        store_rows(s, by_id)

    def _poll_stream(self, connector: str, stream: Stream, mailbox: str | None,
                     display_name: str, stored: StoredStream | None,
                     empty: dict[str, dict[str, Any]]) -> datetime | None:
        """Poll one stream to the end of its round; returns its next planned poll (None when
        it failed: its back-off, stored by the runner, decides). A poll that reads only an
        empty page from the stored cursor puts the row's new values in ``empty`` instead of
        writing them (`nochange`)."""
        def on_page(res: PageResult) -> None:
            self.metrics.page_result(connector, res)
            self._check_continue()  # after the commit: the next page is not fetched

        kind = plan.stream_kind(stream.key)
        target: Stream = stream
        if stored is not None and stored.probe:
            outcome = probe(stream, stored.cursor)
            if isinstance(outcome, Page) and is_empty_round_end(outcome, stored):
                res = PageResult(items_seen=outcome.items_seen)
                self.metrics.page_result(connector, res)
                self.metrics.polls.labels(connector, "ok").inc()
                self._add_totals(res, 1)
                next_poll = plan.next_poll(kind, self.conf, self.leases.now(), self.rnd)
                empty[stream.key] = empty_page_values(stored.id, outcome, self.leases.now(),
                                                      next_poll)
                return next_poll
            target = Prefetched(stream, stored.cursor, outcome)
        try:
            run = self._run_stream_retrying(connector, target, mailbox, display_name, on_page)
        except Abandoned:
            raise
        except AuthError as exc:
            self._stream_error(connector, stream.key, exc, "error")
            # The mailbox's other streams would fail the same way: stop the unit.
            raise _UnitFailure(_plain(exc)) from exc
        except ThrottledError as exc:
            self.metrics.throttled.labels(connector).inc()
            self._stream_error(connector, stream.key, exc, "throttled")
            return None  # this stream backs off (runner.record_failure); others may go on
        except ConnectorError as exc:
            self._stream_error(connector, stream.key, exc, "error")
            return None
        self.metrics.polls.labels(connector, "ok").inc()
        self._add_totals(run.result, 1)
        return plan.next_poll(kind, self.conf, self.leases.now(), self.rnd)

    def _run_stream_retrying(self, connector: str, stream: Stream, mailbox: str | None,
                             display_name: str, on_page: Callable[[PageResult], None]
                             ) -> StreamRun:
        """`run_stream`, again from the last committed page when PostgreSQL aborts a page's
        transaction as a deadlock victim or a serialization failure: concurrent workers
        writing the same persons and ties can lock rows in opposite orders, and PostgreSQL's
        documented answer is to retry the transaction. The page is re-fetched from the stored
        cursor, so the retry commits it exactly once."""
        for attempt in range(DB_RETRIES):
            try:
                return run_stream(self.app.sessions, self.app.capturer, connector, stream,
                                  mailbox=mailbox, display_name=display_name, on_page=on_page,
                                  allow_mass_deletion=self.allow_mass_deletion)
            except DBAPIError as exc:
                code = getattr(exc.orig, "sqlstate", None)
                if code not in RETRYABLE_SQLSTATES or attempt == DB_RETRIES - 1:
                    raise
                self.metrics.errors.labels(connector, f"sqlstate-{code}").inc()
                log.info("page transaction aborted by the database; retrying",
                         extra=fields(stream=stream.key, sqlstate=code, attempt=attempt + 1))
                self._check_continue()
                time.sleep(self.rnd.uniform(0.05, 0.25) * 2 ** attempt)
        raise AssertionError("unreachable")

    def _stream_error(self, connector: str, key: str, exc: Exception, outcome: str) -> None:
        self.metrics.polls.labels(connector, outcome).inc()
        self._count_error(connector, exc)
        log.warning("stream poll failed", extra=fields(connector=connector, stream=key,
                                                       error=type(exc).__name__,
                                                       detail=_plain(exc)))

    def _count_error(self, connector: str, exc: BaseException) -> None:
        self.metrics.errors.labels(connector, type(exc).__name__).inc()
        with self.totals.lock:
            self.totals.errors += 1
            self.totals.last_error = _plain(exc)

    def _add_totals(self, res: PageResult, streams: int) -> None:
        with self.totals.lock:
            self.totals.streams += streams
            self.totals.items += res.items_seen
            self.totals.captured += res.captured

    # ---- workflows -----------------------------------------------------------------------

    def _run_workflows(self, pool: ThreadPoolExecutor) -> None:
        if self.workflow_factory is None:
            return
        if self._workflow is not None and not self._workflow.done():
            return
        if time.monotonic() < self._workflow_idle_until:
            return
        self._workflow = pool.submit(self._workflow_once)

    def _workflow_once(self) -> None:
        assert self.workflow_factory is not None
        try:
            if self._workflow_worker is None:
                self._workflow_worker = self.workflow_factory(self.app, self.worker_id)
            done = int(self._workflow_worker.run_once(limit=100))
        except Exception as exc:
            self.metrics.workflow.labels("error").inc()
            self._count_error("workflows", exc)
            log.exception("workflow worker failed")
            self._workflow_idle_until = time.monotonic() + 60
            return
        self.metrics.workflow.labels("processed").inc(done)
        if done == 0:
            self._workflow_idle_until = time.monotonic() + 2

    # ---- reload and shutdown -------------------------------------------------------------

    def _drain(self, timeout: float) -> list[str]:
        """Stop units at their next page boundary and wait; returns the units still busy."""
        self._abandon.set()
        deadline = time.monotonic() + timeout

        def still_busy() -> list[str]:
            tasks = list(self._running.items()) + list(self._refreshing.items())
            if self._workflow is not None:
                tasks.append(("workflows", self._workflow))
            return [k for k, f in tasks if not f.done()]

        while time.monotonic() < deadline:
            self.notifier.watchdog()
            if not still_busy():
                break
            time.sleep(0.05)
        busy = still_busy()
        self._reap()
        return busy

    def _do_reload(self, pool: ThreadPoolExecutor) -> None:
        self._reload.clear()
        if self.reload_settings is None:
            return
        try:
            settings = self.reload_settings()
        except ConfigError as exc:
            log.error("configuration reload refused; keeping the running configuration",
                      extra=fields(problems=exc.problems))
            return
        self.notifier.reloading()
        log.info("reloading the configuration")
        busy = self._drain(self.conf.stop_timeout * 4)
        if busy:
            log.error("units still busy after the reload wait; reload postponed",
                      extra=fields(units=busy))
            self._abandon.clear()
            self._reload.set()
            return
        self.leases.release_all()
        self._close_workflow_worker()
        self.app.close()
        self.app = App(settings)
        self._abandon.clear()
        self._init_app()
        self.leases.register()
        self._log_start()
        self.notifier.ready(self.summary())

    def _shutdown(self, pool: ThreadPoolExecutor, workflow_pool: ThreadPoolExecutor) -> list[str]:
        self.notifier.stopping("stopping: finishing the pages in flight")
        log.info("stopping", extra=fields(running=len(self._running)))
        busy = self._drain(self.conf.stop_timeout)
        if busy:
            log.warning("abandoning units mid-fetch (nothing of their pages is committed)",
                        extra=fields(units=busy))
        try:
            # Units that finished gave their lease back themselves; what is left is ours
            # only if it is not busy (a busy unit keeps its lease until it expires).
            for unit in self._held_units():
                if unit not in busy:
                    self.leases.release(unit, self.leases.now(), ran=False)
            self.leases.set_state("stopped", self.summary())
        except Exception:
            log.warning("could not release leases; they will expire", exc_info=True)
        pool.shutdown(wait=False, cancel_futures=True)
        workflow_pool.shutdown(wait=False, cancel_futures=True)
        if self._workflow is None or self._workflow.done():
            self._close_workflow_worker()
        log.info("stopped", extra=fields(abandoned=len(busy)))
        return busy

    def _close_workflow_worker(self) -> None:
        close = getattr(self._workflow_worker, "close", None)
        if close is not None:
            close()
        self._workflow_worker = None

    def _held_units(self) -> list[str]:
        from syncd.store.models_service import ServiceLease

        with session_scope(self.app.sessions) as s:
            return list(s.scalars(select(ServiceLease.unit).where(
                ServiceLease.owner == self.worker_id)))


# A `streams` row as the scheduler reads it: key, poll_due_at, next_due_at, phase, id,
# cursor, mailbox_id, resync_started_at.
_StreamRow = tuple[str, datetime | None, datetime | None, str, int, str | None, int | None,
                   datetime | None]
_STREAM_COLUMNS = (m.Stream.key, m.Stream.poll_due_at, m.Stream.next_due_at, m.Stream.phase,
                   m.Stream.id, m.Stream.cursor, m.Stream.mailbox_id, m.Stream.resync_started_at)


class _Released:
    """A unit run that already gave its lease back, in its last transaction."""


class _UnitFailure(Exception):
    """The whole unit failed (credentials, mailbox gone, throttled listing): back it off."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


def _plain(exc: BaseException) -> str:
    """The error in plain words, as stored and shown (`syncd status`)."""
    text = str(exc).strip() or type(exc).__name__
    return text if len(text) < 500 else text[:497] + "..."
