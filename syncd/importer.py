"""`syncd import`: run the files connector over paths and report what happened."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from connectors.files import open_streams
from connectors.normalize import normalize_address
from connectors.prefetch import Prefetcher
from syncd.app import App
from syncd.capture import PageResult
from syncd.runner import StreamRun, run_stream
from syncd.store import models as m
from syncd.store.db import session_scope

FILES_CONNECTOR = "files"


@dataclass
class ImportReport:
    streams: int = 0
    totals: PageResult = field(default_factory=PageResult)
    seconds: float = 0.0
    mailboxes: dict[str, str] = field(default_factory=dict)  # stream key -> owner
    inferred: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, object]:
        t = self.totals
        return {
            "streams": self.streams,
            "messages_seen": t.items_seen,
            "interactions_new": t.interactions_new,
            "interactions_updated": t.interactions_updated,
            "sightings_new": t.sightings_new,
            "rejected": t.rejected,
            "captured": t.captured,
            "persons_new": t.persons_new,
            "seconds": round(self.seconds, 3),
            "mailboxes": self.mailboxes,
            "mailboxes_inferred": self.inferred,
        }


def run_import(
    app: App,
    paths: list[Path],
    *,
    mailbox: str | None = None,
    on_stream_start: Callable[[str, int], None] | None = None,
    on_page: Callable[[PageResult], None] | None = None,
    prefetch: bool = True,
    connector: str = FILES_CONNECTOR,
) -> ImportReport:
    """Import every stream under `paths`. Raises ValueError for a path that does not exist or
    a mailbox that is not an address."""
    owner = None
    if mailbox is not None:
        owner = normalize_address(mailbox)
        if owner is None or owner.startswith("x500:"):
            raise ValueError(f"--mailbox {mailbox!r} is not an email address")
    started = time.perf_counter()
    report = ImportReport()
    streams = [s for p in paths for s in open_streams(p, owner)]
    report.streams = len(streams)
    prefetcher = Prefetcher(streams, stored_cursors(app, connector, [s.key for s in streams])) \
        if prefetch and len(streams) > 0 else None
    try:
        sources = prefetcher.streams if prefetcher else streams
        for i, stream in enumerate(sources):
            if on_stream_start is not None:
                on_stream_start(stream.key, i)
            run: StreamRun = run_stream(app.sessions, app.capturer, connector, stream,
                                        mailbox=owner, on_page=on_page)
            report.totals.add(run.result)
            if run.mailbox:
                report.mailboxes[stream.key] = run.mailbox
                if run.mailbox_inferred:
                    report.inferred.append(stream.key)
    finally:
        if prefetcher is not None:
            prefetcher.close()
    report.seconds = time.perf_counter() - started
    return report


def stored_cursors(app: App, connector: str, keys: list[str]) -> list[str | None]:
    with session_scope(app.sessions) as s:
        found = dict(s.execute(select(m.Stream.key, m.Stream.cursor).where(
            m.Stream.connector == connector, m.Stream.key.in_(keys))).all())
    return [found.get(k) for k in keys]
