"""One polling pass over every configured connector (`syncd run --once`, and each tick of
`syncd run`).

Failures are contained where they happen: a stream that fails records its error and backs off
alone; a mailbox whose credentials or permissions fail stops for this pass; the other mailboxes
and connectors carry on. Mailboxes of one connector are synced in parallel threads, each
holding database sessions only around its writes. A stream with nothing new costs one request
and no transaction of its own (`syncd.service.nochange`, as in the scheduler).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from threading import Lock
from typing import Any

from sqlalchemy import select

from connectors.base import AuthError, ConnectorError, Page, Stream, ThrottledError
from syncd.app import App
from syncd.capture import PageResult
from syncd.config import (
    ConfigError,
    ConnectorConfig,
    EwsConnector,
    FilesConnector,
    MsGraphConnector,
)
from syncd.importer import run_import
from syncd.runner import run_stream
from syncd.service.nochange import (
    Prefetched,
    StoredStream,
    empty_page_values,
    is_empty_round_end,
    probe,
    store_rows,
)
from syncd.store import models as m
from syncd.store.db import session_scope

MAILBOX_WORKERS = 4


@dataclass
class PassReport:
    connectors: int = 0
    mailboxes: int = 0
    streams: int = 0
    streams_skipped: int = 0  # not due yet (backing off)
    totals: PageResult = field(default_factory=PageResult)
    errors: list[dict[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    allow_mass_deletion: bool = False
    _lock: Lock = field(default_factory=Lock, repr=False)

    def add_error(self, connector: str, scope: str, exc: BaseException) -> None:
        with self._lock:
            self.errors.append({"connector": connector, "scope": scope,
                                "error": type(exc).__name__, "message": str(exc)})

    def add_result(self, result: PageResult, streams: int = 1) -> None:
        with self._lock:
            self.totals.add(result)
            self.streams += streams

    def as_json(self) -> dict[str, Any]:
        t = self.totals
        return {"connectors": self.connectors, "mailboxes": self.mailboxes,
                "streams": self.streams, "streams_skipped": self.streams_skipped,
                "items_seen": t.items_seen, "interactions_new": t.interactions_new,
                "interactions_updated": t.interactions_updated,
                "sightings_new": t.sightings_new, "deletions": t.deletions,
                "rejected": t.rejected, "captured": t.captured,
                "errors": self.errors, "seconds": round(self.seconds, 3)}


def _not_due(app: App, connector: str, keys: Iterable[str], now: datetime,
             include_stopped: bool) -> tuple[set[str], dict[str, StoredStream]]:
    """Streams backing off, and stopped streams (which wait for an operator); and what the
    no-change fast path (`syncd.service.nochange`) needs of every stored row, same query."""
    keys = list(keys)
    with session_scope(app.sessions) as s:
        rows = s.execute(select(m.Stream.key, m.Stream.next_due_at, m.Stream.phase,
                                m.Stream.id, m.Stream.cursor, m.Stream.mailbox_id,
                                m.Stream.resync_started_at).where(
            m.Stream.connector == connector, m.Stream.key.in_(keys))).all()
    waiting = {k for k, due, phase, *_ in rows
               if (due is not None and due > now and not include_stopped)
               or (phase == "stopped" and not include_stopped)}
    stored = {k: StoredStream(sid, cursor, mailbox_id is not None, resync is not None)
              for k, _due, _phase, sid, cursor, mailbox_id, resync in rows}
    return waiting, stored


def run_pass(app: App, *, only: str | None = None,
             on_stream: Callable[[str], None] | None = None,
             allow_mass_deletion: bool = False) -> PassReport:
    """Poll every due stream of every configured connector (or only the one named)."""
    started = time.perf_counter()
    report = PassReport(allow_mass_deletion=allow_mass_deletion)
    for conn in app.settings.connectors:
        if only is not None and conn.name != only:
            continue
        report.connectors += 1
        _run_connector(app, conn, report, on_stream)
    report.seconds = time.perf_counter() - started
    return report


def _run_connector(app: App, conn: ConnectorConfig, report: PassReport,
                   on_stream: Callable[[str], None] | None) -> None:
    if isinstance(conn, FilesConnector):
        try:
            rep = run_import(app, list(conn.paths), mailbox=conn.mailbox, connector=conn.name)
        except (ValueError, ConnectorError) as exc:
            report.add_error(conn.name, "paths", exc)
            return
        report.add_result(rep.totals, rep.streams)
    elif isinstance(conn, MsGraphConnector | EwsConnector):
        _run_graph(app, conn, report, on_stream)


def _run_graph(app: App, conn: MsGraphConnector | EwsConnector, report: PassReport,
               on_stream: Callable[[str], None] | None) -> None:
    # EWS (issue 4) has the Graph connector's surface: same mailbox threads, same streams loop.
    try:
        graph = (app.ews_connector(conn) if isinstance(conn, EwsConnector)
                 else app.graph_connector(conn))
    except (ConnectorError, ConfigError, ValueError) as exc:
        report.add_error(conn.name, "connector", exc)
        return
    try:
        mailboxes = graph.list_mailboxes()
    except ConnectorError as exc:
        report.add_error(conn.name, "mailbox list", exc)
        return
    report.mailboxes += len(mailboxes)
    now = datetime.now(UTC)

    def sync_mailbox(mailbox: Any) -> None:
        try:
            streams = graph.mailbox_streams(mailbox)
        except ConnectorError as exc:
            report.add_error(conn.name, mailbox.address, exc)
            return
        _run_streams(app, conn.name, streams, report, now, on_stream,
                     mailbox=mailbox.address, display_name=mailbox.display_name)

    with ThreadPoolExecutor(max_workers=MAILBOX_WORKERS,
                            thread_name_prefix=f"sync-{conn.name}") as pool:
        list(pool.map(sync_mailbox, mailboxes))
    try:
        tenant = graph.tenant_streams()
    except ConnectorError as exc:
        report.add_error(conn.name, "tenant", exc)
        return
    _run_streams(app, conn.name, tenant, report, now, on_stream)


def _run_streams(app: App, connector: str, streams: list[Stream], report: PassReport,
                 now: datetime, on_stream: Callable[[str], None] | None, *,
                 mailbox: str | None = None, display_name: str = "") -> None:
    waiting, stored = _not_due(app, connector, (s.key for s in streams), now,
                               include_stopped=report.allow_mass_deletion)
    # Streams whose poll read only an empty page from the stored cursor: their rows are
    # written together at the end, one transaction for the mailbox (`nochange`).
    empty: list[dict[str, Any]] = []
    try:
        for stream in streams:
            if stream.key in waiting:
                with report._lock:
                    report.streams_skipped += 1
                continue
            if on_stream is not None:
                on_stream(stream.key)
            target: Stream = stream
            row = stored.get(stream.key)
            if row is not None and row.probe:
                outcome = probe(stream, row.cursor)
                if isinstance(outcome, Page) and is_empty_round_end(outcome, row):
                    empty.append(empty_page_values(row.id, outcome, datetime.now(UTC)))
                    report.add_result(PageResult(items_seen=outcome.items_seen))
                    continue
                target = Prefetched(stream, row.cursor, outcome)
            try:
                run = run_stream(app.sessions, app.capturer, connector, target,
                                 mailbox=mailbox, display_name=display_name,
                                 allow_mass_deletion=report.allow_mass_deletion)
            except AuthError as exc:
                report.add_error(connector, mailbox or stream.key, exc)
                return  # the mailbox's other streams would fail the same way
            except ThrottledError as exc:
                report.add_error(connector, stream.key, exc)
                return  # back off this mailbox alone; the others keep going
            except ConnectorError as exc:
                report.add_error(connector, stream.key, exc)
                continue
            report.add_result(run.result)
    finally:
        if empty:
            with session_scope(app.sessions) as s:
                store_rows(s, empty)
