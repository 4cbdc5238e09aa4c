"""Read pages ahead in a child process while the parent writes the previous ones.

Parsing mail and writing it are both CPU-bound Python; on a machine with two cores an import
finishes in about the time of the slower of the two instead of their sum. Only streams whose
reads are pure functions of (stream, cursor) may be prefetched: file streams are. Network
streams are not (a page read ahead and never committed would be a request wasted, and their
cursors expire), so the Graph and EWS connectors do not use this.

Correctness does not depend on the child: a prefetched page is used only when it was read from
exactly the cursor the parent asks for; otherwise the parent reads the page itself.
"""

from __future__ import annotations

import multiprocessing as mp
import queue
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from connectors.base import Page, Stream

QUEUE_PAGES = 4  # pages held in memory ahead of the writer: bounded, so memory stays flat


@dataclass(frozen=True)
class _Item:
    index: int
    cursor: str | None
    page: Page | None
    error: str | None = None


def _produce(streams: Sequence[Stream], cursors: Sequence[str | None], out: Any) -> None:
    for index, (stream, cursor) in enumerate(zip(streams, cursors, strict=True)):
        try:
            while True:
                page = stream.fetch_page(cursor)
                out.put(_Item(index, cursor, page))
                if page.complete:
                    break
                cursor = page.cursor
        except Exception as exc:  # reported to the parent, which re-reads and raises itself
            out.put(_Item(index, cursor, None, f"{type(exc).__name__}: {exc}"))
    out.put(None)


class Prefetcher:
    """Start with the streams and their stored cursors; hand out `PrefetchedStream`s."""

    def __init__(self, streams: Sequence[Stream], cursors: Sequence[str | None]) -> None:
        ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else mp
        self._queue: Any = ctx.Queue(QUEUE_PAGES)
        self._proc = ctx.Process(target=_produce, args=(list(streams), list(cursors),
                                                        self._queue), daemon=True)
        self._proc.start()
        self._done = False
        self._pending: _Item | None = None
        self.streams = [PrefetchedStream(self, i, s) for i, s in enumerate(streams)]

    def take(self, index: int, cursor: str | None) -> Page | None:
        """The prefetched page of stream `index` read from `cursor`, or None."""
        while not self._done:
            item = self._pending
            self._pending = None
            if item is None:
                item = self._next()
            if item is None:
                self._done = True
                return None
            if item.index < index:
                continue  # pages of a stream the parent gave up on
            if item.index > index:
                self._pending = item  # belongs to a later stream: keep it
                return None
            if item.cursor == cursor and item.page is not None:
                return item.page
            if item.page is None:
                return None  # the child failed here; the parent reads and raises itself
        return None

    def _next(self) -> _Item | None:
        while True:
            try:
                item: _Item | None = self._queue.get(timeout=1)
                return item
            except queue.Empty:
                if not self._proc.is_alive():
                    return None  # the child died: the parent reads everything itself

    def close(self) -> None:
        if self._proc.is_alive():
            self._proc.terminate()
        self._proc.join(timeout=5)
        self._queue.close()


class PrefetchedStream:
    """A Stream whose pages come from the prefetcher when they match, else from the source."""

    def __init__(self, owner: Prefetcher, index: int, source: Stream) -> None:
        self._owner, self._index, self._source = owner, index, source

    @property
    def key(self) -> str:
        return self._source.key

    @property
    def mailbox(self) -> str | None:
        return self._source.mailbox

    def fetch_page(self, cursor: str | None) -> Page:
        page = self._owner.take(self._index, cursor)
        if page is not None:
            return page
        return self._source.fetch_page(cursor)

